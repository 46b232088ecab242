package dev.flashcl.langchain4j;

import dev.flashcl.ChatPrompt;
import dev.flashcl.GenerationResult;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** A LangChain4j chat request as flashcl runs it: its messages rendered as the model renders chats, its parameters checked. */
final class Chats {
    private Chats() {}

    static ChatRequestParameters defaults(Runner r) {
        FlashClBuilder<?> b = r.defaults;
        return ChatRequestParameters.builder().modelName(r.name).temperature(b.temperature).topP(b.topP).topK(b.topK).maxOutputTokens(b.maxTokens)
                .stopSequences(b.stopSequences).build();
    }

    static ChatResponse run(Runner r, ChatRequest request, Consumer<String> onText, BooleanSupplier cancel) {
        ChatRequestParameters p = request.parameters();
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) throw new UnsupportedFeatureException("flashcl does not call tools");
        if (p.responseFormat() != null && p.responseFormat().type() != ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("flashcl answers in text only, not " + p.responseFormat().type());
        }
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0) throw new UnsupportedFeatureException("flashcl has no frequency penalty");
        if (p.presencePenalty() != null && p.presencePenalty() != 0) throw new UnsupportedFeatureException("flashcl has no presence penalty");
        if (p.modelName() != null && !p.modelName().equals(r.name)) {
            throw new InvalidRequestException("this model is '" + r.name + "', not '" + p.modelName() + "'");
        }
        ChatPrompt prompt;
        try {
            prompt = r.model.chatPrompt(messages(request.messages()));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new InvalidRequestException(e.getMessage());
        }
        List<String> stops = new ArrayList<>(prompt.stopStrings());
        if (p.stopSequences() != null) stops.addAll(p.stopSequences());
        GenerationResult g = r.run(prompt.text(), stops, p.temperature(), p.topP(), p.topK(), p.maxOutputTokens(), onText, cancel);
        return ChatResponse.builder().aiMessage(AiMessage.from(g.text())).modelName(r.name).tokenUsage(Runner.usage(g)).finishReason(Runner.finish(g.stopReason()))
                .build();
    }

    static List<dev.flashcl.ChatMessage> messages(List<ChatMessage> in) {
        List<dev.flashcl.ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            ChatMessage m = in.get(i);
            if (m instanceof SystemMessage s) {
                out.add(dev.flashcl.ChatMessage.system(s.text()));
            } else if (m instanceof UserMessage u) {
                if (!u.hasSingleText()) throw new UnsupportedFeatureException("message " + i + ": flashcl's models read text only, and this user message has other content");
                out.add(dev.flashcl.ChatMessage.user(u.singleText()));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) throw new UnsupportedFeatureException("message " + i + ": flashcl does not call tools");
                out.add(dev.flashcl.ChatMessage.assistant(a.text() == null ? "" : a.text()));
            } else {
                throw new UnsupportedFeatureException("message " + i + ": " + m.type() + " messages are not supported");
            }
        }
        return out;
    }
}
