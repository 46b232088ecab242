package dev.flashcl.internal.check;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.kernels.PrefillTiles;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TensorView;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The attention cases: the prefill kernel (ragged and unequal lengths, every head_dim and tile
 * the device can take, both storages, causal and not, strided views, scores in the thousands, the
 * tensor-core kernel where the device has one) and Flash-Decoding (cache lengths around every
 * power-of-two edge up to 4096, split lengths from one key per split to one split in all, every
 * decode work-group size). Each against {@link AttentionReference} and the naive kernel, every
 * output between poisoned guards.
 */
public final class AttentionCases {
    public static final int[] PREFILL_LENGTHS = {1, 2, 17, 63, 64, 65, 127, 128, 129, 1000};
    public static final int[] DECODE_LENGTHS = {1, 2, 17, 63, 64, 65, 127, 128, 129, 1000, 4096};
    public static final int[] HEAD_DIMS = {64, 80, 96, 128};

    private AttentionCases() {}

    /** tensorCores: the tensor-core kernel (fp16, where the device takes it; skipped elsewhere), else the portable one with these tiles. */
    public record Prefill(int batch, int heads, int qLen, int kvLen, int headDim, boolean causal, Storage storage,
                          PrefillTiles tiles, Layout layout, float qkScale, boolean tensorCores) {
        public Prefill(int batch, int heads, int qLen, int kvLen, int headDim, boolean causal, Storage storage, PrefillTiles tiles, Layout layout, float qkScale) {
            this(batch, heads, qLen, kvLen, headDim, causal, storage, tiles, layout, qkScale, false);
        }

        public AttentionDims dims() {
            return new AttentionDims(batch, heads, qLen, kvLen, headDim);
        }

        /** The same case on the tensor-core kernel. */
        public Prefill onTensorCores() {
            return new Prefill(batch, heads, qLen, kvLen, headDim, causal, storage, tiles, layout, qkScale, true);
        }

        public CheckCase asCase() {
            return new CheckCase("attention", "prefill " + this, rig -> run(this, rig));
        }

        @Override
        public String toString() {
            return String.format("b%d h%d q%d kv%d d%d %s %s %s %s%s", batch, heads, qLen, kvLen, headDim,
                    causal ? "causal" : "full", storage.suffix, tensorCores ? "tensor cores" : "tiles " + tiles, layout, qkScale == 1 ? "" : " qk x" + qkScale);
        }
    }

    /** splitLen 0: the length the code chooses for the device. */
    public record Decode(int batch, int heads, int kvLen, int headDim, Storage storage, int decodeWg, int splitLen, Layout layout, float qkScale) {
        public CheckCase asCase() {
            return new CheckCase("attention", "decode " + this, rig -> run(this, rig));
        }

        @Override
        public String toString() {
            return String.format("b%d h%d L%d d%d %s wg%d split %s %s%s", batch, heads, kvLen, headDim, storage.suffix,
                    decodeWg, splitLen == 0 ? "auto" : splitLen, layout, qkScale == 1 ? "" : " qk x" + qkScale);
        }
    }

    /** Each case, and for fp16 storage the same case again on the tensor-core kernel. */
    static List<Prefill> withTensorCores(List<Prefill> cases) {
        return cases.stream().flatMap(c -> c.storage() == Storage.F16 && c.headDim() % 16 == 0 ? Stream.of(c, c.onTensorCores()) : Stream.of(c)).toList();
    }

    static PrefillTiles defaultTiles(DeviceInfo d, int headDim) {
        return PrefillTiles.defaultFor(d, headDim);
    }

    /** Every (q_len, kv_len) pair of PREFILL_LENGTHS, equal and unequal, at Phi-2's head_dim. */
    public static List<Prefill> prefillLengths(DeviceInfo d) {
        List<Prefill> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (boolean causal : new boolean[] {true, false})
                for (int q : PREFILL_LENGTHS)
                    for (int kv : PREFILL_LENGTHS)
                        cases.add(new Prefill(1, 1, q, kv, 80, causal, s, defaultTiles(d, 80), Layout.CONTIGUOUS, 1f));
        return withTensorCores(cases);
    }

    /** Every head_dim x every tile the device can take (only the default tile: quick), several heads and batches, ragged and unequal. */
    public static List<Prefill> prefillTilesAndHeadDims(DeviceInfo d, boolean quick) {
        List<Prefill> cases = new ArrayList<>();
        for (int hd : HEAD_DIMS)
            for (PrefillTiles t : quick ? List.of(defaultTiles(d, hd)) : PrefillTiles.candidates(d, hd))
                for (Storage s : Storage.values())
                    for (boolean causal : new boolean[] {true, false}) {
                        cases.add(new Prefill(2, 3, 129, 129, hd, causal, s, t, Layout.CONTIGUOUS, 1f));
                        cases.add(new Prefill(1, 3, 65, 200, hd, causal, s, t, Layout.CONTIGUOUS, 1f));
                    }
        for (int hd : HEAD_DIMS)
            for (boolean causal : new boolean[] {true, false}) {
                cases.add(new Prefill(2, 3, 129, 129, hd, causal, Storage.F16, defaultTiles(d, hd), Layout.CONTIGUOUS, 1f).onTensorCores());
                cases.add(new Prefill(1, 3, 65, 200, hd, causal, Storage.F16, defaultTiles(d, hd), Layout.CONTIGUOUS, 1f).onTensorCores());
            }
        return cases;
    }

