package dev.flashcl.internal.phi;

import static dev.flashcl.internal.phi.PhiKernelsTest.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.GgmlBlocks;
import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The quantized kernels (phi.cl with WQ: Q8_0 and Q4_0 weights) against fp64 products of the
 * weights as the format defines them ({@link GgmlBlocks#dequantize}, itself checked bit for bit
 * against the definition) and the activations as stored: the decode GEMVs within the bound of
 * the fp16 GEMVs (each chunk's 16 products are exact in fp32 - |q| at most 127 times an fp16 -
 * then 16 sums, a scale and the running sum round), their guard regions untouched; and
 * dequant_rows equal, bit for bit, to the dequantized value rounded to the storage type.
 */
class QuantKernelsTest {
    @org.junit.jupiter.api.AfterAll
    static void free() {
        PhiKernelsTest.release();
    }

    /** n x k weights of type t from random values: the floats they stand for and their device layout. */
    record Weights(float[] values, ClBuffer buffer) {}

    static Weights weights(SplittableRandom r, DType t, int n, int k) {
        float[] x = new float[n * k];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() / Math.sqrt(k)) * (i % 97 == 0 ? 6 : 1);
        ByteBuffer blocks = ByteBuffer.allocate((int) t.bytesOf(x.length)).order(ByteOrder.LITTLE_ENDIAN);
        if (t == DType.Q8_0) GgmlBlocks.quantizeQ8_0(x, 0, x.length, blocks);
        else GgmlBlocks.quantizeQ4_0(x, 0, x.length, blocks);
        blocks.flip();
        float[] values = new float[x.length];
        GgmlBlocks.dequantize(t, blocks, 0, values.length, values);
        ClBuffer b = CTX.allocate("quantized weights", blocks.remaining());
        BUFFERS.add(b);
        b.write(0, PhiWeights.deviceLayout(t, blocks));
        return new Weights(values, b);
    }

    static Stream<Arguments> cases() {
        int[][] sizes = {{1, 32, 32}, {33, 160, 640}, {160, 640, 160}, {257, 96, 2560}};   // n1, n2, k (dense+fc2: k1 = k, k2 = n2 rounded)
        List<Arguments> out = new ArrayList<>();
        for (DType t : new DType[] {DType.Q8_0, DType.Q4_0}) for (Storage s : Storage.values()) for (int[] z : sizes) out.add(Arguments.of(t, s, z[0], z[1], z[2]));
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} n1 {2} n2 {3} k {4}")
    @MethodSource("cases")
    void decodeGemvsAndDequant(DType t, Storage s, int n1, int n2, int k) {
        SplittableRandom r = new SplittableRandom(n1 * 131L + n2 * 7L + k + t.ordinal());
        PhiKernels kn = kernels(s);
        float[] h = random(r, k, 2, s), b1 = random(r, n1, 0.5, Storage.F32), b2 = random(r, n2, 0.5, Storage.F32);
        Weights w1 = weights(r, t, n1, k), w2 = weights(r, t, n2, k);
        ClBuffer hb = upload("h", h, s);
        // lm_head form, fp32 out
        ClBuffer o = output("out", n1, Storage.F32);
        try (ClKernel q = kn.kernel("qgemv_f32out", t)) {
            q.arg("a", hb).arg("a_row0", 0).arg("w", w1.buffer()).arg("bias", upload("b1", b1, Storage.F32)).arg("out", o).arg("n_out", n1).arg("k", k);
            q.launch(CTX, kn.gemvGlobal(n1), new long[] {kn.gemvWg()});
        }
        float[] got = read(o, n1, Storage.F32);
        for (int j = 0; j < n1; j++) check(t + " qgemv [" + j + "]", ref(h, w1.values(), b1, 0, j, k, "f32out"), got[j], tol(h, w1.values(), b1, 0, j, k, "f32out", s));
        assertGuard(o, n1, Storage.F32);
        // qkv + fc1 in one launch
        ClBuffer out1 = output("qkv", n1, Storage.F32), out2 = output("g", n2, s);
        try (ClKernel q = kn.kernel("qgemv_qkv_fc1", t)) {
            q.arg("h", hb).arg("w1", w1.buffer()).arg("b1", upload("b1", b1, Storage.F32)).arg("out1", out1).arg("n1", n1)
                    .arg("w2", w2.buffer()).arg("b2", upload("b2", b2, Storage.F32)).arg("out2", out2).arg("n2", n2).arg("k", k);
            q.launch(CTX, kn.gemvGlobal(n1 + n2), new long[] {kn.gemvWg()});
        }
        float[] g1 = read(out1, n1, Storage.F32), g2 = read(out2, n2, s);
        for (int j = 0; j < n1; j++) check(t + " qkv [" + j + "]", ref(h, w1.values(), b1, 0, j, k, "f32out"), g1[j], tol(h, w1.values(), b1, 0, j, k, "f32out", s));
        for (int j = 0; j < n2; j++) check(t + " fc1 [" + j + "]", ref(h, w2.values(), b2, 0, j, k, "gelu"), g2[j], tol(h, w2.values(), b2, 0, j, k, "gelu", s));
        assertGuard(out1, n1, Storage.F32);
        assertGuard(out2, n2, s);
        // dense (k) + fc2 (k2) into x, n1 outputs
        int k2 = (n2 + 31) / 32 * 32;
        float[] ov = random(r, k, 2, s), gv = random(r, k2, 2, s), bd = random(r, n1, 0.5, Storage.F32), bf = random(r, n1, 0.5, Storage.F32);
        float[] x0 = random(r, n1, 1, Storage.F32);
        Weights wd = weights(r, t, n1, k), wf = weights(r, t, n1, k2);
        ClBuffer x = output("x", n1, Storage.F32);
        float[] withGuard = java.util.Arrays.copyOf(x0, n1 + 64);
        java.util.Arrays.fill(withGuard, n1, n1 + 64, 777f);
        x.write(withGuard);
        try (ClKernel q = kn.kernel("qgemv_dense_fc2", t)) {
            q.arg("o", upload("o", ov, s)).arg("wd", wd.buffer()).arg("bd", upload("bd", bd, Storage.F32)).arg("k1", k)
                    .arg("g", upload("g", gv, s)).arg("w2", wf.buffer()).arg("b2", upload("bf", bf, Storage.F32)).arg("k2", k2).arg("x", x).arg("n_out", n1);
            q.launch(CTX, new long[] {(long) n1 * kn.gemvWg()}, new long[] {kn.gemvWg()});
        }
        float[] gx = read(x, n1, Storage.F32);
        for (int j = 0; j < n1; j++) {
            double want = x0[j] + ref(ov, wd.values(), bd, 0, j, k, "f32out") + ref(gv, wf.values(), bf, 0, j, k2, "f32out");
            check(t + " dense+fc2 [" + j + "]", want, gx[j], tol(ov, wd.values(), bd, 0, j, k, "f32out", s) + tol(gv, wf.values(), bf, 0, j, k2, "f32out", s) + 4 * U * Math.abs(x0[j]));
        }
        assertGuard(x, n1, Storage.F32);
        // dequant_rows: the prefill's weights, exactly the format's values in the storage type
        ClBuffer deq = output("dequantized", n2 * k, s);
        try (ClKernel q = kn.kernel("dequant_rows", t)) {
            q.arg("w", w2.buffer()).arg("n_rows", n2).arg("k", k).arg("out", deq);
            q.launch(CTX, new long[] {k / 16, n2}, null);
        }
        float[] d = read(deq, n2 * k, s);
        for (int i = 0; i < d.length; i++) {
            float want = s == Storage.F16 ? Half.toFloat(Half.fromFloat(w2.values()[i])) : w2.values()[i];
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(d[i]), t + " dequant_rows element " + i);
        }
        assertGuard(deq, n2 * k, s);
    }
}
