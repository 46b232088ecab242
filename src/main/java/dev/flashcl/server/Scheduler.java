package dev.flashcl.server;

import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one loop that owns the device: it takes requests from a bounded queue and runs them on the
 * model, one sequence at a time, streaming each one's text back to the HTTP thread that waits for
 * it. HTTP threads only enqueue and stream. A request whose client went away is cancelled after
 * its current token (or skipped, if it is still waiting), which frees the model at once.
 */
final class Scheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);

    /** What the device loop tells the HTTP thread of one request. */
    sealed interface Event permits Text, Done, Failed {}
    record Text(String text) implements Event {}
    record Done(GenerationResult result) implements Event {}
    record Failed(RuntimeException error) implements Event {}

    /** One request: what to run, the events it produced, and whether its client still wants it. */
    static final class Job {
        final GenerationRequest.Builder request;
        final int promptLength;
        final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        final long submitted = System.nanoTime();
        volatile boolean cancelled;
        volatile int generated;
        long firstToken, lastToken;

        Job(GenerationRequest.Builder request, int promptLength) {
            this.request = request;
            this.promptLength = promptLength;
        }

        void cancel() {
            cancelled = true;
        }
    }

    private final LanguageModel model;
    private final BlockingQueue<Job> queue;
    private final ServerMetrics metrics;
    private final Thread loop;
    private volatile Job running;
    private volatile boolean closed;

    Scheduler(LanguageModel model, int maxQueue, ServerMetrics metrics) {
        this.model = model;
        this.queue = new ArrayBlockingQueue<>(maxQueue);
        this.metrics = metrics;
        metrics.bind(this);
        this.loop = new Thread(this::run, "flashcl-device-loop");
        loop.setDaemon(true);
        loop.start();
    }

    /** Queues a request; false when the queue is full (the caller answers 429). */
    boolean offer(Job job) {
        return !closed && queue.offer(job);
    }

    int waiting() {
        return queue.size();
    }

    int runningCount() {
        return running == null ? 0 : 1;
    }

    /** Positions in use of the KV cache, as a fraction of it. */
    double cacheUsage() {
        Job j = running;
        return j == null ? 0 : Math.min(1.0, (j.promptLength + j.generated) / (double) model.info().contextLength());
    }

    private void run() {
        while (!closed) {
            Job job;
            try {
                job = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (job == null) continue;
            if (job.cancelled) {
                job.events.add(new Failed(new IllegalStateException("cancelled before it started")));
                continue;
            }
            running = job;
            try {
                GenerationResult r = model.generate(job.request
                        .onText(t -> job.events.add(new Text(t)))
                        .onToken(id -> {
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
                        .build());
                metrics.finished(r.promptTokenCount(), r.tokenCount(), System.nanoTime() - job.submitted);
                job.events.add(new Done(r));
            } catch (RuntimeException e) {
                log.warn("a request failed on the device: {}", e.getMessage());
                job.events.add(new Failed(e));
            } finally {
                running = null;
            }
        }
    }

    /** Stops taking requests, cancels the waiting and the running ones, and waits for the loop to end. */
    @Override
    public void close() {
        closed = true;
        for (Job j; (j = queue.poll()) != null; ) {
            j.cancel();
            j.events.add(new Failed(new ApiException(503, "server_error", null, null, "the server is shutting down")));
        }
        try {
            loop.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
