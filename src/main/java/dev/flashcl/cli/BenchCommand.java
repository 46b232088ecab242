package dev.flashcl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.flashcl.bench.AttentionBench;
import dev.flashcl.bench.GenerateBench;
import dev.flashcl.bench.SoakBench;
import dev.flashcl.bench.TokenizerBench;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.Storage;
import java.io.File;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flashcl bench attention}: kernel timings as a Markdown table, optionally JSON. */
@Command(name = "bench", description = "Benchmarks (device time from OpenCL profiling events).",
        subcommands = {BenchCommand.Attention.class, BenchCommand.TokenizerSpeed.class, BenchCommand.Generate.class, BenchCommand.Soak.class,
                BenchCommand.Serve.class, BenchCommand.Batch.class, BenchCommand.Quality.class})
final class BenchCommand {

    @Command(name = "attention", mixinStandardHelpOptions = true,
            description = "Flash vs naive attention prefill over sequence lengths, and flash decoding over cache lengths.")
    static final class Attention implements Callable<Integer> {
        @picocli.CommandLine.Mixin DeviceOption device;
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
            try (ClContext ctx = ClContext.open(device.spec)) {
                System.err.println("bench attention on " + ctx.device().name() + ": each line is one measurement");
                AttentionBench.Report r = AttentionBench.run(ctx, opts, line -> System.err.println("  " + line));
                AttentionBench.print(r, System.out);
                if (json != null) {
                    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, r);
                    System.err.println("wrote " + json);
                }
            }
            return 0;
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
            TokenizerBench.run(tokenizerDir, source, repeat, System.out);
            return 0;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Prefill tokens/s at several prompt lengths and decode tokens/s at several context lengths (medians, warm-up excluded).")
    static final class Generate implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @picocli.CommandLine.Mixin DeviceOption device;
        @Option(names = "--storage", defaultValue = "f16", description = "Weights and KV cache on the device: f16 or f32 (default: ${DEFAULT-VALUE}).") String storage;
        @Option(names = "--prompt-lengths", split = ",", defaultValue = "128,512,2048", description = "Prompt lengths to time prefill at (default: ${DEFAULT-VALUE}).") List<Integer> promptLengths;
        @Option(names = "--contexts", split = ",", defaultValue = "128,512,2000", description = "Cache lengths to time decode at (default: ${DEFAULT-VALUE}).") List<Integer> contexts;
        @Option(names = "--repeat", defaultValue = "5", description = "Timed prefill runs per length (median).") int repeat;
        @Option(names = "--steps", defaultValue = "32", description = "Timed decode steps per context (median).") int steps;
        @Option(names = "--prefill-chunk", defaultValue = "2048", description = "Prompt tokens per prefill pass (default: ${DEFAULT-VALUE}).") int chunk;
        @Option(names = "--weights", defaultValue = "stored", description = GenerateCommand.WEIGHTS_HELP) String weights;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;
        @Override
        public Integer call() throws Exception {
            var o = new GenerateBench.Options(promptLengths, contexts, repeat, steps, chunk);
            try (ClContext ctx = ClContext.open(device.spec);
                 dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, model.resolve(),
                         dev.flashcl.internal.phi.PhiModel.Options.defaults().withStorage(GenerateCommand.parseStorage(storage)).withChunk(chunk)
                                 .withWeights(GenerateCommand.weightsType(weights)), n -> {})) {
                var out = GenerateBench.run(ctx, m, o, System.out);
                if (json != null) new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, out);
            }
            return 0;
        }
    }

    @Command(name = "batch", mixinStandardHelpOptions = true,
            description = "The batched decode step of continuous batching alone: step time and tokens/s at several row counts, every row at one context, "
                    + "then the largest step traced kernel by kernel.")
    static final class Batch implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @picocli.CommandLine.Mixin DeviceOption device;
        @Option(names = "--rows", split = ",", defaultValue = "1,8,32,64", description = "Rows a step, one measurement each (default: ${DEFAULT-VALUE}).") List<Integer> rows;
        @Option(names = "--context", defaultValue = "640", description = "Positions in each row's cache (default: ${DEFAULT-VALUE}).") int context;
        @Option(names = "--steps", defaultValue = "16", description = "Timed steps per row count, median (default: ${DEFAULT-VALUE}).") int steps;
        @Option(names = "--max-batch", defaultValue = "64", description = "The batch's capacity (default: ${DEFAULT-VALUE}, the server's).") int maxBatch;
        @Option(names = "--page-size", defaultValue = "16", description = "Positions per KV page (default: ${DEFAULT-VALUE}).") int pageSize;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;

        @Override
        public Integer call() throws Exception {
            try (ClContext ctx = ClContext.open(device.spec);
                 dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, model.resolve(), dev.flashcl.internal.phi.PhiModel.Options.defaults(), n -> {})) {
                var out = dev.flashcl.bench.BatchBench.run(ctx, m, new dev.flashcl.bench.BatchBench.Options(rows, context, steps, maxBatch, pageSize), System.out);
                if (json != null) new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, out);
            }
            return 0;
        }
    }

    @Command(name = "soak", mixinStandardHelpOptions = true,
            description = "Generate for a while (random prompt lengths up to the context, sampling and greedy) and report, each minute, "
                    + "tokens/s, device memory held and live kernel objects: they should stay flat.")
    static final class Soak implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @picocli.CommandLine.Mixin DeviceOption device;
        @Option(names = "--minutes", defaultValue = "20", description = "How long to run (default: ${DEFAULT-VALUE}).") double minutes;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;

        @Override
        public Integer call() throws Exception {
            try (ClContext ctx = ClContext.open(device.spec);
                 dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, model.resolve(), dev.flashcl.internal.phi.PhiModel.Options.defaults(), n -> {})) {
                var rows = SoakBench.run(ctx, m, minutes, System.out);
                if (json != null) {
                    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, java.util.Map.of("device", ctx.device().name(),
                            "date", java.time.LocalDate.now().toString(), "minutes", minutes, "rows", rows));
                }
            }
            return 0;
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Load on an OpenAI-compatible server (flashcl serve started here, or --url): aggregate tokens/s, time to first token and "
                    + "inter-token latency (p50/p99) at each number of concurrent streaming clients.")
    static final class Serve implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @picocli.CommandLine.Mixin DeviceOption device;
        @Option(names = "--url", description = "Measure this running server instead of starting one (e.g. http://127.0.0.1:8080).") java.net.URI url;
        @Option(names = "--api-key", description = "The server's API key, if it has one.") String apiKey;
        @Option(names = "--model-name", defaultValue = "bench", description = "The model name to send (a server started here serves it; default: ${DEFAULT-VALUE}).")
        String modelName;
        @Option(names = "--clients", split = ",", defaultValue = "1,8,32,64", description = "Concurrent clients, one measurement each (default: ${DEFAULT-VALUE}).")
        List<Integer> clients;
        @Option(names = "--prompt-tokens", defaultValue = "512", description = "Prompt length in tokens (default: ${DEFAULT-VALUE}).") int promptTokens;
        @Option(names = "--new-tokens", defaultValue = "256", description = "New tokens a request, eos ignored (default: ${DEFAULT-VALUE}).") int newTokens;
        @Option(names = "--requests-per-client", defaultValue = "1", description = "Requests each client sends at a level (default: ${DEFAULT-VALUE}).")
        int perClient;
        @Option(names = "--shared-prefix", defaultValue = "0", description = "The first this many prompt tokens are the same in every request, "
                + "as a system prompt is (default: ${DEFAULT-VALUE}).") int sharedPrefix;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;

        @Override
        public Integer call() throws Exception {
            if (sharedPrefix < 0 || sharedPrefix > promptTokens) throw new IllegalArgumentException("--shared-prefix must be 0.." + promptTokens + " (--prompt-tokens), got " + sharedPrefix);
            if (promptTokens < 1 || newTokens < 1 || perClient < 1 || clients.stream().anyMatch(c -> c < 1)) {
                throw new IllegalArgumentException("--prompt-tokens, --new-tokens, --requests-per-client and --clients must be at least 1");
            }
            java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
            out.put("date", java.time.LocalDate.now().toString());
            out.put("prompt_tokens", promptTokens);
            out.put("new_tokens", newTokens);
            out.put("shared_prefix", sharedPrefix);
            if (url != null) {
                out.put("url", url.toString());
                out.put("points", dev.flashcl.bench.ServeBench.run(options(url, 50000), System.out));
            } else {
                int maxClients = clients.stream().mapToInt(Integer::intValue).max().orElse(1);
                try (dev.flashcl.FlashCl engine = dev.flashcl.FlashCl.open(device.spec);
                     dev.flashcl.LanguageModel m = engine.load(model.resolve(), dev.flashcl.LoadOptions.builder().contextLength(promptTokens + newTokens + 8).build())) {
                    int vocab = Math.min(m.tokenizer().map(t -> t.size()).orElse(m.info().vocabSize()), m.info().vocabSize());
                    var r = m.generate(dev.flashcl.GenerationRequest.builder().promptTokens(new java.util.SplittableRandom(3).ints(promptTokens, 0, vocab).toArray())
                            .maxNewTokens(newTokens).stopAtEos(false).build());
                    System.out.printf(java.util.Locale.ROOT, "library, batch 1: prefill %.0f tokens/s, decode %.1f tokens/s on %s%n", r.prefillTokensPerSecond(),
                            r.decodeTokensPerSecond(), engine.device().name());
                    out.put("device", engine.device().name());
                    out.put("library_batch1_decode_tokens_per_s", r.decodeTokensPerSecond());
                    try (var server = new dev.flashcl.server.FlashClServer(m, new dev.flashcl.server.FlashClServer.Options("127.0.0.1", 0, modelName, null,
                            Math.max(1, maxClients), Math.max(1, maxClients), 4_000_000, maxClients + 16))) {
                        out.put("points", dev.flashcl.bench.ServeBench.run(options(java.net.URI.create("http://127.0.0.1:" + server.port()), vocab), System.out));
                        out.put("device_bytes", m.info().deviceBytes());
                    }
                }
            }
            if (json != null) new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, out);
            return 0;
        }

        private dev.flashcl.bench.ServeBench.Options options(java.net.URI base, int vocab) {
            return new dev.flashcl.bench.ServeBench.Options(base, apiKey, modelName, clients, promptTokens, newTokens, perClient, vocab, sharedPrefix);
        }
    }

    @Command(name = "quality", mixinStandardHelpOptions = true,
            description = "Perplexity of held-out text with each weight format, and against the weights as stored the mean KL divergence and top-1 agreement "
                    + "of the next-token distributions.")
    static final class Quality implements Callable<Integer> {
        @picocli.CommandLine.Mixin ModelOptions model;
        @picocli.CommandLine.Mixin DeviceOption device;
        @Option(names = "--weights", split = ",", defaultValue = "stored,q8_0,q4_0,q4_0+q8_0",
                description = "Variants: stored, q8_0, q4_0, q4_0+q8_0 (layers + lm_head) or another model file such as a GGUF of other block types (default: ${DEFAULT-VALUE}); the first is the baseline.")
        List<String> weights;
        @Option(names = "--file-list", required = true, description = "A file naming the text files, one path a line.") java.nio.file.Path fileList;
        @Option(names = "--window", defaultValue = "512", description = "Tokens per window (default: ${DEFAULT-VALUE}).") int window;
        @Option(names = "--max-tokens", defaultValue = "65536", description = "Tokens of text at most (default: ${DEFAULT-VALUE}).") int maxTokens;
        @Option(names = "--json", description = "Also write the results as JSON to this file.") File json;

        @Override
        public Integer call() throws Exception {
            List<dev.flashcl.bench.QualityBench.Variant> variants = Cli.option("--weights", () -> weights.stream().map(dev.flashcl.bench.QualityBench.Variant::parse).toList());
            List<java.nio.file.Path> files = java.nio.file.Files.readAllLines(fileList).stream().map(String::strip).filter(l -> !l.isEmpty()).map(java.nio.file.Path::of).toList();
            if (window < 2) throw new IllegalArgumentException("--window must be at least 2, got " + window);
            try (ClContext ctx = ClContext.open(device.spec)) {
                var out = dev.flashcl.bench.QualityBench.run(ctx, model.resolve(), variants, files, window, maxTokens, System.out);
                if (json != null) new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, out);
            }
            return 0;
        }
    }
}
