package dev.flashcl;

import dev.flashcl.internal.generate.BatchLoop;
import dev.flashcl.internal.phi.PhiBatch;
import dev.flashcl.internal.phi.PhiModel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

/**
 * Many generations at once on one model, by continuous batching: requests join and leave between
 * steps, every running sequence advances one token a step in one batched pass over the weights,
 * prompts are prefilled in chunks between steps, and the KV cache is paged, so its memory follows
 * the tokens in flight. From {@link LanguageModel#batcher}; while it is open {@link LanguageModel#generate}
 * joins its batch. A sequence's tokens do not depend on what else is in the batch. Callbacks of a request run
 * on the batcher's device thread: keep them short.
 */
public final class Batcher implements AutoCloseable {
    /**
     * How a batcher runs.
     *
     * @param maxBatch     sequences decoded together in one step, at most
     * @param maxQueue     requests waiting at most; {@link #submit} refuses more
     * @param kvCacheBytes device memory for the paged KV cache; 0 for what {@code maxBatch}
     *                     sequences of the full context take, or the device's free memory less a
     *                     tenth of the device where that is less
     * @param pageSize     positions per KV-cache page
     * @param prefillChunk prompt tokens prefilled between two decode steps, at most
     * @param prefixCache  whether a prompt reuses the KV pages of a prefix that an earlier prompt
     *                     computed (whole pages of the same tokens from the start, as a shared
     *                     system prompt gives); such pages stay cached until the space is needed
     */
    public record Options(int maxBatch, int maxQueue, long kvCacheBytes, int pageSize, int prefillChunk, boolean prefixCache) {
        /**
         * Checks every value.
         *
         * @param maxBatch     sequences decoded together at most
         * @param maxQueue     requests waiting at most
         * @param kvCacheBytes KV cache bytes, 0 for automatic
         * @param pageSize     positions per page
         * @param prefillChunk prompt tokens between two decode steps
         * @param prefixCache  whether a prompt reuses the KV pages of a prefix an earlier prompt left
         */
        public Options {
            if (maxBatch < 1 || maxBatch > 1024) throw new IllegalArgumentException("max batch must be 1..1024, got " + maxBatch);
            if (maxQueue < 1) throw new IllegalArgumentException("the queue must hold at least 1 request, got " + maxQueue);
            if (kvCacheBytes < 0) throw new IllegalArgumentException("KV cache bytes must be 0 (automatic) or positive, got " + kvCacheBytes);
            if (pageSize < 1 || pageSize > 1024) throw new IllegalArgumentException("KV page size must be 1..1024 positions, got " + pageSize);
            if (prefillChunk < 1) throw new IllegalArgumentException("the prefill chunk must be at least 1 token, got " + prefillChunk);
        }

        /** @return 64 sequences, 256 waiting, automatic KV cache, pages of 16 positions, prefill chunks of 512, prefix sharing on */
        public static Options defaults() {
            return new Options(64, 256, 0, 16, 512, true);
        }

        /**
         * @param n sequences decoded together at most
         * @return these options with that batch
         */
        public Options withMaxBatch(int n) {
            return new Options(n, maxQueue, kvCacheBytes, pageSize, prefillChunk, prefixCache);
        }

        /**
         * @param n requests waiting at most
         * @return these options with that queue
         */
        public Options withMaxQueue(int n) {
            return new Options(maxBatch, n, kvCacheBytes, pageSize, prefillChunk, prefixCache);
        }

        /**
         * @param bytes device memory for the KV cache (0: automatic)
         * @return these options with that cache
         */
        public Options withKvCacheBytes(long bytes) {
            return new Options(maxBatch, maxQueue, bytes, pageSize, prefillChunk, prefixCache);
        }

        /**
         * @param positions positions per KV page
         * @return these options with that page size
         */
        public Options withPageSize(int positions) {
            return new Options(maxBatch, maxQueue, kvCacheBytes, positions, prefillChunk, prefixCache);
        }

