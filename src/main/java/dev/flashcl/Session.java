package dev.flashcl;

import dev.flashcl.internal.phi.PhiModel;

/**
 * Step-by-step access to a model for people who drive it themselves: prefill token ids, decode
 * one token at a time, read the logits. The model has one KV cache, so it serves one session or
 * generation at a time: {@link LanguageModel#newSession()} or {@link LanguageModel#generate}
 * ends the session before it (its methods then throw). Not thread-safe.
 */
public final class Session {
    private final LanguageModel owner;
    private final PhiModel model;
    private final long epoch;

    Session(LanguageModel owner, PhiModel model, long epoch) {
        this.owner = owner;
        this.model = model;
        this.epoch = epoch;
    }

    /**
     * Runs {@code tokens} after what the cache holds.
     *
     * @param tokens token ids, each below {@link ModelInfo#vocabSize()}; with the cached positions at most the context
     * @return the most likely next token after the last of them
     */
    public int prefill(int... tokens) {
        synchronized (model) {
            check();
            return model.prefill(tokens, null);
        }
    }

    /**
     * Appends one token and runs it.
     *
     * @param token the next token id (a sampled one, or the id the last step returned)
     * @return the most likely token after it
     */
    public int decode(int token) {
        synchronized (model) {
            check();
            if (model.cachedPositions() == 0) throw new IllegalStateException("decode before any prefill: prefill the prompt first");
            model.setNextToken(token);
            return model.decode(null);
        }
    }

    /** @return the logits of the last position run (one per vocabulary row) */
    public float[] logits() {
        synchronized (model) {
            check();
            if (model.cachedPositions() == 0) throw new IllegalStateException("no logits yet: prefill the prompt first");
            return model.logits(1);
        }
    }

    /** @return positions held in the KV cache */
    public int position() {
        synchronized (model) {
            check();
            return model.cachedPositions();
        }
    }

    /** Forgets the cache: the next prefill starts at position 0. */
    public void reset() {
        synchronized (model) {
            check();
            model.reset();
        }
    }

    private void check() {
        owner.checkSession(epoch);
    }
}
