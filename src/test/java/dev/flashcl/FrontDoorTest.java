package dev.flashcl;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.kernels.TestDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The public API on the embedded model: stop reasons, streaming callbacks, seeds, the step-by-step
 * session against generate's greedy tokens, options refused when built, and the embedded model's
 * cache repairing itself.
 */
class FrontDoorTest {
    static FlashCl engine;
    static LanguageModel model;
    static final String PROMPT = "def factorial(n):\n";

    @BeforeAll
    static void load() {
        engine = FlashCl.open(TestDevice.context().device().index() + "");
        model = engine.load(Path.of("testdata/embedded"), LoadOptions.builder().contextLength(256).build());
    }

    @AfterAll
    static void close() {
        engine.close();
        assertThrows(IllegalStateException.class, () -> model.generate(PROMPT), "closing the engine closes its models");
    }

    static GenerationRequest.Builder greedy(int n) {
        return GenerationRequest.builder().prompt(PROMPT).maxNewTokens(n);
    }

    @Test
    void stopReasonsAndCallbacks() {
        List<Integer> streamedIds = new ArrayList<>();
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = model.generate(greedy(24).onToken(streamedIds::add).onText(streamed::append).build());
        assertEquals(StopReason.MAX_TOKENS, r.stopReason());
        assertEquals(24, r.tokenCount());
        assertEquals(r.tokens().length, streamedIds.size());
        for (int i = 0; i < streamedIds.size(); i++) assertEquals(r.tokens()[i], streamedIds.get(i));
        assertEquals(r.text(), streamed.toString());
        assertEquals(model.tokenizer().orElseThrow().decode(r.tokens()), r.text(), "the text is the tokens' decode, no clean-up");
        assertTrue(r.seed().isEmpty(), "greedy draws no seed");

        GenerationResult byToken = model.generate(greedy(24).stopTokens(r.tokens()[5]).build());
        assertEquals(StopReason.STOP_TOKEN, byToken.stopReason());
        assertArrayEquals(java.util.Arrays.copyOf(r.tokens(), 5), byToken.tokens());

        String stop = r.text().substring(r.text().length() / 2, r.text().length() / 2 + 3);
        GenerationResult byText = model.generate(greedy(24).stopStrings(stop).build());
        assertEquals(StopReason.STOP_STRING, byText.stopReason());
        assertEquals(r.text().substring(0, r.text().indexOf(stop)), byText.text());

    }

    @Test
    void unseededSamplingDrawsASeedThatRepeatsTheRun() {
        Set<Long> seeds = new HashSet<>();
        GenerationResult first = null;
        for (int i = 0; i < 3; i++) {
            GenerationResult r = model.generate(greedy(16).sampling(Sampling.temperature(1.0)).build());
            assertTrue(r.seed().isPresent());
            seeds.add(r.seed().getAsLong());
            if (first == null) first = r;
        }
        assertEquals(3, seeds.size(), "each unseeded generation draws its own seed");
        GenerationResult again = model.generate(greedy(16).sampling(Sampling.temperature(1.0).seed(first.seed().getAsLong())).build());
        assertArrayEquals(first.tokens(), again.tokens(), "the reported seed repeats the run");
        assertEquals(first.seed(), again.seed());
    }

