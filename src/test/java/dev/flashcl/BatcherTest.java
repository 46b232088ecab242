package dev.flashcl;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.kernels.TestDevice;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching keeps each sequence its own: requests run alone, then together (joining
 * at different steps, leaving at different lengths, greedy and seeded sampling mixed), and each
 * one's tokens must equal its solo run. Then the same with a KV cache of one context's worth of
 * pages, so that sequences are preempted and recomputed, and must still come out the same.
 * (testdata/tiny-phi, fp32 storage: the prefill a preempted sequence is recomputed through and
 * the batched step round differently only in the last bits.)
 */
class BatcherTest {
    static FlashCl engine;
    static LanguageModel model;

    @BeforeAll
    static void load() {
        engine = FlashCl.open(TestDevice.context().device().index() + "");
        model = engine.load(Path.of("testdata/tiny-phi/f16"), LoadOptions.builder().precision(Precision.F32).build());
    }

    @AfterAll
    static void close() {
        model.close();
        engine.close();
    }

    static List<GenerationRequest> requests() {
        SplittableRandom r = new SplittableRandom(11);
        List<GenerationRequest> out = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int[] prompt = r.ints(1 + r.nextInt(60), 0, 512).toArray();
            var b = GenerationRequest.builder().promptTokens(prompt).maxNewTokens(5 + r.nextInt(70)).stopAtEos(false);
            if (i % 2 == 1) b.sampling(Sampling.temperature(0.9).topK(40).topP(0.95).seed(i));
            out.add(b.build());
        }
        return out;
    }

    /** Submits every request, pausing {@code pauseMs} after each third (0: all at once). */
    static List<int[]> together(Batcher b, List<GenerationRequest> reqs, int pauseMs) throws Exception {
        List<CompletableFuture<GenerationResult>> fs = new ArrayList<>();
        for (int i = 0; i < reqs.size(); i++) {
            fs.add(b.submit(reqs.get(i)));
            if (i % 3 == 2 && pauseMs > 0) Thread.sleep(pauseMs);   // later ones join a batch already running
        }
        List<int[]> out = new ArrayList<>();
        for (var f : fs) out.add(f.get().tokens());
        return out;
    }

    @Test
    void aSequenceDoesNotDependOnTheBatch() throws Exception {
        List<GenerationRequest> reqs = requests();
        List<int[]> solo = new ArrayList<>();
        try (Batcher b = model.batcher(Batcher.Options.defaults().withMaxBatch(8))) {
            for (GenerationRequest r : reqs) solo.add(b.submit(r).get().tokens());
            List<int[]> got = together(b, reqs, 30);
            for (int i = 0; i < reqs.size(); i++) assertArrayEquals(solo.get(i), got.get(i), "request " + i + " together vs alone");
            long[] c = b.stepCounts();
            assertTrue(c[1] > c[0], "some steps decoded more than one sequence: " + c[1] + " rows in " + c[0] + " steps");
            assertEquals(0, b.cacheUsage(), 1e-9, "every page back");
        }
        try (Batcher b = model.batcher(Batcher.Options.defaults().withMaxBatch(8).withKvCacheBytes(1))) {   // not one page
            fail("a cache smaller than one sequence must be refused");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("pages"), expected.getMessage());
        }
        long onePage = 2L * model.info().layers() * model.info().heads() * 16 * model.info().headDim() * 4;
        int perSequence = (model.info().contextLength() + 15) / 16;
        try (Batcher b = model.batcher(Batcher.Options.defaults().withMaxBatch(8).withKvCacheBytes(onePage * perSequence))) {
            List<int[]> got = together(b, reqs, 0);   // all at once, so that they run together on a fast device too
            for (int i = 0; i < reqs.size(); i++) assertArrayEquals(solo.get(i), got.get(i), "request " + i + " with preemptions vs alone");
            assertTrue(b.stepCounts()[2] > 0, "the small cache preempted some sequence");
            assertEquals(0, b.cacheUsage(), 1e-9, "every page back");
        }
        assertEquals(solo.get(0).length, model.generate(reqs.get(0)).tokens().length, "the model generates alone again once the batcher is closed");
    }

    /**
     * Prompts that start with the same 40 tokens (two full pages of 16, then 8 more) share the
     * first request's two pages instead of prefilling them again, and each gets the tokens it gets
     * from a batcher that shares nothing; in a cache of one sequence's worth of pages the shared
     * pages are evicted as others need them, and the outputs still hold.
     */
    @Test
    void promptsWithACommonPrefixShareItsPages() throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        int[] common = r.ints(40, 0, 512).toArray();
        List<GenerationRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int[] tail = r.ints(1 + r.nextInt(20), 0, 512).toArray();
            int[] prompt = java.util.Arrays.copyOf(common, common.length + tail.length);
            System.arraycopy(tail, 0, prompt, common.length, tail.length);
            var b = GenerationRequest.builder().promptTokens(prompt).maxNewTokens(10 + r.nextInt(20)).stopAtEos(false);
            if (i % 2 == 1) b.sampling(Sampling.temperature(0.9).topK(40).topP(0.95).seed(i));
            reqs.add(b.build());
        }
        List<int[]> alone = new ArrayList<>();
        try (Batcher b = model.batcher(Batcher.Options.defaults().withMaxBatch(8).withPrefixCache(false))) {
            for (GenerationRequest q : reqs) alone.add(b.submit(q).get().tokens());
            assertEquals(0, b.stepCounts()[3], "nothing shared when sharing is off");
        }
        try (Batcher b = model.batcher(Batcher.Options.defaults().withMaxBatch(8))) {
            assertArrayEquals(alone.get(0), b.submit(reqs.get(0)).get().tokens());
            List<int[]> got = together(b, reqs.subList(1, reqs.size()), 0);
            for (int i = 1; i < reqs.size(); i++) assertArrayEquals(alone.get(i), got.get(i - 1), "request " + i + " on shared pages vs alone");
            assertEquals(5L * 32, b.stepCounts()[3], "each later prompt took the first one's two full pages");
            assertEquals(0, b.cacheUsage(), 1e-9, "pages held by no one count as free");
        }
        long onePage = 2L * model.info().layers() * model.info().heads() * 16 * model.info().headDim() * 4;
        int perSequence = (model.info().contextLength() + 15) / 16;
        try (Batcher b = model.batcher(Batcher.Options.defaults().withMaxBatch(8).withKvCacheBytes(onePage * perSequence))) {
            List<int[]> got = together(b, reqs, 0);
            for (int i = 0; i < reqs.size(); i++) assertArrayEquals(alone.get(i), got.get(i), "request " + i + " in a small shared cache vs alone");
            List<int[]> again = together(b, requests(), 0);   // other prompts take the cached pages back
            assertEquals(requests().size(), again.size());
            assertEquals(0, b.cacheUsage(), 1e-9, "every page back");
        }
    }
}
