package dev.flashcl.cli;

import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.kernels.NaiveAttention;
import dev.flashcl.internal.kernels.PrefillTiles;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.PhiAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Compiles every attention kernel variant for a device into the kernel cache: NVIDIA's compiler
 * takes up to 45 s per prefill variant, the cache makes later runs start at once. One process
 * builds one variant at a time (NVIDIA's driver crashed, SIGSEGV, when one process built several
 * at once); for speed, run shards in separate processes: {@code --shard 0/8} ... {@code --shard 7/8}.
 */
@Command(name = "build-kernels", mixinStandardHelpOptions = true,
        description = "Compile every kernel variant for the device into the kernel cache (~/.cache/flashcl/kernels).")
final class BuildKernelsCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin DeviceOption device;
    @Option(names = "--head-dims", split = ",", defaultValue = "64,80,96,128", description = "Head dimensions to build for (default: ${DEFAULT-VALUE}).") List<Integer> headDims;
    @Option(names = "--shard", defaultValue = "0/1", description = "I/N: build every N-th variant from the I-th (default: all).")
    String shard;

    @Override
    public Integer call() throws Exception {
        try (ClContext ctx = ClContext.open(device.spec)) {
            List<Callable<String>> jobs = new ArrayList<>();
            for (int hd : headDims) {
                AttentionDims.checkHeadDim(hd);
                for (Storage s : Storage.values()) {
                    for (PrefillTiles t : PrefillTiles.candidates(ctx.device(), hd)) {
                        jobs.add(() -> {
                            new FlashAttention(ctx, s, hd, t, FlashAttention.defaultDecodeWg(ctx.device(), hd)).tensorCores(false).build(true, false).close();
                            return "flash prefill " + s.suffix + " head_dim " + hd + " tiles " + t;
                        });
                    }
                    if (s == Storage.F16 && hd % 16 == 0 && ctx.tensorCores()) {
                        jobs.add(() -> {   // the default tiles' program with the tensor-core kernel beside them
                            new FlashAttention(ctx, s, hd, PrefillTiles.defaultFor(ctx.device(), hd), FlashAttention.defaultDecodeWg(ctx.device(), hd)).build(true, false).close();
                            return "flash prefill " + s.suffix + " head_dim " + hd + " tensor cores";
                        });
                    }
                    for (int wg : new int[] {32, 64, 128}) {
                        if (!FlashAttention.decodeFits(ctx.device(), hd, wg)) continue;
                        jobs.add(() -> {
                            try (FlashAttention fa = new FlashAttention(ctx, s, hd, PrefillTiles.defaultFor(ctx.device(), hd), wg).build(false, true)) {
                                new PhiAttention(ctx, fa);   // Phi's decode with the rotary embedding folded in
                            }
                            return "flash decode and Phi's rope decode " + s.suffix + " head_dim " + hd + " work-group " + wg;
                        });
                    }
                    jobs.add(() -> {
                        new NaiveAttention(ctx, s, hd).close();
                        return "naive " + s.suffix + " head_dim " + hd;
                    });
                }
            }
            String[] parts = shard.split("/");
            int index = Integer.parseInt(parts[0].trim());
            int count = Integer.parseInt(parts[1].trim());
            if (count < 1 || index < 0 || index >= count) throw new IllegalArgumentException("--shard must be I/N with 0 <= I < N, got " + shard);
            long t0 = System.nanoTime();
            int built = 0;
            for (int i = index; i < jobs.size(); i += count) {
                String what = jobs.get(i).call();
                built++;
                System.err.printf("[%d/%d] %s (%.0f s)%n", i + 1, jobs.size(), what, (System.nanoTime() - t0) / 1e9);
            }
            System.out.printf("built %d of %d kernel variants for %s in %.0f s%n", built, jobs.size(), ctx.device().name(),
                    (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}
