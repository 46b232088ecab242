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

    static float round(Storage s, float x) {
        return s == Storage.F16 ? Half.toFloat(Half.fromFloat(x)) : x;
    }
}
