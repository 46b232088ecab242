package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The selection behind top-k: the k-th largest equals a full sort's, duplicates included. */
class SamplingTest {
    @Test
    void kthLargestMatchesASort() {
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + r.nextInt(2000);
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = r.nextInt(4) == 0 ? (float) r.nextInt(5) : (float) r.nextGaussian();
            float[] sorted = a.clone();
            Arrays.sort(sorted);
            int k = 1 + r.nextInt(n);
            assertEquals(sorted[n - k], dev.flashcl.internal.generate.Generator.kthLargest(a.clone(), k), "n " + n + " k " + k);
        }
    }
}
