package dev.flashcl;

/**
 * How a model is put on the device: the KV cache's length, the storage precision, the prefill
 * chunk and a progress callback. Built with {@link #builder()}; each value is checked when set,
 * so bad options fail before any weight is read. {@link #defaults()}: the model's full context,
 * fp16, chunks of 2048 tokens, no progress callback.
 */
public final class LoadOptions {
    /** Receives loading progress: bytes of weights copied to the device so far, of the total. */
    @FunctionalInterface
    public interface Progress {
        /**
         * @param bytesDone  weight bytes copied so far
         * @param bytesTotal weight bytes in all
         */
        void loaded(long bytesDone, long bytesTotal);
    }

    private static final LoadOptions DEFAULTS = builder().build();

    private final int contextLength;
    private final Precision precision;
    private final int prefillChunk;
    private final Progress progress;
    private final WeightFormat weights;

    private LoadOptions(Builder b) {
        this.weights = b.weights;
        this.contextLength = b.contextLength;
        this.precision = b.precision;
        this.prefillChunk = b.prefillChunk;
        this.progress = b.progress;
    }

    /** @return the defaults: full context, {@link Precision#F16}, chunks of 2048, no progress callback */
    public static LoadOptions defaults() {
        return DEFAULTS;
    }

    /** @return a builder starting from the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return KV cache positions; 0 for the model's {@code max_position_embeddings} */
    public int contextLength() {
        return contextLength;
    }

    /** @return how weights and the KV cache are stored */
    public Precision precision() {
        return precision;
    }

    /** @return prompt tokens per prefill pass */
    public int prefillChunk() {
        return prefillChunk;
    }

    /** @return the progress callback (a no-op when none was set) */
    public Progress progress() {
        return progress;
    }

    /** @return how the weight matrices are stored on the device */
    public WeightFormat weights() {
        return weights;
    }

    /** Builds {@link LoadOptions}; each setter checks its value. */
    public static final class Builder {
        private int contextLength;
        private Precision precision = Precision.F16;
        private int prefillChunk = 2048;
        private Progress progress = (done, total) -> {};
        private WeightFormat weights = WeightFormat.AS_STORED;

        private Builder() {}

        /**
         * @param positions KV cache positions, at least 1 (at most the model's
         *                  {@code max_position_embeddings}, checked at load); fewer save device memory
         * @return this builder
         */
        public Builder contextLength(int positions) {
            if (positions < 1) throw new IllegalArgumentException("context length must be at least 1, got " + positions);
            this.contextLength = positions;
            return this;
        }

        /**
         * @param precision fp16 (default) or fp32 storage
         * @return this builder
         */
        public Builder precision(Precision precision) {
            if (precision == null) throw new IllegalArgumentException("precision must be given (F16 or F32)");
            this.precision = precision;
            return this;
        }

        /**
         * @param tokens prompt tokens per prefill pass, at least 1; longer prompts run in chunks
         * @return this builder
         */
        public Builder prefillChunk(int tokens) {
            if (tokens < 1) throw new IllegalArgumentException("prefill chunk must be at least 1 token, got " + tokens);
            this.prefillChunk = tokens;
            return this;
        }

        /**
         * @param progress gets the bytes of weights copied to the device as loading goes
         * @return this builder
         */
        public Builder onProgress(Progress progress) {
            if (progress == null) throw new IllegalArgumentException("progress callback is null");
            this.progress = progress;
            return this;
        }

        /**
         * @param weights Q8_0 or Q4_0 to quantize the weight matrices while loading (about 1.9x or
         *                3.4x fewer bytes than fp16 streamed per token); AS_STORED (the default) keeps them as the file holds them
         * @return this builder
         */
        public Builder weights(WeightFormat weights) {
            if (weights == null) throw new IllegalArgumentException("weights must be given (AS_STORED, Q8_0 or Q4_0)");
            this.weights = weights;
            return this;
        }

        /** @return the options */
        public LoadOptions build() {
            return new LoadOptions(this);
        }
    }
}
