package dev.flashcl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.flashcl.bench.AttentionBench;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.Storage;
import java.io.File;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flashcl bench attention}: kernel timings as a Markdown table, optionally JSON. */
@Command(name = "bench", description = "Benchmarks (device time from OpenCL profiling events).",
        subcommands = {BenchCommand.Attention.class, BenchCommand.TokenizerSpeed.class, BenchCommand.Generate.class, BenchCommand.Soak.class})
final class BenchCommand {

    @Command(name = "attention", mixinStandardHelpOptions = true,
            description = "Flash vs naive attention prefill over sequence lengths, and flash decoding over cache lengths.")
    static final class Attention implements Callable<Integer> {
        @Option(names = "--device", description = "Device: index, gpu/cpu/accelerator, or a name substring.")
        String device;
        @Option(names = "--batch", defaultValue = "1", description = "Sequences per launch (default: ${DEFAULT-VALUE}).") int batch;
        @Option(names = "--heads", defaultValue = "32", description = "Attention heads (default: ${DEFAULT-VALUE}, Phi-2's).") int heads;
        @Option(names = "--head-dim", defaultValue = "80", description = "Dimensions per head (default: ${DEFAULT-VALUE}, Phi-2's).") int headDim;
        @Option(names = "--no-causal", description = "No mask (default: causal).")
        boolean noCausal;
        @Option(names = "--storage", defaultValue = "f16", description = "f16 or f32 (default: ${DEFAULT-VALUE}).")
        String storage;
        @Option(names = "--lengths", split = ",", defaultValue = "512,1024,2048,4096,8192,16384",
                description = "Prefill sequence lengths (default: ${DEFAULT-VALUE}).")
        List<Integer> lengths;
        @Option(names = "--decode-lengths", split = ",", defaultValue = "2048,16384",
                description = "Decode cache lengths (default: ${DEFAULT-VALUE}).")
        List<Integer> decodeLengths;
        @Option(names = "--warmup", defaultValue = "2", description = "Untimed runs before the timed ones (default: ${DEFAULT-VALUE}).") int warmup;
        @Option(names = "--repeat", defaultValue = "10", description = "Timed runs per point (median; default: ${DEFAULT-VALUE}).") int repeat;
        @Option(names = "--no-naive", description = "Skip the naive kernel (default: time it too).")
        boolean noNaive;
        @Option(names = "--no-portable-tiles", description = "Skip the portable flash kernel's tiles (default: time each); the tensor-core kernel, where there is one, still runs.")
        boolean noPortableTiles;
        @Option(names = "--json", description = "Also write the results as JSON to this file.")
        File json;

        @Override
        public Integer call() throws Exception {
            Storage s = GenerateCommand.parseStorage(storage);
            if (repeat < 1 || warmup < 0) throw new IllegalArgumentException("--repeat must be at least 1 and --warmup at least 0");
            var opts = new AttentionBench.Options(batch, heads, headDim, !noCausal, s, lengths, decodeLengths, warmup, repeat, !noNaive, !noPortableTiles);
            try (ClContext ctx = ClContext.open(device)) {
                System.err.println("bench attention on " + ctx.device().name() + ": each line is one measurement");
                AttentionBench.Report r = AttentionBench.run(ctx, opts, line -> System.err.println("  " + line));
                print(r);
                if (json != null) {
                    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, r);
                    System.err.println("wrote " + json);
                }
            }
            return 0;
        }

