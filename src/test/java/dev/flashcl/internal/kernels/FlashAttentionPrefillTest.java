package dev.flashcl.internal.kernels;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The prefill kernel against the fp64 reference and against the naive kernel, over ragged and
 * unequal lengths, every head_dim and tile the code can choose, both storage types, causal and
 * not, strided views, and scores in the thousands. Every output sits between poisoned guards.
 */
class FlashAttentionPrefillTest {
    static final int[] LENGTHS = {1, 2, 17, 63, 64, 65, 127, 128, 129, 1000};
    static final int[] HEAD_DIMS = {64, 80, 96, 128};

    /** tensorCores: the tensor-core kernel (fp16, where the device takes it; skipped elsewhere), else the portable one with these tiles. */
    record Case(int batch, int heads, int qLen, int kvLen, int headDim, boolean causal, Storage storage,
                PrefillTiles tiles, Layout layout, float qkScale, boolean tensorCores) {
        Case(int batch, int heads, int qLen, int kvLen, int headDim, boolean causal, Storage storage, PrefillTiles tiles, Layout layout, float qkScale) {
            this(batch, heads, qLen, kvLen, headDim, causal, storage, tiles, layout, qkScale, false);
        }

        AttentionDims dims() {
            return new AttentionDims(batch, heads, qLen, kvLen, headDim);
        }

        /** The same case on the tensor-core kernel. */
        Case onTensorCores() {
            return new Case(batch, heads, qLen, kvLen, headDim, causal, storage, tiles, layout, qkScale, true);
        }

        @Override
        public String toString() {
            return String.format("b%d h%d q%d kv%d d%d %s %s %s %s%s", batch, heads, qLen, kvLen, headDim,
                    causal ? "causal" : "full", storage.suffix, tensorCores ? "tensor cores" : "tiles " + tiles, layout, qkScale == 1 ? "" : " qk x" + qkScale);
        }
    }

    /** Each case, and for fp16 storage the same case again on the tensor-core kernel. */
    static Stream<Case> withTensorCores(List<Case> cases) {
        return cases.stream().flatMap(c -> c.storage() == Storage.F16 && c.headDim() % 16 == 0 ? Stream.of(c, c.onTensorCores()) : Stream.of(c));
    }

    private static final Map<String, FlashAttention> flash = new HashMap<>();
    private static final Map<String, NaiveAttention> naive = new HashMap<>();

    static FlashAttention flash(Storage s, int headDim, PrefillTiles tiles) {
        return flash(s, headDim, tiles, false);
    }

    static FlashAttention flash(Storage s, int headDim, PrefillTiles tiles, boolean tensorCores) {
        return flash.computeIfAbsent(s + "/" + headDim + "/" + tiles + "/" + tensorCores, key ->
                new FlashAttention(TestDevice.context(), s, headDim, tiles, FlashAttention.defaultDecodeWg(TestDevice.context().device(), headDim)).tensorCores(tensorCores));
    }

    static NaiveAttention naive(Storage s, int headDim) {
        return naive.computeIfAbsent(s + "/" + headDim, key -> new NaiveAttention(TestDevice.context(), s, headDim));
    }

    @AfterAll
    static void release() {
        flash.values().forEach(FlashAttention::close);
        naive.values().forEach(NaiveAttention::close);
        flash.clear();
        naive.clear();
    }

    static PrefillTiles defaultTiles(int headDim) {
        return PrefillTiles.defaultFor(TestDevice.context().device(), headDim);
    }

    /** Every (q_len, kv_len) pair of LENGTHS, equal and unequal, at Phi-2's head_dim. */
    static Stream<Case> lengths() {
        List<Case> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (boolean causal : new boolean[] {true, false})
                for (int q : LENGTHS)
                    for (int kv : LENGTHS)
                        cases.add(new Case(1, 1, q, kv, 80, causal, s, defaultTiles(80), Layout.CONTIGUOUS, 1f));
        return withTensorCores(cases);
    }

    /** Every head_dim x every tile the device can take, with several heads and batches, ragged and unequal. */
    static Stream<Case> tilesAndHeadDims() {
        List<Case> cases = new ArrayList<>();
        for (int hd : HEAD_DIMS)
            for (PrefillTiles t : PrefillTiles.candidates(TestDevice.context().device(), hd))
                for (Storage s : Storage.values())
                    for (boolean causal : new boolean[] {true, false}) {
                        cases.add(new Case(2, 3, 129, 129, hd, causal, s, t, Layout.CONTIGUOUS, 1f));
                        cases.add(new Case(1, 3, 65, 200, hd, causal, s, t, Layout.CONTIGUOUS, 1f));
                    }
        for (int hd : HEAD_DIMS)
            for (boolean causal : new boolean[] {true, false}) {
                cases.add(new Case(2, 3, 129, 129, hd, causal, Storage.F16, defaultTiles(hd), Layout.CONTIGUOUS, 1f).onTensorCores());
                cases.add(new Case(1, 3, 65, 200, hd, causal, Storage.F16, defaultTiles(hd), Layout.CONTIGUOUS, 1f).onTensorCores());
            }
        return cases.stream();
    }

