package dev.flashcl.bench;

import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.phi.PhiModel;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * {@code flashcl bench generate}: prefill tokens/s at several prompt lengths and decode tokens/s
 * at several contexts (medians, warm-up excluded), then one prefill and one decode step traced
 * through profiling events (device time per kernel, the products' TFLOP/s, the weights'
 * bandwidth, the host's gaps). Tables go to {@code print}; the figures come back for JSON.
 */
public final class GenerateBench {
    /** Untimed decode steps before the timed ones at each context (the host's launch path warms up too). */
    public static final int WARMUP_STEPS = 16;

    /**
     * @param promptLengths prompt lengths to time prefill at
     * @param contexts      cache lengths to time decode at
     * @param repeat        timed prefill runs per length (median)
     * @param steps         timed decode steps per context (median)
     * @param chunk         prompt tokens per prefill pass (for the record; the model was loaded with it)
     */
    public record Options(List<Integer> promptLengths, List<Integer> contexts, int repeat, int steps, int chunk) {}

    private GenerateBench() {}

    /** Runs the benchmark on a loaded model; returns what it measured, keyed as the JSON output has it. */
    public static java.util.Map<String, Object> run(ClContext ctx, PhiModel m, Options o, PrintStream print) {
        java.util.SplittableRandom rng = new java.util.SplittableRandom(1);
        int vocab = m.config().vocabSize();
        java.util.Map<String, Object> result = new java.util.LinkedHashMap<>();
        result.put("device", ctx.device().name());
        result.put("driver", ctx.device().driverVersion());
        result.put("date", java.time.LocalDate.now().toString());
        result.put("storage", m.storage().suffix);
        result.put("weights", m.weightsDescription());
        result.put("prefill_chunk", o.chunk());
        result.put("tensor_cores", m.tensorCores());
        result.put("parameters", m.config().parameters());
        result.put("device_bytes", ctx.bytesInUse());
        result.put("kernels_per_decode_token", m.kernelsPerDecodeStep(512));
        print.printf(Locale.ROOT, "device %s (%s), %s, %s weights, %,d parameters, device memory %s, %d kernels per decode token at context 512, "
                        + "prefill chunk %d, tensor cores %s%n", ctx.device().name(), ctx.device().driverVersion(), java.time.LocalDate.now(), m.weightsDescription(),
                m.config().parameters(), Bytes.format(ctx.bytesInUse()), m.kernelsPerDecodeStep(512), o.chunk(), m.tensorCores() ? "on" : "off");
        for (int p : o.promptLengths()) {
            if (p < 1 || p > m.contextLength()) throw new IllegalArgumentException("--prompt-lengths: " + p + " is outside 1.." + m.contextLength() + " (the model's context)");
        }
        for (int c : o.contexts()) {   // the prompt, the warm-up steps and the timed steps must fit the KV cache
            if (c < 1 || c + WARMUP_STEPS + o.steps() > m.contextLength()) {
                throw new IllegalArgumentException("--contexts " + c + " with --steps " + o.steps() + " needs " + (c + WARMUP_STEPS + o.steps())
                        + " cache positions (context, " + WARMUP_STEPS + " warm-up steps, the timed steps) but the model's context is " + m.contextLength());
            }
        }
        print.println("| phase | tokens | median ms | tokens/s |");
        print.println("|---|---:|---:|---:|");
        List<java.util.Map<String, Object>> rows = new java.util.ArrayList<>();
        List<String> decodeEnqueue = new java.util.ArrayList<>();
        for (int p : o.promptLengths()) {
            int[] ids = rng.ints(p, 0, Math.min(vocab, 50000)).toArray();
            double[] ms = new double[o.repeat()];
            for (int r = -1; r < o.repeat(); r++) {   // r = -1: warm-up
                m.reset();
                long t0 = System.nanoTime();
                m.prefill(ids, null);
                if (r >= 0) ms[r] = (System.nanoTime() - t0) / 1e6;
            }
            double med = GemvBench.median(ms);
            print.printf(Locale.ROOT, "| prefill | %d | %.2f | %.0f |%n", p, med, p / med * 1000);
            rows.add(java.util.Map.of("phase", "prefill", "tokens", p, "median_ms", med, "tokens_per_s", p / med * 1000));
        }
        for (int c : o.contexts()) {
            int[] ids = rng.ints(c, 0, Math.min(vocab, 50000)).toArray();
            m.reset();
            m.prefill(ids, null);
            double[] ms = new double[o.steps()], enqueueMs = new double[o.steps()];
            long[] enqueued = new long[1];   // when the step's last kernel was enqueued (the host's share of a step)
            dev.flashcl.internal.graph.Graph.Observer last = (node, step) -> { if (node.equals("argmax")) enqueued[0] = System.nanoTime(); };
            for (int r = -WARMUP_STEPS; r < o.steps(); r++) {
                long t0 = System.nanoTime();
                m.decode(last);
                if (r >= 0) {
                    ms[r] = (System.nanoTime() - t0) / 1e6;
                    enqueueMs[r] = (enqueued[0] - t0) / 1e6;
                }
            }
            double med = GemvBench.median(ms), enq = GemvBench.median(enqueueMs);
            decodeEnqueue.add(String.format(Locale.ROOT, "%d: %.3f of %.3f ms", c, enq, med));
            print.printf(Locale.ROOT, "| decode | context %d (%d kernels) | %.3f | %.1f |%n", c, m.kernelsPerDecodeStep(c), med, 1000 / med);
            rows.add(java.util.Map.of("phase", "decode", "context", c, "median_ms", med, "tokens_per_s", 1000 / med,
                    "kernels", m.kernelsPerDecodeStep(c), "host_enqueue_median_ms", enq));
        }
        if (!decodeEnqueue.isEmpty()) {
            print.println("decode, host time to enqueue a step's kernels (median), by context: " + String.join(", ", decodeEnqueue));
        }
        result.put("results", rows);
        int longest = o.promptLengths().stream().mapToInt(Integer::intValue).max().orElse(0);
        if (longest > 0) result.put("prefill_profile", prefillProfile(ctx, m, rng.ints(longest, 0, Math.min(vocab, 50000)).toArray(), print));
        result.put("decode_profile", profile(ctx, m, rng, vocab, print));
        return result;
    }

    /** A traced pass: device ms and launches per kernel name (in first-launch order), device busy ms, first start to last end ms. */
    record Traced(java.util.Map<String, double[]> byKernel, double busy, double span) {
        static Traced of(java.util.List<dev.flashcl.internal.cl.ClContext.TraceEntry> trace) {
            java.util.Map<String, double[]> byKernel = new java.util.LinkedHashMap<>();
            double busy = 0;
            for (var e : trace) {
                double ms = (e.end() - e.start()) / 1e6;
                busy += ms;
                double[] a = byKernel.computeIfAbsent(e.kernel(), k -> new double[2]);
                a[0] += ms;
                a[1]++;
            }
            return new Traced(byKernel, busy, (trace.get(trace.size() - 1).end() - trace.get(0).start()) / 1e6);
        }
    }

    /**
     * One prefill traced through profiling events: device time per kernel, and the rate of the
     * matrix products (fp32out: qkv; gelu: fc1; split: dense and fc2) and of attention.
     */
    static java.util.Map<String, Object> prefillProfile(ClContext ctx, PhiModel m, int[] ids, PrintStream print) {
        var c = m.config();
        double n = ids.length, h = c.hiddenSize(), f = c.intermediateSize(), layers = c.numLayers();
        java.util.Map<String, Double> flops = java.util.Map.of("f32out", 2 * n * 3 * h * h * layers, "gelu", 2 * n * f * h * layers,
                "_split", 2 * n * (h * h + f * h) * layers, "flash_attn_prefill", 2 * n * n * h * layers);   // causal: half of 4 n^2 H
        m.reset();
        ctx.startTrace();
        m.prefill(ids, null);
        var trace = ctx.stopTrace();
        Traced t = Traced.of(trace);
        var byKernel = t.byKernel();
        double busy = t.busy(), span = t.span();
        print.printf(Locale.ROOT, "prefill of %d tokens traced: %d kernels, device busy %.3f ms, first start to last end %.3f ms%n",
                ids.length, trace.size(), busy, span);
        print.println("| kernel | launches | device ms | share | TFLOP/s |");
        print.println("|---|---:|---:|---:|---:|");
        java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
        for (var e : byKernel.entrySet()) {
            double ms = e.getValue()[0];
            Double fl = flops.entrySet().stream().filter(x -> e.getKey().contains(x.getKey()) && !e.getKey().startsWith("gemv"))   // gemv: the lm_head's one row
                    .map(java.util.Map.Entry::getValue).findFirst().orElse(null);
            print.printf(Locale.ROOT, "| %s | %d | %.3f | %.0f%% | %s |%n", e.getKey(), (int) e.getValue()[1], ms, 100 * ms / span,
                    fl == null ? "" : String.format(Locale.ROOT, "%.1f", fl / ms / 1e9));
            out.put(e.getKey(), java.util.Map.of("launches", (int) e.getValue()[1], "ms", ms, "tflops", fl == null ? 0 : fl / ms / 1e9));
        }
        out.put("busy_ms", busy);
        out.put("span_ms", span);
        return out;
    }

    /**
     * One decode step at context 512, node by node with a clFinish after each: wall time per
     * kind of node (layers summed) and the bandwidth of its weights. The waits add host gaps
     * the real step does not have; the sum is compared with the real step's time.
     */
    static java.util.Map<String, Object> profile(ClContext ctx, PhiModel m, java.util.SplittableRandom rng, int vocab, PrintStream print) {
        var c = m.config();
        long h = c.hiddenSize(), f = c.intermediateSize(), v = c.vocabSize(), sb = m.storage().bytes;
        java.util.function.BiFunction<dev.flashcl.internal.checkpoint.DType, Long, Long> bytes = (t, n) -> t == null ? n * sb : t.bytesOf(n);
        java.util.Map<String, Long> weightBytes = java.util.Map.of("qkv+mlp.fc1", bytes.apply(m.layerFormat(), (3 * h * h + f * h) * c.numLayers()),
                "dense+mlp.fc2", bytes.apply(m.layerFormat(), (h * h + h * f) * c.numLayers()), "lm_head", bytes.apply(m.headFormat(), v * h));
        java.util.Map<String, double[]> byKind = new java.util.LinkedHashMap<>();
        m.reset();
        int context = Math.min(512, m.contextLength() - 4);
        m.prefill(rng.ints(context, 0, Math.min(vocab, 50000)).toArray(), null);
        for (int rep = 0; rep < 3; rep++) {
            final boolean record = rep == 2;
            long[] last = {System.nanoTime()};
            m.decode((node, step) -> {
                ctx.finish();
                long now = System.nanoTime();
                if (record) byKind.computeIfAbsent(node.replaceFirst("^layer\\.\\d+\\.", ""), k -> new double[1])[0] += (now - last[0]) / 1e6;
                last[0] = now;
            });
        }
        print.println("decode step at context " + context + ", node by node (a clFinish after each):");
        print.println("| node | ms per token | weights | GB/s |");
        print.println("|---|---:|---:|---:|");
        java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
        double total = 0;
        for (var e : byKind.entrySet()) {
            double ms = e.getValue()[0];
            total += ms;
            Long wb = weightBytes.get(e.getKey());
            print.printf(Locale.ROOT, "| %s | %.3f | %s | %s |%n", e.getKey(), ms, wb == null ? "" : Bytes.format(wb),
                    wb == null ? "" : String.format(Locale.ROOT, "%.0f", wb / ms / 1e6));
            out.put(e.getKey(), java.util.Map.of("ms", ms, "weight_bytes", wb == null ? 0L : wb));
        }
        print.printf(Locale.ROOT, "| sum | %.3f | | |%n", total);
        // the same step with nothing waiting inside it: device time per kernel and the gaps between kernels
        ctx.startTrace();
        long t0 = System.nanoTime();
        m.decode(null);
        double wallMs = (System.nanoTime() - t0) / 1e6;
        var trace = ctx.stopTrace();
        Traced t = Traced.of(trace);
        var byKernel = t.byKernel();
        double busy = t.busy(), span = t.span();
        print.printf(Locale.ROOT, "decode step traced (profiling events, no waits inside): %d kernels, device busy %.3f ms, first start to last end %.3f ms, "
                + "gaps between kernels %.3f ms (%.1f us a launch), host wall %.3f ms%n", trace.size(), busy, span, span - busy,
                (span - busy) * 1000 / Math.max(1, trace.size() - 1), wallMs);
        print.println("| kernel | launches | device ms | share |");
        print.println("|---|---:|---:|---:|");
        for (var e : byKernel.entrySet()) {
            print.printf(Locale.ROOT, "| %s | %d | %.3f | %.0f%% |%n", e.getKey(), (int) e.getValue()[1], e.getValue()[0], 100 * e.getValue()[0] / span);
        }
        out.put("trace", java.util.Map.of("kernels", trace.size(), "busy_ms", busy, "span_ms", span, "gaps_ms", span - busy, "wall_ms", wallMs));
        return out;
    }
}
