package dev.flashcl;

import java.util.OptionalLong;

/**
 * What a generation produced and how fast.
 *
 * @param text          the new text (without the prompt, cut before a stop string)
 * @param promptTokens  the prompt's token ids
 * @param tokens        the new token ids (stop tokens excluded)
 * @param stopReason    why it ended
 * @param seed          the seed sampling used (the request's, or the one drawn), empty when greedy
 * @param prefillNanos  time to run the prompt and pick the first token, kernel builds excluded
 * @param decodeNanos   time for the tokens after the first
 * @param buildNanos    time spent building (or loading cached) OpenCL programs during this generation
 * @param logprobs      each new token's natural-log probability under the model, when the request asked; else empty
 */
public record GenerationResult(String text, int[] promptTokens, int[] tokens, StopReason stopReason, OptionalLong seed,
                               long prefillNanos, long decodeNanos, long buildNanos, double[] logprobs) {
    /** @return the prompt's length in tokens */
    public int promptTokenCount() {
        return promptTokens.length;
    }

    /** @return how many new tokens were generated */
    public int tokenCount() {
        return tokens.length;
    }

    /** @return prompt tokens per second of prefill (kernel builds excluded) */
    public double prefillTokensPerSecond() {
        return prefillNanos > 0 ? promptTokens.length * 1e9 / prefillNanos : 0;
    }

    /** @return new tokens after the first (which the prefill produced) per second of decode; 0 with one token or none */
    public double decodeTokensPerSecond() {
        return tokens.length > 1 && decodeNanos > 0 ? (tokens.length - 1) * 1e9 / decodeNanos : 0;
    }
}
