package dev.flashcl.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;

/**
 * A LangChain4j {@link StreamingChatModel} run by flashcl in this process: the reply's text
 * reaches the handler as it becomes final, from a flashcl thread. The handle in each partial
 * response's context cancels the reply after the token in flight; the handler then gets the
 * response so far, finish reason {@code OTHER}. A handler that throws cancels it too.
 */
public final class FlashClStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final Runner runner;

    private FlashClStreamingChatModel(Builder b) {
        this.runner = new Runner(b);
    }

    /** @return a builder: the embedded model, greedy, unless told otherwise */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Handle handle = new Handle();
        PartialResponseContext context = new PartialResponseContext(handle);
        runner.stream(() -> {
            ChatResponse response;
            try {
                response = Chats.run(runner, request, text -> {
                    if (!handle.cancelled) handler.onPartialResponse(new PartialResponse(text), context);
                }, () -> handle.cancelled);
            } catch (RuntimeException e) {
                handler.onError(e);
                return;
            }
            handler.onCompleteResponse(response);
        });
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return Chats.defaults(runner);
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** Cancels streams in flight and frees the model when this one loaded it. */
    @Override
    public void close() {
        runner.close();
    }

    private static final class Handle implements StreamingHandle {
        volatile boolean cancelled;

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
    }

    /** Builds a {@link FlashClStreamingChatModel}: the model loads in {@link #build()}. */
    public static final class Builder extends FlashClBuilder<Builder> {
        private Builder() {}

        /** @return the streaming chat model, its model loaded */
        public FlashClStreamingChatModel build() {
            return new FlashClStreamingChatModel(this);
        }
    }
}