        static void print(AttentionBench.Report r) {
            var o = r.options();
            System.out.printf("%n%s (%s, driver %s), %s%n", r.device(), r.platform(), r.driver(), r.date());
            System.out.printf("Prefill: batch %d, %d heads, head_dim %d, %s, %s storage; median of %d runs%n%n",
                    o.batch(), o.heads(), o.headDim(), o.causal() ? "causal" : "no mask", o.storage().suffix, o.repeat());
            System.out.println("| N | kernel | ms | TFLOP/s | device memory | note |");
            System.out.println("|---:|---|---:|---:|---:|---|");
            for (var row : r.prefill()) {
                System.out.printf(Locale.ROOT, "| %d | %s | %s | %s | %s | %s |%n", row.n(), row.kernel(),
                        Double.isNaN(row.ms()) ? "-" : String.format(Locale.ROOT, "%.3f", row.ms()),
                        Double.isNaN(row.tflops()) ? "-" : String.format(Locale.ROOT, row.tflops() < 1 ? "%.4f" : "%.1f", row.tflops()),
                        Bytes.format(row.deviceBytes()), row.note());
            }
            if (!r.decode().isEmpty()) {
                System.out.printf("%nDecode: one query per head against L keys (K and V read once)%n%n");
                System.out.println("| L | kernel | split | ms | GB/s | bytes read |");
                System.out.println("|---:|---|---:|---:|---:|---:|");
                for (var row : r.decode()) {
                    System.out.printf(Locale.ROOT, "| %d | %s | %d | %.4f | %.0f | %s |%n", row.kvLen(), row.kernel(), row.splitLen(),
                            row.ms(), row.gbPerS(), Bytes.format(row.bytesRead()));
                }
            }
        }
    }

    @Command(name = "tokenizer", mixinStandardHelpOptions = true,
            description = "Encoding speed of the tokenizer on one thread, over the .py files under a directory.")
    static final class TokenizerSpeed implements Callable<Integer> {
        @Option(names = "--tokenizer", defaultValue = "testdata/tokenizer", description = "Directory with tokenizer.json (default: ${DEFAULT-VALUE}).")
        java.nio.file.Path tokenizerDir;
        @Option(names = "--source", description = "Directory of .py files (default: the newest /usr/lib/python3.* there is).")
        java.nio.file.Path source;
        @Option(names = "--repeat", defaultValue = "5", description = "Timed passes over the files (median; default: ${DEFAULT-VALUE}).") int repeat;

        @Override
        public Integer call() throws Exception {
            var tok = dev.flashcl.tokenizer.Tokenizer.load(tokenizerDir);
            java.nio.file.Path dir = source != null ? source : defaultSource();
            List<String> texts;
            try (var files = java.nio.file.Files.walk(dir)) {
                texts = files.filter(p -> p.toString().endsWith(".py")).sorted().map(p -> {
                    try {
                        return java.nio.file.Files.readString(p);
                    } catch (java.io.IOException | java.io.UncheckedIOException e) {
                        return null;
                    }
                }).filter(java.util.Objects::nonNull).toList();
            }
            long bytes = texts.stream().mapToLong(t -> t.getBytes(java.nio.charset.StandardCharsets.UTF_8).length).sum();
            if (bytes == 0) throw new IllegalArgumentException("no .py files under " + dir);
            System.out.printf(Locale.ROOT, "tokenizer encode, one thread: %d files, %s of Python source from %s%n", texts.size(), Bytes.format(bytes), dir);
            double[] mbps = new double[repeat];
            long tokens = 0;
            for (int r = 0; r < repeat; r++) {   // first pass warms the JIT and the word cache is per thread: clear it each pass
                var fresh = dev.flashcl.tokenizer.Tokenizer.load(tokenizerDir);
                long t0 = System.nanoTime();
                tokens = 0;
                for (String t : texts) tokens += fresh.encode(t).length;
                mbps[r] = bytes / 1e6 / ((System.nanoTime() - t0) / 1e9);
                System.out.printf(Locale.ROOT, "  pass %d: %.1f MB/s (%d tokens)%n", r + 1, mbps[r], tokens);
            }
            double[] sorted = mbps.clone();
            java.util.Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "median %.1f MB/s, %.2f bytes/token, %s, %s%n", sorted[repeat / 2], (double) bytes / tokens,
                    System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), java.time.LocalDate.now());
            return 0;
        }

        private static java.nio.file.Path defaultSource() throws java.io.IOException {
            try (var s = java.nio.file.Files.list(java.nio.file.Path.of("/usr/lib"))) {
                return s.filter(p -> p.getFileName().toString().matches("python3\\.\\d+")).max(java.util.Comparator.naturalOrder())
                        .orElseThrow(() -> new IllegalArgumentException("no /usr/lib/python3.* here: give --source DIR"));
            }
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Prefill tokens/s at several prompt lengths and decode tokens/s at several context lengths (medians, warm-up excluded).")
    static final class Generate implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @Option(names = "--device", description = "OpenCL device: index, gpu/cpu/accelerator, or a name substring (default: the first GPU, else the first device).") String device;
        @Option(names = "--storage", defaultValue = "f16", description = "Weights and KV cache on the device: f16 or f32 (default: ${DEFAULT-VALUE}).") String storage;
        @Option(names = "--prompt-lengths", split = ",", defaultValue = "128,512,2048", description = "Prompt lengths to time prefill at (default: ${DEFAULT-VALUE}).") List<Integer> promptLengths;
        @Option(names = "--contexts", split = ",", defaultValue = "128,512,2000", description = "Cache lengths to time decode at (default: ${DEFAULT-VALUE}).") List<Integer> contexts;
        @Option(names = "--repeat", defaultValue = "5", description = "Timed prefill runs per length (median).") int repeat;
        @Option(names = "--steps", defaultValue = "32", description = "Timed decode steps per context (median).") int steps;
        @Option(names = "--prefill-chunk", defaultValue = "2048", description = "Prompt tokens per prefill pass (default: ${DEFAULT-VALUE}).") int chunk;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;
        /** Untimed decode steps before the timed ones at each context (the host's launch path warms up too). */
        static final int WARMUP_STEPS = 16;

        @Override
        public Integer call() throws Exception {
            java.util.SplittableRandom rng = new java.util.SplittableRandom(1);
            try (ClContext ctx = ClContext.open(device);
                 dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, model.resolve(),
                         dev.flashcl.internal.phi.PhiModel.Options.defaults().withStorage(GenerateCommand.parseStorage(storage)).withChunk(chunk), n -> {})) {
                int vocab = m.config().vocabSize();
                java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
                out.put("device", ctx.device().name());
                out.put("driver", ctx.device().driverVersion());
                out.put("date", java.time.LocalDate.now().toString());
                out.put("storage", storage);
                out.put("prefill_chunk", chunk);
                out.put("tensor_cores", m.tensorCores());
                out.put("parameters", m.config().parameters());
                out.put("device_bytes", ctx.bytesInUse());
                out.put("kernels_per_decode_token", m.kernelsPerDecodeStep(512));
                System.out.printf(Locale.ROOT, "device %s (%s), %s, %s weights, %,d parameters, device memory %s, %d kernels per decode token at context 512, "
                                + "prefill chunk %d, tensor cores %s%n", ctx.device().name(), ctx.device().driverVersion(), java.time.LocalDate.now(), storage,
                        m.config().parameters(), Bytes.format(ctx.bytesInUse()), m.kernelsPerDecodeStep(512), chunk, m.tensorCores() ? "on" : "off");
                for (int p : promptLengths) {
                    if (p < 1 || p > m.contextLength()) throw new IllegalArgumentException("--prompt-lengths: " + p + " is outside 1.." + m.contextLength() + " (the model's context)");
                }
                for (int c : contexts) {   // the prompt, two warm-up steps and the timed steps must fit the KV cache
                    if (c < 1 || c + WARMUP_STEPS + steps > m.contextLength()) {
                        throw new IllegalArgumentException("--contexts " + c + " with --steps " + steps + " needs " + (c + WARMUP_STEPS + steps)
                                + " cache positions (context, " + WARMUP_STEPS + " warm-up steps, the timed steps) but the model's context is " + m.contextLength());
                    }
                }
                System.out.println("| phase | tokens | median ms | tokens/s |");
                System.out.println("|---|---:|---:|---:|");
                List<java.util.Map<String, Object>> rows = new java.util.ArrayList<>();
                List<String> decodeEnqueue = new java.util.ArrayList<>();
                for (int p : promptLengths) {
                    int[] ids = rng.ints(p, 0, Math.min(vocab, 50000)).toArray();
                    double[] ms = new double[repeat];
                    for (int r = -1; r < repeat; r++) {   // r = -1: warm-up
                        m.reset();
                        long t0 = System.nanoTime();
                        m.prefill(ids, null);
                        if (r >= 0) ms[r] = (System.nanoTime() - t0) / 1e6;
                    }
                    double med = median(ms);
                    System.out.printf(Locale.ROOT, "| prefill | %d | %.2f | %.0f |%n", p, med, p / med * 1000);
                    rows.add(java.util.Map.of("phase", "prefill", "tokens", p, "median_ms", med, "tokens_per_s", p / med * 1000));
                }
                for (int c : contexts) {
                    int[] ids = rng.ints(c, 0, Math.min(vocab, 50000)).toArray();
                    m.reset();
                    m.prefill(ids, null);
                    double[] ms = new double[steps], enqueueMs = new double[steps];
                    long[] enqueued = new long[1];   // when the step's last kernel was enqueued (the host's share of a step)
                    dev.flashcl.internal.graph.Graph.Observer last = (node, step) -> { if (node.equals("argmax")) enqueued[0] = System.nanoTime(); };
                    for (int r = -WARMUP_STEPS; r < steps; r++) {
                        long t0 = System.nanoTime();
                        m.decode(last);
                        if (r >= 0) {
                            ms[r] = (System.nanoTime() - t0) / 1e6;
                            enqueueMs[r] = (enqueued[0] - t0) / 1e6;
                        }
                    }
                    double med = median(ms), enq = median(enqueueMs);
                    decodeEnqueue.add(String.format(Locale.ROOT, "%d: %.3f of %.3f ms", c, enq, med));
                    System.out.printf(Locale.ROOT, "| decode | context %d (%d kernels) | %.3f | %.1f |%n", c, m.kernelsPerDecodeStep(c), med, 1000 / med);
                    rows.add(java.util.Map.of("phase", "decode", "context", c, "median_ms", med, "tokens_per_s", 1000 / med,
                            "kernels", m.kernelsPerDecodeStep(c), "host_enqueue_median_ms", enq));
                }
                if (!decodeEnqueue.isEmpty()) {
                    System.out.println("decode, host time to enqueue a step's kernels (median), by context: " + String.join(", ", decodeEnqueue));
                }
                out.put("results", rows);
                int longest = promptLengths.stream().mapToInt(Integer::intValue).max().orElse(0);
                if (longest > 0) out.put("prefill_profile", prefillProfile(ctx, m, rng.ints(longest, 0, Math.min(vocab, 50000)).toArray()));
                out.put("decode_profile", profile(ctx, m, rng, vocab));
                if (json != null) new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, out);
            }
            return 0;
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
        static java.util.Map<String, Object> prefillProfile(ClContext ctx, dev.flashcl.internal.phi.PhiModel m, int[] ids) {
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
            System.out.printf(Locale.ROOT, "prefill of %d tokens traced: %d kernels, device busy %.3f ms, first start to last end %.3f ms%n",
                    ids.length, trace.size(), busy, span);
            System.out.println("| kernel | launches | device ms | share | TFLOP/s |");
            System.out.println("|---|---:|---:|---:|---:|");
            java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
            for (var e : byKernel.entrySet()) {
                double ms = e.getValue()[0];
                Double fl = flops.entrySet().stream().filter(x -> e.getKey().contains(x.getKey()) && !e.getKey().startsWith("gemv"))   // gemv: the lm_head's one row
                        .map(java.util.Map.Entry::getValue).findFirst().orElse(null);
                System.out.printf(Locale.ROOT, "| %s | %d | %.3f | %.0f%% | %s |%n", e.getKey(), (int) e.getValue()[1], ms, 100 * ms / span,
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
        static java.util.Map<String, Object> profile(ClContext ctx, dev.flashcl.internal.phi.PhiModel m, java.util.SplittableRandom rng, int vocab) {
            var c = m.config();
            long h = c.hiddenSize(), f = c.intermediateSize(), v = c.vocabSize(), sb = m.storage().bytes;
            java.util.Map<String, Long> weightBytes = java.util.Map.of("qkv+mlp.fc1", (3 * h * h + f * h) * sb * c.numLayers(),
                    "dense+mlp.fc2", (h * h + h * f) * sb * c.numLayers(), "lm_head", v * h * sb);
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
            System.out.println("decode step at context " + context + ", node by node (a clFinish after each):");
            System.out.println("| node | ms per token | weights | GB/s |");
            System.out.println("|---|---:|---:|---:|");
            java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
            double total = 0;
            for (var e : byKind.entrySet()) {
                double ms = e.getValue()[0];
                total += ms;
                Long wb = weightBytes.get(e.getKey());
                System.out.printf(Locale.ROOT, "| %s | %.3f | %s | %s |%n", e.getKey(), ms, wb == null ? "" : Bytes.format(wb),
                        wb == null ? "" : String.format(Locale.ROOT, "%.0f", wb / ms / 1e6));
                out.put(e.getKey(), java.util.Map.of("ms", ms, "weight_bytes", wb == null ? 0L : wb));
            }
            System.out.printf(Locale.ROOT, "| sum | %.3f | | |%n", total);
            // the same step with nothing waiting inside it: device time per kernel and the gaps between kernels
            ctx.startTrace();
            long t0 = System.nanoTime();
            m.decode(null);
            double wallMs = (System.nanoTime() - t0) / 1e6;
            var trace = ctx.stopTrace();
            Traced t = Traced.of(trace);
            var byKernel = t.byKernel();
            double busy = t.busy(), span = t.span();
            System.out.printf(Locale.ROOT, "decode step traced (profiling events, no waits inside): %d kernels, device busy %.3f ms, first start to last end %.3f ms, "
                    + "gaps between kernels %.3f ms (%.1f us a launch), host wall %.3f ms%n", trace.size(), busy, span, span - busy,
                    (span - busy) * 1000 / Math.max(1, trace.size() - 1), wallMs);
            System.out.println("| kernel | launches | device ms | share |");
            System.out.println("|---|---:|---:|---:|");
            for (var e : byKernel.entrySet()) {
                System.out.printf(Locale.ROOT, "| %s | %d | %.3f | %.0f%% |%n", e.getKey(), (int) e.getValue()[1], e.getValue()[0], 100 * e.getValue()[0] / span);
            }
            out.put("trace", java.util.Map.of("kernels", trace.size(), "busy_ms", busy, "span_ms", span, "gaps_ms", span - busy, "wall_ms", wallMs));
            return out;
        }

        static double median(double[] a) {
            double[] s = a.clone();
            java.util.Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }
    }

    @Command(name = "soak", mixinStandardHelpOptions = true,
            description = "Generate for a while (random prompt lengths up to the context, sampling and greedy) and report, each minute, "
                    + "tokens/s, device memory held and live kernel objects: they should stay flat.")
    static final class Soak implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @Option(names = "--device", description = "OpenCL device: index, gpu/cpu/accelerator, or a name substring (default: the first GPU, else the first device).") String device;
        @Option(names = "--minutes", defaultValue = "20", description = "How long to run (default: ${DEFAULT-VALUE}).") double minutes;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;

        @Override
        public Integer call() throws Exception {
            java.util.SplittableRandom rng = new java.util.SplittableRandom(20261125);
            try (ClContext ctx = ClContext.open(device);
                 dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, model.resolve(), dev.flashcl.internal.phi.PhiModel.Options.defaults(), n -> {})) {
                int vocab = Math.min(m.config().vocabSize(), 50000), context = m.contextLength();
                long end = System.nanoTime() + (long) (minutes * 60e9), start = System.nanoTime(), nextReport = start + 60_000_000_000L;
                long generations = 0, tokens = 0, minuteTokens = 0;
                double minuteDecodeSeconds = 0;
                List<java.util.Map<String, Object>> rows = new java.util.ArrayList<>();
                System.out.println("| minute | generations | new tokens | decode tokens/s | device bytes held | kernel objects | JVM heap used |");
                System.out.println("|---:|---:|---:|---:|---:|---:|---:|");
                dev.flashcl.internal.generate.Generator g = new dev.flashcl.internal.generate.Generator(m);
                while (System.nanoTime() < end) {
                    int prompt = 16 + rng.nextInt(Math.max(1, context - 16 - 300));
                    int newTokens = 16 + rng.nextInt(Math.min(256, context - prompt - 16));
                    boolean sample = generations % 2 == 0;
                    var r = g.generate(dev.flashcl.GenerationRequest.builder().promptTokens(rng.ints(prompt, 0, vocab).toArray()).maxNewTokens(newTokens)
                            .sampling(sample ? dev.flashcl.Sampling.temperature(0.8).topK(50).topP(0.95).seed(generations) : dev.flashcl.Sampling.greedy())
                            .stopAtEos(false).build());
                    generations++;
                    tokens += r.tokens().length;
                    minuteTokens += r.tokens().length - 1;
                    minuteDecodeSeconds += r.decodeNanos() / 1e9;
                    if (System.nanoTime() >= nextReport || System.nanoTime() >= end) {
                        double minute = (System.nanoTime() - start) / 60e9;
                        Runtime rt = Runtime.getRuntime();
                        long heap = rt.totalMemory() - rt.freeMemory();
                        double tps = minuteTokens / Math.max(1e-9, minuteDecodeSeconds);
                        System.out.printf(Locale.ROOT, "| %.1f | %d | %d | %.1f | %s | %d | %s |%n", minute, generations, tokens, tps,
                                Bytes.format(ctx.bytesInUse()), dev.flashcl.internal.cl.ClKernel.live(), Bytes.format(heap));
                        rows.add(java.util.Map.of("minute", minute, "generations", generations, "new_tokens", tokens, "decode_tokens_per_s", tps,
                                "device_bytes", ctx.bytesInUse(), "kernel_objects", dev.flashcl.internal.cl.ClKernel.live(), "heap_bytes", heap));
                        minuteTokens = 0;
                        minuteDecodeSeconds = 0;
                        nextReport += 60_000_000_000L;
                    }
                }
                if (json != null) {
                    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, java.util.Map.of("device", ctx.device().name(),
                            "date", java.time.LocalDate.now().toString(), "minutes", minutes, "rows", rows));
                }
            }
            return 0;
        }
    }
}