    @Test
    void aSessionStepsAsGenerateDoes() {
        int[] want = model.generate(greedy(12).stopAtEos(false).build()).tokens();
        int[] prompt = model.tokenizer().orElseThrow().encode(PROMPT);
        Session s = model.newSession();
        int next = s.prefill(prompt);
        float[] logits = s.logits();
        int argmax = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[argmax]) argmax = i;
        assertEquals(argmax, next, "prefill returns the argmax of its logits");
        int[] got = new int[want.length];
        for (int i = 0; i < got.length; i++) {
            got[i] = next;
            next = s.decode(next);
        }
        assertArrayEquals(want, got);
        assertEquals(prompt.length + want.length, s.position());
        model.generate(greedy(2).build());
        assertThrows(IllegalStateException.class, () -> s.decode(1), "a generate ends the session");
    }

    @Test
    void badValuesFailWhenSet() {
        assertThrows(IllegalArgumentException.class, () -> LoadOptions.builder().contextLength(0));
        assertThrows(IllegalArgumentException.class, () -> LoadOptions.builder().prefillChunk(-1));
        assertThrows(IllegalArgumentException.class, () -> Sampling.temperature(0));
        assertThrows(IllegalArgumentException.class, () -> Sampling.temperature(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Sampling.temperature(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> Sampling.temperature(1).topP(0));
        assertThrows(IllegalArgumentException.class, () -> Sampling.temperature(1).topP(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Sampling.temperature(1).topK(-1));
        assertThrows(IllegalArgumentException.class, () -> Sampling.greedy().topK(5), "greedy takes no cut");
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder().maxNewTokens(0));
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder().stopStrings(""));
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder().prompt(""));
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder().build(), "no prompt");
        var tooLong = assertThrows(IllegalArgumentException.class, () -> model.generate(greedy(250).build()));
        assertTrue(tooLong.getMessage().contains("256"), tooLong.getMessage());
        var overMax = assertThrows(IllegalArgumentException.class,
                () -> engine.load(Path.of("testdata/embedded"), LoadOptions.builder().contextLength(1 << 20).build()));
        assertTrue(overMax.getMessage().contains("max_position_embeddings"), overMax.getMessage());
    }

    /** Kernel builds are counted in the load (with a warm-up pass for drivers that compile at first launch), not in a generation's speed. */
    @Test
    void kernelBuildsAreReportedApartFromTheSpeed() {
        try (FlashCl fresh = FlashCl.open(engine.device());
             LanguageModel tiny = fresh.load(Path.of("testdata/tiny-phi/f32"), LoadOptions.builder().precision(Precision.F32).build())) {
            ModelInfo info = tiny.info();
            assertTrue(info.kernelBuildNanos() > 0 && info.kernelBuildNanos() <= info.loadNanos(), info.toString());
            assertTrue(tiny.tokenizer().isEmpty(), "tiny-phi has no tokenizer files");
            GenerationResult r = tiny.generate(GenerationRequest.builder().promptTokens(1, 2, 3).maxNewTokens(4).stopAtEos(false).build());
            assertEquals(0, r.buildNanos(), "nothing was built during the first generation");
            assertEquals(4, r.tokenCount());
            assertEquals("", r.text(), "no tokenizer, no text");
        }
    }

    /** A run killed while unpacking, or a disk error, leaves a damaged file: the next use unpacks it again. */
    @Test
    void theEmbeddedModelsCacheRepairsItself(@TempDir Path cache) throws Exception {
        String before = System.getProperty("flashcl.cache");
        System.setProperty("flashcl.cache", cache.toString());
        try {
            Path dir = FlashCl.embeddedModelDirectory();
            Path weights = dir.resolve("model.safetensors");
            long size = Files.size(weights);
            assertEquals(Files.size(Path.of("testdata/embedded/model.safetensors")), size);
            Files.write(weights, java.util.Arrays.copyOf(Files.readAllBytes(weights), 1000));
            Files.delete(dir.resolve("tokenizer.json"));
            assertEquals(dir, FlashCl.embeddedModelDirectory());
            assertEquals(-1, Files.mismatch(weights, Path.of("testdata/embedded/model.safetensors")), "truncated file unpacked again");
            assertEquals(-1, Files.mismatch(dir.resolve("tokenizer.json"), Path.of("testdata/embedded/tokenizer.json")), "missing file unpacked again");
        } finally {
            if (before == null) System.clearProperty("flashcl.cache");
            else System.setProperty("flashcl.cache", before);
        }
    }

    /** The jar's digest list names every file it ships, with the digest of the file in testdata. */
    @Test
    void theShippedDigestsMatchTheModelFiles() throws Exception {
        for (String line : Files.readAllLines(Path.of("testdata/embedded/SHA256SUMS"))) {
            String[] p = line.split("\\s+");
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(Path.of("testdata/embedded", p[1])));
            assertEquals(p[0], java.util.HexFormat.of().formatHex(d), p[1]);
        }
    }
}
