package dev.flashcl.internal.check;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TensorView;
import dev.flashcl.internal.check.AttentionReference.HostTensor;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Runs one attention case on the device and compares it with {@link AttentionReference}.
 *
 * <p>Tolerances, from forward error analysis with u = 2^-24 (fp32 unit roundoff): a score
 * s_j = scale q.k computed in fp32 is off by about sqrt(D) u (1 + c), where c = scale sum_d |q_d k_d|
 * bounds the terms' magnitude; exp turns that into the same relative error of p_j, the sum over kv_len
 * keys adds about sqrt(kv_len) u, and the output, a convex mix of V rows, inherits both times max|v|.
 * We allow 8x that: delta = 8 u (sqrt(D) (1 + c) + sqrt(kv_len)) max|v|. fp16 storage then rounds the
 * output once more, by at most 2^-11 |o| (half an ulp) or 2^-25 below the normal range: the fp16
 * bound is delta + 2^-11 |ref| + 2^-25. Inputs are rounded to the storage type before the reference
 * sees them, so input rounding is not counted as error.
 *
 * <p>FlashAttention's own bar comes on top: the flash kernel's error may be at most twice the naive
 * kernel's (same storage, same inputs), see {@link #assertNoWorseThanNaive}.
 */
public final class AttentionCheck {
    static final double U = 0x1p-24;

    private AttentionCheck() {}

    /** Device-side copies of q, k, v plus their host twins. */
    public record Inputs(HostTensor q, HostTensor k, HostTensor v, GuardedTensor qd, GuardedTensor kd, GuardedTensor vd,
                  TensorView qv, TensorView kv, TensorView vv) implements AutoCloseable {
        @Override
        public void close() {
            qd.close();
            kd.close();
            vd.close();
        }
    }

    public static Inputs inputs(ClContext ctx, AttentionDims dims, Storage storage, Layout layout, float qkScale, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        HostTensor q = random(rnd, layout, dims.batch(), dims.heads(), dims.qLen(), dims.headDim(), qkScale, storage);
        HostTensor k = random(rnd, layout, dims.batch(), dims.heads(), dims.kvLen(), dims.headDim(), qkScale, storage);
        HostTensor v = random(rnd, layout, dims.batch(), dims.heads(), dims.kvLen(), dims.headDim(), 1f, storage);
        GuardedTensor qd = GuardedTensor.input(ctx, "q", storage, q.data());
        GuardedTensor kd = GuardedTensor.input(ctx, "k", storage, k.data());
        GuardedTensor vd = GuardedTensor.input(ctx, "v", storage, v.data());
        return new Inputs(q, k, v, qd, kd, vd, view(qd, q), view(kd, k), view(vd, v));
    }

    public static TensorView view(GuardedTensor t, HostTensor h) {
        return t.view(h.batchStride(), h.headStride(), h.rowStride(), h.offset());
    }

    /** Uniform values in [-scale, scale), rounded to what the storage type holds. */
    public static HostTensor random(SplittableRandom rnd, Layout layout, int batch, int heads, int seq, int headDim, float scale, Storage storage) {
        int[] s = layout.strides(heads, seq, headDim);
        float[] data = new float[layout.elements(batch, heads, seq, headDim)];
        for (int i = 0; i < data.length; i++) {
            float x = (float) (rnd.nextDouble(-1, 1) * scale);
            data[i] = storage == Storage.F16 ? Half.round(x) : x;
        }
        return new HostTensor(data, s[0], s[1], s[2], s[3]);
    }

    /** An output tensor in the given layout, every element poisoned. */
    public static GuardedTensor output(ClContext ctx, Storage storage, Layout layout, AttentionDims dims, int seq) {
        return GuardedTensor.output(ctx, "o", storage, layout.elements(dims.batch(), dims.heads(), seq, dims.headDim()));
    }

    public static TensorView outputView(GuardedTensor o, Layout layout, AttentionDims dims, int seq) {
        int[] s = layout.strides(dims.heads(), seq, dims.headDim());
        return o.view(s[1], s[2], s[3], s[0]);
    }

    /**
     * Reads an output in {@code layout}, checks that every element outside the view (and the
     * guards) kept its poison, and returns the view's elements as [batch, heads, seq, head_dim].
     */
    public static float[] readOutput(GuardedTensor o, Layout layout, AttentionDims dims, int seq, String what) {
        float[] all = o.readChecked(what);
        int[] s = layout.strides(dims.heads(), seq, dims.headDim());
        int hd = dims.headDim();
        float[] out = new float[dims.batch() * dims.heads() * seq * hd];
        boolean[] inView = new boolean[all.length];
        for (int b = 0; b < dims.batch(); b++)
            for (int h = 0; h < dims.heads(); h++)
                for (int r = 0; r < seq; r++)
                    for (int d = 0; d < hd; d++) {
                        int at = s[0] + b * s[1] + h * s[2] + r * s[3] + d;
                        inView[at] = true;
                        out[((b * dims.heads() + h) * seq + r) * hd + d] = all[at];
                    }
        for (int i = 0; i < all.length; i++) {
            if (!inView[i] && !Float.isNaN(all[i])) throw new CheckFailure(what + ": element " + i + " outside the output view was written (" + all[i] + ")");
        }
        return out;
    }

    /** Largest |got - ref| over all elements; NaN if any element is NaN or infinite. */
    public static double maxError(float[] got, double[] ref) {
        double worst = 0;
        for (int i = 0; i < got.length; i++) {
            if (!Float.isFinite(got[i])) return Double.NaN;
            worst = Math.max(worst, Math.abs(got[i] - ref[i]));
        }
        return worst;
    }

