package dev.flashcl.internal.checkpoint;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.kernels.Half;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * ggml's block formats: {@link GgmlBlocks#dequantize} against a per-element reading of each
 * format's definition (ggml-common.h's structs, dequantize_row_* in ggml-quants.c), bit for bit,
 * on random blocks (every bit pattern of the quants and scales; finite fp16 scales); and the
 * reference quantizers' round trip within half a step.
 */
class GgmlBlocksTest {
    /** Element e of a block of type t at p, computed from the definition one element at a time. */
    static float reference(DType t, ByteBuffer b, int p, int e) {
        switch (t) {
            case Q8_0: return Half.toFloat(b.getShort(p)) * b.get(p + 2 + e);
            case Q4_0: {
                int q = b.get(p + 2 + e % 16) & 0xff;
                return Half.toFloat(b.getShort(p)) * ((e < 16 ? q & 15 : q >>> 4) - 8);
            }
            case Q4_K: case Q5_K: {
                int sub = e / 32, l = e % 32;   // sub-block: its 6-bit scale and min (get_scale_min_k4)
                int[] s = new int[12];
                for (int i = 0; i < 12; i++) s[i] = b.get(p + 4 + i) & 0xff;
                int sc = sub < 4 ? s[sub] & 63 : (s[sub + 4] & 15) | ((s[sub - 4] >>> 6) << 4);
                int m = sub < 4 ? s[sub + 4] & 63 : (s[sub + 4] >>> 4) | ((s[sub] >>> 6) << 4);
                int qs = p + (t == DType.Q5_K ? 48 : 16);
                int byteAt = qs + 32 * (sub / 2) + l;   // sub-blocks 2j and 2j+1 share 32 bytes: low then high nibbles
                int q = sub % 2 == 0 ? (b.get(byteAt) & 15) : ((b.get(byteAt) & 0xff) >>> 4);
                if (t == DType.Q5_K) q |= ((b.get(p + 16 + l) >>> sub) & 1) << 4;
                float d = Half.toFloat(b.getShort(p)) * sc, min = Half.toFloat(b.getShort(p + 2)) * m;
                return d * q - min;
            }
            case Q6_K: {
                int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
                int ql = b.get(p + 64 * half + l + (quarter % 2) * 32) & 0xff;
                int low = quarter < 2 ? ql & 15 : ql >>> 4;
                int high = ((b.get(p + 128 + 32 * half + l) & 0xff) >>> (2 * quarter)) & 3;
                int scale = b.get(p + 192 + 8 * half + l / 16 + 2 * quarter);
                return Half.toFloat(b.getShort(p + 208)) * scale * ((low | high << 4) - 32);
            }
            default: throw new IllegalArgumentException(t.toString());
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void dequantizationIsTheDefinition(DType t) {
        SplittableRandom r = new SplittableRandom(t.ordinal());
        int blocks = 64;
        ByteBuffer b = ByteBuffer.allocate(blocks * t.blockBytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < b.capacity(); i++) b.put(i, (byte) r.nextInt(256));
        int[] halves = t == DType.Q4_K || t == DType.Q5_K ? new int[] {0, 2} : t == DType.Q6_K ? new int[] {208} : new int[] {0};
        for (int k = 0; k < blocks; k++) for (int h : halves) b.putShort(k * t.blockBytes + h, Half.fromFloat((float) r.nextDouble(-2, 2)));
        float[] got = new float[blocks * t.block];
        GgmlBlocks.dequantize(t, b, 0, got.length, got);
        for (int k = 0; k < blocks; k++) {
            for (int e = 0; e < t.block; e++) {
                float want = reference(t, b, k * t.blockBytes, e);
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[k * t.block + e]), t + " block " + k + " element " + e);
            }
        }
        // a range that starts inside the tensor: blocks 3.. only
        float[] part = new float[2 * t.block];
        GgmlBlocks.dequantize(t, b, 3L * t.block, part.length, part);
        assertEquals(got[3 * t.block + 5], part[5]);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"Q8_0", "Q4_0"})
    void referenceQuantizersRoundTripWithinAStep(DType t) {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[32 * 200];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * (i % 64 == 0 ? 10 : 1));
        for (int i = 0; i < 32; i++) x[32 * 7 + i] = 0;   // an all-zero block: d = 0
        ByteBuffer b = ByteBuffer.allocate((int) t.bytesOf(x.length)).order(ByteOrder.LITTLE_ENDIAN);
        if (t == DType.Q8_0) GgmlBlocks.quantizeQ8_0(x, 0, x.length, b);
        else GgmlBlocks.quantizeQ4_0(x, 0, x.length, b);
        assertEquals(b.capacity(), b.position());
        float[] y = new float[x.length];
        GgmlBlocks.dequantize(t, b, 0, y.length, y);
        for (int k = 0; k < x.length / 32; k++) {
            float d = Math.abs(Half.toFloat(b.getShort(k * t.blockBytes)));
            for (int j = 0; j < 32; j++) {
                int i = 32 * k + j;   // Q8_0: half a step; Q4_0: a step (its top level is clamped); plus d's rounding to fp16 times the largest |q|
                double bound = (t == DType.Q8_0 ? 0.5 + 127 / 2048.0 : 1.0 + 8 / 2048.0) * d + 1e-6;
                assertTrue(Math.abs(x[i] - y[i]) <= bound, t + " element " + i + ": " + x[i] + " -> " + y[i] + ", step " + d);
            }
        }
        assertEquals(0.0, y[32 * 7], 0.0);
    }
}
