package dev.flashcl.bench;

import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.phi.PhiBatch;
import dev.flashcl.internal.phi.PhiModel;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code flashcl bench batch}: the batched decode step of continuous batching, without the server
 * or prefill around it: for each row count, every row at the given context (its pages taken from
 * the cache, their contents whatever the device holds: the arithmetic's speed does not depend on
 * them), the median step time and the tokens/s it gives, then the largest step traced through
 * profiling events: device time per kernel, the products' weight bandwidth, the attention's KV
 * bandwidth.
 */
public final class BatchBench {
    /**
     * @param rows     row counts to time (each at most {@code maxRows})
     * @param context  positions already in each row's cache
     * @param steps    timed steps per row count (median), after as many untimed ones
     * @param maxRows  the batch's capacity (its GEMM is chosen for it)
     * @param pageSize positions per KV page
     */
    public record Options(List<Integer> rows, int context, int steps, int maxRows, int pageSize) {}

    private BatchBench() {}

    public static Map<String, Object> run(ClContext ctx, PhiModel m, Options o, PrintStream print) {
        int longest = o.context() + 2 * o.steps();
        if (o.context() < 1 || longest > m.contextLength()) {
            throw new IllegalArgumentException("--context " + o.context() + " with --steps " + o.steps() + " needs " + longest
                    + " positions a row (context, warm-up and timed steps), the model's context is " + m.contextLength());
        }
        for (int r : o.rows()) {
            if (r < 1 || r > o.maxRows()) throw new IllegalArgumentException("--rows: " + r + " is outside 1.." + o.maxRows() + " (--max-batch)");
        }
        var c = m.config();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("device", ctx.device().name());
        result.put("driver", ctx.device().driverVersion());
        result.put("date", java.time.LocalDate.now().toString());
        result.put("storage", m.storage().suffix);
        result.put("tensor_cores", m.tensorCores());
        result.put("skinny_gemm", !"off".equals(System.getProperty("flashcl.skinnyGemm")));
        result.put("context", o.context());
        result.put("max_batch", o.maxRows());
        int perRow = (longest + o.pageSize() - 1) / o.pageSize();
        try (PhiBatch b = m.openBatch(o.maxRows(), o.pageSize(), Math.max(perRow * o.maxRows(), b0(m, o.pageSize())))) {
            int[][] tables = new int[o.maxRows()][perRow];
            for (int[] t : tables) for (int j = 0; j < perRow; j++) t[j] = b.takePage();
            result.put("device_bytes", ctx.bytesInUse());
            print.printf(Locale.ROOT, "device %s (%s), %s, %s weights, tensor cores %s, skinny GEMM %s, batch of up to %d, context %d, device memory %s%n",
                    ctx.device().name(), ctx.device().driverVersion(), java.time.LocalDate.now(), m.storage().suffix, m.tensorCores() ? "on" : "off",
                    result.get("skinny_gemm").equals(true) ? "on" : "off", o.maxRows(), o.context(), Bytes.format(ctx.bytesInUse()));
            print.println("| rows | median step ms | tokens/s |");
            print.println("|---:|---:|---:|");
            List<Map<String, Object>> rows = new ArrayList<>();
            int[] inputs = new int[o.maxRows()], positions = new int[o.maxRows()], next = new int[o.maxRows()];
            boolean[] bad = new boolean[o.maxRows()];
            for (int r : o.rows()) {
                double[] ms = new double[o.steps()];
                for (int s = -o.steps(); s < o.steps(); s++) {
                    for (int i = 0; i < r; i++) {
                        positions[i] = o.context() + o.steps() + s;
                        inputs[i] = (17 * i + 11) % c.vocabSize();
                    }
                    long t0 = System.nanoTime();
                    b.step(r, inputs, positions, tables, next, bad);
                    if (s >= 0) ms[s] = (System.nanoTime() - t0) / 1e6;
                }
                double med = GemvBench.median(ms);
                print.printf(Locale.ROOT, "| %d | %.3f | %.0f |%n", r, med, r / med * 1000);
                rows.add(Map.of("rows", r, "median_ms", med, "tokens_per_s", r / med * 1000));
            }
            result.put("results", rows);
            int r = o.rows().stream().mapToInt(Integer::intValue).max().orElseThrow();
            for (int i = 0; i < r; i++) positions[i] = o.context() + o.steps();
            ctx.startTrace();
            b.step(r, inputs, positions, tables, next, bad);
            var t = GenerateBench.Traced.of(ctx.stopTrace());
            long h = c.hiddenSize(), f = c.intermediateSize(), sb = m.storage().bytes, layers = c.numLayers();
            Map<String, Long> bytes = Map.of("gemm_skinny_f32out", ((3 * h * h + c.vocabSize() * h / layers) * layers) * sb,
                    "gemm_skinny_gelu", f * h * layers * sb, "gemm_skinny_split", (h * h + f * h) * layers * sb,
                    "flash_attn_decode_paged", 2L * r * (o.context() + o.steps() + 1) * h * layers * sb);
            print.printf(Locale.ROOT, "step of %d rows traced: device busy %.3f ms, first start to last end %.3f ms%n", r, t.busy(), t.span());
            print.println("| kernel | launches | device ms | share | GB/s (weights or KV read) |");
            print.println("|---|---:|---:|---:|---:|");
            Map<String, Object> trace = new LinkedHashMap<>();
            for (var e : t.byKernel().entrySet()) {
                double ms = e.getValue()[0];
                Long by = bytes.entrySet().stream().filter(x -> e.getKey().startsWith(x.getKey())).map(Map.Entry::getValue).findFirst().orElse(null);
                print.printf(Locale.ROOT, "| %s | %d | %.3f | %.0f%% | %s |%n", e.getKey(), (int) e.getValue()[1], ms, 100 * ms / t.span(),
                        by == null ? "" : String.format(Locale.ROOT, "%.0f", by / ms / 1e6));
                trace.put(e.getKey(), Map.of("launches", (int) e.getValue()[1], "ms", ms, "gb_per_s", by == null ? 0 : by / ms / 1e6));
            }
            trace.put("busy_ms", t.busy());
            trace.put("span_ms", t.span());
            result.put("trace_rows", r);
            result.put("trace", trace);
        }
        return result;
    }

    private static int b0(PhiModel m, int pageSize) {
        return (m.contextLength() + pageSize - 1) / pageSize;   // a batch must hold one whole-context sequence
    }
}
