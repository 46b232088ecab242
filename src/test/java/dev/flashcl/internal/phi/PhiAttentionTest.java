package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.check.AttentionCheck;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.check.AttentionReference;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.check.GuardedTensor;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.check.Layout;
import dev.flashcl.internal.kernels.PrefillTiles;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TensorView;
import dev.flashcl.internal.kernels.TestDevice;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Phi's decode attention with the rotary embedding and the cache append folded in (phi_attention.cl), against fp64. */
class PhiAttentionTest {
    private static final Map<Storage, FlashAttention> flash = new EnumMap<>(Storage.class);
    private static final Map<Storage, PhiAttention> attention = new EnumMap<>(Storage.class);

    static PhiAttention attention(Storage s, int headDim) {
        return attention.computeIfAbsent(s, st -> new PhiAttention(TestDevice.context(), flash.computeIfAbsent(st, x -> new FlashAttention(TestDevice.context(), x,
                headDim, PrefillTiles.defaultFor(TestDevice.context().device(), headDim), FlashAttention.defaultDecodeWg(TestDevice.context().device(), headDim)))));
    }

    @AfterAll
    static void close() {
        flash.values().forEach(FlashAttention::close);
    }

    static Stream<Arguments> ropeCases() {
        List<Arguments> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (int len : new int[] {1, 2, 129, 1000})
                for (int rot : new int[] {32, 80}) cases.add(Arguments.of(s, len, rot, 0));
        for (Storage s : Storage.values()) {   // bound once, a step before at fewer keys (one split, then several; several, then more)
            cases.add(Arguments.of(s, 1000, 32, 1));
            cases.add(Arguments.of(s, 129, 80, 2));
            cases.add(Arguments.of(s, 1000, 80, 129));
        }
        return cases.stream();
    }

