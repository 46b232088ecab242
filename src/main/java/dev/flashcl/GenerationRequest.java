package dev.flashcl;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * What to generate: a prompt (text, or token ids), how many new tokens at most, how to pick them,
 * when to stop, and callbacks that receive the output as it streams. Built with {@link #builder()};
 * every value is checked when set and the whole when built, so a request that exists is valid
 * (only the prompt's length against a model's context waits for {@link LanguageModel#generate}).
 *
 * <pre>{@code
 * GenerationRequest r = GenerationRequest.builder()
 *         .prompt("def fib(n):")
 *         .maxNewTokens(200)
 *         .sampling(Sampling.temperature(0.7).topP(0.9).seed(1))
 *         .stopStrings("\n\n\n")
 *         .onText(System.out::print)
 *         .build();
 * }</pre>
 */
public final class GenerationRequest {
    /** New tokens when {@link Builder#maxNewTokens} is not set. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 200;

    private final String prompt;
    private final int[] promptTokens;
    private final int maxNewTokens;
    private final Sampling sampling;
    private final List<String> stopStrings;
    private final int[] stopTokens;
    private final boolean stopAtEos;
    private final boolean cleanUpSpaces;
    private final Consumer<String> onText;
    private final TokenListener onToken;
    private final BooleanSupplier cancelWhen;
    private final boolean logprobs;

    private GenerationRequest(Builder b) {
        this.prompt = b.prompt;
        this.promptTokens = b.promptTokens;
        this.maxNewTokens = b.maxNewTokens;
        this.sampling = b.sampling;
        this.stopStrings = List.copyOf(b.stopStrings);
        this.stopTokens = b.stopTokens.stream().mapToInt(Integer::intValue).toArray();
        this.stopAtEos = b.stopAtEos;
        this.cleanUpSpaces = b.cleanUpSpaces;
        this.onText = b.onText;
        this.onToken = b.onToken;
        this.cancelWhen = b.cancelWhen;
        this.logprobs = b.logprobs;
    }

    /** @return a builder with the defaults: greedy, {@value #DEFAULT_MAX_NEW_TOKENS} new tokens, stop at the model's eos */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * @param prompt the text to continue
     * @return a request with the defaults for that prompt
     */
    public static GenerationRequest of(String prompt) {
        return builder().prompt(prompt).build();
    }

    /** @return the prompt text, when the prompt was given as text */
    public Optional<String> prompt() {
        return Optional.ofNullable(prompt);
    }

    /** @return a copy of the prompt's token ids, when the prompt was given as ids */
    public Optional<int[]> promptTokens() {
        return promptTokens == null ? Optional.empty() : Optional.of(promptTokens.clone());
    }

    /** @return the most new tokens to generate (at least 1) */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** @return how the next token is picked */
    public Sampling sampling() {
        return sampling;
    }

    /** @return texts that end the generation where they first appear (the output ends before them) */
    public List<String> stopStrings() {
        return stopStrings;
    }

    /** @return a copy of the token ids that end the generation (not part of the output), besides eos unless turned off */
    public int[] stopTokens() {
        return stopTokens.clone();
    }

    /** @return whether the model's end-of-text token ends the generation */
    public boolean stopAtEos() {
        return stopAtEos;
    }

    /** @return whether the text is decoded with transformers' clean-up of tokenization spaces */
    public boolean cleanUpSpaces() {
        return cleanUpSpaces;
    }

    /** @return the callback that gets text as it becomes final, if any */
    public Optional<Consumer<String>> onText() {
        return Optional.ofNullable(onText);
    }

    /** Gets each new token as it is generated. */
    @FunctionalInterface
    public interface TokenListener {
        /**
         * @param token   the token id
         * @param logprob its log-probability under the model when the request asks for
         *                {@link Builder#logprobs logprobs}, else NaN
         */
        void accept(int token, double logprob);
    }

    /** @return the callback that gets each new token as it is generated, if any */
    public Optional<TokenListener> onToken() {
        return Optional.ofNullable(onToken);
    }

    /** @return the condition, checked after every token, that cancels this generation (never true unless set) */
    public BooleanSupplier cancelWhen() {
        return cancelWhen;
    }

    /** @return whether the result carries each new token's log-probability */
    public boolean logprobs() {
        return logprobs;
    }

    /** Builds a {@link GenerationRequest}; each setter checks its value. Not thread-safe. */
    public static final class Builder {
        private String prompt;
        private int[] promptTokens;
        private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        private Sampling sampling = Sampling.greedy();
        private final List<String> stopStrings = new ArrayList<>();
        private final List<Integer> stopTokens = new ArrayList<>();
        private boolean stopAtEos = true;
        private boolean cleanUpSpaces;
        private Consumer<String> onText;
        private TokenListener onToken;
        private BooleanSupplier cancelWhen = () -> false;
        private boolean logprobs;

        private Builder() {}

        /**
         * @param text the text to continue: not empty (replaces prompt tokens set before)
         * @return this builder
         */
        public Builder prompt(String text) {
            if (text == null || text.isEmpty()) throw new IllegalArgumentException("the prompt is empty; give some text to continue");
            this.prompt = text;
            this.promptTokens = null;
            return this;
        }

        /**
         * @param ids the prompt as token ids, each 0 or more: at least one (replaces a text prompt set before)
         * @return this builder
         */
        public Builder promptTokens(int... ids) {
            if (ids == null || ids.length == 0) throw new IllegalArgumentException("the prompt is empty; give at least one token id");
            for (int id : ids) if (id < 0) throw new IllegalArgumentException("prompt token id " + id + " is negative");
            this.promptTokens = ids.clone();
            this.prompt = null;
            return this;
        }

        /**
         * @param n the most new tokens: at least 1
         * @return this builder
         */
        public Builder maxNewTokens(int n) {
            if (n < 1) throw new IllegalArgumentException("max new tokens must be at least 1, got " + n);
            this.maxNewTokens = n;
            return this;
        }

        /**
         * @param sampling greedy, or a temperature with its cuts and seed
         * @return this builder
         */
        public Builder sampling(Sampling sampling) {
            if (sampling == null) throw new IllegalArgumentException("sampling must be given (Sampling.greedy() for argmax)");
            this.sampling = sampling;
            return this;
        }

        /**
         * @param stops texts that end the generation, each not empty (added to those set before)
         * @return this builder
         */
        public Builder stopStrings(String... stops) {
            return stopStrings(Arrays.asList(stops));
        }

        /**
         * @param stops texts that end the generation, each not empty (added to those set before)
         * @return this builder
         */
        public Builder stopStrings(List<String> stops) {
            for (String s : stops) {
                if (s == null || s.isEmpty()) throw new IllegalArgumentException("a stop string is empty; it would stop before the first token");
            }
            stopStrings.addAll(stops);
            return this;
        }

        /**
         * @param ids token ids that end the generation, each 0 or more (added to those set before)
         * @return this builder
         */
        public Builder stopTokens(int... ids) {
            for (int id : ids) {
                if (id < 0) throw new IllegalArgumentException("stop token id " + id + " is negative");
                stopTokens.add(id);
            }
            return this;
        }

        /**
         * @param stop whether the model's end-of-text token ends the generation (default true)
         * @return this builder
         */
        public Builder stopAtEos(boolean stop) {
            this.stopAtEos = stop;
            return this;
        }

        /**
         * @param cleanUp decode with transformers' clean-up of tokenization spaces (default false:
         *                it joins {@code " ."} into {@code "."} and corrupts code such as {@code else ' '})
         * @return this builder
         */
        public Builder cleanUpSpaces(boolean cleanUp) {
            this.cleanUpSpaces = cleanUp;
            return this;
        }

        /**
         * @param onText gets text as it becomes final (never half a character, never past a stop string)
         * @return this builder
         */
        public Builder onText(Consumer<String> onText) {
            this.onText = onText;
            return this;
        }

        /**
         * @param onToken gets each new token id as it is generated (stop tokens excluded)
         * @return this builder
         */
        public Builder onToken(IntConsumer onToken) {
            this.onToken = onToken == null ? null : (id, logprob) -> onToken.accept(id);
            return this;
        }

        /**
         * @param onToken gets each new token id with its log-probability (NaN unless
         *                {@link #logprobs} is set) as it is generated, stop tokens excluded
         *                (replaces {@link #onToken(IntConsumer)})
         * @return this builder
         */
        public Builder onTokenLogprob(TokenListener onToken) {
            this.onToken = onToken;
            return this;
        }

        /**
         * @param cancel checked after every token, from the generating thread: once it is true the
         *               generation ends with {@link StopReason#CANCELLED} (a server cancels a request
         *               whose client went away this way, without touching other requests)
         * @return this builder
         */
        public Builder cancelWhen(BooleanSupplier cancel) {
            if (cancel == null) throw new IllegalArgumentException("cancelWhen: the condition is null");
            this.cancelWhen = cancel;
            return this;
        }

        /**
         * @param logprobs whether {@link GenerationResult#logprobs()} holds each new token's
         *                 log-probability under the model (before temperature and cuts); greedy
         *                 generation then reads the logits every step
         * @return this builder
         */
        public Builder logprobs(boolean logprobs) {
            this.logprobs = logprobs;
            return this;
        }

        /** @return the request; fails when no prompt was given */
        public GenerationRequest build() {
            if (prompt == null && promptTokens == null) throw new IllegalArgumentException("no prompt: set prompt(text) or promptTokens(ids)");
            return new GenerationRequest(this);
        }
    }
}
