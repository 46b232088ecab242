package dev.flashcl.server;

import dev.flashcl.Batcher;
import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;

/**
 * Between the HTTP threads and the model's {@link Batcher}: each request becomes a job whose
 * text, result or failure arrive as events on the queue its HTTP thread reads. The batcher's one
 * device thread runs every request, many per step. A job whose client went away is cancelled at
 * the next step (or dropped, if it is still waiting), which frees its KV pages at once.
 */
final class Scheduler implements AutoCloseable {
    /** What the device thread tells the HTTP thread of one request. */
    sealed interface Event permits Token, Text, Done, Failed {}
    /** A new token with its log-probability, sent only to a job that asked for logprobs (it comes before its text). */
    record Token(int id, double logprob) implements Event {}
    record Text(String text) implements Event {}
    record Done(GenerationResult result) implements Event {}
    record Failed(RuntimeException error) implements Event {}

    /** One request: what to run, the events it produced, and whether its client still wants it. */
    static final class Job {
        final GenerationRequest.Builder request;
        final int promptLength;
        final boolean logprobs;
        final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        final long submitted = System.nanoTime();
        volatile boolean cancelled;
        volatile int generated;
        long firstToken, lastToken;

        Job(GenerationRequest.Builder request, int promptLength, boolean logprobs) {
            this.request = request;
            this.promptLength = promptLength;
            this.logprobs = logprobs;
        }

        void cancel() {
            cancelled = true;
        }
    }

    private final Batcher batcher;
    private final ServerMetrics metrics;
    private volatile boolean closed;

    Scheduler(LanguageModel model, Batcher.Options options, ServerMetrics metrics) {
        this.batcher = model.batcher(options);
        this.metrics = metrics;
        metrics.bind(this);
    }

    /** Queues a request; false when the queue is full (the caller answers 429). */
    boolean offer(Job job) {
        if (closed) return false;
        GenerationRequest r = job.request
                .onText(t -> job.events.add(new Text(t)))
                .onTokenLogprob((id, logprob) -> {
                    if (job.logprobs) job.events.add(new Token(id, logprob));
                    long now = System.nanoTime();
                    if (job.generated == 0) {
                        job.firstToken = now;
                        metrics.firstToken(now - job.submitted);
                    } else {
                        metrics.interToken(now - job.lastToken);
                    }
                    job.lastToken = now;
                    job.generated++;
                })
                .cancelWhen(() -> job.cancelled || closed)
                .build();
        try {
            batcher.submit(r).whenComplete((res, err) -> {
                if (err == null) {
                    metrics.finished(res.promptTokenCount(), res.tokenCount(), System.nanoTime() - job.submitted);
                    job.events.add(new Done(res));
                } else {
                    Throwable e = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                    if (e instanceof RejectedExecutionException) e = new ApiException(503, "server_error", null, null, "the server is shutting down");
                    job.events.add(new Failed(e instanceof RuntimeException re ? re : new RuntimeException(e)));
                }
            });
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    int waiting() {
        return batcher.waiting();
    }

    int runningCount() {
        return batcher.running();
    }

    /** Prompt positions taken from shared prefix pages so far. */
    double sharedPositions() {
        return batcher.stepCounts()[3];
    }

    /** KV-cache pages in use, as a fraction of all. */
    double cacheUsage() {
        return batcher.cacheUsage();
    }

    /** Stops taking requests, cancels the running ones, fails the waiting ones (503), frees the model. */
    @Override
    public void close() {
        closed = true;
        batcher.close();
    }
}
