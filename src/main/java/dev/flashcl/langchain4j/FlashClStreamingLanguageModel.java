package dev.flashcl.langchain4j;

import dev.flashcl.GenerationResult;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.language.StreamingLanguageModel;
import dev.langchain4j.model.output.Response;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A LangChain4j {@link StreamingLanguageModel} run by flashcl in this process: plain completion,
 * the text reaching the handler as it becomes final, from a flashcl thread. A handler whose
 * {@code onNext} throws cancels the completion after the token in flight and gets
 * {@code onError} with what it threw.
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
            AtomicBoolean failed = new AtomicBoolean();
            RuntimeException[] thrown = {null};
            GenerationResult g;
            try {
                g = runner.run(prompt, List.copyOf(runner.defaults.stopSequences), null, null, null, null, text -> {
                    if (failed.get()) return;
                    try {
                        handler.onNext(text);
                    } catch (RuntimeException e) {
                        thrown[0] = e;
                        failed.set(true);
                    }
                }, failed::get);
            } catch (RuntimeException e) {
                handler.onError(e);
                return;
            }
            if (failed.get()) handler.onError(thrown[0]);
            else handler.onComplete(Response.from(g.text(), Runner.usage(g), Runner.finish(g.stopReason())));
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
