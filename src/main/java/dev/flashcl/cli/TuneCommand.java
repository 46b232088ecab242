package dev.flashcl.cli;

import dev.flashcl.bench.AttentionBench;
import dev.flashcl.cl.ClContext;
import dev.flashcl.kernels.PrefillTiles;
import dev.flashcl.kernels.Storage;
import dev.flashcl.kernels.Tuning;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code flashcl tune}: times every prefill tile and decode work-group the device takes on a
 * Phi-2-shaped problem and records the fastest for this device and driver; later runs use them.
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Measure the attention tile sizes and work-groups this device takes and keep the fastest (per device and driver).")
final class TuneCommand implements Callable<Integer> {
    @Option(names = "--device") String device;
    @Option(names = "--head-dim", defaultValue = "80") int headDim;
    @Option(names = "--heads", defaultValue = "32") int heads;
    @Option(names = "--storage", defaultValue = "f16") String storage;
    @Option(names = "--length", description = "Prefill length and decode cache length to time (default: 2048 on a GPU, 256 on other devices).")
    Integer length;

    @Override
    public Integer call() throws Exception {
        Storage s = GenerateCommand.parseStorage(storage);
        try (ClContext ctx = ClContext.open(device)) {
            boolean gpu = ctx.device().type() == dev.flashcl.cl.DeviceInfo.DeviceType.GPU;
            int n = length != null ? length : gpu ? 2048 : 256;
            var o = new AttentionBench.Options(1, heads, headDim, true, s, List.of(n), List.of(n), 2, gpu ? 10 : 3, false, true);
            var r = AttentionBench.run(ctx, o, line -> System.err.println("  " + line));
            // the tile is the portable kernel's: the tensor-core row (where the bench has one) is recorded, not chosen
            List<PrefillTiles> tiles = PrefillTiles.candidates(ctx.device(), headDim);
            var bestPrefill = r.prefill().stream().filter(p -> !Double.isNaN(p.ms()) && tiles.stream().anyMatch(t -> ("flash " + t).equals(p.kernel())))
                    .min(Comparator.comparingDouble(AttentionBench.PrefillRow::ms)).orElseThrow();
            var bestDecode = r.decode().stream().min(Comparator.comparingDouble(AttentionBench.DecodeRow::ms)).orElseThrow();
            PrefillTiles tile = tiles.stream().filter(t -> ("flash " + t).equals(bestPrefill.kernel())).findFirst().orElseThrow();
            int wg = Integer.parseInt(bestDecode.kernel().replaceAll(".*wg", ""));
            Map<String, Object> measured = new LinkedHashMap<>();
            measured.put("date", r.date());
            measured.put("length", n);
            r.prefill().forEach(p -> measured.put("prefill " + p.kernel().replace("flash ", "") + " ms", p.ms()));
            r.decode().forEach(d -> measured.put("decode " + d.kernel().replace("flash-decode ", "") + " ms", d.ms()));
            var file = Tuning.store(ctx.device(), headDim, s, tile, wg, measured);
            System.out.printf(Locale.ROOT, "%s: prefill tile %s (%.3f ms at N=%d), decode work-group %d (%.4f ms at L=%d); saved in %s%n",
                    ctx.device().name(), tile, bestPrefill.ms(), n, wg, bestDecode.ms(), n, file);
        }
        return 0;
    }
}
