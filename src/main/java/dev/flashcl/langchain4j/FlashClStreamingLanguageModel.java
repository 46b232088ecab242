package dev.flashcl.langchain4j;

import dev.flashcl.GenerationResult;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.language.StreamingLanguageModel;
import dev.langchain4j.model.output.Response;
import java.util.List;

/**
 * A LangChain4j {@link StreamingLanguageModel} run by flashcl in this process: plain completion,
 * the text reaching the handler as it becomes final, from a flashcl thread. A handler whose
 * {@code onNext} throws ends the completion there and gets {@code onError} with what it threw.
 */
public final class FlashClStreamingLanguageModel implements StreamingLanguageModel, AutoCloseable {
    private final Runner runner;

    private FlashClStreamingLanguageModel(Builder b) {
        this.runner = new Runner(b);
    }

    /** @return a builder: the embedded model, greedy, unless told otherwise */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void generate(String prompt, StreamingResponseHandler<String> handler) {
        runner.stream(() -> {
            GenerationResult g;
            try {   // a handler that throws ends the generation: Runner hands its exception back unchanged
                g = runner.run(prompt, List.copyOf(runner.defaults.stopSequences), null, null, null, null, handler::onNext, () -> false);
            } catch (RuntimeException e) {
                handler.onError(e);
                return;
            }
            handler.onComplete(Response.from(g.text(), Runner.usage(g), Runner.finish(g.stopReason())));
        });
    }

    /** Cancels completions in flight and frees the model when this one loaded it. */
    @Override
    public void close() {
        runner.close();
    }

    /** Builds a {@link FlashClStreamingLanguageModel}: the model loads in {@link #build()}. */
    public static final class Builder extends FlashClBuilder<Builder> {
        private Builder() {}

        /** @return the streaming language model, its model loaded */
        public FlashClStreamingLanguageModel build() {
            return new FlashClStreamingLanguageModel(this);
        }
    }
}