    /** Phi-2's 32 heads, batches, a prompt chunk against a longer cache, strided views of every kind. */
    public static List<Prefill> prefillHeadsBatchesLayouts(DeviceInfo d) {
        PrefillTiles t = defaultTiles(d, 80);
        return withTensorCores(List.of(
                new Prefill(1, 32, 128, 128, 80, true, Storage.F16, t, Layout.CONTIGUOUS, 1f),
                new Prefill(2, 32, 64, 1000, 80, true, Storage.F16, t, Layout.CONTIGUOUS, 1f),
                new Prefill(2, 32, 17, 129, 80, false, Storage.F32, t, Layout.CONTIGUOUS, 1f),
                new Prefill(2, 3, 127, 127, 80, true, Storage.F16, t, Layout.SEQ_MAJOR, 1f),
                new Prefill(2, 3, 65, 130, 80, true, Storage.F32, t, Layout.SEQ_MAJOR, 1f),
                new Prefill(2, 3, 63, 129, 64, true, Storage.F16, t, Layout.CACHE_SLICE, 1f),
                new Prefill(1, 3, 129, 65, 128, true, Storage.F32, defaultTiles(d, 128), Layout.CACHE_SLICE, 1f)));
    }

    /** q and k scaled so raw scores q.k reach the thousands: no overflow, no NaN, still accurate. */
    public static List<Prefill> prefillLargeScores(DeviceInfo d) {
        List<Prefill> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (boolean causal : new boolean[] {true, false}) {
                cases.add(new Prefill(1, 2, 257, 257, 80, causal, s, defaultTiles(d, 80), Layout.CONTIGUOUS, 30f));
                cases.add(new Prefill(1, 2, 33, 300, 128, causal, s, defaultTiles(d, 128), Layout.CONTIGUOUS, 12f));
            }
        return withTensorCores(cases);
    }

    public static List<Decode> decodeLengths() {
        List<Decode> cases = new ArrayList<>();
        for (Storage s : Storage.values())
            for (int len : DECODE_LENGTHS) cases.add(new Decode(1, 3, len, 80, s, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CONTIGUOUS, 1f));
        return cases;
    }

    /** Split lengths that leave a partial last split, one key per split, and a single split. */
    public static List<Decode> decodeSplits() {
        List<Decode> cases = new ArrayList<>();
        for (int split : new int[] {1, 7, 64, 100, 129, 1 << 20})
            for (int len : new int[] {65, 1000})
                cases.add(new Decode(2, 2, len, 80, Storage.F16, FlashAttention.DEFAULT_DECODE_WG, split, Layout.CONTIGUOUS, 1f));
        return cases;
    }

    public static List<Decode> decodeShapes(DeviceInfo d) {
        List<Decode> cases = new ArrayList<>();
        for (int hd : HEAD_DIMS)
            for (int wg : new int[] {32, 64, 128})
                if (FlashAttention.decodeFits(d, hd, wg))
                    for (Storage s : Storage.values()) cases.add(new Decode(2, 3, 333, hd, s, wg, 0, Layout.CONTIGUOUS, 1f));
        cases.add(new Decode(1, 32, 4096, 80, Storage.F16, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CONTIGUOUS, 1f));
        cases.add(new Decode(2, 32, 1000, 80, Storage.F16, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CACHE_SLICE, 1f));
        cases.add(new Decode(2, 3, 500, 80, Storage.F32, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.SEQ_MAJOR, 1f));
        for (Storage s : Storage.values()) cases.add(new Decode(1, 4, 2000, 80, s, FlashAttention.DEFAULT_DECODE_WG, 0, Layout.CONTIGUOUS, 30f));
        return cases;
    }

    /** The attention family: everything (full), or each head_dim, storage and mask on the default tiles, large scores, and decode (quick). */
    public static List<CheckCase> cases(DeviceInfo d, boolean quick) {
        List<CheckCase> out = new ArrayList<>();
        if (!quick) prefillLengths(d).forEach(c -> out.add(c.asCase()));
        prefillTilesAndHeadDims(d, quick).forEach(c -> out.add(c.asCase()));
        if (!quick) prefillHeadsBatchesLayouts(d).forEach(c -> out.add(c.asCase()));
        prefillLargeScores(d).forEach(c -> out.add(c.asCase()));
        decodeLengths().forEach(c -> out.add(c.asCase()));
        decodeSplits().forEach(c -> out.add(c.asCase()));
        if (!quick) decodeShapes(d).forEach(c -> out.add(c.asCase()));
        return out;
    }

