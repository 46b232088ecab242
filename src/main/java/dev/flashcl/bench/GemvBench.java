package dev.flashcl.bench;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.phi.PhiKernels;
import dev.flashcl.internal.kernels.Storage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Phi's two fused decode GEMVs of one layer (qkv+fc1 from h, dense+fc2 into x) at a model's sizes,
 * timed by profiling events for a GEMV shape (work-group, outputs per work-group): what
 * {@code flashcl tune} compares. The weights of a layer (157 MB at Phi-2's sizes in fp16) are
 * larger than a GPU's L2, so each launch streams them from memory as a decode step does.
 */
public final class GemvBench {
    /** Device ms (median) of each GEMV and the weights' bandwidth over both. */
    public record Row(PhiKernels.Gemv shape, double qkvFc1Ms, double denseFc2Ms, double gbPerS) {}

    private GemvBench() {}

    /** Times each shape in turn on the same buffers ({@code reps} launches of each GEMV after {@code warmup}). */
    public static List<Row> run(ClContext ctx, Storage s, int hidden, int intermediate, List<PhiKernels.Gemv> shapes, int warmup, int reps,
                                java.util.function.Consumer<String> progress) {
        long h = hidden, f = intermediate, sb = s.bytes;
        List<ClBuffer> bufs = new ArrayList<>();
        try {
            ClBuffer w1 = filled(ctx, bufs, "qkv weights", 3 * h * h * sb), w2 = filled(ctx, bufs, "fc1 weights", f * h * sb);
            ClBuffer wd = filled(ctx, bufs, "dense weights", h * h * sb), wf = filled(ctx, bufs, "fc2 weights", h * f * sb);
            ClBuffer hv = filled(ctx, bufs, "h", h * sb), o = filled(ctx, bufs, "o", h * sb), g = filled(ctx, bufs, "g", f * sb);
            ClBuffer b1 = filled(ctx, bufs, "qkv bias", 3 * h * 4), b2 = filled(ctx, bufs, "fc1 bias", f * 4), bd = filled(ctx, bufs, "dense bias", h * 4);
            ClBuffer qkv = filled(ctx, bufs, "qkv", 3 * h * 4), x = filled(ctx, bufs, "x", h * 4);
            double bytes = (3 * h * h + f * h + h * h + h * f) * sb;
            List<Row> rows = new ArrayList<>();
            for (PhiKernels.Gemv shape : shapes) {
                PhiKernels k = new PhiKernels(ctx, s, shape, false);
                try (ClKernel first = k.kernel("gemv_qkv_fc1"); ClKernel second = k.kernel("gemv_dense_fc2")) {
                    first.arg("h", hv).arg("w1", w1).arg("b1", b1).arg("out1", qkv).arg("n1", 3 * hidden).arg("w2", w2).arg("b2", b2).arg("out2", g).arg("n2", intermediate).arg("k", hidden);
                    second.arg("o", o).arg("wd", wd).arg("bd", bd).arg("k1", hidden).arg("g", g).arg("w2", wf).arg("b2", bd).arg("k2", intermediate).arg("x", x).arg("n_out", hidden);
                    double[] t1 = new double[reps], t2 = new double[reps];
                    for (int r = -warmup; r < reps; r++) {
                        long a = first.launchTimed(ctx, k.gemvGlobal(3 * hidden + intermediate), new long[] {k.gemvWg()});
                        long c = second.launchTimed(ctx, new long[] {h * k.gemvWg()}, new long[] {k.gemvWg()});
                        if (r >= 0) {
                            t1[r] = a / 1e6;
                            t2[r] = c / 1e6;
                        }
                    }
                    double m1 = median(t1), m2 = median(t2);
                    Row row = new Row(shape, m1, m2, bytes / (m1 + m2) / 1e6);
                    rows.add(row);
                    progress.accept(String.format(java.util.Locale.ROOT, "GEMV %s: qkv+fc1 %.4f ms, dense+fc2 %.4f ms, %.0f GB/s", shape, m1, m2, row.gbPerS()));
                }
            }
            return rows;
        } finally {
            bufs.forEach(ClBuffer::close);
        }
    }

    /** A buffer of small finite values (0.01 in either storage's bits, so no NaN or denormal slows a device down). */
    private static ClBuffer filled(ClContext ctx, List<ClBuffer> owned, String name, long bytes) {
        ClBuffer b = ctx.allocate("GEMV bench " + name, bytes);
        owned.add(b);
        int chunk = (int) Math.min(bytes, 1 << 22);
        ByteBuffer pattern = ByteBuffer.allocateDirect(chunk).order(ByteOrder.LITTLE_ENDIAN);
        while (pattern.remaining() >= 4) pattern.putShort((short) 0x211f).putShort((short) 0x211f);   // fp16 0.01; as fp32 ~5e-19
        for (long done = 0; done < bytes; done += chunk) {
            int n = (int) Math.min(chunk, bytes - done);
            b.write(done, pattern.clear().limit(n));
        }
        return b;
    }

    /** The median (the mean of the middle two for an even count). */
    public static double median(double[] a) {
        double[] c = a.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }
}
