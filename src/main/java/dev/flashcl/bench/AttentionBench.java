package dev.flashcl.bench;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceMemoryException;
import dev.flashcl.internal.cl.KernelTimer;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.kernels.NaiveAttention;
import dev.flashcl.internal.kernels.PrefillTiles;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TensorView;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Times the attention kernels with OpenCL profiling events: prefill (flash, every tile the device
 * takes, and naive) over sequence lengths, decode over cache lengths. Device time per call is the
 * median over {@code repeat} runs after {@code warmup}; memory is the most device memory flashcl
 * held during the variant's runs (inputs, outputs and any scratch such as the naive score matrix).
 */
public final class AttentionBench {
    public record Options(int batch, int heads, int headDim, boolean causal, Storage storage,
                          List<Integer> lengths, List<Integer> decodeLengths, int warmup, int repeat, boolean naive, boolean portableTiles) {}

    /** One prefill measurement; {@code note} says why there is no time (out of memory). */
    public record PrefillRow(String kernel, int n, double ms, double tflops, long deviceBytes, String note) {
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "prefill N=%d %s: %.3f ms, %.1f TFLOP/s, %s %s", n, kernel, ms, tflops,
                    dev.flashcl.internal.cl.Bytes.format(deviceBytes), note);
        }
    }

    public record DecodeRow(String kernel, int kvLen, int splitLen, double ms, double gbPerS, long bytesRead, long deviceBytes) {
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "decode L=%d %s split %d: %.4f ms, %.0f GB/s", kvLen, kernel, splitLen, ms, gbPerS);
        }
    }

    public record Report(String device, String driver, String platform, String date, Options options,
                         List<PrefillRow> prefill, List<DecodeRow> decode) {}

    private AttentionBench() {}

    /** FLOPs of QK^T and PV: 4 N^2 D per head, halved under the causal mask (PyTorch's convention). */
    public static double flops(int batch, int heads, int n, int headDim, boolean causal) {
        return 4.0 * n * n * headDim * heads * batch * (causal ? 0.5 : 1.0);
    }

    public static Report run(ClContext ctx, Options o, Consumer<String> progress) {
        List<PrefillRow> prefill = new ArrayList<>();
        for (int n : o.lengths()) {
            AttentionDims dims = new AttentionDims(o.batch(), o.heads(), n, n, o.headDim());
            try (ClBuffer q = random(ctx, "q", dims, n, o.storage(), 1);
                 ClBuffer k = random(ctx, "k", dims, n, o.storage(), 2);
                 ClBuffer v = random(ctx, "v", dims, n, o.storage(), 3);
                 ClBuffer out = ctx.allocate("o", tensorBytes(dims, n, o.storage()))) {
                TensorView qv = TensorView.contiguous(q, o.heads(), n, o.headDim());
                TensorView kv = TensorView.contiguous(k, o.heads(), n, o.headDim());
                TensorView vv = TensorView.contiguous(v, o.heads(), n, o.headDim());
                TensorView ov = TensorView.contiguous(out, o.heads(), n, o.headDim());
                double flops = flops(o.batch(), o.heads(), n, o.headDim(), o.causal());
                for (PrefillTiles t : o.portableTiles() ? PrefillTiles.candidates(ctx.device(), o.headDim()) : List.<PrefillTiles>of()) {
                    long t0 = System.nanoTime();
                    try (FlashAttention fa = new FlashAttention(ctx, o.storage(), o.headDim(), t, FlashAttention.defaultDecodeWg(ctx.device(), o.headDim()))
                            .tensorCores(false).build(true, false)) {
                        if (n == o.lengths().get(0)) progress.accept(String.format("built flash %s in %d ms", t, (System.nanoTime() - t0) / 1_000_000));
                        ctx.resetPeak();
                        double ms = median(o, timer -> fa.prefill(qv, kv, vv, ov, null, dims, o.causal(), dims.defaultScale(), timer));
                        prefill.add(report(progress, new PrefillRow("flash " + t, n, ms, flops / ms / 1e9, ctx.peakBytes(), "")));
                    }
                }
                try (FlashAttention fa = new FlashAttention(ctx, o.storage(), o.headDim()).build(true, false)) {   // the tensor-core kernel, where there is one
                    if (fa.usesTensorCores()) {
                        ctx.resetPeak();
                        double ms = median(o, timer -> fa.prefill(qv, kv, vv, ov, null, dims, o.causal(), dims.defaultScale(), timer));
                        prefill.add(report(progress, new PrefillRow("flash tensor cores", n, ms, flops / ms / 1e9, ctx.peakBytes(), "")));
                    }
                }
                if (o.naive()) {
                    try (NaiveAttention na = new NaiveAttention(ctx, o.storage(), o.headDim())) {
                        ctx.resetPeak();
                        int repeat = NaiveAttention.scoreBytes(dims) > (1L << 32) ? Math.min(o.repeat(), 3) : o.repeat();
                        Options slow = new Options(o.batch(), o.heads(), o.headDim(), o.causal(), o.storage(), o.lengths(),
                                o.decodeLengths(), Math.min(o.warmup(), 1), repeat, true, o.portableTiles());
                        double ms = median(slow, timer -> na.run(qv, kv, vv, ov, null, dims, o.causal(), dims.defaultScale(), timer));
                        prefill.add(report(progress, new PrefillRow("naive", n, ms, flops / ms / 1e9, ctx.peakBytes(), "")));
                    } catch (DeviceMemoryException e) {
                        prefill.add(report(progress, new PrefillRow("naive", n, Double.NaN, Double.NaN,
                                ctx.bytesInUse() + NaiveAttention.scoreBytes(dims), "out of memory: " + e.getMessage())));
                    }
                }
            }
        }
        List<DecodeRow> decode = new ArrayList<>();
        for (int len : o.decodeLengths()) {
            AttentionDims dims = new AttentionDims(o.batch(), o.heads(), 1, len, o.headDim());
            try (ClBuffer q = random(ctx, "q", dims, 1, o.storage(), 4);
                 ClBuffer k = random(ctx, "k cache", dims, len, o.storage(), 5);
                 ClBuffer v = random(ctx, "v cache", dims, len, o.storage(), 6);
                 ClBuffer out = ctx.allocate("o", tensorBytes(dims, 1, o.storage()))) {
                TensorView qv = TensorView.contiguous(q, o.heads(), 1, o.headDim());
                TensorView kv = TensorView.contiguous(k, o.heads(), len, o.headDim());
                TensorView vv = TensorView.contiguous(v, o.heads(), len, o.headDim());
                TensorView ov = TensorView.contiguous(out, o.heads(), 1, o.headDim());
                long bytes = 2 * tensorBytes(dims, len, o.storage()) + 2 * tensorBytes(dims, 1, o.storage());
                for (int wg : new int[] {32, 64, 128}) {
                    if (!FlashAttention.decodeFits(ctx.device(), o.headDim(), wg)) continue;
                    try (FlashAttention fa = new FlashAttention(ctx, o.storage(), o.headDim(), PrefillTiles.defaultFor(ctx.device(), o.headDim()), wg)
                            .build(false, true)) {
                        ctx.resetPeak();
                        int split = fa.splitLength(dims);
                        double ms = median(o, timer -> fa.decode(qv, kv, vv, ov, null, dims, dims.defaultScale(), timer));
                        decode.add(report(progress, new DecodeRow("flash-decode wg" + wg, len, split, ms, bytes / ms / 1e6, bytes, ctx.peakBytes())));
                    }
                }
            }
        }
        var d = ctx.device();
        return new Report(d.name(), d.driverVersion(), d.platformName(), LocalDate.now().toString(), o, prefill, decode);
    }

    private interface Timed {
        void run(KernelTimer timer);
    }

    private static double median(Options o, Timed call) {
        KernelTimer timer = new KernelTimer();
        for (int i = 0; i < o.warmup(); i++) call.run(timer);
        double[] ms = new double[o.repeat()];
        for (int i = 0; i < ms.length; i++) {
            timer.reset();
            call.run(timer);
            ms[i] = timer.nanos() / 1e6;
        }
        Arrays.sort(ms);
        return ms[ms.length / 2];
    }

    private static <T> T report(Consumer<String> progress, T row) {
        progress.accept(row.toString());
        return row;
    }

    static long tensorBytes(AttentionDims dims, int seq, Storage s) {
        return (long) dims.batch() * dims.heads() * seq * dims.headDim() * s.bytes;
    }

    /** A tensor of uniform values in [-1, 1) (timing on zeros can flatter a kernel). */
    private static ClBuffer random(ClContext ctx, String name, AttentionDims dims, int seq, Storage s, long seed) {
        int n = Math.toIntExact(tensorBytes(dims, seq, s) / s.bytes);
        SplittableRandom rnd = new SplittableRandom(seed);
        ClBuffer b = ctx.allocate(name, (long) n * s.bytes);
        if (s == Storage.F32) {
            float[] data = new float[n];
            for (int i = 0; i < n; i++) data[i] = (float) rnd.nextDouble(-1, 1);
            b.write(data);
        } else {
            short[] data = new short[n];
            for (int i = 0; i < n; i++) data[i] = dev.flashcl.internal.kernels.Half.fromFloat((float) rnd.nextDouble(-1, 1));
            b.write(data);
        }
        return b;
    }

    /** The report as Markdown tables: prefill by length and kernel, decode by cache length. */
    public static void print(Report r, java.io.PrintStream print) {
        var o = r.options();
        print.printf("%n%s (%s, driver %s), %s%n", r.device(), r.platform(), r.driver(), r.date());
        print.printf("Prefill: batch %d, %d heads, head_dim %d, %s, %s storage; median of %d runs%n%n",
                o.batch(), o.heads(), o.headDim(), o.causal() ? "causal" : "no mask", o.storage().suffix, o.repeat());
        print.println("| N | kernel | ms | TFLOP/s | device memory | note |");
        print.println("|---:|---|---:|---:|---:|---|");
        for (var row : r.prefill()) {
            print.printf(Locale.ROOT, "| %d | %s | %s | %s | %s | %s |%n", row.n(), row.kernel(),
                    Double.isNaN(row.ms()) ? "-" : String.format(Locale.ROOT, "%.3f", row.ms()),
                    Double.isNaN(row.tflops()) ? "-" : String.format(Locale.ROOT, row.tflops() < 1 ? "%.4f" : "%.1f", row.tflops()),
                    Bytes.format(row.deviceBytes()), row.note());
        }
        if (!r.decode().isEmpty()) {
            print.printf("%nDecode: one query per head against L keys (K and V read once)%n%n");
            print.println("| L | kernel | split | ms | GB/s | bytes read |");
            print.println("|---:|---|---:|---:|---:|---:|");
            for (var row : r.decode()) {
                print.printf(Locale.ROOT, "| %d | %s | %d | %.4f | %.0f | %s |%n", row.kvLen(), row.kernel(), row.splitLen(),
                        row.ms(), row.gbPerS(), Bytes.format(row.bytesRead()));
            }
        }
    }
}