    /** Phi-2's 32 heads, batches, a prompt chunk against a longer cache, strided views of every kind. */
    static Stream<Case> headsBatchesLayouts() {
        PrefillTiles t = defaultTiles(80);
        return withTensorCores(List.of(
                new Case(1, 32, 128, 128, 80, true, Storage.F16, t, Layout.CONTIGUOUS, 1f),
                new Case(2, 32, 64, 1000, 80, true, Storage.F16, t, Layout.CONTIGUOUS, 1f),
                new Case(2, 32, 17, 129, 80, false, Storage.F32, t, Layout.CONTIGUOUS, 1f),
                new Case(2, 3, 127, 127, 80, true, Storage.F16, t, Layout.SEQ_MAJOR, 1f),
                new Case(2, 3, 65, 130, 80, true, Storage.F32, t, Layout.SEQ_MAJOR, 1f),
                new Case(2, 3, 63, 129, 64, true, Storage.F16, t, Layout.CACHE_SLICE, 1f),
                new Case(1, 3, 129, 65, 128, true, Storage.F32, defaultTiles(128), Layout.CACHE_SLICE, 1f)));
    }

    /** q and k scaled so raw scores q.k reach the thousands: no overflow, no NaN, still accurate. */
    static Stream<Case> largeScores() {
        List<Case> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (boolean causal : new boolean[] {true, false}) {
                cases.add(new Case(1, 2, 257, 257, 80, causal, s, defaultTiles(80), Layout.CONTIGUOUS, 30f));
                cases.add(new Case(1, 2, 33, 300, 128, causal, s, defaultTiles(128), Layout.CONTIGUOUS, 12f));
            }
        return withTensorCores(cases);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lengths")
    void lengths(Case c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tilesAndHeadDims")
    void tilesAndHeadDims(Case c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("headsBatchesLayouts")
    void headsBatchesLayouts(Case c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("largeScores")
    void largeScores(Case c) {
        check(c);
    }

    static void check(Case c) {
        ClContext ctx = TestDevice.context();
        AttentionDims dims = c.dims();
        float scale = dims.defaultScale();
        long seed = c.toString().hashCode();
        int rows = c.batch() * c.heads() * c.qLen();
        try (AttentionCheck.Inputs in = AttentionCheck.inputs(ctx, dims, c.storage(), c.layout(), c.qkScale(), seed);
             GuardedTensor o = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, c.qLen());
             GuardedTensor oNaive = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, c.qLen());
             ClBuffer lse = ctx.allocate("lse", (long) rows * Float.BYTES);
             ClBuffer lseNaive = ctx.allocate("lse naive", (long) rows * Float.BYTES)) {
            AttentionReference.Result ref = AttentionReference.attention(in.q(), in.k(), in.v(), dims, c.causal(), scale);

            FlashAttention fa = flash(c.storage(), c.headDim(), c.tiles(), c.tensorCores());
            Assumptions.assumeTrue(!c.tensorCores() || fa.usesTensorCores(), "no tensor-core kernel on this device");
            fa.prefill(in.qv(), in.kv(), in.vv(),
                    AttentionCheck.outputView(o, c.layout(), dims, c.qLen()), lse, dims, c.causal(), scale, null);
            naive(c.storage(), c.headDim()).run(in.qv(), in.kv(), in.vv(),
                    AttentionCheck.outputView(oNaive, c.layout(), dims, c.qLen()), lseNaive, dims, c.causal(), scale, null);

            float[] got = AttentionCheck.readOutput(o, c.layout(), dims, c.qLen(), "flash " + c);
            float[] gotNaive = AttentionCheck.readOutput(oNaive, c.layout(), dims, c.qLen(), "naive " + c);
            AttentionCheck.assertClose("flash " + c, got, ref, dims, c.qLen(), c.storage(), 1.0);
            AttentionCheck.assertClose("naive " + c, gotNaive, ref, dims, c.qLen(), c.storage(), 1.0);
            AttentionCheck.assertNoWorseThanNaive(c.toString(), got, gotNaive, ref.o());
            AttentionCheck.assertLse("flash " + c, AttentionCheck.readFloats(lse, rows), ref, dims);
            AttentionCheck.assertLse("naive " + c, AttentionCheck.readFloats(lseNaive, rows), ref, dims);
        }
    }
}
