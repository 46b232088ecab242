package dev.flashcl.internal.generate;

import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.Sampling;
import dev.flashcl.StopReason;
import dev.flashcl.internal.phi.PhiModel;
import dev.flashcl.tokenizer.StreamDecoder;
import dev.flashcl.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * Text generation on a loaded {@link PhiModel}: prefill the prompt (in chunks), then one decode
 * step per new token, greedy on the device or sampled on the host (temperature, top-k, top-p,
 * seeded: the same seed gives the same text), stopping at eos, a stop id, a stop string or the
 * token limit. Text streams to the request's callback as it becomes final. One generation at a
 * time per model: {@link #generate} holds the model's lock, so two threads on one model are
 * serialized.
 */
public final class Generator {
    private final PhiModel model;
    private volatile boolean cancelled;

    public Generator(PhiModel model) {
        this.model = model;
    }

    /**
     * Stops the generation running on this generator (from any thread, a callback or a signal
     * handler) after the step in flight: the result so far comes back with {@link StopReason#CANCELLED}
     * and the model stays usable. An interrupt of the generating thread does the same.
     */
    public void cancel() {
        cancelled = true;
    }

    /** The prompt's ids: the request's, or its text through the model's tokenizer. */
    public static int[] promptIds(GenerationRequest r, Tokenizer tok) {
        if (r.promptTokens().isPresent()) return r.promptTokens().get();
        if (tok == null) throw new IllegalStateException("the model directory has no tokenizer files (tokenizer.json or vocab.json + merges.txt); give the prompt as token ids");
        return tok.encode(r.prompt().orElseThrow());
    }

    /** Refuses, with the numbers, a prompt that with the new tokens would not fit {@code context} positions. */
    public static void checkFits(int promptLength, int maxNewTokens, int context) {
        if ((long) promptLength + maxNewTokens > context) {
            throw new IllegalArgumentException(String.format("the prompt (%d token%s) plus max new tokens (%d) is %d, over the context of %d positions; "
                    + "shorten the prompt or ask for at most %d new tokens", promptLength, promptLength == 1 ? "" : "s", maxNewTokens,
                    promptLength + maxNewTokens, context, Math.max(0, context - promptLength)));
        }
    }

    public GenerationResult generate(GenerationRequest r) {
        int[] promptIds = promptIds(r, model.tokenizer());
        checkFits(promptIds.length, r.maxNewTokens(), model.contextLength());
        for (int t : promptIds) {
            if (t >= model.config().vocabSize()) throw new IllegalArgumentException("prompt token id " + t + " is outside the vocabulary of " + model.config().vocabSize());
        }
        synchronized (model) {
            cancelled = false;
            try {
                return run(promptIds, r);
            } finally {
                cancelled = false;
            }
        }
    }

    private GenerationResult run(int[] promptIds, GenerationRequest r) {
        List<Integer> eos = model.config().eosTokenIds();
        int[] stops = r.stopTokens();
        Tokenizer tok = model.tokenizer();
        StreamDecoder stream = tok == null ? null : tok.streamDecoder(r.cleanUpSpaces());
        StopText stopText = new StopText(r.stopStrings(), r.onText().orElse(null));
        Sampling sampling = r.sampling();
        boolean sample = !sampling.isGreedy();
        long seed = sampling.seed().orElseGet(() -> ThreadLocalRandom.current().nextLong());
        SplittableRandom rng = new SplittableRandom(seed);
        List<Integer> out = new ArrayList<>();
        List<Double> logprobs = new ArrayList<>();
        model.reset();
        long builds0 = model.context().programBuildNanos();
        long t0 = System.nanoTime();
        boolean readLogits = sample || r.logprobs();   // one read of the last logits a step serves both
        int next = model.prefill(promptIds, null);
        float[] logits = readLogits ? model.logits(1) : null;
        if (sample) next = sample(sampling, logits, rng);
        long t1 = System.nanoTime();
        long buildNanos = model.context().programBuildNanos() - builds0;
        StopReason reason = StopReason.MAX_TOKENS;
        while (true) {
            if (r.stopAtEos() && eos.contains(next)) {
                reason = StopReason.EOS;
                break;
            }
            if (contains(stops, next)) {
                reason = StopReason.STOP_TOKEN;
                break;
            }
            out.add(next);
            double lp = r.logprobs() ? logprob(logits, next) : Double.NaN;
            if (r.logprobs()) logprobs.add(lp);
            if (r.onToken().isPresent()) r.onToken().get().accept(next, lp);
            if (stream != null && stopText.accept(stream.next(next))) {
                reason = StopReason.STOP_STRING;
                break;
            }
            if (out.size() >= r.maxNewTokens()) break;
            if (cancelled || r.cancelWhen().getAsBoolean() || Thread.currentThread().isInterrupted()) {
                reason = StopReason.CANCELLED;
                break;
            }
            if (sample) model.setNextToken(next);
            next = model.decode(null);
            logits = readLogits ? model.logits(1) : null;
            if (sample) next = sample(sampling, logits, rng);
        }
        long t2 = System.nanoTime();
        if (stream != null && reason != StopReason.STOP_STRING) stopText.accept(stream.flush());
        stopText.finish();
        int[] ids = out.stream().mapToInt(Integer::intValue).toArray();
        return new GenerationResult(stopText.text(), promptIds, ids, reason, sample ? OptionalLong.of(seed) : OptionalLong.empty(),
                Math.max(0, t1 - t0 - buildNanos), t2 - t1, buildNanos, logprobs.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** log softmax(logits)[id], in double precision. */
    static double logprob(float[] logits, int id) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : logits) sum += Math.exp(l - max);
        return logits[id] - max - Math.log(sum);
    }

    static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }

    /**
     * Samples the next id from the last logits: temperature, then top-k, then top-p, then a seeded
     * draw over the kept ids in order of probability (ties: lower id first). Top-k picks its
     * candidates by selection, not a sort of the vocabulary; the kept ids are sorted as packed
     * primitive keys (a soak on the H100 showed a boxed sort of all 51200 costing more than the
     * decode step itself).
     */
    static int sample(Sampling o, float[] logits, SplittableRandom rng) {
        int n = logits.length;
        int[] cand;
        if (o.topK() > 0 && o.topK() < n) {
            float thr = kthLargest(logits.clone(), o.topK());
            cand = new int[o.topK()];
            int c = 0;
            for (int i = 0; i < n && c < cand.length; i++) if (logits[i] > thr) cand[c++] = i;
            for (int i = 0; i < n && c < cand.length; i++) if (logits[i] == thr) cand[c++] = i;
        } else {
            cand = new int[n];
            for (int i = 0; i < n; i++) cand[i] = i;
        }
        long[] keys = new long[cand.length];
        for (int i = 0; i < cand.length; i++) {
            int bits = Float.floatToIntBits(logits[cand[i]]);
            int ascending = bits ^ ((bits >> 31) & 0x7fffffff);   // orders like the float
            keys[i] = ((long) ~ascending << 32) | cand[i];          // descending logit, then ascending id
        }
        java.util.Arrays.sort(keys);
        int keep = keys.length;
        double max = logits[(int) keys[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[(int) keys[i]] - max) / o.temperature());
            sum += p[i];
        }
        double cum = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++) {
            cum += p[i] / sum;
            if (cum >= o.topP()) {
                cut = i + 1;
                break;
            }
        }
        double total = 0;
        for (int i = 0; i < cut; i++) total += p[i];
        double r = rng.nextDouble() * total;
        for (int i = 0; i < cut; i++) {
            r -= p[i];
            if (r < 0) return (int) keys[i];
        }
        return (int) keys[cut - 1];
    }

    /** The k-th largest value (k from 1) of {@code a}, which it reorders (quickselect). */
    public static float kthLargest(float[] a, int k) {
        int lo = 0, hi = a.length - 1, target = k - 1;
        while (lo < hi) {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j) {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j) {
                    float t = a[i];
                    a[i++] = a[j];
                    a[j--] = t;
                }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else return a[target];
        }
        return a[target];
    }

    /** Passes text on, holding back what could be the start of a stop string; cuts at the first stop string. */
    static final class StopText {
        private final List<String> stops;
        private final Consumer<String> sink;
        private final StringBuilder all = new StringBuilder();
        private int sent;
        private int end = -1;

        StopText(List<String> stops, Consumer<String> sink) {
            this.stops = stops == null ? List.of() : stops;
            this.sink = sink;
        }

        /** Returns true once a stop string has appeared. */
        boolean accept(String s) {
            all.append(s);
            for (String stop : stops) {
                int i = all.indexOf(stop, Math.max(0, sent - stop.length()));
                if (i >= 0 && (end < 0 || i < end)) end = i;
            }
            int hold = 0;
            for (String stop : stops) hold = Math.max(hold, stop.length() - 1);
            int upTo = end >= 0 ? end : Math.max(sent, all.length() - hold);
            emit(upTo);
            return end >= 0;
        }

        void finish() {
            emit(end >= 0 ? end : all.length());
        }

        private void emit(int upTo) {
            if (upTo > sent) {
                if (sink != null) sink.accept(all.substring(sent, upTo));
                sent = upTo;
            }
        }

        String text() {
            return all.substring(0, end >= 0 ? end : all.length());
        }
    }
}
