package dev.flashcl.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;

/**
 * A LangChain4j {@link ChatModel} run by flashcl in this process. Messages render as the model
 * renders chats ({@link dev.flashcl.LanguageModel#chatPrompt}: its own template, else Phi-2's
 * forms). Close it to free the model it loaded.
 */
public final class FlashClChatModel implements ChatModel, AutoCloseable {
    private final Runner runner;

    private FlashClChatModel(Builder b) {
        this.runner = new Runner(b);
    }

    /** @return a builder: the embedded model, greedy, unless told otherwise */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        return Chats.run(runner, request, null, () -> false);
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return Chats.defaults(runner);
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** Frees the model when this one loaded it. */
    @Override
    public void close() {
        runner.close();
    }

    /** Builds a {@link FlashClChatModel}: the model loads in {@link #build()}. */
    public static final class Builder extends FlashClBuilder<Builder> {
        private Builder() {}

        /** @return the chat model, its model loaded */
        public FlashClChatModel build() {
            return new FlashClChatModel(this);
        }
    }
}
