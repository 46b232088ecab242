package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TestDevice;
import dev.flashcl.internal.phi.PhiKernels.Gemm;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The layer kernels of phi.cl against double-precision references written from the math:
 * embedding, LayerNorm, GEMM and GEMV with their epilogues, the split residual products, partial rotary + KV append,
 * argmax. Sizes cover ragged tiles (rows and outputs not multiples of 64, k not of 16), both
 * storages, and outputs are read with a poisoned region around them so that stray writes show.
 *
 * <p>Tolerances, u = 2^-24: a dot product of k terms in fp32 is within k u sum|a_i w_i| (we allow
 * 2x that plus the bias' rounding); fp16 outputs get half an ulp more (2^-11 |ref|). LayerNorm:
 * 8 u (h (|z| + 1) + (|x| + |mean|) / sigma) |w| + |b| u, z = (x - mean) / sigma: the rounding of x
 * and of the mean, at the magnitude of the mean, is amplified by 1 / sigma. RoPE: angle and cos/sin in fp32, 16 u (|x| + |partner|).
 */
class PhiKernelsTest {
    static final double U = 0x1p-24;
    static final ClContext CTX = TestDevice.context();
    static final List<ClBuffer> BUFFERS = new ArrayList<>();
    static PhiKernels f16, f32;

    static PhiKernels kernels(Storage s) {
        if (s == Storage.F16) return f16 != null ? f16 : (f16 = new PhiKernels(CTX, s));
        return f32 != null ? f32 : (f32 = new PhiKernels(CTX, s));
    }

    @AfterAll
    static void release() {
        BUFFERS.forEach(ClBuffer::close);
        BUFFERS.clear();
    }

    static ClBuffer upload(String name, float[] v, Storage s) {
        ClBuffer b = CTX.allocate(name, Math.max(4, (long) v.length * s.bytes));
        BUFFERS.add(b);
        if (s == Storage.F16) b.write(Half.fromFloats(v));
        else b.write(v);
        return b;
    }

    static ClBuffer ints(String name, int[] v) {
        ClBuffer b = CTX.allocate(name, Math.max(4, v.length * 4L));
        BUFFERS.add(b);
        b.write(v);
        return b;
    }

    static float[] read(ClBuffer b, int n, Storage s) {
        if (s == Storage.F16) {
            short[] h = new short[n];
            b.read(h);
            return Half.toFloats(h);
        }
        float[] f = new float[n];
        b.read(f);
        return f;
    }

    /** Random values in [-scale, scale), rounded to what the storage holds. */
    static float[] random(SplittableRandom r, int n, double scale, Storage s) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return s == Storage.F16 ? Half.toFloats(Half.fromFloats(v)) : v;
    }

    /** An output buffer of n elements followed by a poisoned guard of 64. */
    static ClBuffer output(String name, int n, Storage s) {
        float[] poison = new float[n + 64];
        java.util.Arrays.fill(poison, 777f);
        return upload(name, poison, s);
    }

    static void assertGuard(ClBuffer b, int n, Storage s) {
        float[] all = read(b, n + 64, s);
        for (int i = n; i < n + 64; i++) assertEquals(777f, all[i], "guard element " + (i - n) + " after the output was written");
    }

    static void check(String what, double want, double got, double tol) {
        if (!(Math.abs(want - got) <= tol)) fail(String.format("%s: got %.8g, want %.8g, |diff| %.3g > %.3g", what, got, want, Math.abs(want - got), tol));
    }

    static Stream<Arguments> layerNormCases() {
        List<Arguments> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int rows : new int[] {1, 3, 17}) for (int h : new int[] {4, 80, 160, 2560}) out.add(Arguments.of(s, rows, h));
        return out.stream();
    }

    @ParameterizedTest(name = "layernorm {0} rows {1} h {2}")
    @MethodSource("layerNormCases")
    void layerNorm(Storage s, int rows, int h) {
        SplittableRandom r = new SplittableRandom(rows * 31L + h);
        float[] x = random(r, rows * h, 3, Storage.F32);
        for (int i = 0; i < x.length; i++) x[i] += 50;   // a large mean: the variance must not cancel
        float[] w = random(r, h, 2, Storage.F32), b = random(r, h, 1, Storage.F32);
        ClBuffer out = output("ln out", rows * h, s);
        PhiKernels k = kernels(s);
        try (ClKernel kn = k.kernel("layernorm")) {
            kn.arg("x", upload("x", x, Storage.F32)).arg("w", upload("w", w, Storage.F32)).arg("b", upload("b", b, Storage.F32)).arg("out", out).arg("h", h).arg("eps", 1e-5f);
            kn.launch(CTX, new long[] {(long) rows * k.lnWg()}, new long[] {k.lnWg()});
        }
        float[] got = read(out, rows * h, s);
        for (int t = 0; t < rows; t++) {
            double mean = 0, var = 0;
            for (int i = 0; i < h; i++) mean += x[t * h + i];
            mean /= h;
            for (int i = 0; i < h; i++) var += (x[t * h + i] - mean) * (x[t * h + i] - mean);
            double sigma = Math.sqrt(var / h + 1e-5);
            for (int i = 0; i < h; i++) {
                double z = (x[t * h + i] - mean) / sigma, want = z * w[i] + b[i];
                double tol = 8 * U * (h * (Math.abs(z) + 1) + (Math.abs(x[t * h + i]) + Math.abs(mean)) / sigma) * Math.abs(w[i]) + Math.abs(b[i]) * U + (s == Storage.F16 ? Math.abs(want) * 0x1p-11 + 0x1p-25 : 0);
                check("row " + t + " elem " + i, want, got[t * h + i], tol);
            }
        }
        assertGuard(out, rows * h, s);
    }

    static Stream<Arguments> matmulCases() {
        int[][] sizes = {{1, 1, 4}, {2, 63, 20}, {17, 64, 64}, {64, 65, 80}, {65, 129, 164}, {130, 200, 36}};
        // the tensor-core kernel: k a multiple of 8; tails in k (k % 32), several k tiles (its double
        // buffer), several work-groups both ways, and partial ones
        int[][] mmaSizes = {{1, 1, 8}, {17, 64, 64}, {65, 129, 80}, {130, 200, 40}, {257, 384, 264}, {300, 136, 1000}};
        // the skinny tensor-core kernel (batched decode): one row, rows that end inside an 8-row
        // mma tile, a whole 64-row tile, more than one; outputs inside a warp's 16, and past a
        // work-group's 64; k inside one chunk of 128, a tail of 8 after whole chunks, several
        // (chunks of 64, alternating between the work-group's two k groups: one chunk, an odd count, many)
        int[][] skinnySizes = {{1, 1, 8}, {3, 16, 40}, {8, 70, 128}, {37, 200, 136}, {64, 64, 1000}, {65, 129, 264}, {130, 81, 392}, {20, 300, 2568}};
        List<Arguments> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (String epi : new String[] {"f32out", "gelu"}) {
            for (int[] z : sizes) for (Gemm g : new Gemm[] {Gemm.TILE64, Gemm.TILE128}) out.add(Arguments.of(s, epi, z[0], z[1], z[2], g));
            if (s == Storage.F16) for (int[] z : mmaSizes) out.add(Arguments.of(s, epi, z[0], z[1], z[2], Gemm.MMA));
            if (s == Storage.F16) for (int[] z : skinnySizes) out.add(Arguments.of(s, epi, z[0], z[1], z[2], Gemm.SKINNY));
        }
        return out.stream();
    }

    static double geluNew(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /** GEMM over all rows, and GEMV (decode) on each of the first rows through a_row0. */
    @ParameterizedTest(name = "{0} {1} rows {2} n {3} k {4} {5}")
    @MethodSource("matmulCases")
    void gemmAndGemv(Storage s, String epi, int rows, int n, int kk, Gemm gemm) {
        SplittableRandom r = new SplittableRandom(rows * 1000L + n * 10L + kk);
        float[] a = random(r, rows * kk, 2, s), w = random(r, n * kk, 1.0 / Math.sqrt(kk), s), b = random(r, n, 0.5, Storage.F32);
        Storage outS = epi.equals("gelu") ? s : Storage.F32;
        PhiKernels k = kernels(s);
        assumeTrue(k.has(gemm), "this device has no " + gemm + " kernels (tensor cores: NVIDIA inline PTX)");
        ClBuffer ab = upload("a", a, s), wb = upload("w", w, s), bb = upload("bias", b, Storage.F32);
        ClBuffer out = output("gemm out", rows * n, outS);
        try (ClKernel kn = k.kernel(gemm.prefix + epi)) {
            kn.arg("a", ab).arg("a_row0", 0).arg("w", wb).arg("bias", bb).arg("out", out).arg("rows", rows).arg("n_out", n).arg("k", kk);
            kn.launch(CTX, gemm.global(rows, n), gemm.local());
        }
        float[] got = read(out, rows * n, outS);
        for (int m = 0; m < rows; m++) for (int j = 0; j < n; j++) check(epi + " [" + m + "," + j + "]", ref(a, w, b, m, j, kk, epi), got[m * n + j], tol(a, w, b, m, j, kk, epi, s));
        assertGuard(out, rows * n, outS);
        // GEMV (the lm_head's, fp32 out): one row at a time, picked by a_row0, once per case; the gelu
        // and residual epilogues of decode run in the fused GEMVs (fusedDecodeGemvs)
        for (int m = 0; m < (gemm == Gemm.TILE64 && epi.equals("f32out") ? Math.min(rows, 3) : 0); m++) {
            ClBuffer o1 = output("gemv out", n, outS);
            try (ClKernel kn = k.kernel("gemv_" + epi)) {
                kn.arg("a", ab).arg("a_row0", m).arg("w", wb).arg("bias", bb).arg("out", o1).arg("n_out", n).arg("k", kk);
                kn.launch(CTX, k.gemvGlobal(n), new long[] {k.gemvWg()});
            }
            float[] g1 = read(o1, n, outS);
            for (int j = 0; j < n; j++) check("gemv " + epi + " row " + m + " [" + j + "]", ref(a, w, b, m, j, kk, epi), g1[j], tol(a, w, b, m, j, kk, epi, s));
            assertGuard(o1, n, outS);
        }
    }

    static Stream<Arguments> fusedCases() {
        int[][] sizes = {{1, 1, 4, 4}, {63, 65, 20, 36}, {160, 384, 80, 164}, {480, 384, 160, 384}};
        List<Arguments> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int[] z : sizes) out.add(Arguments.of(s, z[0], z[1], z[2], z[3], PhiKernels.Gemv.DEFAULT));
        // every shape flashcl tune may pick (fp16: the shape's indexing is the same in both storages, and a
        // program build per shape and storage costs PoCL seconds): outputs not a multiple of the
        // work-group's, k with and without 8-element loads
        for (PhiKernels.Gemv g : PhiKernels.Gemv.candidates(CTX.device())) {
            if (g.equals(PhiKernels.Gemv.DEFAULT)) continue;
            out.add(Arguments.of(Storage.F16, 63, 65, 20, 36, g));
            out.add(Arguments.of(Storage.F16, 160, 384, 80, 164, g));
        }
        return out.stream();
    }

    static final java.util.Map<String, PhiKernels> SHAPED = new java.util.HashMap<>();

    static PhiKernels kernels(Storage s, PhiKernels.Gemv g) {
        if (g.equals(kernels(s).gemv())) return kernels(s);
        return SHAPED.computeIfAbsent(s + " " + g, key -> new PhiKernels(CTX, s, g, false));
    }

    /**
     * The decode graph's two fused GEMVs: qkv (fp32 out) and fc1 (gelu_new, storage out) from one
     * vector in one launch; dense and fc2, over two vectors of different lengths, added into x.
     * The default shape on every size, and every other shape {@code flashcl tune} may choose.
     */
    @ParameterizedTest(name = "fused {0} n1 {1} n2 {2} k1 {3} k2 {4} GEMV {5}")
    @MethodSource("fusedCases")
    void fusedDecodeGemvs(Storage s, int n1, int n2, int k1, int k2, PhiKernels.Gemv shape) {
        SplittableRandom r = new SplittableRandom(n1 * 31L + n2 * 7L + k1 + k2);
        PhiKernels k = kernels(s, shape);
        assertEquals(shape, k.gemv());
        float[] h = random(r, k1, 2, s), w1 = random(r, n1 * k1, 1.0 / Math.sqrt(k1), s), b1 = random(r, n1, 0.5, Storage.F32);
        float[] w2 = random(r, n2 * k1, 1.0 / Math.sqrt(k1), s), b2 = random(r, n2, 0.5, Storage.F32);
        ClBuffer out1 = output("qkv", n1, Storage.F32), out2 = output("g", n2, s);
        try (ClKernel kn = k.kernel("gemv_qkv_fc1")) {
            kn.arg("h", upload("h", h, s)).arg("w1", upload("w1", w1, s)).arg("b1", upload("b1", b1, Storage.F32)).arg("out1", out1).arg("n1", n1)
                    .arg("w2", upload("w2", w2, s)).arg("b2", upload("b2", b2, Storage.F32)).arg("out2", out2).arg("n2", n2).arg("k", k1);
            kn.launch(CTX, k.gemvGlobal(n1 + n2), new long[] {k.gemvWg()});
        }
        float[] g1 = read(out1, n1, Storage.F32), g2 = read(out2, n2, s);
        for (int j = 0; j < n1; j++) check("qkv [" + j + "]", ref(h, w1, b1, 0, j, k1, "f32out"), g1[j], tol(h, w1, b1, 0, j, k1, "f32out", s));
        for (int j = 0; j < n2; j++) check("fc1 [" + j + "]", ref(h, w2, b2, 0, j, k1, "gelu"), g2[j], tol(h, w2, b2, 0, j, k1, "gelu", s));
        assertGuard(out1, n1, Storage.F32);
        assertGuard(out2, n2, s);

        // dense (o: k1) + fc2 (g: k2) into x, n1 outputs
        float[] o = random(r, k1, 2, s), wd = random(r, n1 * k1, 1.0 / Math.sqrt(k1), s), bd = random(r, n1, 0.5, Storage.F32);
        float[] g = random(r, k2, 2, s), wf = random(r, n1 * k2, 1.0 / Math.sqrt(k2), s), bf = random(r, n1, 0.5, Storage.F32);
        float[] x0 = random(r, n1, 1, Storage.F32);
        ClBuffer x = output("x", n1, Storage.F32);
        float[] withGuard = java.util.Arrays.copyOf(x0, n1 + 64);
        java.util.Arrays.fill(withGuard, n1, n1 + 64, 777f);
        x.write(withGuard);
        try (ClKernel kn = k.kernel("gemv_dense_fc2")) {
            kn.arg("o", upload("o", o, s)).arg("wd", upload("wd", wd, s)).arg("bd", upload("bd", bd, Storage.F32)).arg("k1", k1)
                    .arg("g", upload("g", g, s)).arg("w2", upload("wf", wf, s)).arg("b2", upload("bf", bf, Storage.F32)).arg("k2", k2).arg("x", x).arg("n_out", n1);
            kn.launch(CTX, new long[] {(long) n1 * k.gemvWg()}, new long[] {k.gemvWg()});
        }
        float[] gx = read(x, n1, Storage.F32);
        for (int j = 0; j < n1; j++) {
            double want = x0[j] + ref(o, wd, bd, 0, j, k1, "f32out") + ref(g, wf, bf, 0, j, k2, "f32out");
            check("dense+fc2 [" + j + "]", want, gx[j], tol(o, wd, bd, 0, j, k1, "f32out", s) + tol(g, wf, bf, 0, j, k2, "f32out", s) + 4 * U * Math.abs(x0[j]));
        }
        assertGuard(x, n1, Storage.F32);
    }

    static double ref(float[] a, float[] w, float[] b, int m, int j, int kk, String epi) {
        double acc = b[j];
        for (int i = 0; i < kk; i++) acc += (double) a[m * kk + i] * w[j * kk + i];
        return epi.equals("gelu") ? geluNew(acc) : acc;
    }

    static Stream<Arguments> splitCases() {
        // rows, n, k1, k2, chunk (0: PhiKernels.Split.of, what Phi's prefill takes): one part of
        // each, a k2 tail shorter than a chunk, chunks of one k tile (32) and many parts, partial
        // work-groups both ways; k multiples of 8 so that every tiling takes every case
        int[][] sizes = {{1, 1, 8, 8, 0}, {17, 64, 64, 200, 0}, {65, 129, 80, 328, 32}, {130, 200, 40, 1000, 0}, {257, 136, 264, 600, 96}};
        List<Arguments> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int[] z : sizes) for (Gemm g : Gemm.values()) {
            if (g != Gemm.MMA && g != Gemm.SKINNY || s == Storage.F16) out.add(Arguments.of(s, g, z[0], z[1], z[2], z[3], z[4]));
        }
        return out.stream();
    }

    /**
     * Phi's prefill residual: o Wd^T (k1) and g W2^T (k2) split along k into partial sums
     * ({@code *_split}), then x += bd + b2 + the partials ({@code residual_sum}). Each partial is
     * a dot product over part of k, so the bound is that of the two products plus one rounding per
     * part added.
     */
    @ParameterizedTest(name = "{0} {1} rows {2} n {3} k1 {4} k2 {5} chunk {6}")
    @MethodSource("splitCases")
    void splitResidual(Storage s, Gemm gemm, int rows, int n, int k1, int k2, int chunk) {
        PhiKernels k = kernels(s);
        assumeTrue(k.has(gemm), "this device has no " + gemm + " kernels (tensor cores: NVIDIA inline PTX)");
        PhiKernels.Split split = chunk == 0 ? PhiKernels.Split.of(k1, k2) : PhiKernels.Split.withChunk(k2, chunk);
        SplittableRandom r = new SplittableRandom(rows * 7919L + n * 31L + k1 + k2 * 3L + chunk);
        float[] o = random(r, rows * k1, 2, s), wd = random(r, n * k1, 1.0 / Math.sqrt(k1), s), bd = random(r, n, 0.5, Storage.F32);
        float[] g = random(r, rows * k2, 2, s), w2 = random(r, n * k2, 1.0 / Math.sqrt(k2), s), b2 = random(r, n, 0.5, Storage.F32);
        float[] x0 = random(r, rows * n, 1, Storage.F32);
        int plane = rows * n, parts = split.parts();
        ClBuffer part = output("partials", parts * plane, Storage.F32), x = output("x", plane, Storage.F32);
        float[] withGuard = java.util.Arrays.copyOf(x0, plane + 64);
        java.util.Arrays.fill(withGuard, plane, plane + 64, 777f);
        x.write(withGuard);
        try (ClKernel kn = k.kernel(gemm.prefix + "split"); ClKernel sum = k.kernel("residual_sum")) {
            kn.arg("a1", upload("o", o, s)).arg("w1", upload("wd", wd, s)).arg("k1", k1).arg("a2", upload("g", g, s)).arg("w2", upload("w2", w2, s)).arg("k2", k2)
                    .arg("chunk", split.chunk()).arg("part", part).arg("rows", rows).arg("n_out", n);
            kn.launch(CTX, gemm.global(rows, n, parts), gemm.local());
            sum.arg("part", part).arg("parts", parts).arg("bd", upload("bd", bd, Storage.F32)).arg("b2", upload("b2", b2, Storage.F32)).arg("x", x).arg("rows", rows).arg("n_out", n);
            sum.launch(CTX, new long[] {n, rows}, null);
        }
        float[] got = read(x, plane, Storage.F32);
        for (int m = 0; m < rows; m++) for (int j = 0; j < n; j++) {
            double want = x0[m * n + j] + ref(o, wd, bd, m, j, k1, "f32out") + ref(g, w2, b2, m, j, k2, "f32out");
            double mag = Math.abs(x0[m * n + j]) + Math.abs(want);
            double tol = tol(o, wd, bd, m, j, k1, "f32out", s) + tol(g, w2, b2, m, j, k2, "f32out", s) + 2 * (parts + 3) * U * mag;
            check("x [" + m + "," + j + "] (" + parts + " parts)", want, got[m * n + j], tol);
        }
        assertGuard(part, parts * plane, Storage.F32);
        assertGuard(x, plane, Storage.F32);
    }

    static double tol(float[] a, float[] w, float[] b, int m, int j, int kk, String epi, Storage s) {
        double mag = Math.abs(b[j]);
        for (int i = 0; i < kk; i++) mag += Math.abs((double) a[m * kk + i] * w[j * kk + i]);
        double t = 2 * (kk + 2) * U * mag + 4 * U;
        if (epi.equals("gelu")) t = t * 1.2 + 8 * U * mag + (s == Storage.F16 ? 0x1p-11 * (mag + 1) : 0);   // gelu' <= 1.13, tanh in fp32
        return t;
    }

    static Stream<Arguments> ropeCases() {
        List<Arguments> out = new ArrayList<>();
        for (Storage s : Storage.values()) {
            out.add(Arguments.of(s, 1, 0, 1, 80, 32));
            out.add(Arguments.of(s, 5, 7, 3, 80, 32));
            out.add(Arguments.of(s, 3, 100, 2, 64, 64));
            out.add(Arguments.of(s, 4, 1900, 2, 80, 0));
            out.add(Arguments.of(s, 2, 2040, 3, 96, 48));
        }
        return out.stream();
    }

    /** Partial rotate-half RoPE of q and k, q written [heads, rows, d], k and v appended at positions pos0.. of a cache slice. */
    @ParameterizedTest(name = "rope {0} rows {1} pos0 {2} heads {3} d {4} rot {5}")
    @MethodSource("ropeCases")
    void ropeAndCacheAppend(Storage s, int rows, int pos0, int heads, int d, int rot) {
        int ctx = 2048, h = heads * d, cacheRow0 = heads * ctx;   // the second layer's slice of a two-layer cache
        SplittableRandom r = new SplittableRandom(pos0 * 7L + rows);
        float[] qkv = random(r, rows * 3 * h, 3, Storage.F32);
        float[] inv = new float[Math.max(1, rot / 2)];
        for (int i = 0; i < rot / 2; i++) inv[i] = 1.0f / (float) Math.pow(10000.0, (float) (2 * i) / rot);
        ClBuffer q = output("q", h * rows, s);
        int cacheElems = 2 * heads * ctx * d;
        ClBuffer kc = output("k cache", cacheElems, s), vc = output("v cache", cacheElems, s);
        try (ClKernel kn = kernels(s).kernel("rope_cache")) {
            kn.arg("qkv", upload("qkv", qkv, Storage.F32)).arg("inv_freq", upload("inv_freq", inv, Storage.F32)).arg("q", q).arg("k_cache", kc).arg("v_cache", vc)
                    .arg("heads", heads).arg("d_head", d).arg("rot", rot).arg("rows", rows).arg("pos0", pos0).arg("ctx", ctx).arg("cache_row0", cacheRow0);
            kn.launch(CTX, new long[] {d, heads, rows}, null);
        }
        float[] qg = read(q, h * rows, s), kg = read(kc, cacheElems, s), vg = read(vc, cacheElems, s);
        double fp16 = s == Storage.F16 ? 0x1p-11 : 0;
        for (int t = 0; t < rows; t++) {
            for (int hd = 0; hd < heads; hd++) {
                for (int i = 0; i < d; i++) {
                    double[] want = new double[2];
                    double tol = 0;
                    for (int part = 0; part < 2; part++) {
                        int base = t * 3 * h + part * h + hd * d;
                        double x = qkv[base + i];
                        if (i < rot) {
                            int half = rot / 2, fi = i < half ? i : i - half;
                            float angle = (float) (pos0 + t) * inv[fi];   // the kernel's fp32 angle
                            double c = Math.cos(angle), sn = Math.sin(angle);
                            double partner = i < half ? -qkv[base + i + half] : qkv[base + i - half];
                            want[part] = x * c + partner * sn;
                            tol = Math.max(tol, 16 * U * (Math.abs(x) + Math.abs(partner)) * 2);
                        } else {
                            want[part] = x;
                        }
                    }
                    String where = "t " + t + " head " + hd + " dim " + i;
                    check("q " + where, want[0], qg[(hd * rows + t) * d + i], tol + fp16 * Math.abs(want[0]));
                    int at = (cacheRow0 + hd * ctx + pos0 + t) * d + i;
                    check("k " + where, want[1], kg[at], tol + fp16 * Math.abs(want[1]));
                    check("v " + where, qkv[t * 3 * h + 2 * h + hd * d + i], vg[at], fp16 * Math.abs(qkv[t * 3 * h + 2 * h + hd * d + i]));
                }
            }
        }
        // nothing else in the cache was touched
        for (int i = 0; i < cacheElems + 64; i++) {
            int row = i / d - cacheRow0, hd = Math.floorDiv(row, ctx), pos = Math.floorMod(row, ctx);
            boolean written = i < cacheElems && row >= 0 && hd < heads && pos >= pos0 && pos < pos0 + rows;
            if (!written) assertEquals(777f, read(kc, cacheElems + 64, s)[i], "k cache element " + i + " was written");
            if (!written) break;   // the first unwritten element suffices per run; the full scan is below
        }
        float[] kAll = read(kc, cacheElems + 64, s);
        int touched = 0;
        for (float v : kAll) if (v != 777f) touched++;
        assertEquals(rows * heads * d, touched, "k cache elements written");
    }

    static Stream<Arguments> argmaxCases() {
        return Stream.of(1, 2, 255, 256, 257, 1000, 51200).map(Arguments::of);
    }

    /** The first index of the largest value, with ties among equal maxima, over lengths around the work-group size. */
    @ParameterizedTest(name = "argmax n {0}")
    @MethodSource("argmaxCases")
    void argmax(int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] v = random(r, n + 10, 5, Storage.F32);
        int first = 10;   // the row starts at an offset, as the last of several logit rows does
        int best = r.nextInt(n);
        v[first + best] = 7f;
        if (best + 3 < n) v[first + best + 3] = 7f;   // a tie after it: the first wins
        v[0] = 100f;   // before the row: must be ignored
        ClBuffer tok = ints("token", new int[] {-1});
        PhiKernels k = kernels(Storage.F32);
        try (ClKernel kn = k.kernel("argmax")) {
            kn.arg("logits_all", upload("logits", v, Storage.F32)).arg("first", first).arg("n", n).arg("token", tok).arg("flag_at", 1);
            kn.launch(CTX, new long[] {k.argmaxWg()}, new long[] {k.argmaxWg()});
        }
        int[] got = new int[1];
        tok.read(got);
        assertEquals(best, got[0]);
    }

    /** Rows of the embedding table by id; ids outside the table give zeros, not a read out of bounds. */
    @ParameterizedTest(name = "embed {0}")
    @MethodSource("storages")
    void embed(Storage s) {
        int vocab = 37, h = 20;
        float[] table = random(new SplittableRandom(3), vocab * h, 1, s);
        int[] ids = {0, 36, 5, -1, 37, 5};
        ClBuffer x = output("x", ids.length * h, Storage.F32);
        try (ClKernel kn = kernels(s).kernel("embed")) {
            kn.arg("ids", ints("ids", ids)).arg("table", upload("table", table, s)).arg("x", x).arg("h", h).arg("vocab", vocab);
            kn.launch(CTX, new long[] {h, ids.length}, null);
        }
        float[] got = read(x, ids.length * h, Storage.F32);
        for (int t = 0; t < ids.length; t++) {
            for (int i = 0; i < h; i++) {
                float want = ids[t] >= 0 && ids[t] < vocab ? table[ids[t] * h + i] : 0f;
                assertEquals(want, got[t * h + i], "row " + t + " (id " + ids[t] + ") dim " + i);
            }
        }
        assertGuard(x, ids.length * h, Storage.F32);
    }

    static Stream<Storage> storages() {
        return Stream.of(Storage.values());
    }
}
