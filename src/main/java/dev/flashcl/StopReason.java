package dev.flashcl;

/** Why a generation ended. */
public enum StopReason {
    /** The model produced its end-of-text token (one of the config's {@code eos_token_id}). */
    EOS,
    /** The model produced one of the request's {@link GenerationRequest.Builder#stopTokens stop tokens}. */
    STOP_TOKEN,
    /** One of the request's stop strings appeared in the text (which ends before it). */
    STOP_STRING,
    /** {@link GenerationRequest#maxNewTokens()} tokens were generated. */
    MAX_TOKENS,
    /** {@link LanguageModel#cancel()}, the request's {@link GenerationRequest.Builder#cancelWhen condition}, or an interrupt of the generating thread stopped it. */
    CANCELLED
}
