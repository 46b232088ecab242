package dev.flashcl.cli;

import dev.flashcl.cl.ClContext;
import dev.flashcl.kernels.AttentionDims;
import dev.flashcl.kernels.FlashAttention;
import dev.flashcl.kernels.NaiveAttention;
import dev.flashcl.kernels.PrefillTiles;
import dev.flashcl.kernels.Storage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Compiles every attention kernel variant for a device into the kernel cache, several at once:
 * NVIDIA's compiler takes tens of seconds per variant, the cache makes later runs start at once.
 */
@Command(name = "build-kernels", mixinStandardHelpOptions = true,
        description = "Compile every kernel variant for the device into the kernel cache (~/.cache/flashcl/kernels), in parallel.")
final class BuildKernelsCommand implements Callable<Integer> {
    @Option(names = "--device", description = "Device: index, gpu/cpu/accelerator, or a name substring.")
    String device;
    @Option(names = "--head-dims", split = ",", defaultValue = "64,80,96,128") List<Integer> headDims;
    @Option(names = "--threads", defaultValue = "0", description = "Compiler threads (default: one per processor).")
    int threads;

    @Override
    public Integer call() throws Exception {
        try (ClContext ctx = ClContext.open(device)) {
            List<Callable<String>> jobs = new ArrayList<>();
            for (int hd : headDims) {
                AttentionDims.checkHeadDim(hd);
                for (Storage s : Storage.values()) {
                    for (PrefillTiles t : PrefillTiles.candidates(ctx.device(), hd)) {
                        jobs.add(() -> {
                            new FlashAttention(ctx, s, hd, t, FlashAttention.DEFAULT_DECODE_WG).close();
                            return "flash prefill " + s.suffix + " head_dim " + hd + " tiles " + t;
                        });
                    }
                    for (int wg : new int[] {32, 64, 128}) {
                        if (!FlashAttention.decodeFits(ctx.device(), hd, wg)) continue;
                        jobs.add(() -> {
                            new FlashAttention(ctx, s, hd, PrefillTiles.defaultFor(ctx.device(), hd), wg).close();
                            return "flash decode " + s.suffix + " head_dim " + hd + " work-group " + wg;
                        });
                    }
                    jobs.add(() -> {
                        new NaiveAttention(ctx, s, hd).close();
                        return "naive " + s.suffix + " head_dim " + hd;
                    });
                }
            }
            int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
            ExecutorService pool = Executors.newFixedThreadPool(n);
            AtomicInteger done = new AtomicInteger();
            long t0 = System.nanoTime();
            try {
                List<Future<String>> results = new ArrayList<>();
                for (Callable<String> job : jobs) {
                    results.add(pool.submit(() -> {
                        String what = job.call();
                        System.err.printf("[%d/%d] %s (%.0f s)%n", done.incrementAndGet(), jobs.size(), what, (System.nanoTime() - t0) / 1e9);
                        return what;
                    }));
                }
                for (Future<String> f : results) f.get();
            } finally {
                pool.shutdown();
            }
            System.out.printf("built %d kernel variants for %s in %.0f s with %d threads%n", jobs.size(), ctx.device().name(),
                    (System.nanoTime() - t0) / 1e9, n);
        }
        return 0;
    }
}
