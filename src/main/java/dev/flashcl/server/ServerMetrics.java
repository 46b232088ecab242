package dev.flashcl.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;

/**
 * What {@code /metrics} exports in Prometheus's text format: the queue, the running requests and
 * the KV cache's use (what the Gateway API Inference Extension's endpoint picker reads to route),
 * tokens generated and read, prompt positions served from shared prefix pages, and histograms of time to first token, inter-token latency and
 * request duration.
 */
final class ServerMetrics {
    private static final Duration[] LATENCY_BUCKETS = buckets(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);

    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter generated, prompt;
    private final Timer ttft, itl, e2e;

    ServerMetrics() {
        generated = Counter.builder("flashcl.generation.tokens").description("New tokens generated").register(registry);
        prompt = Counter.builder("flashcl.prompt.tokens").description("Prompt tokens processed").register(registry);
        ttft = Timer.builder("flashcl.time.to.first.token").description("From a request's arrival to its first new token")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        itl = Timer.builder("flashcl.inter.token.latency").description("Between two new tokens of one request")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        e2e = Timer.builder("flashcl.request.duration").description("From a request's arrival to its last token")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
    }

    void bind(Scheduler s) {
        Gauge.builder("flashcl.num.requests.waiting", s, Scheduler::waiting).description("Requests in the queue").register(registry);
        Gauge.builder("flashcl.num.requests.running", s, Scheduler::runningCount).description("Requests on the device").register(registry);
        Gauge.builder("flashcl.kv.cache.usage.perc", s, Scheduler::cacheUsage).description("KV cache positions in use, 0 to 1").register(registry);
        FunctionCounter.builder("flashcl.prefix.cache.hit.tokens", s, Scheduler::sharedPositions)
                .description("Prompt positions whose KV came from another prompt's shared pages instead of a prefill").register(registry);
    }

    void firstToken(long nanos) {
        ttft.record(Duration.ofNanos(nanos));
    }

    void interToken(long nanos) {
        itl.record(Duration.ofNanos(nanos));
    }

    void finished(int promptTokens, int newTokens, long nanos) {
        prompt.increment(promptTokens);
        generated.increment(newTokens);
        e2e.record(Duration.ofNanos(nanos));
    }

    private final java.util.Map<Integer, Counter> responses = new java.util.concurrent.ConcurrentHashMap<>();

    void response(int status) {
        responses.computeIfAbsent(status, st -> Counter.builder("flashcl.http.responses").tag("status", Integer.toString(st))
                .description("HTTP responses by status").register(registry)).increment();
    }

    String scrape() {
        return registry.scrape();
    }

    private static Duration[] buckets(double... seconds) {
        Duration[] d = new Duration[seconds.length];
        for (int i = 0; i < d.length; i++) d[i] = Duration.ofNanos((long) (seconds[i] * 1e9));
        return d;
    }
}
