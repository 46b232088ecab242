package dev.flashcl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.flashcl.bench.AttentionBench;
import dev.flashcl.cl.Bytes;
import dev.flashcl.cl.ClContext;
import dev.flashcl.kernels.Storage;
import java.io.File;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flashcl bench attention}: kernel timings as a Markdown table, optionally JSON. */
@Command(name = "bench", description = "Benchmarks (device time from OpenCL profiling events).",
        subcommands = {BenchCommand.Attention.class})
final class BenchCommand {

    @Command(name = "attention", mixinStandardHelpOptions = true,
            description = "Flash vs naive attention prefill over sequence lengths, and flash decoding over cache lengths.")
    static final class Attention implements Callable<Integer> {
        @Option(names = "--device", description = "Device: index, gpu/cpu/accelerator, or a name substring.")
        String device;
        @Option(names = "--batch", defaultValue = "1") int batch;
        @Option(names = "--heads", defaultValue = "32") int heads;
        @Option(names = "--head-dim", defaultValue = "80") int headDim;
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
        @Option(names = "--warmup", defaultValue = "2") int warmup;
        @Option(names = "--repeat", defaultValue = "10") int repeat;
        @Option(names = "--no-naive", description = "Skip the naive kernel (default: time it too).")
        boolean noNaive;
        @Option(names = "--json", description = "Also write the results as JSON to this file.")
        File json;

        @Override
        public Integer call() throws Exception {
            Storage s = switch (storage.toLowerCase(Locale.ROOT)) {
                case "f16", "fp16" -> Storage.F16;
                case "f32", "fp32" -> Storage.F32;
                default -> throw new IllegalArgumentException("--storage must be f16 or f32, got " + storage);
            };
            if (repeat < 1 || warmup < 0) throw new IllegalArgumentException("--repeat must be at least 1 and --warmup at least 0");
            var opts = new AttentionBench.Options(batch, heads, headDim, !noCausal, s, lengths, decodeLengths, warmup, repeat, !noNaive);
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
}
