package dev.flashcl.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code flashcl bench serve}: a load generator for an OpenAI-compatible server. At each level
 * of concurrency, that many clients each send streaming completions (random token-id prompts of a
 * fixed length, a fixed number of new tokens with eos ignored) one after another; it reports the
 * aggregate new tokens per second, and time to first token and inter-token latency (p50, p99)
 * from the arrival times of the server-sent events. Plain {@link HttpURLConnection}, so it runs on
 * a runtime without the java.net.http module.
 */
public final class ServeBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param base              the server's root, e.g. http://127.0.0.1:8080
     * @param apiKey            its key, or null
     * @param model             the model name to send
     * @param clients           concurrency levels, one measurement each
     * @param promptTokens      prompt length in tokens
     * @param newTokens         new tokens a request
     * @param requestsPerClient requests each client sends at a level
     * @param vocab             prompt ids are drawn below this
     * @param sharedPrefix      the first this many prompt tokens are the same in every request (a system prompt)
     */
    public record Options(URI base, String apiKey, String model, List<Integer> clients, int promptTokens, int newTokens, int requestsPerClient, int vocab,
                          int sharedPrefix) {}

    /** One concurrency level's figures. */
    public record Point(int clients, int requests, int failed, double seconds, long newTokens, double tokensPerSecond,
                        double ttftP50Ms, double ttftP99Ms, double itlP50Ms, double itlP99Ms) {}

    private ServeBench() {}

    /** Runs every level in turn; prints a Markdown table as it goes and returns the points. */
    public static List<Point> run(Options o, PrintStream print) throws Exception {
        print.println("| clients | requests | failed | seconds | new tokens | tokens/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |");
        print.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        List<Point> points = new ArrayList<>();
        warm(o);
        for (int clients : o.clients()) {
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            try {
                long t0 = System.nanoTime();
                List<Future<List<double[]>>> futures = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    final long seed = 1000L * clients + c;
                    futures.add(pool.submit(() -> {
                        List<double[]> out = new ArrayList<>();   // {ttft ms, tokens, itl ms...}
                        SplittableRandom rng = new SplittableRandom(seed);
                        for (int r = 0; r < o.requestsPerClient(); r++) out.add(request(o, rng));
                        return out;
                    }));
                }
                List<double[]> all = new ArrayList<>();
                for (var f : futures) all.addAll(f.get());
                double seconds = (System.nanoTime() - t0) / 1e9;
                List<Double> ttft = new ArrayList<>(), itl = new ArrayList<>();
                long tokens = 0;
                int failed = 0;
                for (double[] a : all) {
                    if (a == null) {
                        failed++;
                        continue;
                    }
                    ttft.add(a[0]);
                    tokens += (long) a[1];
                    for (int i = 2; i < a.length; i++) itl.add(a[i]);
                }
                Point p = new Point(clients, all.size(), failed, seconds, tokens, tokens / seconds, pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99));
                points.add(p);
                print.printf(Locale.ROOT, "| %d | %d | %d | %.1f | %d | %.1f | %.1f | %.1f | %.2f | %.2f |%n", p.clients(), p.requests(), p.failed(), p.seconds(),
                        p.newTokens(), p.tokensPerSecond(), p.ttftP50Ms(), p.ttftP99Ms(), p.itlP50Ms(), p.itlP99Ms());
            } finally {
                pool.shutdownNow();
            }
        }
        return points;
    }

    private static void warm(Options o) throws Exception {
        request(new Options(o.base(), o.apiKey(), o.model(), o.clients(), Math.min(8, o.promptTokens()), 2, 1, o.vocab(), 0), new SplittableRandom(7));
    }

    /** One streaming request: {ttft ms, new tokens, then each gap between events in ms}, or null when it failed. */
    private static double[] request(Options o, SplittableRandom rng) throws Exception {
        int[] prompt = rng.ints(o.promptTokens(), 0, o.vocab()).toArray();
        int shared = Math.min(o.sharedPrefix(), o.promptTokens());
        System.arraycopy(new SplittableRandom(1).ints(shared, 0, o.vocab()).toArray(), 0, prompt, 0, shared);
        byte[] body = JSON.writeValueAsBytes(Map.of("model", o.model(), "prompt", prompt, "max_tokens", o.newTokens(), "temperature", 0,
                "ignore_eos", true, "stream", true, "stream_options", Map.of("include_usage", true)));
        HttpURLConnection c = (HttpURLConnection) o.base().resolve("/v1/completions").toURL().openConnection();
        c.setConnectTimeout(10_000);
        c.setReadTimeout(30 * 60_000);
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", "application/json");
        if (o.apiKey() != null) c.setRequestProperty("Authorization", "Bearer " + o.apiKey());
        long t0 = System.nanoTime();
        try (OutputStream out = c.getOutputStream()) {
            out.write(body);
        }
        if (c.getResponseCode() != 200) {
            c.disconnect();
            return null;
        }
        List<Double> gaps = new ArrayList<>();
        double ttft = -1;
        long last = 0, tokens = 0;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                JsonNode chunk = JSON.readTree(line.substring(6));
                if (chunk.has("error")) return null;
                if (chunk.hasNonNull("usage")) tokens = chunk.get("usage").get("completion_tokens").asLong();
                JsonNode choices = chunk.path("choices");
                if (choices.isEmpty() || choices.get(0).path("text").asText("").isEmpty()) continue;
                long now = System.nanoTime();
                if (ttft < 0) ttft = (now - t0) / 1e6;
                else gaps.add((now - last) / 1e6);
                last = now;
            }
        }
        double[] out = new double[2 + gaps.size()];
        out[0] = Math.max(0, ttft);
        out[1] = tokens;
        for (int i = 0; i < gaps.size(); i++) out[2 + i] = gaps.get(i);
        return out;
    }

    static double pct(List<Double> values, double p) {
        if (values.isEmpty()) return Double.NaN;
        double[] a = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        int i = (int) Math.ceil(p / 100.0 * a.length) - 1;
        return a[Math.max(0, Math.min(a.length - 1, i))];
    }
}