    /**
     * Phi's fused decode step ({@link PhiAttention}): q and k of the new position
     * rotated from the projection, k and v written into the cache at kv_len - 1 (nothing else in
     * the cache touched), and attention over the whole cache, against an fp64 rotary embedding and
     * the fp64 attention reference. Unused cache rows hold NaN, so a read past kv_len shows.
     * With {@code stepBefore > 0} the step is bound for a longer cache than used and runs after a
     * step at {@code stepBefore} keys through the same bound object, so that what a step leaves
     * bound must serve the next; with 0 it is bound for exactly kv_len keys and runs once.
     */
    @ParameterizedTest(name = "decode+rope {0} L{1} rot {2} bound after L{3}")
    @MethodSource("ropeCases")
    void decodeRope(Storage s, int kvLen, int rot, int stepBefore) {
        ClContext ctx = TestDevice.context();
        int heads = 3, d = 80, capacity = kvLen + 5, pos = kvLen - 1, hsz = heads * d;
        java.util.SplittableRandom r = new java.util.SplittableRandom(kvLen * 31L + rot + s.ordinal());
        float[] qkv = new float[3 * hsz];
        for (int i = 0; i < qkv.length; i++) qkv[i] = (float) (r.nextDouble() * 2 - 1);
        float[] inv = new float[Math.max(1, rot / 2)];
        for (int i = 0; i < rot / 2; i++) inv[i] = 1.0f / (float) Math.pow(10000, (float) (2 * i) / rot);
        float[] kc = new float[heads * capacity * d], vc = new float[kc.length];
        for (int i = 0; i < kc.length; i++) {
            boolean old = (i / d) % capacity < pos;
            kc[i] = old ? round(s, (float) (r.nextDouble() * 2 - 1)) : Float.NaN;
            vc[i] = old ? round(s, (float) (r.nextDouble() * 2 - 1)) : Float.NaN;
        }
        AttentionDims dims = new AttentionDims(1, heads, 1, kvLen, d);
        float scale = dims.defaultScale();
        try (GuardedTensor k = GuardedTensor.input(ctx, "k cache", s, kc); GuardedTensor v = GuardedTensor.input(ctx, "v cache", s, vc);
             GuardedTensor o = AttentionCheck.output(ctx, s, Layout.CONTIGUOUS, dims, 1);
             ClBuffer qkvB = ctx.allocate("qkv", qkv.length * 4L); ClBuffer invB = ctx.allocate("inv_freq", inv.length * 4L);
             ClBuffer lse = ctx.allocate("lse", heads * 4L)) {
            qkvB.write(qkv);
            invB.write(inv);
            PhiAttention fa = attention(s, d);
            TensorView kView = k.view(0, capacity * d, d, 0), vView = v.view(0, capacity * d, d, 0), oView = AttentionCheck.outputView(o, Layout.CONTIGUOUS, dims, 1);
            if (stepBefore == 0) {
                try (var bound = fa.bind(qkvB, invB, rot, kView, vView, oView, lse, dims, scale)) {
                    bound.run(kvLen, null);
                }
            } else {
                try (var bound = fa.bind(qkvB, invB, rot, kView, vView, oView, lse, new AttentionDims(1, heads, 1, capacity, d), scale)) {
                    bound.run(stepBefore, null);   // writes position stepBefore - 1: from here on the old cache holds it
                    float[] kNow = k.readChecked("k cache"), vNow = v.readChecked("v cache");
                    for (int i = 0; i < kc.length; i++) if ((i / d) % capacity < pos) { kc[i] = kNow[i]; vc[i] = vNow[i]; }
                    bound.run(kvLen, null);
                }
            }
            float[] kGot = k.readChecked("k cache"), vGot = v.readChecked("v cache");
            float[] q = new float[hsz];
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < d; i++) {
                    double[] qr = rope(qkv, h * d, i, rot, inv, pos), kr = rope(qkv, hsz + h * d, i, rot, inv, pos);
                    q[h * d + i] = (float) qr[0];
                    for (int t = 0; t < capacity; t++) {
                        int at = (h * capacity + t) * d + i;
                        String where = s.suffix + " head " + h + " position " + t + " dim " + i;
                        if (t < pos) {
                            assertEquals(kc[at], kGot[at], "k cache changed at " + where);
                            assertEquals(vc[at], vGot[at], "v cache changed at " + where);
                        } else if (t > pos) {
                            assertTrue(Float.isNaN(kGot[at]) && Float.isNaN(vGot[at]), "cache written past the new position at " + where);
                        } else {
                            double tol = 16 * 0x1p-24 * kr[1] + (s == Storage.F16 ? 0x1p-11 * Math.abs(kr[0]) + 0x1p-25 : 0);
                            assertTrue(Math.abs(kGot[at] - kr[0]) <= tol, "new k at " + where + ": got " + kGot[at] + ", want " + kr[0] + " (bound " + tol + ")");
                            assertEquals(round(s, qkv[2 * hsz + h * d + i]), vGot[at], "new v at " + where);
                        }
                    }
                }
            }
            var hq = new AttentionReference.HostTensor(q, 0, 0, d, d);
            var hk = new AttentionReference.HostTensor(kGot, 0, 0, capacity * d, d);
            var hv = new AttentionReference.HostTensor(vGot, 0, 0, capacity * d, d);
            AttentionReference.Result ref = AttentionReference.attention(hq, hk, hv, dims, false, scale);
            float[] got = AttentionCheck.readOutput(o, Layout.CONTIGUOUS, dims, 1, "decode+rope");
            AttentionCheck.assertClose("decode+rope " + s.suffix + " L" + kvLen, got, ref, dims, 1, s, 1.0);
            AttentionCheck.assertLse("decode+rope " + s.suffix + " L" + kvLen, AttentionCheck.readFloats(lse, heads), ref, dims);
        }
    }

    static float round(Storage s, float x) {
        return s == Storage.F16 ? Half.toFloat(Half.fromFloat(x)) : x;
    }

    /** Element i of the rotated head vector at x[base..]: {value, sum of |terms|}; the angle is the fp32 product the kernel forms. */
    static double[] rope(float[] x, int base, int i, int rot, float[] inv, int pos) {
        if (i >= rot) return new double[] {x[base + i], Math.abs(x[base + i])};
        int half = rot / 2, j = i < half ? i : i - half;
        double angle = (float) pos * inv[j], c = Math.cos(angle), sn = Math.sin(angle);
        double a = x[base + i] * c, b = i < half ? -x[base + i + half] * sn : x[base + i - half] * sn;
        return new double[] {a + b, Math.abs(a) + Math.abs(b) + Math.abs(x[base + i]) + Math.abs(x[base + (i < half ? i + half : i - half)])};
    }
}
