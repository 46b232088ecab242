package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.GenerationRequest;
import dev.flashcl.Sampling;
import dev.flashcl.StopReason;
import dev.flashcl.internal.generate.Generator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.internal.kernels.TestDevice;
import java.nio.file.Path;
import dev.flashcl.internal.check.CheckCase;
import dev.flashcl.internal.check.ModelCases;
import dev.flashcl.internal.kernels.CheckCases;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The embedded model (testdata/embedded, trained by train.py) end to end, tokenizer included:
 * flashcl's greedy completion of the seed prompt equals transformers' (expected.json, fp32 math
 * on the same fp16 weights) token for token, and so does the decoded text; and the cases
 * {@code flashcl check} runs on it (logits at eight positions within 2x transformers' own fp16
 * error, greedy ids from the prompt ids), in both storages.
 */
class EmbeddedModelTest {
    static List<CheckCase> checkCases() {
        return ModelCases.cases(false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("checkCases")
    void checkCase(CheckCase c) {
        CheckCases.run(c);
    }

    @AfterAll
    static void release() {
        CheckCases.release();
    }

    @Test
    void greedyCompletionMatchesTransformers() throws Exception {
        Path dir = Path.of("testdata/embedded");
        JsonNode want = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
        int[] wantIds = PhiModelTest.ints(want.get("new_ids"));
        try (PhiModel m = PhiModel.load(TestDevice.context(), dir, PhiModel.Options.defaults(), null)) {
            assertArrayEquals(PhiModelTest.ints(want.get("prompt_ids")), m.tokenizer().encode(want.get("prompt").asText()), "prompt ids");
            StringBuilder streamed = new StringBuilder();
            var r = new Generator(m).generate(GenerationRequest.builder().prompt(want.get("prompt").asText()).maxNewTokens(200).onText(streamed::append).build());
            assertArrayEquals(wantIds, r.tokens(), "greedy ids (transformers' smallest top-1/top-2 margin: " + want.get("min_margin") + ")");
            assertEquals(want.get("text").asText(), r.text());
            assertEquals(r.text(), streamed.toString(), "streamed text");
            // sampling: the same seed gives the same text, another seed another
            Sampling sampled = Sampling.temperature(0.8).topK(50).topP(0.95);
            var s1 = new Generator(m).generate(GenerationRequest.builder().prompt(want.get("prompt").asText()).maxNewTokens(40).sampling(sampled.seed(7)).build());
            var s2 = new Generator(m).generate(GenerationRequest.builder().prompt(want.get("prompt").asText()).maxNewTokens(40).sampling(sampled.seed(7)).build());
            var s3 = new Generator(m).generate(GenerationRequest.builder().prompt(want.get("prompt").asText()).maxNewTokens(40).sampling(sampled.seed(8)).build());
            assertArrayEquals(s1.tokens(), s2.tokens(), "same seed, same tokens");
            assertFalse(java.util.Arrays.equals(s1.tokens(), s3.tokens()), "another seed should give other tokens");
            // a stop string cuts the text before it and ends generation
            String stop = "raise";
            var st = new Generator(m).generate(GenerationRequest.builder().prompt(want.get("prompt").asText()).maxNewTokens(200).stopStrings(stop).build());
            assertEquals(r.text().substring(0, r.text().indexOf(stop)), st.text());
            assertEquals(StopReason.STOP_STRING, st.stopReason());
        }
    }
}
