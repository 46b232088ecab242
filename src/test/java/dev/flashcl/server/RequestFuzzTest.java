package dev.flashcl.server;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Arrays;

/**
 * Coverage-guided fuzzing (Jazzer) of the request parser: any body, to either endpoint (a first
 * byte 'C' picks chat), must end in a request or a 400 naming what is wrong; any other exception,
 * a 500, or a hang is a finding. Seeds: src/test/resources/dev/flashcl/server/RequestFuzzTestInputs/;
 * under plain {@code mvn test} only those run.
 */
class RequestFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void openAiRequest(byte[] data) {
        boolean chat = data.length > 0 && data[0] == 'C';
        byte[] body = chat ? Arrays.copyOfRange(data, 1, data.length) : data;
        try {
            OpenAiRequest r = OpenAiRequest.parse(body, chat);
            if (r.prompt() == null && r.promptIds() == null && (r.messages() == null || r.messages().isEmpty())) throw new AssertionError("a request without a prompt was accepted");
            if (r.maxTokens() != null && r.maxTokens() < 1) throw new AssertionError("max_tokens " + r.maxTokens() + " accepted");
            if (!(r.topP() > 0 && r.topP() <= 1) || !(r.temperature() >= 0 && r.temperature() <= 2)) throw new AssertionError("sampling out of range accepted");
        } catch (ApiException e) {
            if (e.status != 400) throw new AssertionError("parsing answered " + e.status + ": " + e.getMessage());
        }
    }
}
