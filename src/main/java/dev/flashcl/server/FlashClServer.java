package dev.flashcl.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flashcl.Batcher;
import dev.flashcl.ChatPrompt;
import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import dev.flashcl.Sampling;
import dev.flashcl.StopReason;
import dev.flashcl.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code flashcl serve}: OpenAI's completions and chat completions API over one loaded model, with
 * streaming by server-sent events, OpenAI's error bodies, {@code /v1/models}, {@code /health} and
 * Prometheus {@code /metrics}. Everything is bounded: body size, queue length, connections,
 * threads. HTTP threads parse, tokenize, queue and stream; the {@link Scheduler}'s one loop owns
 * the device.
 */
public final class FlashClServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FlashClServer.class);

    /**
     * @param host           address to bind (127.0.0.1 unless told otherwise)
     * @param port           port (0: any free one; {@link #port()} tells which)
     * @param modelName      the id /v1/models lists and requests may name
     * @param apiKey         the key a client must send as {@code Authorization: Bearer KEY}; null for none
     * @param maxQueue       requests waiting at most; more are answered 429
     * @param maxBatch       sequences decoded together in one step at most (continuous batching)
     * @param maxBodyBytes   the largest request body; larger ones are answered 413
     * @param maxConnections open connections at most (more wait to be accepted)
     */
    public record Options(String host, int port, String modelName, String apiKey, int maxQueue, int maxBatch, int maxBodyBytes, int maxConnections) {
        /**
         * Checks each value: a bad one fails before the server starts.
         *
         * @param host           address to bind
         * @param port           port, 0 for any free one
         * @param modelName      the model id
         * @param apiKey         the required key, or null
         * @param maxQueue       requests waiting at most
         * @param maxBatch       sequences decoded together at most
         * @param maxBodyBytes   the largest request body
         * @param maxConnections open connections at most
         */
        public Options {
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, got " + port);
            if (maxQueue < 1) throw new IllegalArgumentException("the queue must hold at least 1 request, got " + maxQueue);
            if (maxBatch < 1 || maxBatch > 1024) throw new IllegalArgumentException("max batch must be 1..1024, got " + maxBatch);
            if (maxBodyBytes < 1024) throw new IllegalArgumentException("the body limit must be at least 1024 bytes, got " + maxBodyBytes);
            if (maxConnections < 1) throw new IllegalArgumentException("connections must be at least 1, got " + maxConnections);
            if (apiKey != null && apiKey.isBlank()) throw new IllegalArgumentException("the API key is empty");
        }
    }

    /** The playground page at {@code /}: one file from the jar, no build step, nothing fetched from elsewhere. */
    private static final byte[] PLAYGROUND = resource("playground.html");
    /** The page may talk to this server only: no script, style, image or connection from anywhere else. */
    private static final String PLAYGROUND_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            + "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static byte[] resource(String name) {
        try (InputStream in = FlashClServer.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("the jar has no " + name + " beside FlashClServer; it is damaged");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private final LanguageModel model;
    private final Tokenizer tokenizer;
    private final Options options;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Scheduler scheduler;
    private final Server server;
    private final ServerConnector connector;
    private final long created = System.currentTimeMillis() / 1000;
    private volatile boolean stopping;

    /**
     * Starts serving; the caller keeps owning the model (close the server first).
     *
     * @param model   the model to serve, with its tokenizer
     * @param options address, name, key and limits
     * @throws Exception when the port cannot be bound
     */
    public FlashClServer(LanguageModel model, Options options) throws Exception {
        this.model = model;
        this.tokenizer = model.tokenizer().orElseThrow(() -> new IllegalArgumentException("the model has no tokenizer files; the server needs them"));
        this.options = options;
        this.scheduler = new Scheduler(model, Batcher.Options.defaults().withMaxBatch(options.maxBatch()).withMaxQueue(options.maxQueue())
                .withPrefixCache(!"off".equals(System.getProperty("flashcl.prefixCache"))), metrics);   // off: to measure against
        QueuedThreadPool threads = new QueuedThreadPool(Math.max(16, options.maxConnections() + 8), 4);
        threads.setName("flashcl-http");
        server = new Server(threads);
        connector = new ServerConnector(server);
        connector.setHost(options.host());
        connector.setPort(options.port());
        connector.setIdleTimeout(TimeUnit.MINUTES.toMillis(5));
        server.addConnector(connector);
        server.addBean(new NetworkConnectionLimit(options.maxConnections(), server));
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                FlashClServer.this.handle(request, response, callback);
                return true;
            }
        });
        server.setStopTimeout(10_000);
        server.start();
        log.info("serving {} on http://{}:{}", options.modelName(), options.host(), port());
    }

    /** @return the port bound */
    public int port() {
        return connector.getLocalPort();
    }

    /**
     * Blocks until the server stops.
     *
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public void join() throws InterruptedException {
        server.join();
    }

    private void handle(Request request, Response response, Callback callback) {
        String path = request.getHttpURI().getPath();
        String method = request.getMethod();
        try {
            switch (path) {
                case "/" -> {
                    requireMethod(method, "GET");
                    response.getHeaders().put("Content-Security-Policy", PLAYGROUND_POLICY);
                    response.getHeaders().put("X-Content-Type-Options", "nosniff");
                    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
                    send(response, callback, 200, "text/html; charset=utf-8", PLAYGROUND);
                }
                case "/health" -> {
                    requireMethod(method, "GET");
                    if (stopping) throw new ApiException(503, "server_error", null, null, "the server is shutting down");
                    json(response, callback, 200, "{\"status\":\"ok\"}");
                }
                case "/metrics" -> {
                    requireMethod(method, "GET");
                    send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape().getBytes(StandardCharsets.UTF_8));
                }
                case "/v1/models" -> {
                    requireMethod(method, "GET");
                    authorize(request);
                    ObjectNode m = OpenAiRequest.JSON.createObjectNode().put("id", options.modelName()).put("object", "model").put("created", created)
                            .put("owned_by", "flashcl");
                    ObjectNode list = OpenAiRequest.JSON.createObjectNode().put("object", "list");
                    list.putArray("data").add(m);
                    json(response, callback, 200, list.toString());
                }
                case "/v1/completions", "/v1/chat/completions" -> {
                    requireMethod(method, "POST");
                    authorize(request);
                    if (stopping) throw new ApiException(503, "server_error", null, null, "the server is shutting down");
                    generate(request, response, callback, OpenAiRequest.parse(body(request), path.equals("/v1/chat/completions")));
                }
                default -> {
                    if (path.startsWith("/v1/models/") && method.equals("GET")) {
                        authorize(request);
                        throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "the model '" + path.substring(11) + "' does not exist");
                    }
                    throw new ApiException(404, "invalid_request_error", null, "not_found", "no route " + method + " " + path);
                }
            }
        } catch (ApiException e) {
            if (e.status == 429 || e.status == 503) response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            error(response, callback, e);
        } catch (RuntimeException e) {
            log.warn("request {} {} failed: {}", method, path, e.toString());
            error(response, callback, new ApiException(500, "server_error", null, null, "the server failed: " + e.getMessage()));
        }
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) throw new ApiException(405, "invalid_request_error", null, "method_not_allowed", "use " + allowed);
    }

    private void authorize(Request request) {
        if (options.apiKey() == null) return;
        String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        byte[] want = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (auth == null || !MessageDigest.isEqual(want, auth.getBytes(StandardCharsets.UTF_8))) {
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", "Incorrect API key provided");
        }
    }

    private byte[] body(Request request) {
        long declared = request.getLength();
        if (declared > options.maxBodyBytes()) throw tooLarge(declared);
        try (InputStream in = Request.asInputStream(request)) {
            byte[] b = in.readNBytes(options.maxBodyBytes() + 1);
            if (b.length > options.maxBodyBytes()) throw tooLarge(-1);
            return b;
        } catch (IOException e) {
            throw ApiException.invalid(null, "the body could not be read: " + e.getMessage());
        }
    }

    private ApiException tooLarge(long declared) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large", "the body" + (declared > 0 ? " of " + declared + " bytes" : "")
                + " is over the limit of " + options.maxBodyBytes() + " bytes");
    }

    private void generate(Request request, Response response, Callback callback, OpenAiRequest r) {
        if (r.model() != null && !r.model().equals(options.modelName())) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "the model '" + r.model() + "' does not exist; this server serves '"
                    + options.modelName() + "'");
        }
        String prompt = r.prompt();
        List<String> stops = r.stop();
        if (r.chat()) {
            ChatPrompt chat;
            try {
                chat = model.chatPrompt(r.messages());
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw ApiException.invalid("messages", e.getMessage());
            }
            prompt = chat.text();
            stops = new ArrayList<>(stops);
            stops.addAll(chat.stopStrings());
        }
        int[] ids = r.promptIds() != null ? r.promptIds() : tokenizer.encode(prompt);
        int vocab = model.info().vocabSize(), context = model.info().contextLength();
        for (int id : ids) if (id >= vocab) throw ApiException.invalid("prompt", "prompt token id " + id + " is outside the vocabulary of " + vocab);
        String promptParam = r.chat() ? "messages" : "prompt";
        if (ids.length == 0) throw ApiException.invalid(promptParam, "the prompt is empty");
        int maxTokens = r.maxTokens() != null ? r.maxTokens() : r.chat() ? context - ids.length : Math.min(16, context - ids.length);
        if ((long) ids.length + Math.max(1, maxTokens) > context) {
            throw new ApiException(400, "invalid_request_error", promptParam, "context_length_exceeded", String.format(
                    "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the %s, %d for the completion).",
                    context, (long) ids.length + Math.max(1, maxTokens), ids.length, r.chat() ? "messages" : "prompt", Math.max(1, maxTokens)));
        }
        Sampling sampling = r.temperature() == 0 ? Sampling.greedy() : Sampling.temperature(r.temperature()).topP(r.topP()).topK(r.topK());
        if (r.seed() != null && !sampling.isGreedy()) sampling = sampling.seed(r.seed());
        GenerationRequest.Builder b = GenerationRequest.builder().promptTokens(ids).maxNewTokens(maxTokens).sampling(sampling)
                .stopStrings(stops).logprobs(r.logprobs()).stopAtEos(!r.ignoreEos());
        Scheduler.Job job = new Scheduler.Job(b, ids.length, r.logprobs());
        if (!scheduler.offer(job)) {
            throw new ApiException(429, "rate_limit_exceeded", null, "queue_full", "the server's queue of " + options.maxQueue() + " requests is full; retry shortly");
        }
        String id = (r.chat() ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        long now = System.currentTimeMillis() / 1000;
        if (r.stream()) stream(response, callback, r, job, id, now);
        else complete(response, callback, r, job, id, now);
    }

    private void complete(Response response, Callback callback, OpenAiRequest r, Scheduler.Job job, String id, long created) {
        GenerationResult result = awaitResult(job);
        ObjectNode o = base(id, r.chat() ? "chat.completion" : "text_completion", created);
        ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
        String text = r.echo() ? (r.prompt() != null ? r.prompt() : tokenizer.decode(result.promptTokens())) + result.text() : result.text();
        if (r.chat()) {
            choice.putObject("message").put("role", "assistant").put("content", text).putNull("refusal");
        } else {
            choice.put("text", text);
        }
        if (r.logprobs()) choice.set("logprobs", logprobs(r.chat(), result.tokens(), result.logprobs(), 0));
        else choice.putNull("logprobs");
        choice.put("finish_reason", finishReason(result.stopReason()));
        o.set("usage", usage(result));
        json(response, callback, 200, o.toString());
    }

    private GenerationResult awaitResult(Scheduler.Job job) {
        while (true) {
            Scheduler.Event e = take(job);
            if (e instanceof Scheduler.Done d) return d.result();
            if (e instanceof Scheduler.Failed f) throw failure(f.error());
        }
    }

    private static Scheduler.Event take(Scheduler.Job job) {
        try {
            return job.events.take();
        } catch (InterruptedException e) {
            job.cancel();
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", null, null, "the server is shutting down");
        }
    }

    private static ApiException failure(RuntimeException e) {
        if (e instanceof ApiException a) return a;
        if (e instanceof IllegalArgumentException) return ApiException.invalid(null, e.getMessage());
        return new ApiException(500, "server_error", null, null, "generation failed: " + e.getMessage());
    }

    /** Server-sent events as OpenAI's clients parse them: {@code data: {chunk}} lines, then {@code data: [DONE]}. */
    private void stream(Response response, Callback callback, OpenAiRequest r, Scheduler.Job job, String id, long created) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        metrics.response(200);
        String object = r.chat() ? "chat.completion.chunk" : "text_completion";
        try (OutputStream out = Content.Sink.asOutputStream(response)) {
            if (r.chat()) event(out, chunk(id, object, created, r.chat(), null, true, null, null));
            List<Scheduler.Token> pending = new ArrayList<>();   // tokens whose text has not been sent
            int offset = 0;   // completions' text_offset: characters of generated text before a chunk
            while (true) {
                Scheduler.Event e = take(job);
                if (e instanceof Scheduler.Token t) {
                    pending.add(t);
                } else if (e instanceof Scheduler.Text t) {
                    if (t.text().isEmpty()) continue;
                    event(out, chunk(id, object, created, r.chat(), t.text(), false, null, streamedLogprobs(r, pending, offset)));
                    offset += t.text().length();
                    pending.clear();
                } else if (e instanceof Scheduler.Done d) {
                    event(out, chunk(id, object, created, r.chat(), r.chat() ? null : "", false, finishReason(d.result().stopReason()),
                            streamedLogprobs(r, pending, offset)));
                    if (r.includeUsage()) {
                        ObjectNode u = base(id, object, created);
                        u.putArray("choices");
                        u.set("usage", usage(d.result()));
                        event(out, u);
                    }
                    out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    break;
                } else if (e instanceof Scheduler.Failed f) {
                    out.write(("data: " + new String(OpenAiRequest.error(failure(f.error())), StandardCharsets.UTF_8) + "\n\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    break;
                }
            }
            callback.succeeded();
        } catch (IOException | RuntimeException e) {
            job.cancel();   // the client went away: its sequence stops after the token in flight
            log.debug("stream {} ended early: {}", id, e.toString());
            callback.failed(e);
        }
    }

    private static void event(OutputStream out, ObjectNode chunk) throws IOException {
        out.write(("data: " + chunk + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** A chunk's logprobs: those of the tokens since the last chunk, or null when the request did not ask. */
    private ObjectNode streamedLogprobs(OpenAiRequest r, List<Scheduler.Token> tokens, int offset) {
        if (!r.logprobs()) return null;
        return logprobs(r.chat(), tokens.stream().mapToInt(Scheduler.Token::id).toArray(), tokens.stream().mapToDouble(Scheduler.Token::logprob).toArray(),
                offset);
    }

    private ObjectNode chunk(String id, String object, long created, boolean chat, String text, boolean role, String finish, ObjectNode logprobs) {
        ObjectNode o = base(id, object, created);
        ObjectNode c = o.putArray("choices").addObject().put("index", 0);
        if (chat) {
            ObjectNode delta = c.putObject("delta");
            if (role) delta.put("role", "assistant").put("content", "");
            if (text != null) delta.put("content", text);
        } else {
            c.put("text", text == null ? "" : text);
        }
        if (logprobs == null) c.putNull("logprobs");
        else c.set("logprobs", logprobs);
        if (finish == null) c.putNull("finish_reason");
        else c.put("finish_reason", finish);
        return o;
    }

    private ObjectNode base(String id, String object, long created) {
        return OpenAiRequest.JSON.createObjectNode().put("id", id).put("object", object).put("created", created).put("model", options.modelName());
    }

    private static ObjectNode usage(GenerationResult r) {
        return OpenAiRequest.JSON.createObjectNode().put("prompt_tokens", r.promptTokenCount()).put("completion_tokens", r.tokenCount())
                .put("total_tokens", r.promptTokenCount() + r.tokenCount());
    }

    /** OpenAI's logprobs object for {@code tokens}; completions' text offsets count from {@code offset}. */
    private ObjectNode logprobs(boolean chat, int[] ids, double[] values, int offset) {
        ObjectNode lp = OpenAiRequest.JSON.createObjectNode();
        if (chat) {
            ArrayNode content = lp.putArray("content");
            for (int i = 0; i < ids.length; i++) {
                String t = tokenizer.decode(new int[] {ids[i]});
                ObjectNode e = content.addObject().put("token", t).put("logprob", values[i]);
                ArrayNode bytes = e.putArray("bytes");
                for (byte x : t.getBytes(StandardCharsets.UTF_8)) bytes.add(x & 0xff);
                e.putArray("top_logprobs");
            }
            lp.putNull("refusal");
        } else {
            ArrayNode tokens = lp.putArray("tokens"), logprobs = lp.putArray("token_logprobs"), offsets = lp.putArray("text_offset");
            for (int i = 0; i < ids.length; i++) {
                String t = tokenizer.decode(new int[] {ids[i]});
                tokens.add(t);
                logprobs.add(values[i]);
                offsets.add(offset);
                offset += t.length();
            }
            lp.putNull("top_logprobs");
        }
        return lp;
    }

    static String finishReason(StopReason s) {
        return s == StopReason.MAX_TOKENS ? "length" : "stop";
    }

    private void json(Response response, Callback callback, int status, String body) {
        send(response, callback, status, "application/json", body.getBytes(StandardCharsets.UTF_8));
    }

    private void error(Response response, Callback callback, ApiException e) {
        send(response, callback, e.status, "application/json", OpenAiRequest.error(e));
    }

    private void send(Response response, Callback callback, int status, String type, byte[] body) {
        metrics.response(status);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /**
     * Stops accepting requests, answers /health 503, cancels what runs and waits, then closes the HTTP server.
     *
     * @throws Exception when the HTTP server does not stop cleanly
     */
    @Override
    public void close() throws Exception {
        stopping = true;
        scheduler.close();
        server.stop();
    }
}
