package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.flashcl.ChatMessage;
import dev.flashcl.FlashCl;
import dev.flashcl.GenerationRequest;
import dev.flashcl.LanguageModel;
import dev.flashcl.LoadOptions;
import dev.flashcl.internal.kernels.TestDevice;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * flashcl serve on PoCL with the embedded model, through the official OpenAI Java client (written
 * by others: the test of compatibility) and raw HTTP: completions, chat and streaming equal the
 * library's own greedy output; OpenAI's error bodies and statuses for bad requests; concurrent
 * clients each get their own text; a client that leaves mid-stream frees the device; a full queue
 * answers 429 and recovers.
 */
class ServerTest {
    static final String KEY = "test-key";
    static final String NAME = "flashcl-embedded";
    static FlashCl engine;
    static LanguageModel model;
    static FlashClServer server;
    static OpenAIClient client;
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void start() throws Exception {
        engine = FlashCl.open(TestDevice.context().device().index() + "");
        model = engine.load(Path.of("testdata/embedded"), LoadOptions.builder().contextLength(256).build());
        server = new FlashClServer(model, new FlashClServer.Options("127.0.0.1", 0, NAME, KEY, 4, 8, 1_000_000, 64));
        client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey(KEY).maxRetries(0).build();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        engine.close();
    }

    /** The library's greedy text for a prompt: what the server must return. */
    static String greedy(String prompt, int n) {
        return model.generate(GenerationRequest.builder().prompt(prompt).maxNewTokens(n).build()).text();
    }

