package dev.flashcl.internal.checkpoint;

import dev.flashcl.internal.kernels.Half;
import java.nio.ByteBuffer;

/**
 * ggml's block formats on the host, from their definitions in ggml-common.h and ggml-quants.c:
 * dequantization of every block type flashcl reads, and ggml's reference quantizers for Q8_0 and
 * Q4_0 (quantize_row_q8_0_ref, quantize_row_q4_0_ref), which {@code --weights} uses so that its
 * blocks are the ones llama.cpp's own quantizer writes. Arithmetic is fp32, as ggml's.
 *
 * <pre>
 *   Q8_0  32 elements: fp16 d, int8 q[32]                    x = d q
 *   Q4_0  32 elements: fp16 d, 16 bytes of nibbles           x[j] = d (lo(q[j]) - 8), x[j + 16] = d (hi(q[j]) - 8)
 *   Q4_K  256: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles;
 *         eight sub-blocks of 32: x = d sc q - dmin m
 *   Q5_K  as Q4_K plus 32 bytes of fifth bits
 *   Q6_K  256: 128 bytes of low nibbles, 64 of high 2 bits, int8 scales[16], fp16 d;
 *         sixteen sub-blocks of 16: x = d sc (q - 32)
 * </pre>
 */
public final class GgmlBlocks {
    private GgmlBlocks() {}

    /**
     * Elements {@code [e0, e0 + n)} of a tensor of type {@code t} whose bytes start at index 0 of
     * {@code src}, into {@code dst[0, n)}. {@code e0} and {@code n} are whole blocks.
     */
    public static void dequantize(DType t, ByteBuffer src, long e0, int n, float[] dst) {
        int at = Math.toIntExact(t.bytesOf(e0));
        switch (t) {
            case F32 -> { for (int i = 0; i < n; i++) dst[i] = src.getFloat(at + 4 * i); }
            case F16 -> { for (int i = 0; i < n; i++) dst[i] = Half.toFloat(src.getShort(at + 2 * i)); }
            case BF16 -> { for (int i = 0; i < n; i++) dst[i] = Float.intBitsToFloat((src.getShort(at + 2 * i) & 0xffff) << 16); }
            default -> {
                for (int b = 0; b < n / t.block; b++) block(t, src, at + b * t.blockBytes, dst, b * t.block);
            }
        }
    }

    /** One block of a block type at byte {@code p} of {@code src}, into {@code y[o, o + block)}. */
    static void block(DType t, ByteBuffer src, int p, float[] y, int o) {
        switch (t) {
            case Q8_0 -> {
                float d = Half.toFloat(src.getShort(p));
                for (int j = 0; j < 32; j++) y[o + j] = d * src.get(p + 2 + j);
            }
            case Q4_0 -> {
                float d = Half.toFloat(src.getShort(p));
                for (int j = 0; j < 16; j++) {
                    int q = src.get(p + 2 + j) & 0xff;
                    y[o + j] = d * ((q & 0xf) - 8);
                    y[o + j + 16] = d * ((q >> 4) - 8);
                }
            }
            case Q4_K, Q5_K -> {
                boolean five = t == DType.Q5_K;
                float d = Half.toFloat(src.getShort(p)), dmin = Half.toFloat(src.getShort(p + 2));
                int scales = p + 4, qh = p + 16, qs = five ? p + 48 : p + 16;
                for (int j = 0, is = 0; j < 256; j += 64, is += 2) {   // two sub-blocks of 32 share 32 bytes of nibbles
                    float d1 = d * scale(src, scales, is), m1 = dmin * min(src, scales, is);
                    float d2 = d * scale(src, scales, is + 1), m2 = dmin * min(src, scales, is + 1);
                    int q = qs + j / 2;
                    for (int l = 0; l < 32; l++) {
                        int b = src.get(q + l) & 0xff;
                        int lo = b & 0xf, hi = b >> 4;
                        if (five) {
                            int h = src.get(qh + l) & 0xff;
                            lo += ((h >> is) & 1) << 4;
                            hi += ((h >> (is + 1)) & 1) << 4;
                        }
                        y[o + j + l] = d1 * lo - m1;
                        y[o + j + 32 + l] = d2 * hi - m2;
                    }
                }
            }
            case Q6_K -> {
                float d = Half.toFloat(src.getShort(p + 208));
                for (int half = 0; half < 2; half++) {   // two halves of 128: 64 bytes of ql, 32 of qh, 8 scales each
                    int ql = p + 64 * half, qh = p + 128 + 32 * half, sc = p + 192 + 8 * half, out = o + 128 * half;
                    for (int l = 0; l < 32; l++) {
                        int is = l / 16, a = src.get(ql + l) & 0xff, b = src.get(ql + l + 32) & 0xff, h = src.get(qh + l) & 0xff;
                        int q1 = ((a & 0xf) | ((h & 3) << 4)) - 32;
                        int q2 = ((b & 0xf) | (((h >> 2) & 3) << 4)) - 32;
                        int q3 = ((a >> 4) | (((h >> 4) & 3) << 4)) - 32;
                        int q4 = ((b >> 4) | (((h >> 6) & 3) << 4)) - 32;
                        y[out + l] = d * src.get(sc + is) * q1;
                        y[out + l + 32] = d * src.get(sc + is + 2) * q2;
                        y[out + l + 64] = d * src.get(sc + is + 4) * q3;
                        y[out + l + 96] = d * src.get(sc + is + 6) * q4;
                    }
                }
            }
            default -> throw new IllegalArgumentException(t + " is not a block type");
        }
    }

    /** get_scale_min_k4: the 6-bit scale of sub-block j (0..7) of a Q4_K/Q5_K block's 12 scale bytes at {@code s}. */
    private static int scale(ByteBuffer src, int s, int j) {
        return j < 4 ? (src.get(s + j) & 63) : ((src.get(s + j + 4) & 0xf) | (((src.get(s + j - 4) & 0xff) >> 6) << 4));
    }

    private static int min(ByteBuffer src, int s, int j) {
        return j < 4 ? (src.get(s + j + 4) & 63) : (((src.get(s + j + 4) & 0xff) >> 4) | (((src.get(s + j) & 0xff) >> 6) << 4));
    }

    /** quantize_row_q8_0_ref: {@code x[o, o + n)} (n a multiple of 32) appended to {@code dst} as Q8_0 blocks. */
    public static void quantizeQ8_0(float[] x, int o, int n, ByteBuffer dst) {
        for (int b = o; b < o + n; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
            float d = amax / 127, id = d != 0 ? 1.0f / d : 0.0f;
            dst.putShort(Half.fromFloat(d));
            for (int j = 0; j < 32; j++) {
                float v = x[b + j] * id;
                dst.put((byte) (v < 0 ? -Math.round(-v) : Math.round(v)));   // roundf: halves away from zero
            }
        }
    }

    /** quantize_row_q4_0_ref: {@code x[o, o + n)} (n a multiple of 32) appended to {@code dst} as Q4_0 blocks. */
    public static void quantizeQ4_0(float[] x, int o, int n, ByteBuffer dst) {
        for (int b = o; b < o + n; b += 32) {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                if (amax < Math.abs(x[b + j])) {
                    amax = Math.abs(x[b + j]);
                    max = x[b + j];
                }
            }
            float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
            dst.putShort(Half.fromFloat(d));
            for (int j = 0; j < 16; j++) {
                int q0 = Math.min(15, (byte) (int) (x[b + j] * id + 8.5f)), q1 = Math.min(15, (byte) (int) (x[b + 16 + j] * id + 8.5f));
                dst.put((byte) (q0 | (q1 << 4)));
            }
        }
    }
}
