package dev.flashcl.internal.kernels;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfTest {
    /** Every half value survives half -> float -> half (NaNs stay NaN). */
    @Test
    void everyHalfRoundTrips() {
        for (int bits = 0; bits < 0x10000; bits++) {
            short h = (short) bits;
            float f = Half.toFloat(h);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(f))), "NaN 0x" + Integer.toHexString(bits));
            } else {
                assertEquals(h, Half.fromFloat(f), "0x" + Integer.toHexString(bits) + " -> " + f);
            }
        }
    }

    /** Decoding follows the binary16 definition: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024. */
    @Test
    void decodesByTheDefinition() {
        for (int bits = 0; bits < 0x7c00; bits++) {
            int e = bits >> 10;
            int m = bits & 0x3ff;
            double expected = e == 0 ? Math.scalb(m / 1024.0, -14) : Math.scalb(1 + m / 1024.0, e - 15);
            assertEquals(expected, Half.toFloat((short) bits), 0.0, "0x" + Integer.toHexString(bits));
            assertEquals(-expected, Half.toFloat((short) (bits | 0x8000)), 0.0);
        }
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat((short) 0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, Half.toFloat((short) 0xfc00));
    }

    /** fromFloat picks the nearest half, ties to the even mantissa, overflow to infinity. */
    @Test
    void roundsToNearestEven() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int n = 0; n < 200_000; n++) {
            float f = Float.intBitsToFloat(rnd.nextInt(0x3f800000, 0x47800000) | (rnd.nextBoolean() ? 0x80000000 : 0));
            if (n % 3 == 0) f = (float) rnd.nextDouble(-1e-4, 1e-4);   // subnormal halves
            short h = Half.fromFloat(f);
            double got = Half.toFloat(h);
            double err = Math.abs(got - f);
            if (Double.isInfinite(got)) {
                assertTrue(Math.abs(f) >= 65520f, "only values from 65520 round to infinity: " + f);
                continue;
            }
            // No neighbour of the result is closer; on a tie the result's mantissa is even.
            for (int step : new int[] {-1, 1}) {
                double other = Half.toFloat((short) (h + step));
                if (Double.isNaN(other) || Double.isInfinite(other) || ((h + step) & 0x7fff) == 0x7fff) continue;
                double otherErr = Math.abs(other - f);
                assertTrue(err < otherErr || (err == otherErr && (h & 1) == 0),
                        f + " -> " + got + " but " + other + " is at least as close");
            }
        }
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat(Half.fromFloat(65520f)));
        assertEquals(65504f, Half.toFloat(Half.fromFloat(65519.99f)));
        assertEquals(0x0001, Half.fromFloat(0x1p-24f));
        assertEquals(0x0000, Half.fromFloat(0x1p-25f));              // tie between 0 and the smallest subnormal: even
        assertEquals(0x0001, Half.fromFloat(0x1.000002p-25f));       // just above the tie
    }
}