    public static Measure run(Prefill c, CheckRig rig) {
        ClContext ctx = rig.ctx();
        AttentionDims dims = c.dims();
        float scale = dims.defaultScale();
        long seed = c.toString().hashCode();
        int rows = c.batch() * c.heads() * c.qLen();
        FlashAttention fa = rig.flash(c.storage(), c.headDim(), c.tiles(), FlashAttention.defaultDecodeWg(ctx.device(), c.headDim()), c.tensorCores());
        if (c.tensorCores() && !fa.usesTensorCores()) throw new Skipped("no tensor-core kernel on this device");
        try (AttentionCheck.Inputs in = AttentionCheck.inputs(ctx, dims, c.storage(), c.layout(), c.qkScale(), seed);
             GuardedTensor o = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, c.qLen());
             GuardedTensor oNaive = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, c.qLen());
             ClBuffer lse = ctx.allocate("lse", (long) rows * Float.BYTES);
             ClBuffer lseNaive = ctx.allocate("lse naive", (long) rows * Float.BYTES)) {
            AttentionReference.Result ref = AttentionReference.attention(in.q(), in.k(), in.v(), dims, c.causal(), scale);
            fa.prefill(in.qv(), in.kv(), in.vv(), AttentionCheck.outputView(o, c.layout(), dims, c.qLen()), lse, dims, c.causal(), scale, null);
            rig.naive(c.storage(), c.headDim()).run(in.qv(), in.kv(), in.vv(),
                    AttentionCheck.outputView(oNaive, c.layout(), dims, c.qLen()), lseNaive, dims, c.causal(), scale, null);
            float[] got = AttentionCheck.readOutput(o, c.layout(), dims, c.qLen(), "flash " + c);
            float[] gotNaive = AttentionCheck.readOutput(oNaive, c.layout(), dims, c.qLen(), "naive " + c);
            Measure m = AttentionCheck.assertClose("flash " + c, got, ref, dims, c.qLen(), c.storage(), 1.0);
            AttentionCheck.assertClose("naive " + c, gotNaive, ref, dims, c.qLen(), c.storage(), 1.0);
            AttentionCheck.assertNoWorseThanNaive(c.toString(), got, gotNaive, ref.o(), dims, c.qLen());
            AttentionCheck.assertLse("flash " + c, AttentionCheck.readFloats(lse, rows), ref, dims);
            AttentionCheck.assertLse("naive " + c, AttentionCheck.readFloats(lseNaive, rows), ref, dims);
            return m;
        }
    }

    public static Measure run(Decode c, CheckRig rig) {
        ClContext ctx = rig.ctx();
        AttentionDims dims = new AttentionDims(c.batch(), c.heads(), 1, c.kvLen(), c.headDim());
        float scale = dims.defaultScale();
        int rows = c.batch() * c.heads();
        try (AttentionCheck.Inputs in = AttentionCheck.inputs(ctx, dims, c.storage(), c.layout(), c.qkScale(), c.toString().hashCode());
             GuardedTensor o = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, 1);
             GuardedTensor oNaive = AttentionCheck.output(ctx, c.storage(), c.layout(), dims, 1);
             ClBuffer lse = ctx.allocate("lse", (long) rows * Float.BYTES)) {
            AttentionReference.Result ref = AttentionReference.attention(in.q(), in.k(), in.v(), dims, false, scale);
            FlashAttention fa = rig.flash(c.storage(), c.headDim(), PrefillTiles.defaultFor(ctx.device(), c.headDim()), c.decodeWg(), false);
            TensorView ov = AttentionCheck.outputView(o, c.layout(), dims, 1);
            if (c.splitLen() == 0) fa.decode(in.qv(), in.kv(), in.vv(), ov, lse, dims, scale, null);
            else fa.decode(in.qv(), in.kv(), in.vv(), ov, lse, dims, scale, c.splitLen(), null);
            rig.naive(c.storage(), c.headDim()).run(in.qv(), in.kv(), in.vv(), AttentionCheck.outputView(oNaive, c.layout(), dims, 1), null, dims, false, scale, null);
            float[] got = AttentionCheck.readOutput(o, c.layout(), dims, 1, "decode " + c);
            float[] gotNaive = AttentionCheck.readOutput(oNaive, c.layout(), dims, 1, "naive " + c);
            Measure m = AttentionCheck.assertClose("decode " + c, got, ref, dims, 1, c.storage(), 1.0);
            AttentionCheck.assertNoWorseThanNaive(c.toString(), got, gotNaive, ref.o(), dims, 1);
            AttentionCheck.assertLse("decode " + c, AttentionCheck.readFloats(lse, rows), ref, dims);
            return m;
        }
    }
}
