package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.internal.kernels.TestDevice;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The embedded model (testdata/embedded, trained by train.py) end to end, tokenizer included:
 * flashcl's greedy completion of the seed prompt equals transformers' (expected.json, fp32 math
 * on the same fp16 weights) token for token, and so does the decoded text.
 */
class EmbeddedModelTest {
    @Test
    void greedyCompletionMatchesTransformers() throws Exception {
        Path dir = Path.of("testdata/embedded");
        JsonNode want = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
        int[] wantIds = PhiModelTest.ints(want.get("new_ids"));
        try (PhiModel m = PhiModel.load(TestDevice.context(), dir, PhiModel.Options.defaults(), null)) {
            assertArrayEquals(PhiModelTest.ints(want.get("prompt_ids")), m.tokenizer().encode(want.get("prompt").asText()), "prompt ids");
            StringBuilder streamed = new StringBuilder();
            var r = new Generator(m).generate(want.get("prompt").asText(), new Generator.Options(200, 0, 0, 1, 0, null, List.of(), false),
                    streamed::append);
            assertArrayEquals(wantIds, r.newIds(), "greedy ids (transformers' smallest top-1/top-2 margin: " + want.get("min_margin") + ")");
            assertEquals(want.get("text").asText(), r.text());
            assertEquals(r.text(), streamed.toString(), "streamed text");
            // sampling: the same seed gives the same text, another seed another
            var s1 = new Generator(m).generate(want.get("prompt").asText(), new Generator.Options(40, 0.8, 50, 0.95, 7, null, List.of(), null), null);
            var s2 = new Generator(m).generate(want.get("prompt").asText(), new Generator.Options(40, 0.8, 50, 0.95, 7, null, List.of(), null), null);
            var s3 = new Generator(m).generate(want.get("prompt").asText(), new Generator.Options(40, 0.8, 50, 0.95, 8, null, List.of(), null), null);
            assertArrayEquals(s1.newIds(), s2.newIds(), "same seed, same tokens");
            assertFalse(java.util.Arrays.equals(s1.newIds(), s3.newIds()), "another seed should give other tokens");
            // a stop string cuts the text before it and ends generation
            String stop = "raise";
            var st = new Generator(m).generate(want.get("prompt").asText(), new Generator.Options(200, 0, 0, 1, 0, null, List.of(stop), false), null);
            assertEquals(r.text().substring(0, r.text().indexOf(stop)), st.text());
            assertEquals("stop string", st.stopReason());
        }
    }
}
