package dev.flashcl.bench;

import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.phi.PhiModel;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * {@code flashcl bench soak}: generation for a while (random prompt lengths up to the context,
 * half sampled, half greedy), with a row each minute of tokens/s, device memory held, live kernel
 * objects and JVM heap: all but the speed should stay flat.
 */
public final class SoakBench {
    private SoakBench() {}

    /** Generates for {@code minutes}; prints a table row each minute and returns the rows. */
    public static List<java.util.Map<String, Object>> run(ClContext ctx, PhiModel m, double minutes, PrintStream print) {
        java.util.SplittableRandom rng = new java.util.SplittableRandom(20261125);
        int vocab = Math.min(m.config().vocabSize(), 50000), context = m.contextLength();
        long end = System.nanoTime() + (long) (minutes * 60e9), start = System.nanoTime(), nextReport = start + 60_000_000_000L;
        long generations = 0, tokens = 0, minuteTokens = 0;
        double minuteDecodeSeconds = 0;
        List<java.util.Map<String, Object>> rows = new java.util.ArrayList<>();
        print.println("| minute | generations | new tokens | decode tokens/s | device bytes held | kernel objects | JVM heap used |");
        print.println("|---:|---:|---:|---:|---:|---:|---:|");
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
                print.printf(Locale.ROOT, "| %.1f | %d | %d | %.1f | %s | %d | %s |%n", minute, generations, tokens, tps,
                        Bytes.format(ctx.bytesInUse()), dev.flashcl.internal.cl.ClKernel.live(), Bytes.format(heap));
                rows.add(java.util.Map.of("minute", minute, "generations", generations, "new_tokens", tokens, "decode_tokens_per_s", tps,
                        "device_bytes", ctx.bytesInUse(), "kernel_objects", dev.flashcl.internal.cl.ClKernel.live(), "heap_bytes", heap));
                minuteTokens = 0;
                minuteDecodeSeconds = 0;
                nextReport += 60_000_000_000L;
            }
        }
        return rows;
    }
}
