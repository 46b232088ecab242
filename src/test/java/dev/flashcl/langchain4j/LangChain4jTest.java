package dev.flashcl.langchain4j;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.ChatMessage;
import dev.flashcl.FlashCl;
import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import dev.flashcl.Sampling;
import dev.flashcl.internal.kernels.TestDevice;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * flashcl behind LangChain4j's interfaces, on PoCL with the embedded model: each model answers
 * what the library generates from the same prompt (the library's greedy output is checked against
 * transformers elsewhere), streams add up to the same text, a stream's handle cancels it after a
 * few tokens and frees the model for the next request, and what flashcl cannot do is refused by
 * name. Three of the four models are built on the shared model, one loads its own.
 */
class LangChain4jTest {
    static FlashCl engine;
    static LanguageModel model;

    @BeforeAll
    static void load() {
        engine = FlashCl.open(TestDevice.context().device().index() + "");
        model = engine.loadEmbedded();
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    static GenerationResult greedy(String prompt, int n, List<String> stops) {
        return model.generate(GenerationRequest.builder().prompt(prompt).maxNewTokens(n).stopStrings(stops).build());
    }

    @Test
    void chatAnswersWhatTheLibraryGenerates() {
        try (FlashClChatModel chat = FlashClChatModel.builder().model(model).maxTokens(16).build()) {
            GenerationResult want = greedy("Instruct: write a function that adds two numbers\nOutput:", 16, List.of());
            assertEquals(want.text(), chat.chat("write a function that adds two numbers"));
            ChatResponse r = chat.chat(SystemMessage.from("You write Python."), UserMessage.from("hi"), AiMessage.from("Hello."), UserMessage.from("sort a list"));
            var p = model.chatPrompt(List.of(ChatMessage.system("You write Python."), ChatMessage.user("hi"), ChatMessage.assistant("Hello."),
                    ChatMessage.user("sort a list")));
            GenerationResult dialogue = greedy(p.text(), 16, p.stopStrings());
            assertEquals(dialogue.text(), r.aiMessage().text());
            assertEquals(dialogue.promptTokenCount(), r.tokenUsage().inputTokenCount());
            assertEquals(dialogue.tokenCount(), r.tokenUsage().outputTokenCount());
            assertEquals(dialogue.stopReason() == dev.flashcl.StopReason.MAX_TOKENS ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
            // a request's parameters override the builder's
            ChatResponse short3 = chat.chat(ChatRequest.builder().messages(UserMessage.from("write a function that adds two numbers")).maxOutputTokens(3).build());
            assertEquals(3, short3.tokenUsage().outputTokenCount());
            assertEquals(FinishReason.LENGTH, short3.finishReason());
            assertEquals(greedy("Instruct: write a function that adds two numbers\nOutput:", 3, List.of()).text(), short3.aiMessage().text());
            ChatResponse sampled = chat.chat(ChatRequest.builder().messages(UserMessage.from("x")).temperature(0.8).topP(0.9).maxOutputTokens(4).build());
            assertTrue(sampled.tokenUsage().outputTokenCount() <= 4);
        }
    }

    @Test
    void streamingChatAddsUpAndCancels() throws Exception {
        try (FlashClStreamingChatModel chat = FlashClStreamingChatModel.builder().model(model).maxTokens(40).build()) {
            String want = greedy("Instruct: write a function that adds two numbers\nOutput:", 40, List.of()).text();
            StringBuilder parts = new StringBuilder();
            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            Thread caller = Thread.currentThread();
            List<Thread> threads = new ArrayList<>();
            chat.chat("write a function that adds two numbers", new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(String text) {
                    threads.add(Thread.currentThread());
                    parts.append(text);
                }

                @Override
                public void onCompleteResponse(ChatResponse r) {
                    done.complete(r);
                }

                @Override
                public void onError(Throwable e) {
                    done.completeExceptionally(e);
                }
            });
            ChatResponse r = done.get(120, TimeUnit.SECONDS);
            assertEquals(want, parts.toString());
            assertEquals(want, r.aiMessage().text());
            assertFalse(threads.contains(caller), "partials come from flashcl's thread");

            // cancel from the first partial response: the reply ends after the token in flight
            CompletableFuture<ChatResponse> cancelled = new CompletableFuture<>();
            int[] partials = {0};
            chat.chat(ChatRequest.builder().messages(UserMessage.from("write a long story")).maxOutputTokens(200).build(), new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(PartialResponse p, PartialResponseContext c) {
                    partials[0]++;
                    c.streamingHandle().cancel();
                }

                @Override
                public void onCompleteResponse(ChatResponse x) {
                    cancelled.complete(x);
                }

                @Override
                public void onError(Throwable e) {
                    cancelled.completeExceptionally(e);
                }
            });
            ChatResponse c = cancelled.get(120, TimeUnit.SECONDS);
            assertEquals(FinishReason.OTHER, c.finishReason());
            assertEquals(1, partials[0], "no partial after the cancel");
            assertTrue(c.tokenUsage().outputTokenCount() <= 3, c.tokenUsage().outputTokenCount() + " tokens after a cancel at the first");
            assertEquals(want, model.generate(GenerationRequest.builder().prompt("Instruct: write a function that adds two numbers\nOutput:").maxNewTokens(40).build())
                    .text(), "the model serves on after a cancel");

            // a handler that throws ends its stream with onError and its own exception, not a bad-request error
            CompletableFuture<Throwable> failed = new CompletableFuture<>();
            chat.chat("write a long story", new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(String text) {
                    throw new IllegalArgumentException("the consumer is full");
                }

                @Override
                public void onCompleteResponse(ChatResponse x) {
                    failed.complete(null);
                }

                @Override
                public void onError(Throwable e) {
                    failed.complete(e);
                }
            });
            Throwable thrown = failed.get(120, TimeUnit.SECONDS);
            assertNotNull(thrown, "onError, not a complete response");
            assertEquals(IllegalArgumentException.class, thrown.getClass(), "the handler's own exception: " + thrown);
        }
    }

    @Test
    void languageModelsContinueThePrompt() throws Exception {
        String prompt = "def fibonacci(n):\n";
        GenerationResult want = greedy(prompt, 24, List.of());
        // this one loads its own copy of the embedded model
        try (FlashClLanguageModel lm = FlashClLanguageModel.builder().device(TestDevice.context().device().index() + "").maxTokens(24).build()) {
            Response<String> r = lm.generate(prompt);
            assertEquals(want.text(), r.content());
            assertEquals(want.tokenCount(), r.tokenUsage().outputTokenCount());
            assertEquals(FinishReason.LENGTH, r.finishReason());
        }
        try (FlashClStreamingLanguageModel lm = FlashClStreamingLanguageModel.builder().model(model).maxTokens(24).build()) {
            StringBuilder parts = new StringBuilder();
            CompletableFuture<Response<String>> done = new CompletableFuture<>();
            lm.generate(prompt, new StreamingResponseHandler<String>() {
                @Override
                public void onNext(String token) {
                    parts.append(token);
                }

                @Override
                public void onComplete(Response<String> r) {
                    done.complete(r);
                }

                @Override
                public void onError(Throwable e) {
                    done.completeExceptionally(e);
                }
            });
            assertEquals(want.text(), done.get(120, TimeUnit.SECONDS).content());
            assertEquals(want.text(), parts.toString());

            // a handler that throws cancels the completion and gets its own exception back
            CompletableFuture<Throwable> failed = new CompletableFuture<>();
            int[] calls = {0};
            lm.generate(prompt, new StreamingResponseHandler<String>() {
                @Override
                public void onNext(String token) {
                    calls[0]++;
                    throw new IllegalArgumentException("the consumer is full");   // not taken for a bad request
                }

                @Override
                public void onComplete(Response<String> r) {
                    failed.complete(null);
                }

                @Override
                public void onError(Throwable e) {
                    failed.complete(e);
                }
            });
            Throwable thrown = failed.get(120, TimeUnit.SECONDS);
            assertEquals(IllegalArgumentException.class, thrown.getClass(), "the handler's own exception: " + thrown);
            assertEquals("the consumer is full", thrown.getMessage());
            assertEquals(1, calls[0]);
        }
    }

    @Test
    void whatFlashclCannotDoIsRefusedByName() {
        try (FlashClChatModel chat = FlashClChatModel.builder().model(model).modelName("phi").build()) {
            var image = assertThrows(UnsupportedFeatureException.class,
                    () -> chat.chat(UserMessage.from(TextContent.from("what is this?"), ImageContent.from("https://example.com/x.png"))));
            assertTrue(image.getMessage().contains("text only"), image.getMessage());
            var json = assertThrows(UnsupportedFeatureException.class,
                    () -> chat.chat(ChatRequest.builder().messages(UserMessage.from("x")).responseFormat(ResponseFormat.JSON).build()));
            assertTrue(json.getMessage().contains("JSON"), json.getMessage());
            var model2 = assertThrows(InvalidRequestException.class, () -> chat.chat(ChatRequest.builder().messages(UserMessage.from("x")).modelName("gpt-4").build()));
            assertTrue(model2.getMessage().contains("'phi'"), model2.getMessage());
            var noUser = assertThrows(InvalidRequestException.class, () -> chat.chat(SystemMessage.from("only a system message")));
            assertTrue(noUser.getMessage().contains("no user message"), noUser.getMessage());
            var tooLong = assertThrows(InvalidRequestException.class, () -> chat.chat(UserMessage.from("x ".repeat(5000))));
            assertTrue(tooLong.getMessage().contains("context"), tooLong.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> FlashClChatModel.builder().temperature(3));
        assertThrows(IllegalArgumentException.class, () -> FlashClChatModel.builder().model(model).contextLength(64).build());
        assertDoesNotThrow(() -> model.generate(GenerationRequest.builder().prompt("x").maxNewTokens(1).sampling(Sampling.greedy()).build()),
                "the shared model stays open after its users close");
    }
}
