package dev.flashcl.cli;

import dev.flashcl.bench.AttentionBench;
import dev.flashcl.bench.GemvBench;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.phi.PhiKernels;
import dev.flashcl.internal.kernels.PrefillTiles;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.Tuning;
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
 * Phi-2-shaped attention problem, and every shape of the decode GEMVs on Phi-2's layer sizes, and
 * records the fastest for this device and driver; later runs use them.
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Measure the attention tiles, decode work-groups and GEMV shapes this device takes and keep the fastest (per device and driver).")
final class TuneCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin DeviceOption device;
    @Option(names = "--what", split = ",", defaultValue = "attention,gemv", description = "What to tune: attention, gemv or both (default: ${DEFAULT-VALUE}).")
    List<String> what;
    @Option(names = "--head-dim", defaultValue = "80", description = "Dimensions per head (default: ${DEFAULT-VALUE}, Phi-2's).") int headDim;
    @Option(names = "--heads", defaultValue = "32", description = "Attention heads (default: ${DEFAULT-VALUE}, Phi-2's).") int heads;
    @Option(names = "--storage", defaultValue = "f16", description = "Weights and KV cache on the device: f16 or f32 (default: ${DEFAULT-VALUE}).") String storage;
    @Option(names = "--length", description = "Prefill length and decode cache length to time (default: 2048 on a GPU, 256 on other devices).")
    Integer length;
    @Option(names = "--hidden", description = "GEMV sizes: hidden size (default: Phi-2's 2560 on a GPU, 256 on other devices).") Integer hidden;
    @Option(names = "--intermediate", description = "GEMV sizes: MLP size (default: 4 x hidden).") Integer intermediate;

    @Override
    public Integer call() throws Exception {
        Storage s = GenerateCommand.parseStorage(storage);
        for (String w : what) {
            if (!w.equals("attention") && !w.equals("gemv")) throw new IllegalArgumentException("--what takes attention and gemv, got '" + w + "'");
        }
        try (ClContext ctx = ClContext.open(device.spec)) {
            boolean gpu = ctx.device().type() == dev.flashcl.internal.cl.DeviceInfo.DeviceType.GPU;
            if (what.contains("attention")) attention(ctx, s, gpu);
            if (what.contains("gemv")) gemv(ctx, s, gpu);
        }
        return 0;
    }

    private void attention(ClContext ctx, Storage s, boolean gpu) throws java.io.IOException {
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

    /** The shape whose two GEMVs take the least time together; the default where it ties within 1%. */
    private void gemv(ClContext ctx, Storage s, boolean gpu) throws java.io.IOException {
        int h = hidden != null ? hidden : gpu ? 2560 : 256, f = intermediate != null ? intermediate : 4 * h;
        var shapes = PhiKernels.Gemv.candidates(ctx.device());
        var rows = GemvBench.run(ctx, s, h, f, shapes, 3, gpu ? 20 : 3, line -> System.err.println("  " + line));
        var best = rows.stream().min(Comparator.comparingDouble(r -> r.qkvFc1Ms() + r.denseFc2Ms())).orElseThrow();
        var byDefault = rows.stream().filter(r -> r.shape().equals(PhiKernels.Gemv.DEFAULT)).findFirst();
        if (byDefault.isPresent() && byDefault.get().qkvFc1Ms() + byDefault.get().denseFc2Ms() <= 1.01 * (best.qkvFc1Ms() + best.denseFc2Ms())) best = byDefault.get();
        Map<String, Object> measured = new LinkedHashMap<>();
        measured.put("date", java.time.LocalDate.now().toString());
        measured.put("hidden", h);
        measured.put("intermediate", f);
        rows.forEach(r -> measured.put("gemv " + r.shape() + " ms", r.qkvFc1Ms() + r.denseFc2Ms()));
        var file = best.shape().store(ctx.device(), s, measured);
        System.out.printf(Locale.ROOT, "%s: decode GEMVs %s (work-group / outputs), %.4f + %.4f ms a layer at hidden %d, %.0f GB/s; saved in %s%n",
                ctx.device().name(), best.shape(), best.qkvFc1Ms(), best.denseFc2Ms(), h, best.gbPerS(), file);
    }
}
