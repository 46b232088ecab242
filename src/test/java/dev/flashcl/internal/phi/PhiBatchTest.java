package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flashcl.internal.kernels.TestDevice;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The batched decode over a paged KV cache against transformers (testdata/tiny-phi): three
 * prompts, each prefilled in part and copied into pages, then fed their own next ids one step
 * at a time in one batch, joining at different steps and leaving when their prompt runs out;
 * every row's logits at every step must match transformers' logits at that position, within
 * {@link PhiModelTest}'s tolerance. Pages of 4 positions, handed out in a shuffled order, so
 * page boundaries and non-contiguous tables are crossed many times.
 */
class PhiBatchTest {
    static Stream<Arguments> forms() {
        return PhiModelTest.forms().filter(a -> (int) a.get()[1] == 512);
    }

    /** One sequence of the test: which prompt, how much of it is prefilled, the step it joins at. */
    record Row(int prompt, int prefilled, int joinsAt) {}

    @ParameterizedTest(name = "{0}")
    @MethodSource("forms")
    void matchesTransformers(PhiModelTest.Form f, int unused) throws Exception {
        JsonNode meta = PhiModelTest.meta(f);
        var opts = PhiModel.Options.defaults().withStorage(f.storage());
        List<Row> plan = List.of(new Row(3, 10, 0), new Row(1, 1, 0), new Row(2, 3, 5), new Row(0, 1, 2));
        try (PhiModel m = PhiModel.load(TestDevice.context(), PhiModelTest.dir(f), opts, null);
             PhiBatch b = m.openBatch(4, 4, 200)) {
            int v = m.config().vocabSize();
            shuffle(b, new SplittableRandom(7));
            int[][] ids = new int[plan.size()][];
            float[][] want = new float[plan.size()][];
            int[][] tables = new int[plan.size()][];
            int[] pos = new int[plan.size()];
            for (int i = 0; i < plan.size(); i++) {
                ids[i] = PhiModelTest.ints(meta.get("prompts").get(plan.get(i).prompt()));
                want[i] = PhiModelTest.ref(f, "prompt" + plan.get(i).prompt() + ".logits");
                tables[i] = new int[b.maxPagesPerSequence()];
                Arrays.fill(tables[i], -1);
            }
            int checked = 0;
            List<Integer> active = new ArrayList<>();
            for (int step = 0; step < 200; step++) {
                for (int i = 0; i < plan.size(); i++) {
                    Row row = plan.get(i);
                    if (row.joinsAt() != step || row.prefilled >= ids[i].length) continue;
                    for (int p = 0; p < b.pagesFor(ids[i].length); p++) tables[i][p] = b.takePage();
                    m.reset();
                    m.prefill(Arrays.copyOf(ids[i], row.prefilled()), null);
                    b.copyPrefill(tables[i], row.prefilled());
                    pos[i] = row.prefilled();
                    active.add(i);
                }
                active.removeIf(i -> pos[i] >= ids[i].length);
                if (active.isEmpty()) {
                    if (step > 10) break;
                    continue;
                }
                int rows = active.size();
                int[] in = new int[rows], at = new int[rows], next = new int[rows];
                int[][] t = new int[rows][];
                for (int r = 0; r < rows; r++) {
                    int i = active.get(r);
                    in[r] = ids[i][pos[i]];
                    at[r] = pos[i];
                    t[r] = tables[i];
                }
                b.step(rows, in, at, t, next, new boolean[rows]);
                for (int r = 0; r < rows; r++) {
                    int i = active.get(r);
                    PhiModelTest.close("prompt " + plan.get(i).prompt() + " position " + pos[i] + " (row " + r + " of " + rows + ", step " + step + ")",
                            want[i], b.logits(r), f.tol(), pos[i] * v);
                    pos[i]++;
                    checked++;
                }
            }
            assertEquals(120 + 6 + 37 + 0, checked, "rows checked");
        }
    }

    /**
     * A sequence on pages another sequence computed: prompt 3's first 10 positions are prefilled
     * and offered for sharing (two full pages of 4); another prompt overwrites the contiguous
     * cache; the whole prompt then takes those two pages, has them copied back into the contiguous
     * cache (pages_to_cache), prefills positions 8..11,
     * and decodes the rest in batched steps. Its logits at every position from 11 on must match
     * transformers' for the whole prompt.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("forms")
    void aSharedPrefixGivesTransformersLogits(PhiModelTest.Form f, int unused) throws Exception {
        JsonNode meta = PhiModelTest.meta(f);
        try (PhiModel m = PhiModel.load(TestDevice.context(), PhiModelTest.dir(f), PhiModel.Options.defaults().withStorage(f.storage()), null);
             PhiBatch b = m.openBatch(2, 4, 200)) {
            shuffle(b, new SplittableRandom(3));
            int v = m.config().vocabSize();
            int[] ids = PhiModelTest.ints(meta.get("prompts").get(3));
            float[] want = PhiModelTest.ref(f, "prompt3.logits");
            assertTrue(ids.length > 14, "prompt 3 is long enough: " + ids.length);
            int[] first = new int[b.maxPagesPerSequence()];
            Arrays.fill(first, -1);
            for (int p = 0; p < b.pagesFor(10); p++) first[p] = b.takePage();
            m.reset();
            m.prefill(Arrays.copyOf(ids, 10), null);
            b.copyPrefill(first, 10);
            b.registerPrefix(Arrays.copyOf(ids, 10), first);
            int[] table = new int[b.maxPagesPerSequence()];
            Arrays.fill(table, -1);
            assertEquals(2, b.sharePrefix(ids, table), "the two full pages of the first 10 positions");
            assertEquals(first[0], table[0]);
            assertEquals(first[1], table[1]);
            for (int p = 2; p < b.pagesFor(ids.length); p++) table[p] = b.takePage();
            m.reset();
            int[] other = new SplittableRandom(9).ints(12, 0, v).toArray();
            m.prefill(other, null);   // the contiguous cache now holds another prompt: the prefix must come back from the pages
            m.reset();
            b.restorePrefix(table, 8);
            m.prefill(Arrays.copyOfRange(ids, 8, 12), null);
            PhiModelTest.close("prefill after the shared prefix, position 11", want, m.logits(1), f.tol(), 11 * v);
            b.copyPrefill(table, 12);
            int[] next = new int[1];
            for (int pos = 12; pos < ids.length; pos++) {
                b.step(1, new int[] {ids[pos]}, new int[] {pos}, new int[][] {table}, next, new boolean[1]);
                PhiModelTest.close("decode on shared pages, position " + pos, want, b.logits(0), f.tol(), pos * v);
            }
            b.returnPages(first, b.pagesFor(10));
            b.returnPages(table, b.pagesFor(ids.length));
            assertEquals(b.pages(), b.freePages(), "every page back (the shared ones cached, counted free)");
        }
    }

    /** Takes every page and gives them back in a random order, so tables are not contiguous. */
    static void shuffle(PhiBatch b, SplittableRandom r) {
        int n = b.freePages();
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = b.takePage();
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), x = all[i];
            all[i] = all[j];
            all[j] = x;
        }
        b.returnPages(all, n);
    }
}
