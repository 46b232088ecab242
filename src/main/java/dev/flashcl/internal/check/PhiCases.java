package dev.flashcl.internal.check;

import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.GgmlBlocks;
import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.PhiKernels;
import dev.flashcl.internal.phi.PhiKernels.Gemm;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The layer kernels of phi.cl against double-precision references written from the math:
 * embedding, LayerNorm, GEMM and GEMV with their epilogues (portable tiles, tensor cores where
 * the device has them), the fused decode GEMVs under every shape {@code flashcl tune} may pick,
 * the split residual products, partial rotary + KV append, argmax; and the quantized kernels
 * (Q8_0, Q4_0 weights) against fp64 products of the weights as the format defines them. Sizes
 * cover ragged tiles (rows and outputs not multiples of 64, k not of 16), both storages, and
 * outputs are read with a poisoned region after them so that stray writes show.
 *
 * <p>Tolerances, u = 2^-24: a dot product of k terms in fp32 is within k u sum|a_i w_i| (we allow
 * 2x that plus the bias' rounding); fp16 outputs get half an ulp more (2^-11 |ref|). LayerNorm:
 * 8 u (h (|z| + 1) + (|x| + |mean|) / sigma) |w| + |b| u, z = (x - mean) / sigma: the rounding of x
 * and of the mean, at the magnitude of the mean, is amplified by 1 / sigma. RoPE: angle and cos/sin
 * in fp32, 16 u (|x| + |partner|). Quantized GEMVs: each chunk's 16 products are exact in fp32
 * (|q| at most 127 times an fp16), so the fp16 GEMV's bound holds; dequant_rows is exact.
 */
public final class PhiCases {
    static final double U = 0x1p-24;
    static final float GUARD_VALUE = 777f;

    private PhiCases() {}

    /** The Phi family: every case (full), or fewer sizes per kernel (quick). */
    public static List<CheckCase> cases(DeviceInfo d, boolean quick) {
        List<CheckCase> out = new ArrayList<>();
        out.addAll(layerNorm(quick));
        out.addAll(gemmAndGemv(quick));
        out.addAll(fusedDecodeGemvs(d, quick));
        out.addAll(splitResidual(quick));
        out.addAll(rope(quick));
        out.addAll(argmax(quick));
        out.addAll(embed());
        return out;
    }

    /** The quantized family. */
    public static List<CheckCase> quantCases(boolean quick) {
        int[][] sizes = quick ? new int[][] {{1, 32, 32}, {33, 160, 640}} : new int[][] {{1, 32, 32}, {33, 160, 640}, {160, 640, 160}, {257, 96, 2560}};
        List<CheckCase> out = new ArrayList<>();
        for (DType t : new DType[] {DType.Q8_0, DType.Q4_0}) for (Storage s : Storage.values()) for (int[] z : sizes) {
            out.add(new CheckCase("quant", String.format("%s %s n1 %d n2 %d k %d", t, s, z[0], z[1], z[2]), rig -> quantized(rig, t, s, z[0], z[1], z[2])));
        }
        return out;
    }

    // ---- buffers -------------------------------------------------------------------------------

    static ClBuffer upload(CheckRig rig, String name, float[] v, Storage s) {
        ClBuffer b = rig.allocate(name, Math.max(4, (long) v.length * s.bytes));
        if (s == Storage.F16) b.write(Half.fromFloats(v));
        else b.write(v);
        return b;
    }

    static ClBuffer ints(CheckRig rig, String name, int[] v) {
        ClBuffer b = rig.allocate(name, Math.max(4, v.length * 4L));
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
    public static float[] random(SplittableRandom r, int n, double scale, Storage s) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return s == Storage.F16 ? Half.toFloats(Half.fromFloats(v)) : v;
    }

    /** An output buffer of n elements followed by a poisoned guard of 64. */
    static ClBuffer output(CheckRig rig, String name, int n, Storage s) {
        float[] poison = new float[n + 64];
        Arrays.fill(poison, GUARD_VALUE);
        return upload(rig, name, poison, s);
    }

    /** An fp32 buffer holding x0, then the guard. */
    static ClBuffer accumulator(CheckRig rig, String name, float[] x0) {
        ClBuffer x = output(rig, name, x0.length, Storage.F32);
        float[] withGuard = Arrays.copyOf(x0, x0.length + 64);
        Arrays.fill(withGuard, x0.length, x0.length + 64, GUARD_VALUE);
        x.write(withGuard);
        return x;
    }

    static void assertGuard(ClBuffer b, int n, Storage s, String what) {
        float[] all = read(b, n + 64, s);
        for (int i = n; i < n + 64; i++) {
            if (all[i] != GUARD_VALUE) throw new CheckFailure(what + ": guard element " + (i - n) + " after the output was written (" + all[i] + ")");
        }
    }

    // ---- references ----------------------------------------------------------------------------

    static double geluNew(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    static double ref(float[] a, float[] w, float[] b, int m, int j, int kk, String epi) {
        double acc = b[j];
        for (int i = 0; i < kk; i++) acc += (double) a[m * kk + i] * w[j * kk + i];
        return epi.equals("gelu") ? geluNew(acc) : acc;
    }

    static double tol(float[] a, float[] w, float[] b, int m, int j, int kk, String epi, Storage s) {
        double mag = Math.abs(b[j]);
        for (int i = 0; i < kk; i++) mag += Math.abs((double) a[m * kk + i] * w[j * kk + i]);
        double t = 2 * (kk + 2) * U * mag + 4 * U;
        if (epi.equals("gelu")) t = t * 1.2 + 8 * U * mag + (s == Storage.F16 ? 0x1p-11 * (mag + 1) : 0);   // gelu' <= 1.13, tanh in fp32
        return t;
    }

    // ---- LayerNorm -----------------------------------------------------------------------------

    static List<CheckCase> layerNorm(boolean quick) {
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int rows : quick ? new int[] {3} : new int[] {1, 3, 17}) for (int h : new int[] {4, 80, 160, 2560}) {
            out.add(new CheckCase("phi", "layernorm " + s + " rows " + rows + " h " + h, rig -> layerNorm(rig, s, rows, h)));
        }
        return out;
    }

    static Measure layerNorm(CheckRig rig, Storage s, int rows, int h) {
        SplittableRandom r = new SplittableRandom(rows * 31L + h);
        float[] x = random(r, rows * h, 3, Storage.F32);
        for (int i = 0; i < x.length; i++) x[i] += 50;   // a large mean: the variance must not cancel
        float[] w = random(r, h, 2, Storage.F32), b = random(r, h, 1, Storage.F32);
        ClBuffer out = output(rig, "ln out", rows * h, s);
        PhiKernels k = rig.phi(s);
        try (ClKernel kn = k.kernel("layernorm")) {
            kn.arg("x", upload(rig, "x", x, Storage.F32)).arg("w", upload(rig, "w", w, Storage.F32)).arg("b", upload(rig, "b", b, Storage.F32)).arg("out", out).arg("h", h).arg("eps", 1e-5f);
            kn.launch(rig.ctx(), new long[] {(long) rows * k.lnWg()}, new long[] {k.lnWg()});
        }
        float[] got = read(out, rows * h, s);
        Tally tally = new Tally("layernorm");
        for (int t = 0; t < rows; t++) {
            double mean = 0, var = 0;
            for (int i = 0; i < h; i++) mean += x[t * h + i];
            mean /= h;
            for (int i = 0; i < h; i++) var += (x[t * h + i] - mean) * (x[t * h + i] - mean);
            double sigma = Math.sqrt(var / h + 1e-5);
            for (int i = 0; i < h; i++) {
                double z = (x[t * h + i] - mean) / sigma, want = z * w[i] + b[i];
                double tol = 8 * U * (h * (Math.abs(z) + 1) + (Math.abs(x[t * h + i]) + Math.abs(mean)) / sigma) * Math.abs(w[i]) + Math.abs(b[i]) * U
                        + (s == Storage.F16 ? Math.abs(want) * 0x1p-11 + 0x1p-25 : 0);
                tally.close("row " + t + " elem " + i, want, got[t * h + i], tol);
            }
        }
        assertGuard(out, rows * h, s, "layernorm");
        return tally.done();
    }

    // ---- GEMM and GEMV -------------------------------------------------------------------------

    static List<CheckCase> gemmAndGemv(boolean quick) {
        int[][] sizes = quick ? new int[][] {{2, 63, 20}, {65, 129, 164}} : new int[][] {{1, 1, 4}, {2, 63, 20}, {17, 64, 64}, {64, 65, 80}, {65, 129, 164}, {130, 200, 36}};
        // the tensor-core kernel: k a multiple of 8; tails in k (k % 32), several k tiles (its double
        // buffer), several work-groups both ways, and partial ones
        int[][] mmaSizes = quick ? new int[][] {{65, 129, 80}, {300, 136, 1000}} : new int[][] {{1, 1, 8}, {17, 64, 64}, {65, 129, 80}, {130, 200, 40}, {257, 384, 264}, {300, 136, 1000}};
        // the skinny tensor-core kernel (batched decode): one row, rows that end inside an 8-row
        // mma tile, a whole 64-row tile, more than one; outputs inside a warp's 16, and past a
        // work-group's 64; k inside one chunk of 128, a tail of 8 after whole chunks, several
        int[][] skinnySizes = quick ? new int[][] {{3, 16, 40}, {130, 81, 392}}
                : new int[][] {{1, 1, 8}, {3, 16, 40}, {8, 70, 128}, {37, 200, 136}, {64, 64, 1000}, {65, 129, 264}, {130, 81, 392}, {20, 300, 2568}};
        // the few-rows kernel (batched decode off tensor cores): one row, rows inside and past its 16,
        // outputs inside and past a work-group's 4, k shorter than and many times its 16 lanes x 4
        int[][] rowsSizes = quick ? new int[][] {{3, 5, 20}, {33, 129, 164}}
                : new int[][] {{1, 1, 4}, {3, 5, 20}, {16, 64, 64}, {17, 63, 36}, {33, 129, 164}, {32, 200, 1000}};
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (String epi : new String[] {"f32out", "gelu"}) {
            for (int[] z : sizes) for (Gemm g : new Gemm[] {Gemm.TILE64, Gemm.TILE128}) out.add(gemmCase(s, epi, z, g));
            for (int[] z : rowsSizes) out.add(gemmCase(s, epi, z, Gemm.ROWS));
            if (s == Storage.F16) for (int[] z : mmaSizes) out.add(gemmCase(s, epi, z, Gemm.MMA));
            if (s == Storage.F16) for (int[] z : skinnySizes) out.add(gemmCase(s, epi, z, Gemm.SKINNY));
        }
        return out;
    }

    static CheckCase gemmCase(Storage s, String epi, int[] z, Gemm g) {
        return new CheckCase("phi", String.format("%s %s rows %d n %d k %d %s", s, epi, z[0], z[1], z[2], g), rig -> gemmAndGemv(rig, s, epi, z[0], z[1], z[2], g));
    }

    /** GEMM over all rows, and GEMV (decode) on each of the first rows through a_row0. */
    public static Measure gemmAndGemv(CheckRig rig, Storage s, String epi, int rows, int n, int kk, Gemm gemm) {
        SplittableRandom r = new SplittableRandom(rows * 1000L + n * 10L + kk);
        float[] a = random(r, rows * kk, 2, s), w = random(r, n * kk, 1.0 / Math.sqrt(kk), s), b = random(r, n, 0.5, Storage.F32);
        Storage outS = epi.equals("gelu") ? s : Storage.F32;
        PhiKernels k = rig.phi(s);
        if (!k.has(gemm)) throw new Skipped("this device has no " + gemm + " kernels (tensor cores: NVIDIA inline PTX)");
        ClBuffer ab = upload(rig, "a", a, s), wb = upload(rig, "w", w, s), bb = upload(rig, "bias", b, Storage.F32);
        ClBuffer out = output(rig, "gemm out", rows * n, outS);
        try (ClKernel kn = k.kernel(gemm.prefix + epi)) {
            kn.arg("a", ab).arg("a_row0", 0).arg("w", wb).arg("bias", bb).arg("out", out).arg("rows", rows).arg("n_out", n).arg("k", kk);
            kn.launch(rig.ctx(), gemm.global(rows, n), gemm.local());
        }
        float[] got = read(out, rows * n, outS);
        Tally tally = new Tally(gemm.prefix + epi);
        for (int m = 0; m < rows; m++) for (int j = 0; j < n; j++) tally.close("[" + m + "," + j + "]", ref(a, w, b, m, j, kk, epi), got[m * n + j], tol(a, w, b, m, j, kk, epi, s));
        assertGuard(out, rows * n, outS, gemm.prefix + epi);
        Measure m0 = tally.done();
        // GEMV (the lm_head's, fp32 out): one row at a time, picked by a_row0, once per case; the gelu
        // and residual epilogues of decode run in the fused GEMVs (fusedDecodeGemvs)
        Tally gemv = new Tally("gemv_" + epi);
        for (int m = 0; m < (gemm == Gemm.TILE64 && epi.equals("f32out") ? Math.min(rows, 3) : 0); m++) {
            ClBuffer o1 = output(rig, "gemv out", n, outS);
            try (ClKernel kn = k.kernel("gemv_" + epi)) {
                kn.arg("a", ab).arg("a_row0", m).arg("w", wb).arg("bias", bb).arg("out", o1).arg("n_out", n).arg("k", kk);
                kn.launch(rig.ctx(), k.gemvGlobal(n), new long[] {k.gemvWg()});
            }
            float[] g1 = read(o1, n, outS);
            for (int j = 0; j < n; j++) gemv.close("row " + m + " [" + j + "]", ref(a, w, b, m, j, kk, epi), g1[j], tol(a, w, b, m, j, kk, epi, s));
            assertGuard(o1, n, outS, "gemv_" + epi);
        }
        Measure m1 = gemv.done();
        rig.releaseBuffers();
        return m0.max(m1);
    }

    // ---- fused decode GEMVs --------------------------------------------------------------------

    static List<CheckCase> fusedDecodeGemvs(DeviceInfo d, boolean quick) {
        int[][] sizes = quick ? new int[][] {{63, 65, 20, 36}, {480, 384, 160, 384}} : new int[][] {{1, 1, 4, 4}, {63, 65, 20, 36}, {160, 384, 80, 164}, {480, 384, 160, 384}};
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int[] z : sizes) out.add(fusedCase(s, z, PhiKernels.Gemv.DEFAULT));
        // every shape flashcl tune may pick (fp16: the shape's indexing is the same in both storages, and a
        // program build per shape and storage costs PoCL seconds): outputs not a multiple of the
        // work-group's, k with and without 8-element loads
        if (!quick) for (PhiKernels.Gemv g : PhiKernels.Gemv.candidates(d)) {
            if (g.equals(PhiKernels.Gemv.DEFAULT)) continue;
            out.add(fusedCase(Storage.F16, new int[] {63, 65, 20, 36}, g));
            out.add(fusedCase(Storage.F16, new int[] {160, 384, 80, 164}, g));
        }
        return out;
    }

    static CheckCase fusedCase(Storage s, int[] z, PhiKernels.Gemv g) {
        return new CheckCase("phi", String.format("fused %s n1 %d n2 %d k1 %d k2 %d GEMV %s", s, z[0], z[1], z[2], z[3], g),
                rig -> fusedDecodeGemvs(rig, s, z[0], z[1], z[2], z[3], g));
    }

    /**
     * The decode graph's two fused GEMVs: qkv (fp32 out) and fc1 (gelu_new, storage out) from one
     * vector in one launch; dense and fc2, over two vectors of different lengths, added into x.
     */
    public static Measure fusedDecodeGemvs(CheckRig rig, Storage s, int n1, int n2, int k1, int k2, PhiKernels.Gemv shape) {
        SplittableRandom r = new SplittableRandom(n1 * 31L + n2 * 7L + k1 + k2);
        PhiKernels k = rig.phi(s, shape);
        if (!shape.equals(k.gemv())) throw new CheckFailure("asked for GEMV shape " + shape + ", built " + k.gemv());
        float[] h = random(r, k1, 2, s), w1 = random(r, n1 * k1, 1.0 / Math.sqrt(k1), s), b1 = random(r, n1, 0.5, Storage.F32);
        float[] w2 = random(r, n2 * k1, 1.0 / Math.sqrt(k1), s), b2 = random(r, n2, 0.5, Storage.F32);
        ClBuffer out1 = output(rig, "qkv", n1, Storage.F32), out2 = output(rig, "g", n2, s);
        try (ClKernel kn = k.kernel("gemv_qkv_fc1")) {
            kn.arg("h", upload(rig, "h", h, s)).arg("w1", upload(rig, "w1", w1, s)).arg("b1", upload(rig, "b1", b1, Storage.F32)).arg("out1", out1).arg("n1", n1)
                    .arg("w2", upload(rig, "w2", w2, s)).arg("b2", upload(rig, "b2", b2, Storage.F32)).arg("out2", out2).arg("n2", n2).arg("k", k1);
            kn.launch(rig.ctx(), k.gemvGlobal(n1 + n2), new long[] {k.gemvWg()});
        }
        float[] g1 = read(out1, n1, Storage.F32), g2 = read(out2, n2, s);
        Tally tally = new Tally("gemv_qkv_fc1 / gemv_dense_fc2");
        for (int j = 0; j < n1; j++) tally.close("qkv [" + j + "]", ref(h, w1, b1, 0, j, k1, "f32out"), g1[j], tol(h, w1, b1, 0, j, k1, "f32out", s));
        for (int j = 0; j < n2; j++) tally.close("fc1 [" + j + "]", ref(h, w2, b2, 0, j, k1, "gelu"), g2[j], tol(h, w2, b2, 0, j, k1, "gelu", s));
        assertGuard(out1, n1, Storage.F32, "gemv_qkv_fc1 qkv");
        assertGuard(out2, n2, s, "gemv_qkv_fc1 fc1");

        // dense (o: k1) + fc2 (g: k2) into x, n1 outputs
        float[] o = random(r, k1, 2, s), wd = random(r, n1 * k1, 1.0 / Math.sqrt(k1), s), bd = random(r, n1, 0.5, Storage.F32);
        float[] g = random(r, k2, 2, s), wf = random(r, n1 * k2, 1.0 / Math.sqrt(k2), s), bf = random(r, n1, 0.5, Storage.F32);
        float[] x0 = random(r, n1, 1, Storage.F32);
        ClBuffer x = accumulator(rig, "x", x0);
        try (ClKernel kn = k.kernel("gemv_dense_fc2")) {
            kn.arg("o", upload(rig, "o", o, s)).arg("wd", upload(rig, "wd", wd, s)).arg("bd", upload(rig, "bd", bd, Storage.F32)).arg("k1", k1)
                    .arg("g", upload(rig, "g", g, s)).arg("w2", upload(rig, "wf", wf, s)).arg("b2", upload(rig, "bf", bf, Storage.F32)).arg("k2", k2).arg("x", x).arg("n_out", n1);
            kn.launch(rig.ctx(), new long[] {(long) n1 * k.gemvWg()}, new long[] {k.gemvWg()});
        }
        float[] gx = read(x, n1, Storage.F32);
        for (int j = 0; j < n1; j++) {
            double want = x0[j] + ref(o, wd, bd, 0, j, k1, "f32out") + ref(g, wf, bf, 0, j, k2, "f32out");
            tally.close("dense+fc2 [" + j + "]", want, gx[j], tol(o, wd, bd, 0, j, k1, "f32out", s) + tol(g, wf, bf, 0, j, k2, "f32out", s) + 4 * U * Math.abs(x0[j]));
        }
        assertGuard(x, n1, Storage.F32, "gemv_dense_fc2");
        rig.releaseBuffers();
        return tally.done();
    }

    // ---- split residual ------------------------------------------------------------------------

    static List<CheckCase> splitResidual(boolean quick) {
        // rows, n, k1, k2, chunk (0: PhiKernels.Split.of, what Phi's prefill takes): one part of
        // each, a k2 tail shorter than a chunk, chunks of one k tile (32) and many parts, partial
        // work-groups both ways; k multiples of 8 so that every tiling takes every case
        int[][] sizes = quick ? new int[][] {{65, 129, 80, 328, 32}} : new int[][] {{1, 1, 8, 8, 0}, {17, 64, 64, 200, 0}, {65, 129, 80, 328, 32}, {130, 200, 40, 1000, 0}, {257, 136, 264, 600, 96}};
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int[] z : sizes) for (Gemm g : Gemm.values()) {
            if (g != Gemm.MMA && g != Gemm.SKINNY || s == Storage.F16) {
                out.add(new CheckCase("phi", String.format("%s %s split rows %d n %d k1 %d k2 %d chunk %d", s, g, z[0], z[1], z[2], z[3], z[4]),
                        rig -> splitResidual(rig, s, g, z[0], z[1], z[2], z[3], z[4])));
            }
        }
        return out;
    }

    /**
     * Phi's prefill residual: o Wd^T (k1) and g W2^T (k2) split along k into partial sums
     * ({@code *_split}), then x += bd + b2 + the partials ({@code residual_sum}). Each partial is
     * a dot product over part of k, so the bound is that of the two products plus one rounding per
     * part added.
     */
    public static Measure splitResidual(CheckRig rig, Storage s, Gemm gemm, int rows, int n, int k1, int k2, int chunk) {
        PhiKernels k = rig.phi(s);
        if (!k.has(gemm)) throw new Skipped("this device has no " + gemm + " kernels (tensor cores: NVIDIA inline PTX)");
        PhiKernels.Split split = chunk == 0 ? PhiKernels.Split.of(k1, k2) : PhiKernels.Split.withChunk(k2, chunk);
        SplittableRandom r = new SplittableRandom(rows * 7919L + n * 31L + k1 + k2 * 3L + chunk);
        float[] o = random(r, rows * k1, 2, s), wd = random(r, n * k1, 1.0 / Math.sqrt(k1), s), bd = random(r, n, 0.5, Storage.F32);
        float[] g = random(r, rows * k2, 2, s), w2 = random(r, n * k2, 1.0 / Math.sqrt(k2), s), b2 = random(r, n, 0.5, Storage.F32);
        float[] x0 = random(r, rows * n, 1, Storage.F32);
        int plane = rows * n, parts = split.parts();
        ClBuffer part = output(rig, "partials", parts * plane, Storage.F32), x = accumulator(rig, "x", x0);
        try (ClKernel kn = k.kernel(gemm.prefix + "split"); ClKernel sum = k.kernel("residual_sum")) {
            kn.arg("a1", upload(rig, "o", o, s)).arg("w1", upload(rig, "wd", wd, s)).arg("k1", k1).arg("a2", upload(rig, "g", g, s)).arg("w2", upload(rig, "w2", w2, s)).arg("k2", k2)
                    .arg("chunk", split.chunk()).arg("part", part).arg("rows", rows).arg("n_out", n);
            kn.launch(rig.ctx(), gemm.global(rows, n, parts), gemm.local());
            sum.arg("part", part).arg("parts", parts).arg("bd", upload(rig, "bd", bd, Storage.F32)).arg("b2", upload(rig, "b2", b2, Storage.F32)).arg("x", x).arg("rows", rows).arg("n_out", n);
            sum.launch(rig.ctx(), new long[] {n, rows}, null);
        }
        float[] got = read(x, plane, Storage.F32);
        Tally tally = new Tally(gemm.prefix + "split + residual_sum (" + parts + " parts)");
        for (int m = 0; m < rows; m++) for (int j = 0; j < n; j++) {
            double want = x0[m * n + j] + ref(o, wd, bd, m, j, k1, "f32out") + ref(g, w2, b2, m, j, k2, "f32out");
            double mag = Math.abs(x0[m * n + j]) + Math.abs(want);
            double tol = tol(o, wd, bd, m, j, k1, "f32out", s) + tol(g, w2, b2, m, j, k2, "f32out", s) + 2 * (parts + 3) * U * mag;
            tally.close("x [" + m + "," + j + "]", want, got[m * n + j], tol);
        }
        assertGuard(part, parts * plane, Storage.F32, "partials");
        assertGuard(x, plane, Storage.F32, "x");
        rig.releaseBuffers();
        return tally.done();
    }

    // ---- rope + KV append ----------------------------------------------------------------------

    static List<CheckCase> rope(boolean quick) {
        int[][] shapes = quick ? new int[][] {{5, 7, 3, 80, 32}, {2, 2040, 3, 96, 48}}
                : new int[][] {{1, 0, 1, 80, 32}, {5, 7, 3, 80, 32}, {3, 100, 2, 64, 64}, {4, 1900, 2, 80, 0}, {2, 2040, 3, 96, 48}};
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : Storage.values()) for (int[] z : shapes) {
            out.add(new CheckCase("phi", String.format("rope %s rows %d pos0 %d heads %d d %d rot %d", s, z[0], z[1], z[2], z[3], z[4]),
                    rig -> ropeAndCacheAppend(rig, s, z[0], z[1], z[2], z[3], z[4])));
        }
        return out;
    }

    /** Partial rotate-half RoPE of q and k, q written [heads, rows, d], k and v appended at positions pos0.. of a cache slice. */
    public static Measure ropeAndCacheAppend(CheckRig rig, Storage s, int rows, int pos0, int heads, int d, int rot) {
        int ctx = 2048, h = heads * d, cacheRow0 = heads * ctx;   // the second layer's slice of a two-layer cache
        SplittableRandom r = new SplittableRandom(pos0 * 7L + rows);
        float[] qkv = random(r, rows * 3 * h, 3, Storage.F32);
        float[] inv = new float[Math.max(1, rot / 2)];
        for (int i = 0; i < rot / 2; i++) inv[i] = 1.0f / (float) Math.pow(10000.0, (float) (2 * i) / rot);
        ClBuffer q = output(rig, "q", h * rows, s);
        int cacheElems = 2 * heads * ctx * d;
        ClBuffer kc = output(rig, "k cache", cacheElems, s), vc = output(rig, "v cache", cacheElems, s);
        try (ClKernel kn = rig.phi(s).kernel("rope_cache")) {
            kn.arg("qkv", upload(rig, "qkv", qkv, Storage.F32)).arg("inv_freq", upload(rig, "inv_freq", inv, Storage.F32)).arg("q", q).arg("k_cache", kc).arg("v_cache", vc)
                    .arg("heads", heads).arg("d_head", d).arg("rot", rot).arg("rows", rows).arg("pos0", pos0).arg("ctx", ctx).arg("cache_row0", cacheRow0);
            kn.launch(rig.ctx(), new long[] {d, heads, rows}, null);
        }
        float[] qg = read(q, h * rows, s), kg = read(kc, cacheElems + 64, s), vg = read(vc, cacheElems + 64, s);
        double fp16 = s == Storage.F16 ? 0x1p-11 : 0;
        Tally tally = new Tally("rope_cache");
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
                    tally.close("q " + where, want[0], qg[(hd * rows + t) * d + i], tol + fp16 * Math.abs(want[0]));
                    int at = (cacheRow0 + hd * ctx + pos0 + t) * d + i;
                    tally.close("k " + where, want[1], kg[at], tol + fp16 * Math.abs(want[1]));
                    double v = qkv[t * 3 * h + 2 * h + hd * d + i];
                    tally.close("v " + where, v, vg[at], fp16 * Math.abs(v));
                }
            }
        }
        assertGuard(q, h * rows, s, "q");
        // nothing else in either cache was touched
        for (float[] cache : new float[][] {kg, vg}) {
            int touched = 0;
            for (float v : cache) if (v != GUARD_VALUE) touched++;
            Tally.exact((cache == kg ? "k" : "v") + " cache elements written", (long) rows * heads * d, touched);
        }
        rig.releaseBuffers();
        return tally.done();
    }

    // ---- argmax, embedding ---------------------------------------------------------------------

    static List<CheckCase> argmax(boolean quick) {
        List<CheckCase> out = new ArrayList<>();
        for (int n : quick ? new int[] {1, 257, 51200} : new int[] {1, 2, 255, 256, 257, 1000, 51200}) out.add(new CheckCase("phi", "argmax n " + n, rig -> argmax(rig, n)));
        return out;
    }

    /** The first index of the largest value, with ties among equal maxima, over lengths around the work-group size. */
    public static Measure argmax(CheckRig rig, int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] v = random(r, n + 10, 5, Storage.F32);
        int first = 10;   // the row starts at an offset, as the last of several logit rows does
        int best = r.nextInt(n);
        v[first + best] = 7f;
        if (best + 3 < n) v[first + best + 3] = 7f;   // a tie after it: the first wins
        v[0] = 100f;   // before the row: must be ignored
        ClBuffer tok = ints(rig, "token", new int[] {-1});
        PhiKernels k = rig.phi(Storage.F32);
        try (ClKernel kn = k.kernel("argmax")) {
            kn.arg("logits_all", upload(rig, "logits", v, Storage.F32)).arg("first", first).arg("n", n).arg("token", tok).arg("flag_at", 1);
            kn.launch(rig.ctx(), new long[] {k.argmaxWg()}, new long[] {k.argmaxWg()});
        }
        int[] got = new int[1];
        tok.read(got);
        rig.releaseBuffers();
        Tally.exact("argmax index", best, got[0]);
        return Measure.EXACT;
    }

    static List<CheckCase> embed() {
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : Storage.values()) out.add(new CheckCase("phi", "embed " + s, rig -> embed(rig, s)));
        return out;
    }

    /** Rows of the embedding table by id; ids outside the table give zeros, not a read out of bounds. */
    public static Measure embed(CheckRig rig, Storage s) {
        int vocab = 37, h = 20;
        float[] table = random(new SplittableRandom(3), vocab * h, 1, s);
        int[] ids = {0, 36, 5, -1, 37, 5};
        ClBuffer x = output(rig, "x", ids.length * h, Storage.F32);
        try (ClKernel kn = rig.phi(s).kernel("embed")) {
            kn.arg("ids", ints(rig, "ids", ids)).arg("table", upload(rig, "table", table, s)).arg("x", x).arg("h", h).arg("vocab", vocab);
            kn.launch(rig.ctx(), new long[] {h, ids.length}, null);
        }
        float[] got = read(x, ids.length * h, Storage.F32);
        Tally tally = new Tally("embed");
        for (int t = 0; t < ids.length; t++) {
            for (int i = 0; i < h; i++) {
                float want = ids[t] >= 0 && ids[t] < vocab ? table[ids[t] * h + i] : 0f;
                tally.close("row " + t + " (id " + ids[t] + ") dim " + i, want, got[t * h + i], 0);
            }
        }
        assertGuard(x, ids.length * h, Storage.F32, "embed");
        rig.releaseBuffers();
        return tally.done();
    }

    // ---- quantized weights ---------------------------------------------------------------------

    /** n x k weights of type t from random values: the floats they stand for and their device buffer. */
    record Weights(float[] values, ClBuffer buffer) {}

    static Weights weights(CheckRig rig, SplittableRandom r, DType t, int n, int k) {
        float[] x = new float[n * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() / Math.sqrt(k)) * (i % 97 == 0 ? 6 : 1);
        ByteBuffer blocks = ByteBuffer.allocate((int) t.bytesOf(x.length)).order(ByteOrder.LITTLE_ENDIAN);
        if (t == DType.Q8_0) GgmlBlocks.quantizeQ8_0(x, 0, x.length, blocks);
        else GgmlBlocks.quantizeQ4_0(x, 0, x.length, blocks);
        blocks.flip();
        float[] values = new float[x.length];
        GgmlBlocks.dequantize(t, blocks, 0, values.length, values);
        ClBuffer b = rig.allocate("quantized weights", blocks.remaining());
        b.write(0, PhiKernels.quantizedLayout(t, blocks));
        return new Weights(values, b);
    }

    /**
     * The quantized decode GEMVs (lm_head form, qkv + fc1, dense + fc2) against fp64 products of
     * the weights as the format defines them ({@link GgmlBlocks#dequantize}), and dequant_rows equal,
     * bit for bit, to the dequantized value rounded to the storage type.
     */
    public static Measure quantized(CheckRig rig, DType t, Storage s, int n1, int n2, int k) {
        SplittableRandom r = new SplittableRandom(n1 * 131L + n2 * 7L + k + t.ordinal());
        PhiKernels kn = rig.phi(s);
        float[] h = random(r, k, 2, s), b1 = random(r, n1, 0.5, Storage.F32), b2 = random(r, n2, 0.5, Storage.F32);
        Weights w1 = weights(rig, r, t, n1, k), w2 = weights(rig, r, t, n2, k);
        ClBuffer hb = upload(rig, "h", h, s);
        Tally tally = new Tally(t + " qgemv");
        // lm_head form, fp32 out
        ClBuffer o = output(rig, "out", n1, Storage.F32);
        try (ClKernel q = kn.kernel("qgemv_f32out", t)) {
            q.arg("a", hb).arg("a_row0", 0).arg("w", w1.buffer()).arg("bias", upload(rig, "b1", b1, Storage.F32)).arg("out", o).arg("n_out", n1).arg("k", k);
            q.launch(rig.ctx(), kn.gemvGlobal(n1), new long[] {kn.gemvWg()});
        }
        float[] got = read(o, n1, Storage.F32);
        for (int j = 0; j < n1; j++) tally.close("qgemv_f32out [" + j + "]", ref(h, w1.values(), b1, 0, j, k, "f32out"), got[j], tol(h, w1.values(), b1, 0, j, k, "f32out", s));
        assertGuard(o, n1, Storage.F32, "qgemv_f32out");
        // qkv + fc1 in one launch
        ClBuffer out1 = output(rig, "qkv", n1, Storage.F32), out2 = output(rig, "g", n2, s);
        try (ClKernel q = kn.kernel("qgemv_qkv_fc1", t)) {
            q.arg("h", hb).arg("w1", w1.buffer()).arg("b1", upload(rig, "b1", b1, Storage.F32)).arg("out1", out1).arg("n1", n1)
                    .arg("w2", w2.buffer()).arg("b2", upload(rig, "b2", b2, Storage.F32)).arg("out2", out2).arg("n2", n2).arg("k", k);
            q.launch(rig.ctx(), kn.gemvGlobal(n1 + n2), new long[] {kn.gemvWg()});
        }
        float[] g1 = read(out1, n1, Storage.F32), g2 = read(out2, n2, s);
        for (int j = 0; j < n1; j++) tally.close("qgemv_qkv_fc1 qkv [" + j + "]", ref(h, w1.values(), b1, 0, j, k, "f32out"), g1[j], tol(h, w1.values(), b1, 0, j, k, "f32out", s));
        for (int j = 0; j < n2; j++) tally.close("qgemv_qkv_fc1 fc1 [" + j + "]", ref(h, w2.values(), b2, 0, j, k, "gelu"), g2[j], tol(h, w2.values(), b2, 0, j, k, "gelu", s));
        assertGuard(out1, n1, Storage.F32, "qgemv_qkv_fc1 qkv");
        assertGuard(out2, n2, s, "qgemv_qkv_fc1 fc1");
        // dense (k) + fc2 (k2) into x, n1 outputs
        int k2 = (n2 + 31) / 32 * 32;
        float[] ov = random(r, k, 2, s), gv = random(r, k2, 2, s), bd = random(r, n1, 0.5, Storage.F32), bf = random(r, n1, 0.5, Storage.F32);
        float[] x0 = random(r, n1, 1, Storage.F32);
        Weights wd = weights(rig, r, t, n1, k), wf = weights(rig, r, t, n1, k2);
        ClBuffer x = accumulator(rig, "x", x0);
        try (ClKernel q = kn.kernel("qgemv_dense_fc2", t)) {
            q.arg("o", upload(rig, "o", ov, s)).arg("wd", wd.buffer()).arg("bd", upload(rig, "bd", bd, Storage.F32)).arg("k1", k)
                    .arg("g", upload(rig, "g", gv, s)).arg("w2", wf.buffer()).arg("b2", upload(rig, "bf", bf, Storage.F32)).arg("k2", k2).arg("x", x).arg("n_out", n1);
            q.launch(rig.ctx(), new long[] {(long) n1 * kn.gemvWg()}, new long[] {kn.gemvWg()});
        }
        float[] gx = read(x, n1, Storage.F32);
        for (int j = 0; j < n1; j++) {
            double want = x0[j] + ref(ov, wd.values(), bd, 0, j, k, "f32out") + ref(gv, wf.values(), bf, 0, j, k2, "f32out");
            tally.close("qgemv_dense_fc2 [" + j + "]", want, gx[j],
                    tol(ov, wd.values(), bd, 0, j, k, "f32out", s) + tol(gv, wf.values(), bf, 0, j, k2, "f32out", s) + 4 * U * Math.abs(x0[j]));
        }
        assertGuard(x, n1, Storage.F32, "qgemv_dense_fc2");
        // dequant_rows: the prefill's weights, exactly the format's values in the storage type
        ClBuffer deq = output(rig, "dequantized", n2 * k, s);
        try (ClKernel q = kn.kernel("dequant_rows", t)) {
            q.arg("w", w2.buffer()).arg("n_rows", n2).arg("k", k).arg("out", deq);
            q.launch(rig.ctx(), new long[] {k / 16, n2}, null);
        }
        float[] d = read(deq, n2 * k, s);
        for (int i = 0; i < d.length; i++) {
            float want = s == Storage.F16 ? Half.toFloat(Half.fromFloat(w2.values()[i])) : w2.values()[i];
            Tally.exact(t + " dequant_rows element " + i + " (bits)", Float.floatToIntBits(want), Float.floatToIntBits(d[i]));
        }
        assertGuard(deq, n2 * k, s, "dequant_rows");
        rig.releaseBuffers();
        return tally.done();
    }
}
