package dev.flashcl.langchain4j;

import dev.flashcl.GenerationResult;
import dev.langchain4j.model.language.LanguageModel;
import dev.langchain4j.model.output.Response;
import java.util.List;

/**
 * A LangChain4j {@link LanguageModel} run by flashcl in this process: plain completion, the
 * prompt continued as it is (what a base model such as Phi-2 does best). Close it to free the
 * model it loaded.
 */
public final class FlashClLanguageModel implements LanguageModel, AutoCloseable {
    private final Runner runner;

    private FlashClLanguageModel(Builder b) {
        this.runner = new Runner(b);
    }

    /** @return a builder: the embedded model, greedy, unless told otherwise */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Response<String> generate(String prompt) {
        GenerationResult g = runner.run(prompt, List.copyOf(runner.defaults.stopSequences), null, null, null, null, null, () -> false);
        return Response.from(g.text(), Runner.usage(g), Runner.finish(g.stopReason()));
    }

    /** Frees the model when this one loaded it. */
    @Override
    public void close() {
        runner.close();
    }

    /** Builds a {@link FlashClLanguageModel}: the model loads in {@link #build()}. */
    public static final class Builder extends FlashClBuilder<Builder> {
        private Builder() {}

        /** @return the language model, its model loaded */
        public FlashClLanguageModel build() {
            return new FlashClLanguageModel(this);
        }
    }
}