    /** Every element finite and within the bound described in the class comment; returns the worst element. */
    public static Measure assertClose(String what, float[] got, AttentionReference.Result ref, AttentionDims dims, int seq,
                            Storage storage, double vMax) {
        int hd = dims.headDim();
        if (ref.o().length != got.length) throw new CheckFailure(what + ": output size " + got.length + ", want " + ref.o().length);
        double worstRatio = -1;
        int worst = -1;
        for (int i = 0; i < got.length; i++) {
            int row = i / hd;
            double delta = 8 * U * (Math.sqrt(hd) * (1 + ref.cond()[row]) + Math.sqrt(dims.kvLen())) * vMax;
            double tol = storage == Storage.F16 ? delta + 0x1p-11 * Math.abs(ref.o()[i]) + 0x1p-25 : delta;
            double err = Math.abs(got[i] - ref.o()[i]);
            if (!Float.isFinite(got[i])) {
                throw new CheckFailure(what + ": element " + index(i, dims, seq) + " is " + got[i] + " (expected " + ref.o()[i] + "); NaN here may be unwritten poison",
                        new Measure(Double.NaN, 0, index(i, dims, seq)));
            }
            if (err / tol > worstRatio) {
                worstRatio = err / tol;
                worst = i;
            }
        }
        double err = Math.abs(got[worst] - ref.o()[worst]);
        Measure m = new Measure(err, worstRatio == 0 ? tolAt(worst, ref, dims, storage, vMax) : err / worstRatio, index(worst, dims, seq));
        if (worstRatio > 1) {
            int row = worst / hd;
            throw new CheckFailure(String.format(Locale.ROOT, "%s: worst element %s got %.9g expected %.9g (error %.3g, bound %.3g; row condition %.3g)",
                    what, index(worst, dims, seq), got[worst], ref.o()[worst], err, m.bound(), ref.cond()[row]), m);
        }
        return m;
    }

    private static double tolAt(int i, AttentionReference.Result ref, AttentionDims dims, Storage storage, double vMax) {
        double delta = 8 * U * (Math.sqrt(dims.headDim()) * (1 + ref.cond()[i / dims.headDim()]) + Math.sqrt(dims.kvLen())) * vMax;
        return storage == Storage.F16 ? delta + 0x1p-11 * Math.abs(ref.o()[i]) + 0x1p-25 : delta;
    }

    /**
     * FlashAttention's bar: the flash kernel's error at most 2x the naive kernel's, both against the
     * fp64 reference. Measured as the normalized error ||o - ref|| / ||ref|| over the whole output,
     * which, unlike the single largest element, does not swing with the rounding of two or three
     * dominant scores when softmax is nearly one-hot. The u floor admits cases both get exact (kv_len 1).
     */
    public static Measure assertNoWorseThanNaive(String what, float[] flash, float[] naive, double[] ref, AttentionDims dims, int seq) {
        double flashErr = normalizedError(flash, ref);
        double naiveErr = normalizedError(naive, ref);
        int worst = 0;   // flash's largest |error|, which the report names
        for (int i = 0; i < flash.length; i++) {
            if (!(Math.abs(flash[i] - ref[i]) <= Math.abs(flash[worst] - ref[worst]))) worst = i;
        }
        String at = flash.length == 0 ? "" : index(worst, dims, seq);
        Measure m = new Measure(flashErr, 2 * naiveErr + U, at);
        if (!(flashErr <= 2 * naiveErr + U)) {
            throw new CheckFailure(String.format(Locale.ROOT, "%s: flash normalized error %.3g exceeds 2 x naive's %.3g; worst element %s got %.9g expected %.9g (max abs errors: flash %.3g, naive %.3g)",
                    what, flashErr, naiveErr, at, flash[worst], ref[worst], maxError(flash, ref), maxError(naive, ref)), m);
        }
        return m;
    }

    /** ||got - ref||_2 / ||ref||_2 (the plain error norm where ref is all zeros); NaN if got has NaN or infinity. */
    public static double normalizedError(float[] got, double[] ref) {
        double err = 0;
        double norm = 0;
        for (int i = 0; i < got.length; i++) {
            if (!Float.isFinite(got[i])) return Double.NaN;
            err += (got[i] - ref[i]) * (got[i] - ref[i]);
            norm += ref[i] * ref[i];
        }
        return norm == 0 ? Math.sqrt(err) : Math.sqrt(err / norm);
    }

    /** Log-sum-exp per row: -inf exactly where the reference is, else within delta (with max|v| = 1) + 2u|lse|. */
    public static void assertLse(String what, float[] got, AttentionReference.Result ref, AttentionDims dims) {
        for (int row = 0; row < got.length; row++) {
            double r = ref.lse()[row];
            if (Double.isInfinite(r)) {
                if (got[row] != Float.NEGATIVE_INFINITY) throw new CheckFailure(what + ": lse row " + row + " sees no key, expected -inf, got " + got[row]);
                continue;
            }
            double tol = 8 * U * (Math.sqrt(dims.headDim()) * (1 + ref.cond()[row]) + Math.sqrt(dims.kvLen())) + 2 * U * Math.abs(r);
            if (!(Math.abs(got[row] - r) <= tol)) {
                throw new CheckFailure(String.format(Locale.ROOT, "%s: lse row %d got %.9g expected %.9g (bound %.3g)", what, row, got[row], r, tol));
            }
        }
    }

    public static float[] readFloats(ClBuffer b, int n) {
        float[] out = new float[n];
        b.read(out);
        return out;
    }

    public static String index(int flat, AttentionDims dims, int seq) {
        int hd = dims.headDim();
        int d = flat % hd;
        int r = flat / hd % seq;
        int h = flat / hd / seq % dims.heads();
        int b = flat / hd / seq / dims.heads();
        return "[b=" + b + ", h=" + h + ", row=" + r + ", d=" + d + "]";
    }
}
