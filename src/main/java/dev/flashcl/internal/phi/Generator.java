package dev.flashcl.internal.phi;

import dev.flashcl.tokenizer.StreamDecoder;
import dev.flashcl.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Text generation on a loaded {@link PhiModel}: prefill the prompt (in chunks), then one decode
 * step per new token, greedy on the device or sampled on the host (temperature, top-k, top-p,
 * seeded: the same seed gives the same text), stopping at a stop id, a stop string or
 * max_new_tokens. Text streams to a callback as it becomes final. One generation at a time per
 * model: {@link #generate} holds the model's lock, so two threads on one model are serialized.
 */
public final class Generator {
    /**
     * @param temperature 0 for greedy (argmax on the device)
     * @param topK        0 for no top-k cut
     * @param topP        1 for no nucleus cut
     * @param stopIds     ids that end generation (not part of the output); null: the config's eos
     * @param cleanUp     decode with transformers' clean-up of tokenization spaces; null: the tokenizer's default
     */
    public record Options(int maxNewTokens, double temperature, int topK, double topP, long seed, int[] stopIds,
                          List<String> stopStrings, Boolean cleanUp) {
        public static Options greedy(int maxNewTokens) {
            return new Options(maxNewTokens, 0, 0, 1, 0, null, List.of(), null);
        }
    }

    /** What a generation did: ids, text, why it stopped, and its speed. */
    public record Result(int[] promptIds, int[] newIds, String text, String stopReason, double prefillSeconds, double decodeSeconds) {
        public double prefillTokensPerSecond() {
            return promptIds.length / prefillSeconds;
        }

        /** New tokens after the first (which the prefill produced) per second of decode. */
        public double decodeTokensPerSecond() {
            return newIds.length > 1 ? (newIds.length - 1) / decodeSeconds : 0;
        }
    }

    private final PhiModel model;
    private volatile boolean cancelled;

    public Generator(PhiModel model) {
        this.model = model;
    }

    /**
     * Stops the generation running on this generator (from any thread, a callback or a signal
     * handler) after the step in flight: the result so far comes back with stop reason
     * "cancelled" and the model stays usable. An interrupt of the generating thread does the same.
     */
    public void cancel() {
        cancelled = true;
    }

    /** Generates from a text prompt with the model's tokenizer; {@code onText} (may be null) gets the text as it becomes final. */
    public Result generate(String prompt, Options o, Consumer<String> onText) {
        Tokenizer tok = model.tokenizer();
        if (tok == null) throw new IllegalStateException("the model directory has no tokenizer files (tokenizer.json or vocab.json + merges.txt)");
        if (prompt.isEmpty()) throw new IllegalArgumentException("the prompt is empty; give some text to continue");
        return generate(tok.encode(prompt), o, onText);
    }

    public Result generate(int[] promptIds, Options o, Consumer<String> onText) {
        if (promptIds.length == 0) throw new IllegalArgumentException("the prompt is empty; give some text to continue");
        if (o.maxNewTokens() < 1) throw new IllegalArgumentException("max_new_tokens must be at least 1, got " + o.maxNewTokens());
        int ctxLen = model.contextLength();
        if ((long) promptIds.length + o.maxNewTokens() > ctxLen) {
            throw new IllegalArgumentException(String.format("the prompt (%d token%s) plus max_new_tokens (%d) is %d, over the context of %d positions; "
                    + "shorten the prompt or ask for at most %d new tokens", promptIds.length, promptIds.length == 1 ? "" : "s", o.maxNewTokens(),
                    promptIds.length + o.maxNewTokens(), ctxLen, Math.max(0, ctxLen - promptIds.length)));
        }
        if (o.temperature() < 0 || o.topP() <= 0 || o.topP() > 1 || o.topK() < 0) {
            throw new IllegalArgumentException("sampling needs temperature >= 0, 0 < top_p <= 1 and top_k >= 0; got " + o.temperature() + ", "
                    + o.topP() + ", " + o.topK());
        }
        synchronized (model) {
            try {
                return run(promptIds, o, onText);
            } finally {
                cancelled = false;
            }
        }
    }

    private Result run(int[] promptIds, Options o, Consumer<String> onText) {
        int[] stops = o.stopIds() != null ? o.stopIds() : new int[] {model.config().eosTokenId()};
        Tokenizer tok = model.tokenizer();
        boolean clean = o.cleanUp() != null ? o.cleanUp() : tok != null && tok.cleanUpByDefault();
        StreamDecoder stream = tok == null ? null : tok.streamDecoder(clean);
        StopText stopText = new StopText(o.stopStrings(), onText);
        boolean sample = o.temperature() > 0;
        SplittableRandom rng = new SplittableRandom(o.seed());
        List<Integer> out = new ArrayList<>();
        model.reset();
        long t0 = System.nanoTime();
        int next = model.prefill(promptIds, null);
        if (sample) next = sample(o, rng);
        long t1 = System.nanoTime();
        String reason = "max_new_tokens";
        while (true) {
            if (contains(stops, next)) {
                reason = "stop token " + next;
                break;
            }
            out.add(next);
            if (stream != null && stopText.accept(stream.next(next))) {
                reason = "stop string";
                break;
            }
            if (out.size() >= o.maxNewTokens()) break;
            if (cancelled || Thread.currentThread().isInterrupted()) {
                reason = "cancelled";
                break;
            }
            if (sample) model.setNextToken(next);
            next = model.decode(null);
            if (sample) next = sample(o, rng);
        }
        long t2 = System.nanoTime();
        if (stream != null && !reason.equals("stop string")) stopText.accept(stream.flush());
        stopText.finish();
        int[] ids = out.stream().mapToInt(Integer::intValue).toArray();
        return new Result(promptIds, ids, stopText.text(), reason, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    private static boolean contains(int[] a, int v) {
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
    private int sample(Options o, SplittableRandom rng) {
        float[] logits = model.logits(1);
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
    static float kthLargest(float[] a, int k) {
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
    private static final class StopText {
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
