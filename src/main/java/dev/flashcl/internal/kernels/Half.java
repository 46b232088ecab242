package dev.flashcl.internal.kernels;

/**
 * IEEE 754 binary16 conversions on the host (Java 17 has none), rounding to nearest even as
 * {@code vstore_half_rte} does. Halves travel as the raw bits in a {@code short}.
 */
public final class Half {
    private Half() {}

    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        int e = exp - 127 + 15;   // the half's biased exponent
        if (e >= 0x1f) return (short) (sign | 0x7c00);
        if (e <= 0) {
            if (e < -10) return (short) sign;   // below half the smallest subnormal: zero
            return (short) (sign | roundShift(mant | 0x800000, 14 - e));
        }
        // A carry out of the mantissa moves into the exponent, and from 30 to 31 (infinity): both right.
        return (short) (sign | ((e << 10) + roundShift(mant, 13)));
    }

    private static int roundShift(int m, int shift) {
        int kept = m >>> shift;
        int rest = m & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rest > half || (rest == half && (kept & 1) == 1)) kept++;
        return kept;
    }

    public static float toFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** The value after a round trip through half: what the device sees of {@code f} in fp16 storage. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }

    public static short[] fromFloats(float[] values) {
        short[] out = new short[values.length];
        for (int i = 0; i < values.length; i++) out[i] = fromFloat(values[i]);
        return out;
    }

    public static float[] toFloats(short[] halves) {
        float[] out = new float[halves.length];
        for (int i = 0; i < halves.length; i++) out[i] = toFloat(halves[i]);
        return out;
    }
}