        /**
         * @param tokens prompt tokens prefilled between two decode steps
         * @return these options with that chunk
         */
        public Options withPrefillChunk(int tokens) {
            return new Options(maxBatch, maxQueue, kvCacheBytes, pageSize, tokens, prefixCache);
        }

        /**
         * @param share whether a prompt reuses the KV pages of a prefix (whole pages of the same
         *              tokens from the start) that an earlier prompt computed; the pages stay
         *              cached until the space is needed
         * @return these options with prefix sharing on or off
         */
        public Options withPrefixCache(boolean share) {
            return new Options(maxBatch, maxQueue, kvCacheBytes, pageSize, prefillChunk, share);
        }
    }

    private final LanguageModel owner;
    private final BatchLoop loop;

    Batcher(LanguageModel owner, PhiModel model, Options o) {
        this.owner = owner;
        var cfg = model.config();
        int bytes = model.storage().bytes;
        long pageBytes = PhiBatch.cacheBytes(cfg, bytes, o.pageSize(), 1);
        int perSequence = (model.contextLength() + o.pageSize() - 1) / o.pageSize();
        long pages;
        if (o.kvCacheBytes() > 0) {
            pages = o.kvCacheBytes() / pageBytes;
        } else {
            var dev = model.context().device();
            long free = dev.globalMemBytes() - model.context().bytesInUse() - dev.globalMemBytes() / 10 - (long) o.maxBatch() * cfg.vocabSize() * 4;
            pages = Math.min((long) o.maxBatch() * perSequence, Math.max(perSequence, free / pageBytes));
        }
        if (pages < perSequence) {
            throw new IllegalArgumentException(String.format("a KV cache of %d bytes holds %d pages of %d positions; one sequence of the context (%d positions) needs %d (%d bytes)",
                    o.kvCacheBytes(), pages, o.pageSize(), model.contextLength(), perSequence, perSequence * pageBytes));
        }
        this.loop = new BatchLoop(model, o.maxBatch(), o.maxQueue(), o.pageSize(), Math.toIntExact(Math.min(Integer.MAX_VALUE, pages)), o.prefillChunk(), o.prefixCache());
    }

    /**
     * Queues a request. Its text and tokens stream to its callbacks as they come; its {@code
     * cancelWhen} is polled every step, and a cancelled request frees its KV pages at once.
     *
     * @param request what to generate
     * @return the result, when the request finishes; it fails with {@link FlashClException} when
     *         the device fails or its logits turn non-finite, and with {@link RejectedExecutionException}
     *         when the batcher closes before it started
     * @throws IllegalArgumentException   when the prompt plus its new tokens exceed the context
     * @throws RejectedExecutionException when the queue is full or the batcher is closed
     */
    public CompletableFuture<GenerationResult> submit(GenerationRequest request) {
        return loop.submit(request);
    }

    /** @return requests waiting to start */
    public int waiting() {
        return loop.waiting();
    }

    /** @return requests prefilling or decoding */
    public int running() {
        return loop.running();
    }

    /** @return the fraction of KV-cache pages in use, 0 to 1 */
    public double cacheUsage() {
        return loop.cacheUsage();
    }

    /** @return KV-cache pages in all */
    public int cachePages() {
        return loop.pages();
    }

    /** @return positions per KV-cache page */
    public int pageSize() {
        return loop.pageSize();
    }

    /** @return the most sequences one step decodes */
    public int maxBatch() {
        return loop.maxBatch();
    }

    /**
     * @return decode steps run so far, sequence-steps in them (their ratio: the mean batch),
     *         sequences preempted for KV pages, and prompt positions taken from shared prefix pages
     */
    public long[] stepCounts() {
        return loop.stepCounts();
    }

    /** Running requests end {@link StopReason#CANCELLED}, waiting ones fail; the model is free again. */
    @Override
    public void close() {
        loop.close();
        owner.batcherClosed(this);
    }
}
