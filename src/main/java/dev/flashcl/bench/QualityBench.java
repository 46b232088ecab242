package dev.flashcl.bench;

import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.phi.PhiModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code flashcl bench quality}: what quantized weights cost in accuracy. The text (files, each
 * followed by the end-of-text id) is cut into non-overlapping windows; each window is one prefill
 * with every row's logits kept. For the baseline (the weights as stored) and each variant, loaded
 * side by side: perplexity of the next token, and against the baseline the mean KL divergence
 * KL(baseline || variant) of the next-token distributions and how often their top-1 agree.
 */
public final class QualityBench {
    /**
     * A variant: the layers' and lm_head's block types (null: as stored), or another model file.
     *
     * @param name   as the table shows it
     * @param layers Q8_0 / Q4_0 / null
     * @param head   likewise for the lm_head
     * @param model  another model (a GGUF file of other block types) instead of quantizing this one, or null
     */
    public record Variant(String name, DType layers, DType head, Path model) {
        /** "stored", "q8_0", "q4_0", "q4_0+q8_0" (layers + lm_head), or a path to another model. */
        public static Variant parse(String s) {
            String l = s.toLowerCase(Locale.ROOT);
            if (l.equals("stored")) return new Variant("stored", null, null, null);
            String[] parts = l.split("\\+");
            if (parts.length <= 2 && parts[0].matches("q8_0|q4_0") && (parts.length == 1 || parts[1].matches("q8_0|q4_0"))) {
                DType layers = DType.valueOf(parts[0].toUpperCase(Locale.ROOT)), head = parts.length == 2 ? DType.valueOf(parts[1].toUpperCase(Locale.ROOT)) : layers;
                return new Variant(s, layers, head, null);
            }
            Path p = Path.of(s);
            if (!Files.exists(p)) throw new IllegalArgumentException("--weights: " + s + " is neither stored, q8_0, q4_0, q4_0+q8_0 nor a model file");
            return new Variant(p.getFileName().toString(), null, null, p);
        }
    }

    private QualityBench() {}

    /** Token ids of the files, each followed by {@code eos}, at most {@code maxTokens}. */
    public static int[] tokens(dev.flashcl.tokenizer.Tokenizer tok, List<Path> files, int eos, int maxTokens) throws IOException {
        List<Integer> ids = new ArrayList<>();
        for (Path f : files) {
            if (ids.size() >= maxTokens) break;
            for (int id : tok.encode(new String(Files.readAllBytes(f), StandardCharsets.UTF_8))) ids.add(id);
            ids.add(eos);
        }
        return ids.stream().limit(maxTokens).mapToInt(Integer::intValue).toArray();
    }

    public static Map<String, Object> run(ClContext ctx, Path model, List<Variant> variants, List<Path> files, int window, int maxTokens,
                                          PrintStream print) throws IOException {
        PhiModel.Options o = PhiModel.Options.defaults().withContext(window).withChunk(window).withAllLogits(true);
        Map<String, Object> result = new LinkedHashMap<>();
        List<Map<String, Object>> rows = new ArrayList<>();
        try (PhiModel base = PhiModel.load(ctx, model, o, null)) {
            int[] ids = tokens(base.tokenizer(), files, base.config().eosTokenId(), maxTokens);
            int windows = (ids.length - 1) / window;
            if (windows < 1) throw new IllegalArgumentException("the text is " + ids.length + " tokens, less than one window of " + (window + 1));
            result.put("device", ctx.device().name());
            result.put("date", java.time.LocalDate.now().toString());
            result.put("model", model.toString());
            result.put("files", files.size());
            result.put("tokens", windows * window);
            result.put("window", window);
            print.printf(Locale.ROOT, "device %s, %s, %s: %d files, %d windows of %d tokens%n", ctx.device().name(), java.time.LocalDate.now(), model,
                    files.size(), windows, window);
            print.println("| weights | weight bytes on the device | perplexity | vs baseline | mean KL(baseline ‖ it) | top-1 agreement |");
            print.println("|---|---:|---:|---:|---:|---:|");
            double basePpl = 0;
            for (Variant v : variants) {
                PhiModel.Options vo = v.model() == null ? o.withWeights(v.layers(), v.head()) : o;
                boolean same = v.model() == null && v.layers() == null;
                try (PhiModel m = same ? null : PhiModel.load(ctx, v.model() != null ? v.model() : model, vo, null)) {
                    PhiModel q = same ? base : m;
                    double nllBase = 0, nll = 0, kl = 0;
                    long agree = 0, n = 0;
                    for (int w = 0; w < windows; w++) {
                        int[] in = java.util.Arrays.copyOfRange(ids, w * window, w * window + window);
                        float[] lb = forward(base, in), lq = same ? lb : forward(q, in);
                        int vocab = base.config().vocabSize();
                        for (int r = 0; r < window; r++) {
                            int next = ids[w * window + r + 1];
                            double[] pb = logSoftmax(lb, r * vocab, vocab), pq = same ? pb : logSoftmax(lq, r * vocab, vocab);
                            nllBase -= pb[next];
                            nll -= pq[next];
                            int ab = 0, aq = 0;
                            double k = 0;
                            for (int i = 0; i < vocab; i++) {
                                if (pb[i] > pb[ab]) ab = i;
                                if (pq[i] > pq[aq]) aq = i;
                                if (!same) k += Math.exp(pb[i]) * (pb[i] - pq[i]);
                            }
                            kl += k;
                            if (ab == aq) agree++;
                            n++;
                        }
                    }
                    double ppl = Math.exp(nll / n);
                    basePpl = Math.exp(nllBase / n);
                    long bytes = weightBytes(q);
                    print.printf(Locale.ROOT, "| %s | %s | %.4f | %+.2f%% | %.5f | %.2f%% |%n", v.name() + " (" + q.weightsDescription() + ")", Bytes.format(bytes), ppl,
                            100 * (ppl / basePpl - 1), kl / n, 100.0 * agree / n);
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("weights", v.name());
                    row.put("description", q.weightsDescription());
                    row.put("weight_bytes", bytes);
                    row.put("perplexity", ppl);
                    row.put("baseline_perplexity", basePpl);
                    row.put("mean_kl", kl / n);
                    row.put("top1_agreement", (double) agree / n);
                    rows.add(row);
                }
            }
        }
        result.put("variants", rows);
        return result;
    }

    private static float[] forward(PhiModel m, int[] in) {
        m.reset();
        m.prefill(in, null);
        return m.logits(in.length);
    }

    private static double[] logSoftmax(float[] l, int off, int n) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, l[off + i]);
        for (int i = 0; i < n; i++) sum += Math.exp(l[off + i] - max);
        double lse = max + Math.log(sum);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = l[off + i] - lse;
        return out;
    }

    /** Bytes of the weight matrices as the device holds them (the layers' four and the lm_head). */
    static long weightBytes(PhiModel m) {
        var c = m.config();
        long h = c.hiddenSize(), f = c.intermediateSize(), v = c.vocabSize(), sb = m.storage().bytes;
        long layers = c.numLayers() * (4 * h * h + 2 * f * h);
        return (m.layerFormat() == null ? layers * sb : m.layerFormat().bytesOf(layers)) + (m.headFormat() == null ? v * h * sb : m.headFormat().bytesOf(v * h));
    }
}
