package dev.flashcl;

import dev.flashcl.internal.generate.ChatFormat;
import dev.flashcl.internal.generate.Generator;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.PhiModel;
import dev.flashcl.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model on the device, from {@link FlashCl#load}: generate text with {@link #generate}, or drive
 * it step by step through a {@link #newSession() session}. One generation at a time: calls from
 * several threads are serialized (load a second model for parallel streams). Close it to free
 * its device memory.
 */
public final class LanguageModel implements AutoCloseable {
    private final PhiModel model;
    private final Generator generator;
    private final Path source;
    private final long loadNanos, buildNanos;
    private long epoch;
    private boolean closed;
    private Batcher batcher;
    private ChatFormat chatFormat;

    LanguageModel(PhiModel model, Path source, long loadNanos, long buildNanos) {
        this.model = model;
        this.generator = new Generator(model);
        this.source = source;
        this.loadNanos = loadNanos;
        this.buildNanos = buildNanos;
    }

    /**
     * Generates from the request's prompt until a stop token, a stop string or the token limit;
     * text and tokens stream to the request's callbacks as they come.
     *
     * @param request what to generate
     * @return the text, tokens, why it stopped and how fast
     * @throws IllegalArgumentException when the prompt plus the new tokens exceed the context
     * @throws FlashClException         when the device fails or the logits turn non-finite
     */
    public GenerationResult generate(GenerationRequest request) {
        Batcher b;
        synchronized (model) {
            b = batcher;
        }
        if (b != null) {   // the batcher owns the device: the request joins its batch
            try {
                return b.submit(request).join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof RuntimeException re) throw re;
                throw e;
            }
        }
        synchronized (model) {
            ensureOpen();
            epoch++;
            return generator.generate(request);
        }
    }

    /**
     * Starts continuous batching on this model: many requests at once, each its own stream (see
     * {@link Batcher}). Until the batcher is closed, {@link #generate} submits to it and waits,
     * and {@link #newSession} refuses to run.
     *
     * @param options batch size, queue, KV cache and prefill chunk
     * @return the batcher
     * @throws IllegalStateException    when a batcher is already open on this model
     * @throws IllegalArgumentException when the KV cache cannot hold one sequence of the context
     */
    public Batcher batcher(Batcher.Options options) {
        synchronized (model) {
            ensureOpen();
            if (batcher != null) throw new IllegalStateException("a batcher is already open on this model");
            epoch++;
            batcher = new Batcher(this, model, options);
            return batcher;
        }
    }

    void batcherClosed(Batcher b) {
        synchronized (model) {
            if (batcher == b) batcher = null;
        }
    }

    /**
     * @param prompt the text to continue (greedy, {@value GenerationRequest#DEFAULT_MAX_NEW_TOKENS} new tokens at most)
     * @return the result
     */
    public GenerationResult generate(String prompt) {
        return generate(GenerationRequest.of(prompt));
    }

    /**
     * Stops the generation in flight (from any thread or callback) after its current step; it
     * returns with {@link StopReason#CANCELLED}. Does nothing when none runs.
     */
    public void cancel() {
        generator.cancel();
    }

    /**
     * Starts a step-by-step session at position 0, ending any session before it.
     *
     * @return the session
     */
    public Session newSession() {
        synchronized (model) {
            ensureOpen();
            epoch++;
            model.reset();
            return new Session(this, model, epoch);
        }
    }

    void checkSession(long sessionEpoch) {
        ensureOpen();
        if (sessionEpoch != epoch) throw new IllegalStateException("this session has ended: a later session or generate took the model");
    }

    /**
     * Renders chat messages as the prompt this model continues: through the model's own chat
     * template when its tokenizer_config.json (or its GGUF file's {@code tokenizer.chat_template})
     * has one, rendered as transformers' apply_chat_template renders it (this needs
     * com.hubspot.jinjava:jinjava on the class path); else Phi-2's documented forms, one question as
     * {@code Instruct: ...\nOutput:} and several turns as a {@code User:} / {@code Assistant:}
     * dialogue whose stop strings end the reply before the user's next line. Generate from
     * {@link ChatPrompt#text()} with its {@link ChatPrompt#stopStrings() stop strings}.
     *
     * @param messages the chat so far, ending with the user's message
     * @return the prompt and its stop strings
     * @throws IllegalArgumentException when the messages do not suit the format (no user message,
     *                                  or the template refuses them) or the template fails to render
     * @throws IllegalStateException    when the model has a template and Jinjava is missing
     */
    public ChatPrompt chatPrompt(java.util.List<ChatMessage> messages) {
        ChatFormat f;
        synchronized (this) {
            if (chatFormat == null) chatFormat = ChatFormat.of(source);
            f = chatFormat;
        }
        return f.render(messages);
    }

    /** @return the model's tokenizer, empty when its directory had no tokenizer files */
    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(model.tokenizer());
    }

    /** @return the model's shape and device footprint */
    public ModelInfo info() {
        var c = model.config();
        return new ModelInfo(source, c.numLayers(), c.hiddenSize(), c.numHeads(), c.headDim(), c.intermediateSize(), c.vocabSize(),
                model.contextLength(), c.parameters(), model.storage() == Storage.F32 ? Precision.F32 : Precision.F16, c.eosTokenIds(),
                model.context().bytesInUse(), loadNanos, buildNanos);
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the model is closed");
        if (batcher != null) throw new IllegalStateException("the model is serving a batcher; submit to it, or close it first");
    }

    /** Frees the model's device memory; later calls throw. */
    @Override
    public void close() {
        Batcher b;
        synchronized (model) {
            b = batcher;
        }
        if (b != null) b.close();
        synchronized (model) {
            if (closed) return;
            closed = true;
            model.close();
        }
    }
}
