package dev.flashcl.internal.generate;

import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.Sampling;
import dev.flashcl.StopReason;
import dev.flashcl.internal.phi.NumericalException;
import dev.flashcl.internal.phi.PhiBatch;
import dev.flashcl.internal.phi.PhiModel;
import dev.flashcl.tokenizer.StreamDecoder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching on one {@link PhiModel}: one device thread admits waiting requests between
 * steps, prefills one prompt at a time in chunks (one chunk between two decode steps, so running
 * sequences never wait for a whole long prompt), and decodes every running sequence in one
 * {@link PhiBatch} step. KV pages are taken as sequences grow and given back when they end;
 * a request is admitted when the pages of its prompt are free, and when a running sequence needs
 * a page and none is free, the latest admitted one is preempted: its pages go back and it waits
 * again at the head of the queue, to be prefilled anew with what it has generated (vLLM's
 * recompute). Each sequence keeps its own sampling, seed, stops and callbacks; callbacks run on
 * the device thread.
 */
public final class BatchLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BatchLoop.class);

    private final PhiModel model;
    private final PhiBatch batch;
    private final int maxQueue, prefillChunk;
    private final boolean prefixCache;
    private final Object lock = new Object();
    private final ArrayDeque<Seq> waiting = new ArrayDeque<>();   // guarded by lock
    private final List<Seq> running = new ArrayList<>();          // device thread only
    private Seq prefilling;                                       // device thread only
    private final Thread thread;
    private volatile boolean closed;
    private volatile int runningCount;
    private volatile long steps, batchedRows, preemptions;

    /** One request in flight. */
    private static final class Seq {
        final GenerationRequest r;
        final int[] prompt;
        final CompletableFuture<GenerationResult> future = new CompletableFuture<>();
        final boolean sample;
        final long seed;
        final SplittableRandom rng;
        final StreamDecoder stream;
        final Generator.StopText stopText;
        final List<Integer> out = new ArrayList<>();
        final List<Double> logprobs = new ArrayList<>();
        int[] pages = new int[0];
        int pageCount, position, next, prefilled;
        int[] toPrefill;
        long admitted, firstToken;

        Seq(GenerationRequest r, int[] prompt, PhiModel m) {
            this.r = r;
            this.prompt = prompt;
            Sampling s = r.sampling();
            sample = !s.isGreedy();
            seed = s.seed().orElseGet(() -> ThreadLocalRandom.current().nextLong());
            rng = new SplittableRandom(seed);
            stream = m.tokenizer() == null ? null : m.tokenizer().streamDecoder(r.cleanUpSpaces());
            stopText = new Generator.StopText(r.stopStrings(), r.onText().orElse(null));
        }

        boolean cancelled() {
            return r.cancelWhen().getAsBoolean();
        }
    }

    /**
     * @param maxBatch     sequences decoded together at most
     * @param maxQueue     requests waiting at most; {@link #submit} refuses more
     * @param pageSize     positions per KV page
     * @param pages        KV pages in all (at least a context's worth)
     * @param prefillChunk prompt tokens prefilled between two decode steps at most
     * @param prefixCache  whether prompts share the pages of a prefix already in the cache
     */
    public BatchLoop(PhiModel model, int maxBatch, int maxQueue, int pageSize, int pages, int prefillChunk, boolean prefixCache) {
        if (maxQueue < 1) throw new IllegalArgumentException("the queue must hold at least 1 request, got " + maxQueue);
        if (prefillChunk < 1) throw new IllegalArgumentException("the prefill chunk must be at least 1 token, got " + prefillChunk);
        this.model = model;
        this.maxQueue = maxQueue;
        this.prefillChunk = prefillChunk;
        this.prefixCache = prefixCache;
        this.batch = model.openBatch(maxBatch, pageSize, pages);
        this.thread = new Thread(this::run, "flashcl-batch-loop");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Queues a request (tokenized here, on the caller's thread).
     *
     * @throws IllegalArgumentException   when the prompt plus max new tokens exceed the context
     * @throws RejectedExecutionException when the queue is full or the loop is closed
     */
    public CompletableFuture<GenerationResult> submit(GenerationRequest r) {
        int[] prompt = Generator.promptIds(r, model.tokenizer());
        Generator.checkFits(prompt.length, r.maxNewTokens(), model.contextLength());
        for (int t : prompt) {
            if (t >= model.config().vocabSize()) throw new IllegalArgumentException("prompt token id " + t + " is outside the vocabulary of " + model.config().vocabSize());
        }
        Seq s = new Seq(r, prompt, model);
        synchronized (lock) {
            if (closed) throw new RejectedExecutionException("the batch loop is closed");
            if (waiting.size() >= maxQueue) throw new RejectedExecutionException("the queue of " + maxQueue + " requests is full");
            waiting.addLast(s);
            lock.notifyAll();
        }
        return s.future;
    }

    public int waiting() {
        synchronized (lock) {
            return waiting.size();
        }
    }

    /** Sequences prefilling or decoding. */
    public int running() {
        return runningCount;
    }

    /** KV pages in use, as a fraction of all. */
    public double cacheUsage() {
        return 1.0 - batch.freePages() / (double) batch.pages();
    }

    public int maxBatch() {
        return batch.maxRows();
    }

    public int pages() {
        return batch.pages();
    }

    public int pageSize() {
        return batch.pageSize();
    }

    /** Decode steps run, rows decoded in them (their ratio is the mean batch), preemptions, and prompt positions taken from shared pages. */
    public long[] stepCounts() {
        return new long[] {steps, batchedRows, preemptions, batch.sharedPositions()};
    }

    private void run() {
        try {
            while (true) {
                Seq admit = null;
                List<Seq> dropped = new ArrayList<>();
                synchronized (lock) {
                    while (!closed && waiting.isEmpty() && running.isEmpty() && prefilling == null) lock.wait();
                    if (closed) break;
                    for (Iterator<Seq> it = waiting.iterator(); it.hasNext(); ) {
                        Seq s = it.next();
                        if (s.cancelled()) {
                            it.remove();
                            dropped.add(s);
                        }
                    }
                    if (prefilling == null && running.size() < batch.maxRows() && !waiting.isEmpty()) {
                        Seq head = waiting.peekFirst();
                        int need = batch.pagesFor(prefillTokens(head).length + 1);
                        if (need + running.size() <= batch.freePages()) {
                            admit = waiting.pollFirst();
                            runningCount = running.size() + 1;   // running from admission: its first token may stream before this step ends
                        }
                    }
                }
                for (Seq s : dropped) finish(s, StopReason.CANCELLED);
                try {
                    if (admit != null) startPrefill(admit);
                    if (prefilling != null) prefillChunk();
                    if (!running.isEmpty()) decodeStep();
                } catch (RuntimeException e) {   // the device failed: every sequence on it fails, the loop goes on
                    log.warn("a batch step failed on the device: {}", e.getMessage());
                    for (Seq s : running) fail(s, e);
                    running.clear();
                    if (prefilling != null) fail(prefilling, e);
                    prefilling = null;
                }
                runningCount = running.size() + (prefilling == null ? 0 : 1);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            for (Seq s : running) finish(s, StopReason.CANCELLED);
            running.clear();
            if (prefilling != null) finish(prefilling, StopReason.CANCELLED);
            prefilling = null;
            runningCount = 0;
        }
    }

    /** The prompt, and after a preemption what the sequence generated since. */
    private static int[] prefillTokens(Seq s) {
        if (s.out.isEmpty()) return s.prompt;
        int[] t = Arrays.copyOf(s.prompt, s.prompt.length + s.out.size());
        for (int i = 0; i < s.out.size(); i++) t[s.prompt.length + i] = s.out.get(i);
        return t;
    }

    private void startPrefill(Seq s) {
        s.toPrefill = prefillTokens(s);
        int need = batch.pagesFor(s.toPrefill.length + 1);
        s.pages = new int[batch.maxPagesPerSequence()];
        Arrays.fill(s.pages, -1);
        int shared = prefixCache ? batch.sharePrefix(s.toPrefill, s.pages) : 0;   // a prefix another prompt left in the cache
        s.pageCount = shared;
        while (s.pageCount < need) s.pages[s.pageCount++] = batch.takePage();
        s.prefilled = 0;
        if (s.admitted == 0) s.admitted = System.nanoTime();
        model.reset();
        if (shared > 0) {
            s.prefilled = shared * batch.pageSize();
            batch.restorePrefix(s.pages, s.prefilled);
        }
        prefilling = s;
    }

    private void prefillChunk() {
        Seq s = prefilling;
        if (s.cancelled()) {
            prefilling = null;
            finish(s, StopReason.CANCELLED);
            return;
        }
        int n = Math.min(prefillChunk, s.toPrefill.length - s.prefilled);
        int next;
        try {
            next = model.prefill(Arrays.copyOfRange(s.toPrefill, s.prefilled, s.prefilled + n), null);
        } catch (NumericalException | IllegalArgumentException e) {
            prefilling = null;
            fail(s, e);
            return;
        }
        s.prefilled += n;
        if (s.prefilled < s.toPrefill.length) return;
        prefilling = null;
        batch.copyPrefill(s.pages, s.toPrefill.length);
        if (prefixCache) batch.registerPrefix(s.toPrefill, s.pages);
        s.position = s.toPrefill.length;
        float[] logits = s.sample || s.r.logprobs() ? model.logits(1) : null;
        if (s.firstToken == 0) s.firstToken = System.nanoTime();
        if (!accept(s, s.sample ? Generator.sample(s.r.sampling(), logits, s.rng) : next, logits)) running.add(s);
    }

    private void decodeStep() {
        for (Iterator<Seq> it = running.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.cancelled()) {
                it.remove();
                finish(s, StopReason.CANCELLED);
            }
        }
        for (int i = 0; i < running.size(); i++) {   // a page for each row's new position, preempting the latest admitted where none is free
            Seq s = running.get(i);
            if (s.position / batch.pageSize() < s.pageCount) continue;
            int p;
            while ((p = batch.takePage()) < 0) {
                Seq victim = running.get(running.size() - 1);
                preempt(victim);
                if (victim == s) break;
            }
            if (p >= 0) s.pages[s.pageCount++] = p;
        }
        int rows = running.size();
        if (rows == 0) return;
        int[] inputs = new int[rows], positions = new int[rows], next = new int[rows];
        int[][] tables = new int[rows][];
        boolean[] bad = new boolean[rows];
        for (int r = 0; r < rows; r++) {
            Seq s = running.get(r);
            inputs[r] = s.next;
            positions[r] = s.position;
            tables[r] = s.pages;
        }
        batch.step(rows, inputs, positions, tables, next, bad);
        steps++;
        batchedRows += rows;
        List<Seq> still = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            Seq s = running.get(r);
            s.position++;
            if (bad[r]) {
                fail(s, new NumericalException("NaN or infinity in the logits at position " + (s.position - 1)
                        + "; the checkpoint may hold non-finite weights, or activations overflowed " + model.storage().suffix + " storage"));
                continue;
            }
            float[] logits = s.sample || s.r.logprobs() ? batch.logits(r) : null;
            if (!accept(s, s.sample ? Generator.sample(s.r.sampling(), logits, s.rng) : next[r], logits)) still.add(s);
        }
        running.clear();
        running.addAll(still);
    }

    private void preempt(Seq s) {
        running.remove(s);
        batch.returnPages(s.pages, s.pageCount);
        s.pageCount = 0;
        s.position = 0;
        preemptions++;
        synchronized (lock) {
            waiting.addFirst(s);
        }
        log.debug("preempted a sequence of {} positions: no KV page free", s.prompt.length + s.out.size());
    }

    /** Takes the sequence's next token: true when it has finished (and is finished). */
    private boolean accept(Seq s, int token, float[] logits) {
        StopReason reason = null;
        try {
            if (s.r.stopAtEos() && model.config().eosTokenIds().contains(token)) {
                reason = StopReason.EOS;
            } else if (Generator.contains(s.r.stopTokens(), token)) {
                reason = StopReason.STOP_TOKEN;
            } else {
                s.out.add(token);
                double lp = s.r.logprobs() ? Generator.logprob(logits, token) : Double.NaN;
                if (s.r.logprobs()) s.logprobs.add(lp);
                if (s.r.onToken().isPresent()) s.r.onToken().get().accept(token, lp);
                if (s.stream != null && s.stopText.accept(s.stream.next(token))) reason = StopReason.STOP_STRING;
                else if (s.out.size() >= s.r.maxNewTokens()) reason = StopReason.MAX_TOKENS;
                else if (s.cancelled()) reason = StopReason.CANCELLED;
            }
        } catch (RuntimeException e) {   // a callback threw: that request fails, the others go on
            fail(s, e);
            return true;
        }
        if (reason == null) {
            s.next = token;
            return false;
        }
        finish(s, reason);
        return true;
    }

    private void release(Seq s) {
        if (s.pageCount > 0) batch.returnPages(s.pages, s.pageCount);
        s.pageCount = 0;
    }

    private void finish(Seq s, StopReason reason) {
        release(s);
        try {
            if (s.stream != null && reason != StopReason.STOP_STRING) s.stopText.accept(s.stream.flush());
            s.stopText.finish();
        } catch (RuntimeException e) {
            fail(s, e);
            return;
        }
        long now = System.nanoTime(), first = s.firstToken == 0 ? now : s.firstToken;
        int[] ids = s.out.stream().mapToInt(Integer::intValue).toArray();
        s.future.complete(new GenerationResult(s.stopText.text(), s.prompt, ids, reason, s.sample ? OptionalLong.of(s.seed) : OptionalLong.empty(),
                s.admitted == 0 ? 0 : first - s.admitted, now - first, 0, s.logprobs.stream().mapToDouble(Double::doubleValue).toArray()));
    }

    private void fail(Seq s, RuntimeException e) {
        release(s);
        s.future.completeExceptionally(e);
    }

    /** Stops: waiting requests fail with {@link RejectedExecutionException}, running ones end {@link StopReason#CANCELLED}; frees the pages. */
    @Override
    public void close() {
        List<Seq> left;
        synchronized (lock) {
            if (closed) return;
            closed = true;
            left = new ArrayList<>(waiting);
            waiting.clear();
            lock.notifyAll();
        }
        for (Seq s : left) s.future.completeExceptionally(new RejectedExecutionException("the server is shutting down"));
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        batch.close();
    }
}