    static HttpResponse<String> post(String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) b.header("Authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).header("Authorization", "Bearer " + KEY).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void completionsThroughTheOpenAiClient() {
        String prompt = "def add(a, b):\n";
        Completion c = client.completions().create(CompletionCreateParams.builder().model(NAME).prompt(prompt).maxTokens(12).temperature(0).build());
        assertEquals(greedy(prompt, 12), c.choices().get(0).text());
        assertEquals("text_completion", c._object_().toString().replace("\"", ""));
        var usage = c.usage().orElseThrow();
        assertEquals(model.tokenizer().orElseThrow().encode(prompt).length, usage.promptTokens());
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens());
        assertEquals("length", c.choices().get(0).finishReason().toString());
    }

    @Test
    void chatAndItsStreamThroughTheOpenAiClient() {
        var params = ChatCompletionCreateParams.builder().model(NAME).addUserMessage("write a function that adds two numbers").maxCompletionTokens(10)
                .temperature(0).build();
        ChatCompletion c = client.chat().completions().create(params);
        String want = greedy("Instruct: write a function that adds two numbers\nOutput:", 10);
        assertEquals(want, c.choices().get(0).message().content().orElseThrow());
        StringBuilder streamed = new StringBuilder();
        List<String> finish = new ArrayList<>();
        long[] usage = {-1};
        var streamParams = params.toBuilder().streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(streamParams)) {
            s.stream().forEach(chunk -> {
                chunk.choices().forEach(ch -> {
                    ch.delta().content().ifPresent(streamed::append);
                    ch.finishReason().ifPresent(f -> finish.add(f.toString()));
                });
                chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
            });
        }
        assertEquals(want, streamed.toString(), "the stream adds up to the same text");
        assertEquals(List.of("length"), finish);
        assertEquals(10, usage[0], "usage on the last chunk when asked");
        List<Double> logprobs = new ArrayList<>();
        StringBuilder tokens = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params.toBuilder().logprobs(true).build())) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.logprobs().flatMap(l -> l.content()).ifPresent(l -> l.forEach(t -> {
                logprobs.add(t.logprob());
                tokens.append(t.token());
            }))));
        }
        assertEquals(10, logprobs.size(), "streamed chat logprobs, as the client reads them");
        assertEquals(want, tokens.toString());
    }

    @Test
    void errorsComeAsOpenAiErrors() throws Exception {
        var e = assertThrows(BadRequestException.class, () -> client.completions().create(CompletionCreateParams.builder().model(NAME).prompt("x")
                .maxTokens(1000).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("maximum context length is 256"), e.getMessage());
        assertEquals(404, assertThrows(NotFoundException.class, () -> client.completions().create(CompletionCreateParams.builder().model("gpt-9")
                .prompt("x").build())).statusCode());
        OpenAIClient wrongKey = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("nope").maxRetries(0).build();
        assertEquals(401, assertThrows(UnauthorizedException.class, () -> wrongKey.models().list()).statusCode());
        assertEquals(NAME, client.models().list().data().get(0).id());
    }

    /** Malformed and hostile bodies: 400 (413 over the limit) naming the field, and the server keeps serving. */
    @Test
    void hostileBodiesAreRefusedAndTheServerKeepsServing() throws Exception {
        String[][] cases = {
                {"{", "400", null},
                {"[]", "400", null},
                {"{\"prompt\": \"x\", \"max_tokens\": \"many\"}", "400", "max_tokens"},
                {"{\"prompt\": \"x\", \"max_tokens\": -5}", "400", "max_tokens"},
                {"{\"prompt\": \"x\", \"max_tokens\": 1e400}", "400", "max_tokens"},
                {"{\"prompt\": \"x\", \"max_tokens\": 99999999999999999999999}", "400", "max_tokens"},
                {"{\"prompt\": \"x\", \"temperature\": \"hot\"}", "400", "temperature"},
                {"{\"prompt\": \"x\", \"temperature\": 3}", "400", "temperature"},
                {"{\"prompt\": \"x\", \"top_p\": 0}", "400", "top_p"},
                {"{\"prompt\": \"x\", \"stop\": [\"\"]}", "400", "stop"},
                {"{\"prompt\": \"x\", \"stop\": [1]}", "400", "stop"},
                {"{\"prompt\": \"x\", \"stream\": \"yes\"}", "400", "stream"},
                {"{\"prompt\": \"x\", \"frobnicate\": 1}", "400", "frobnicate"},
                {"{\"prompt\": \"x\", \"n\": 2}", "400", "n"},
                {"{\"prompt\": [1, -2]}", "400", "prompt"},
                {"{\"prompt\": [1, 99999999]}", "400", "prompt"},
                {"{\"prompt\": \"\"}", "400", "prompt"},
                {"{\"max_tokens\": 3}", "400", "prompt"},
                {"{\"prompt\": " + "[".repeat(200) + "]".repeat(200) + "}", "400", null},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = post("/v1/completions", c[0], KEY);
            assertEquals(Integer.parseInt(c[1]), r.statusCode(), c[0] + " -> " + r.body());
            JsonNode err = JSON.readTree(r.body()).get("error");
            assertNotNull(err, "OpenAI's error body: " + r.body());
            assertEquals("invalid_request_error", err.get("type").asText());
            if (c[2] != null) assertEquals(c[2], err.get("param").asText(), r.body());
        }
        assertEquals(400, post("/v1/chat/completions", "{\"messages\": []}", KEY).statusCode());
        assertEquals(400, post("/v1/chat/completions", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", KEY).statusCode());
        assertEquals(400, post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", KEY).statusCode());
        HttpResponse<String> big = post("/v1/completions", "{\"prompt\": \"" + "x".repeat(2_000_000) + "\"}", KEY);
        assertEquals(413, big.statusCode(), big.body());
        assertEquals(401, post("/v1/completions", "{\"prompt\": \"x\"}", "wrong").statusCode());
        assertEquals(401, post("/v1/completions", "{\"prompt\": \"x\"}", null).statusCode());
        assertEquals(404, get("/v1/nothing").statusCode());
        assertEquals(405, get("/v1/completions").statusCode());
        HttpResponse<String> ok = post("/v1/completions", "{\"prompt\": \"def f():\", \"max_tokens\": 3, \"temperature\": 0, \"logprobs\": 0}", KEY);
        assertEquals(200, ok.statusCode(), ok.body());
        JsonNode lp = JSON.readTree(ok.body()).get("choices").get(0).get("logprobs");
        assertEquals(3, lp.get("token_logprobs").size());
        for (JsonNode v : lp.get("token_logprobs")) assertTrue(v.asDouble() <= 0 && v.asDouble() > -50, lp.toString());
        assertEquals(200, get("/health").statusCode());
    }

    /** The data lines of a server-sent-event stream, as JSON, up to [DONE]. */
    static List<JsonNode> events(String path, String body) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).header("Authorization", "Bearer " + KEY)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<java.util.stream.Stream<String>> r = http.send(req, HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        List<JsonNode> out = new ArrayList<>();
        boolean done = false;
        for (String line : (Iterable<String>) r.body()::iterator) {
            if (line.isEmpty()) continue;
            assertTrue(line.startsWith("data: "), line);
            if (line.equals("data: [DONE]")) {
                done = true;
                break;
            }
            out.add(JSON.readTree(line.substring(6)));
        }
        assertTrue(done, "the stream ends with [DONE]");
        return out;
    }

    /**
     * Logprobs, streamed and not, of the embedded model's 200 greedy tokens after its reference
     * prompt, against log-softmax (fp64) of transformers' fp32 logits at the rows make_reference.py
     * kept. Bound: log-softmax moves at most 2x the largest logit error, and the logits' bar is 2x
     * transformers' own fp16 error, so 4x that error at the row.
     */
    @Test
    void logprobsStreamedAndNotMatchTransformers() throws Exception {
        Path dir = Path.of("testdata/embedded");
        var ref = dev.flashcl.internal.check.ModelCases.reference(dir, model.info().vocabSize());
        int plen = ref.ids().length - 200;
        int[] prompt = java.util.Arrays.copyOf(ref.ids(), plen);
        String ids = java.util.Arrays.toString(prompt);
        String body = "{\"prompt\": " + ids + ", \"max_tokens\": 200, \"temperature\": 0, \"logprobs\": 0, \"ignore_eos\": true";
        JsonNode whole = JSON.readTree(post("/v1/completions", body + "}", KEY).body()).get("choices").get(0);
        List<Double> streamed = new ArrayList<>();
        StringBuilder text = new StringBuilder(), tokenText = new StringBuilder();
        int chunksWithTokens = 0;
        for (JsonNode e : events("/v1/completions", body + ", \"stream\": true}")) {
            JsonNode c = e.get("choices").get(0), lp = c.get("logprobs");
            text.append(c.get("text").asText());
            assertEquals(lp.get("tokens").size(), lp.get("token_logprobs").size(), lp.toString());
            if (lp.get("tokens").size() > 0) {
                chunksWithTokens++;
                assertEquals(tokenText.length(), lp.get("text_offset").get(0).asInt(), "text_offset counts the text before the chunk");
            }
            for (JsonNode t : lp.get("tokens")) tokenText.append(t.asText());
            for (JsonNode v : lp.get("token_logprobs")) streamed.add(v.asDouble());
        }
        assertEquals(whole.get("text").asText(), text.toString());
        assertEquals(text.toString(), tokenText.toString(), "a chunk's tokens spell its text");
        assertTrue(chunksWithTokens > 100, "logprobs come with the text, not all at the end: " + chunksWithTokens + " chunks");
        JsonNode values = whole.get("logprobs").get("token_logprobs");
        assertEquals(200, values.size());
        assertEquals(200, streamed.size());
        for (int i = 0; i < 200; i++) assertEquals(values.get(i).asDouble(), streamed.get(i), 1e-6, "token " + i + ": streamed and not");
        int checked = 0;
        for (int r = 0; r < ref.positions().length; r++) {
            int p = ref.positions()[r], k = p - (plen - 1);
            if (k < 0 || k >= 200) continue;
            int token = ref.ids()[p + 1];
            double want = dev.flashcl.internal.check.ModelCases.Reference.logprob(ref.logits(), ref.vocab(), r, token);
            double maxErr16 = 0;
            for (int i = 0; i < ref.vocab(); i++) maxErr16 = Math.max(maxErr16, Math.abs(ref.logitsFp16()[r * ref.vocab() + i] - ref.logits()[r * ref.vocab() + i]));
            assertEquals(want, streamed.get(k), 4 * maxErr16, "new token " + k + " (position " + p + ")");
            checked++;
        }
        assertTrue(checked >= 5, checked + " rows checked");
    }

    /** 32 clients at once, each with its own prompt, retrying on 429: each gets the text it gets alone. */
    @Test
    void concurrentClientsGetTheirOwnText() throws Exception {
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 32; i++) prompts.add("def f" + i + "(x):\n    return x" + " +*-/".charAt(i % 5) + " " + i + "\n");
        List<String> want = prompts.stream().map(p -> greedy(p, 8)).toList();
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<Future<HttpResponse<String>>> got = new ArrayList<>();
            for (String p : prompts) {
                String body = JSON.writeValueAsString(java.util.Map.of("prompt", p, "max_tokens", 8, "temperature", 0));
                got.add(pool.submit(() -> {
                    HttpResponse<String> r;
                    while ((r = post("/v1/completions", body, KEY)).statusCode() == 429) Thread.sleep(50);   // the queue holds 4
                    return r;
                }));
            }
            for (int i = 0; i < prompts.size(); i++) {
                HttpResponse<String> r = got.get(i).get();
                assertEquals(200, r.statusCode(), r.body());
                assertEquals(want.get(i), JSON.readTree(r.body()).get("choices").get(0).get("text").asText(), "client " + i);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    static double metric(String name) throws Exception {
        return Servers.metric("http://127.0.0.1:" + server.port(), name);
    }

    /** A client that leaves mid-stream: its sequence stops and the device is free again at once; the metrics say so. */
    @Test
    void aClientThatLeavesMidStreamFreesTheDevice() throws Exception {
        String body = "{\"prompt\": \"def long_function():\\n\", \"max_tokens\": 200, \"temperature\": 0, \"stream\": true}";
        int alone = model.generate(GenerationRequest.builder().prompt("def long_function():\n").maxNewTokens(200).build()).tokenCount();
        double before = metric("flashcl_generation_tokens_total");
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions")).header("Authorization", "Bearer " + KEY)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        InputStream in = r.body();
        byte[] first = new byte[64];
        assertTrue(in.read(first) > 0, "the first chunk arrived");
        in.close();   // gone, mid-stream
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (metric("flashcl_num_requests_running") > 0 && System.nanoTime() < deadline) Thread.sleep(50);
        assertEquals(0, metric("flashcl_num_requests_running"), "the sequence ended");
        double made = metric("flashcl_generation_tokens_total") - before;
        assertTrue(made < alone / 2.0, "cancelled when the client left: " + made + " tokens of the " + alone + " it makes alone");
        assertEquals(0, metric("flashcl_num_requests_waiting"));
        double ttftCount = metric("flashcl_time_to_first_token_seconds_count");
        assertTrue(ttftCount >= 1, "time to first token recorded");
        assertTrue(get("/metrics").body().contains("flashcl_inter_token_latency_seconds_bucket"), "inter-token latency histogram");
        HttpResponse<String> after = post("/v1/completions", "{\"prompt\": \"x = \", \"max_tokens\": 2, \"temperature\": 0}", KEY);
        assertEquals(200, after.statusCode(), "the server serves on: " + after.body());
    }

    /** A full queue answers 429 with Retry-After, and the server recovers once it drains. */
    @Test
    void aFullQueueAnswers429AndRecovers() throws Exception {
        String body = "{\"prompt\": \"def g():\\n\", \"max_tokens\": 60, \"temperature\": 0}";
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            List<Future<HttpResponse<String>>> got = new ArrayList<>();
            for (int i = 0; i < 12; i++) got.add(pool.submit(() -> post("/v1/completions", body, KEY)));
            int ok = 0, busy = 0;
            for (var f : got) {
                HttpResponse<String> r = f.get();
                if (r.statusCode() == 200) ok++;
                else if (r.statusCode() == 429) {
                    busy++;
                    assertEquals("1", r.headers().firstValue("Retry-After").orElse(null));
                    assertEquals("rate_limit_exceeded", JSON.readTree(r.body()).get("error").get("type").asText());
                } else fail(r.statusCode() + " " + r.body());
            }
            assertTrue(busy > 0, "12 at once over a queue of 4: some were refused (" + ok + " served)");
            assertTrue(ok >= 1);
        } finally {
            pool.shutdownNow();
        }
        assertEquals(200, post("/v1/completions", body, KEY).statusCode(), "served again once the queue drained");
    }

    @Test
    void theDialogueFormStopsBeforeTheUsersNextTurn() {
        var p = model.chatPrompt(List.of(ChatMessage.user("hi"), ChatMessage.assistant("hello"), ChatMessage.user("how are you?")));
        assertEquals("User: hi\nAssistant: hello\nUser: how are you?\nAssistant:", p.text());
        assertEquals(List.of("\nUser:", "\nAssistant:"), p.stopStrings());
        var c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(NAME).addUserMessage("hi").addAssistantMessage("hello")
                .addUserMessage("how are you?").maxCompletionTokens(40).temperature(0).build());
        String want = model.generate(GenerationRequest.builder().prompt(p.text()).stopStrings(p.stopStrings()).maxNewTokens(40).build()).text();
        assertEquals(want, c.choices().get(0).message().content().orElseThrow());
    }

    /**
     * A model whose tokenizer_config.json has a chat_template: the chat endpoint renders through it,
     * as transformers does (testdata/chat/templates.json, ChatML and three turns), and answers what
     * the library generates from that text.
     */
    @Test
    void aModelsOwnChatTemplateRendersItsChats(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        JsonNode cases = JSON.readTree(new java.io.File("testdata/chat/templates.json")).get("cases");
        JsonNode c = null;
        for (JsonNode x : cases) if (x.get("template_name").asText().equals("chatml") && x.get("messages_name").asText().equals("three turns")) c = x;
        for (String f : new String[] {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"}) {
            java.nio.file.Files.copy(Path.of("testdata/embedded", f), dir.resolve(f));
        }
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(Path.of("testdata/embedded/tokenizer_config.json").toFile());
        config.put("chat_template", c.get("template").asText());
        java.nio.file.Files.writeString(dir.resolve("tokenizer_config.json"), config.toString());
        try (LanguageModel m = engine.load(dir, LoadOptions.builder().contextLength(256).build());
             FlashClServer s = new FlashClServer(m, new FlashClServer.Options("127.0.0.1", 0, NAME, null, 4, 8, 1_000_000, 64))) {
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode x : c.get("messages")) messages.add(new ChatMessage(x.get("role").asText(), x.get("content").asText()));
            var p = m.chatPrompt(messages);
            assertEquals(c.get("rendered").asText(), p.text());
            assertEquals("chat_template", p.format());
            String want = m.generate(GenerationRequest.builder().prompt(p.text()).maxNewTokens(12).build()).text();
            OpenAIClient own = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + s.port() + "/v1").apiKey("none").maxRetries(0).build();
            var got = own.chat().completions().create(ChatCompletionCreateParams.builder().model(NAME).addUserMessage("hi").addAssistantMessage("Hello! How can I help?")
                    .addUserMessage("Write a haiku about\nOpenCL.").maxCompletionTokens(12).temperature(0).build());
            assertEquals(want, got.choices().get(0).message().content().orElseThrow());
            assertEquals(m.tokenizer().orElseThrow().encode(p.text()).length, got.usage().orElseThrow().promptTokens());
        }
    }

    /**
     * Two chats with the same long system prompt: the second takes the first one's full KV pages
     * of their common prefix (flashcl_prefix_cache_hit_tokens_total counts them), and each still
     * answers what the library generates from its rendered prompt.
     */
    @Test
    void aSharedSystemPromptIsPrefilledOnce() throws Exception {
        String system = "You are a careful Python programmer who writes short functions with docstrings and type hints, and explains nothing.";
        String[] questions = {"add two numbers", "reverse a string"};
        int[][] ids = new int[2][];
        String[] answers = new String[2];
        double[] hits = new double[3];
        hits[0] = metric("flashcl_prefix_cache_hit_tokens_total");
        for (int i = 0; i < 2; i++) {
            ids[i] = model.tokenizer().orElseThrow().encode(model.chatPrompt(List.of(ChatMessage.system(system), ChatMessage.user(questions[i]))).text());
            answers[i] = client.chat().completions().create(ChatCompletionCreateParams.builder().model(NAME).addSystemMessage(system).addUserMessage(questions[i])
                    .maxCompletionTokens(12).temperature(0).build()).choices().get(0).message().content().orElseThrow();
            hits[i + 1] = metric("flashcl_prefix_cache_hit_tokens_total");
        }
        int common = 0;
        while (common < Math.min(ids[0].length, ids[1].length) && ids[0][common] == ids[1][common]) common++;
        int pages = Math.min(Math.min(common, ids[1].length - 1), ids[0].length) / 16;
        assertTrue(pages >= 1, "the system prompt fills a page: " + common + " tokens in common");
        assertEquals(16.0 * pages, hits[2] - hits[1], "the second chat took the " + pages + " full pages of the " + common + " tokens in common");
        for (int i = 0; i < 2; i++) {
            var p = model.chatPrompt(List.of(ChatMessage.system(system), ChatMessage.user(questions[i])));
            assertEquals(greedy(p.text(), 12), answers[i], questions[i]);
        }
    }

    /** bench serve's load generator against this server: every request completes with exactly its new tokens (eos ignored). */
    @Test
    void theLoadGeneratorCountsWhatItAskedFor() throws Exception {
        var points = dev.flashcl.bench.ServeBench.run(new dev.flashcl.bench.ServeBench.Options(URI.create("http://127.0.0.1:" + server.port()), KEY, NAME,
                List.of(1, 3), 8, 5, 1, 50000, 0), new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        assertEquals(2, points.size());
        for (var p : points) {
            assertEquals(0, p.failed(), p.toString());
            assertEquals(5L * p.clients(), p.newTokens(), p.toString());
            assertTrue(p.tokensPerSecond() > 0 && p.ttftP50Ms() > 0 && p.itlP50Ms() >= 0, p.toString());
        }
    }
}
