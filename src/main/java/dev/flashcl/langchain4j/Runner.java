package dev.flashcl.langchain4j;

import dev.flashcl.FlashCl;
import dev.flashcl.FlashClException;
import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import dev.flashcl.LoadOptions;
import dev.flashcl.Sampling;
import dev.flashcl.StopReason;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** The model behind one LangChain4j model: loaded (and owned) or shared, the builder's defaults, and a thread pool for streams. */
final class Runner implements AutoCloseable {
    final LanguageModel model;
    final String name;
    final FlashClBuilder<?> defaults;
    private final FlashCl engine;   // null when the model is shared
    private final ExecutorService streams = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "flashcl-langchain4j");
        t.setDaemon(true);
        return t;
    });

    Runner(FlashClBuilder<?> b) {
        this.defaults = b;
        if (b.model != null) {
            if (b.modelPath != null || b.device != null || b.contextLength != 0) {
                throw new IllegalArgumentException("give either model(loaded) or modelPath/device/contextLength, not both");
            }
            this.engine = null;
            this.model = b.model;
        } else {
            FlashCl e = b.device == null ? FlashCl.open() : FlashCl.open(b.device);
            try {
                LoadOptions.Builder o = LoadOptions.builder();
                if (b.contextLength > 0) o.contextLength(b.contextLength);
                this.model = b.modelPath == null ? e.loadEmbedded(o.build()) : e.load(b.modelPath, o.build());
            } catch (RuntimeException ex) {
                e.close();
                throw ex;
            }
            this.engine = e;
        }
        this.name = b.modelName != null ? b.modelName : b.modelPath != null ? b.modelPath.getFileName().toString() : model.info().source().getFileName().toString();
    }

    /**
     * Generates from {@code prompt}; null parameters take the builder's defaults.
     *
     * @throws InvalidRequestException when the request does not fit the model (a prompt over the context, a bad value)
     */
    GenerationResult run(String prompt, List<String> stops, Double temperature, Double topP, Integer topK, Integer maxTokens, Consumer<String> onText,
                         BooleanSupplier cancel) {
        try {
            double t = temperature != null ? temperature : defaults.temperature;
            Sampling s = t == 0 ? Sampling.greedy() : Sampling.temperature(t).topP(topP != null ? topP : defaults.topP).topK(topK != null ? topK : defaults.topK);
            if (!s.isGreedy() && defaults.seed != null) s = s.seed(defaults.seed);
            List<String> allStops = new ArrayList<>(stops);
            GenerationRequest.Builder r = GenerationRequest.builder().prompt(prompt).sampling(s).stopStrings(allStops)
                    .maxNewTokens(maxTokens != null ? maxTokens : defaults.maxTokens).cancelWhen(cancel);
            if (onText != null) r.onText(text -> {
                try {
                    onText.accept(text);
                } catch (RuntimeException e) {
                    throw new HandlerFailure(e);
                }
            });
            return model.generate(r.build());
        } catch (HandlerFailure e) {
            throw (RuntimeException) e.getCause();   // the caller's handler threw: its own exception, not a bad request
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage());
        }
    }

    /** What a handler threw, carried through the generation unchanged. */
    private static final class HandlerFailure extends RuntimeException {
        HandlerFailure(RuntimeException cause) {
            super(cause);
        }
    }

    void stream(Runnable job) {
        streams.execute(job);
    }

    static TokenUsage usage(GenerationResult r) {
        return new TokenUsage(r.promptTokenCount(), r.tokenCount());
    }

    static FinishReason finish(StopReason s) {
        return switch (s) {
            case MAX_TOKENS -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
            default -> FinishReason.STOP;
        };
    }

    /** Stops the stream threads and frees the model when it was loaded here. */
    @Override
    public void close() {
        streams.shutdownNow();
        if (engine != null) {
            try {
                model.close();
            } finally {
                engine.close();
            }
        }
    }

    static RuntimeException unwrap(Throwable e) {
        if (e instanceof RuntimeException r) return r;
        return new FlashClException(e.getMessage(), e);
    }
}
