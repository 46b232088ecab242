package dev.flashcl.internal.kernels;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.params.provider.Arguments;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Flash-Decoding (split keys, log-sum-exp combine) against the fp64 reference and the naive
 * kernel: cache lengths around every power-of-two edge up to 4096, split lengths from one key per
 * split to one split in all, every decode work-group size, strided cache views.
 */
class FlashAttentionDecodeTest {
    static final int[] LENGTHS = {1, 2, 17, 63, 64, 65, 127, 128, 129, 1000, 4096};

    /** splitLen 0: the length the code chooses for the device. */
    record Case(int batch, int heads, int kvLen, int headDim, Storage storage, int decodeWg, int splitLen,
                Layout layout, float qkScale) {
        @Override
        public String toString() {
            return String.format("b%d h%d L%d d%d %s wg%d split %s %s%s", batch, heads, kvLen, headDim, storage.suffix,
                    decodeWg, splitLen == 0 ? "auto" : splitLen, layout, qkScale == 1 ? "" : " qk x" + qkScale);
        }
    }

    private static final Map<String, FlashAttention> flash = new HashMap<>();

    static FlashAttention flash(Storage s, int headDim, int wg) {
        return flash.computeIfAbsent(s + "/" + headDim + "/" + wg, key -> new FlashAttention(TestDevice.context(), s, headDim,
                PrefillTiles.defaultFor(TestDevice.context().device(), headDim), wg));
    }

    @AfterAll
    static void release() {
        flash.values().forEach(FlashAttention::close);
        flash.clear();
        FlashAttentionPrefillTest.release();
    }

    static Stream<Case> lengths() {
        List<Case> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (int len : LENGTHS) cases.add(new Case(1, 3, len, 80, s, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CONTIGUOUS, 1f));
        return cases.stream();
    }

    /** Split lengths that leave a partial last split, one key per split, and a single split. */
    static Stream<Case> splits() {
        List<Case> cases = new ArrayList<>();
        for (int split : new int[] {1, 7, 64, 100, 129, 1 << 20})
            for (int len : new int[] {65, 1000})
                cases.add(new Case(2, 2, len, 80, Storage.F16, FlashAttention.DEFAULT_DECODE_WG, split, Layout.CONTIGUOUS, 1f));
        return cases.stream();
    }

    static Stream<Case> shapes() {
        List<Case> cases = new ArrayList<>();
        for (int hd : FlashAttentionPrefillTest.HEAD_DIMS)
            for (int wg : new int[] {32, 64, 128})
                if (FlashAttention.decodeFits(TestDevice.context().device(), hd, wg))
                    for (Storage s : Storage.values()) cases.add(new Case(2, 3, 333, hd, s, wg, 0, Layout.CONTIGUOUS, 1f));
        cases.add(new Case(1, 32, 4096, 80, Storage.F16, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CONTIGUOUS, 1f));
        cases.add(new Case(2, 32, 1000, 80, Storage.F16, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CACHE_SLICE, 1f));
        cases.add(new Case(2, 3, 500, 80, Storage.F32, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.SEQ_MAJOR, 1f));
        for (Storage s : Storage.values()) cases.add(new Case(1, 4, 2000, 80, s, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CONTIGUOUS, 30f));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lengths")
    void lengths(Case c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("splits")
    void splits(Case c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void shapes(Case c) {
        check(c);
    }

    static void check(Case c) {
        ClContext ctx = TestDevice.context();
        AttentionDims dims = new AttentionDims(c.batch(), c.heads(), 1, c.kvLen(), c.headDim());
        float scale = dims.defaultScale();
        int rows = c.batch() * c.heads();
        try (AttentionCheck.Inputs in = AttentionCheck.inputs(ctx, dims, c.storage(), c.layout(), c.qkScale(), c.toString().hashCode());
             GuardedTensor o = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, 1);
             GuardedTensor oNaive = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, 1);
             ClBuffer lse = ctx.allocate("lse", (long) rows * Float.BYTES)) {
            AttentionReference.Result ref = AttentionReference.attention(in.q(), in.k(), in.v(), dims, false, scale);
            FlashAttention fa = flash(c.storage(), c.headDim(), c.decodeWg());
            TensorView ov = AttentionCheck.outputView(o, c.layout(), dims, 1);
            if (c.splitLen() == 0) fa.decode(in.qv(), in.kv(), in.vv(), ov, lse, dims, scale, null);
            else fa.decode(in.qv(), in.kv(), in.vv(), ov, lse, dims, scale, c.splitLen(), null);
            FlashAttentionPrefillTest.naive(c.storage(), c.headDim()).run(in.qv(), in.kv(), in.vv(),
                    AttentionCheck.outputView(oNaive, c.layout(), dims, 1), null, dims, false, scale, null);

            float[] got = AttentionCheck.readOutput(o, c.layout(), dims, 1, "decode " + c);
            float[] gotNaive = AttentionCheck.readOutput(oNaive, c.layout(), dims, 1, "naive " + c);
            AttentionCheck.assertClose("decode " + c, got, ref, dims, 1, c.storage(), 1.0);
            AttentionCheck.assertNoWorseThanNaive(c.toString(), got, gotNaive, ref.o());
            AttentionCheck.assertLse("decode " + c, AttentionCheck.readFloats(lse, rows), ref, dims);
        }
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
     * Phi's fused decode step ({@link FlashAttention#decodeRope}): q and k of the new position
     * rotated from the projection, k and v written into the cache at kv_len - 1 (nothing else in
     * the cache touched), and attention over the whole cache, against an fp64 rotary embedding and
     * the fp64 attention reference. Unused cache rows hold NaN, so a read past kv_len shows.
     * With {@code stepBefore > 0} the step runs through {@link FlashAttention#bindDecodeRope}
     * (bound for a longer cache than used), after a step at {@code stepBefore} keys through the
     * same bound object, so that what a step leaves bound must serve the next.
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
            FlashAttention fa = flash(s, d, FlashAttention.DEFAULT_DECODE_WG);
            TensorView kView = k.view(0, capacity * d, d, 0), vView = v.view(0, capacity * d, d, 0), oView = AttentionCheck.outputView(o, Layout.CONTIGUOUS, dims, 1);
            if (stepBefore == 0) {
                fa.decodeRope(qkvB, invB, rot, kView, vView, oView, lse, dims, scale, null);
            } else {
                try (var bound = fa.bindDecodeRope(qkvB, invB, rot, kView, vView, oView, lse, new AttentionDims(1, heads, 1, capacity, d), scale)) {
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
