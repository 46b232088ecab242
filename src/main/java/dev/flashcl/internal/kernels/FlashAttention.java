package dev.flashcl.internal.kernels;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.ClProgram;
import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.cl.KernelTimer;
import java.util.Map;

/**
 * Host side of {@code kernels/flash_attn.cl} for one storage type and head_dim: prefill over
 * query blocks, and decode split across the keys then merged through the log-sum-exp.
 *
 * <pre>
 *   prefill: one work-group per (query block, head, batch); NDRange (heads x batch, query blocks)
 *            for each K/V tile (BLOCK_N keys, skipped when wholly above the causal diagonal):
 *                S = Q K^T in registers -> m_i, l_i rescaled -> acc += P V
 *            O = acc / l_i ; lse = m_i + log l_i
 *   decode:  split s of kv_len -> (o_s, m_s, l_s) ; combine: O = sum_s 2^(m_s - M) l_s o_s / sum_s 2^(m_s - M) l_s
 * </pre>
 */
public final class FlashAttention implements AutoCloseable {
    private final ClContext ctx;
    private final Storage storage;
    private final int headDim;
    private final PrefillTiles tiles;
    private final int decodeWg;
    private ClKernel prefill;   // built on first use, so that decode-only users never compile prefill
    private ClKernel prefillMma;   // the tensor-core prefill, where built (see build)
    private boolean tensorCores = true;
    /** The tensor-core prefill's warps per work-group, 16 query rows each (MMA_WARPS in flash_attn.cl): 4 unless -Dflashcl.attnMmaWarps. */
    private final int mmaWarps = Integer.getInteger("flashcl.attnMmaWarps", 4);
    private ClProgram decodeProgram;   // owned by the context
    private ClKernel decode;
    private ClKernel combine;
    private ClBuffer partO;     // [batch, heads, splits, head_dim] fp32, grown on demand
    private ClBuffer partMl;    // [batch, heads, splits] float2: running max and sum, log2 units

    /** Work-items per decode split, unless chosen: 64 (two warps, 21 KB of local memory at head_dim 80). */
    public static final int DEFAULT_DECODE_WG = 64;

    /**
     * {@code #pragma unroll} on the loops over head_dim and tile keys (1) or not (0), forced with
     * {@code -Dflashcl.unrollHints}: full unrolling keeps q, acc and the scores in registers on a
     * GPU but makes NVIDIA's compiler take tens of seconds per variant (the benchmark measures
     * both). CPU devices default to 0: their vectorizer gains nothing from it and PoCL's compile
     * time grows several-fold. The pragma is a hint; the kernel's arithmetic is the same.
     */
    static int unrollHints(DeviceInfo device) {
        Integer forced = Integer.getInteger("flashcl.unrollHints");
        if (forced != null) return forced;
        return device.type() == DeviceInfo.DeviceType.CPU ? 0 : 1;
    }

    /** Tiles and decode work-group from {@code flashcl tune}'s results for this device, else the defaults. */
    public FlashAttention(ClContext ctx, Storage storage, int headDim) {
        this(ctx, storage, headDim, Tuning.prefillTiles(ctx.device(), headDim, storage).orElseGet(() -> PrefillTiles.defaultFor(ctx.device(), headDim)),
                Tuning.decodeWg(ctx.device(), headDim, storage).orElse(defaultDecodeWg(ctx.device(), headDim)));
    }

    /**
     * {@link #DEFAULT_DECODE_WG}, or where its partial sums do not fit the device's local memory
     * (head_dim 128 on a 32 KiB device such as Mesa's llvmpipe), the largest smaller power of two
     * that does.
     */
    public static int defaultDecodeWg(DeviceInfo device, int headDim) {
        for (int wg = DEFAULT_DECODE_WG; wg >= 4; wg /= 2) if (decodeFits(device, headDim, wg)) return wg;
        throw new IllegalArgumentException("no decode work-group fits " + device.name() + " at head_dim " + headDim + " (local memory "
                + device.localMemBytes() + " bytes)");
    }

    public FlashAttention(ClContext ctx, Storage storage, int headDim, PrefillTiles tiles, int decodeWg) {
        AttentionDims.checkHeadDim(headDim);
        DeviceInfo dev = ctx.device();
        if (!tiles.fits(dev, headDim)) {
            throw new IllegalArgumentException("prefill tile " + tiles + " does not fit " + dev.name() + " at head_dim " + headDim
                    + ": needs " + tiles.localBytes(headDim) + " bytes of local memory (has " + dev.localMemBytes()
                    + ") and work-groups of " + tiles.blockM() + " (max " + dev.maxWorkGroupSize() + ")");
        }
        if (!decodeFits(dev, headDim, decodeWg)) {
            throw new IllegalArgumentException("decode work-group of " + decodeWg + " does not fit " + dev.name() + " at head_dim " + headDim
                    + ": needs " + decodeLocalBytes(headDim, decodeWg) + " bytes of local memory (has " + dev.localMemBytes()
                    + ") and work-groups of " + Math.max(decodeWg, headDim) + " (max " + dev.maxWorkGroupSize() + ")");
        }
        this.ctx = ctx;
        this.storage = storage;
        this.headDim = headDim;
        this.tiles = tiles;
        this.decodeWg = decodeWg;
    }

    /**
     * Whether prefill may use the tensor-core kernel (default true; it is used where the device
     * takes it, see {@link ClContext#tensorCores}). Set before the first build.
     */
    public synchronized FlashAttention tensorCores(boolean allowed) {
        if (prefill != null) throw new IllegalStateException("tensorCores(...) must come before the prefill kernel is built");
        tensorCores = allowed;
        return this;
    }

    /** Whether prefill runs the tensor-core kernel (for views whose offsets and strides are multiples of 8). */
    public synchronized boolean usesTensorCores() {
        build(true, false);
        return prefillMma != null;
    }

    /**
     * Builds (or takes from the kernel cache) the prefill and/or decode programs now rather than
     * at first use. Two programs, so that a decode variant never rebuilds the prefill kernel. The
     * prefill program also holds {@code flash_attn_prefill_mma} (tensor cores through inline PTX)
     * for fp16 storage and head_dim a multiple of 16 where the device takes it; if that does not
     * build, the build log is logged and the portable kernel serves alone.
     */
    public synchronized FlashAttention build(boolean withPrefill, boolean withDecode) {
        if (withPrefill && prefill == null) {
            Map<String, Object> defines = new java.util.HashMap<>(Map.of("HEAD_DIM", headDim, "BLOCK_M", tiles.blockM(),
                    "BLOCK_N", tiles.blockN(), "STORAGE_F16", storage.define(), "WITH_DECODE", 0, "UNROLL_HINTS", unrollHints(ctx.device()), "MMA", 0,
                    "QUAD", tiles.quad() ? 1 : 0));
            ClProgram program = null;
            int mmaKeys = mmaKeysPerTile(ctx.device(), headDim);
            if (tensorCores && storage == Storage.F16 && headDim % 16 == 0 && mmaKeys > 0 && ctx.tensorCores()) {
                Map<String, Object> withMma = new java.util.HashMap<>(defines);
                withMma.put("MMA", 1);
                withMma.put("MMA_WARPS", mmaWarps);
                withMma.put("MMA_BN", mmaKeys);
                program = ctx.tryProgram("flash_attn.cl", withMma, "the tensor-core attention kernel").orElse(null);
                if (program != null) prefillMma = program.kernel("flash_attn_prefill_mma_" + storage.suffix);
            }
            if (program == null) program = ctx.program("flash_attn.cl", defines);
            prefill = program.kernel((tiles.quad() ? "flash_attn_prefill_quad_" : "flash_attn_prefill_") + storage.suffix);
        }
        if (withDecode && decode == null) {
            decodeProgram = ctx.program("flash_attn.cl", decodeDefines());
            decode = decodeProgram.kernel("flash_attn_decode_" + storage.suffix);
            combine = decodeProgram.kernel("flash_attn_decode_combine_" + storage.suffix);
        }
        return this;
    }

    /**
     * The defines of the decode program (head_dim, work-group, storage, no prefill): a model's
     * own decode kernels that include flash_attn.cl build with these, so that they share its
     * split policy ({@link #splitLength}, {@link #launchSplits}).
     */
    public Map<String, Object> decodeDefines() {
        return Map.of("HEAD_DIM", headDim, "DECODE_WG", decodeWg, "STORAGE_F16", storage.define(), "WITH_PREFILL", 0,
                "UNROLL_HINTS", unrollHints(ctx.device()),
                "DECODE_LOADS16", storage == Storage.F16 && headDim % 8 == 0 && !"off".equals(System.getProperty("flashcl.decodeLoads16")) ? 1 : 0);
    }

    /**
     * Keys per tile of the tensor-core prefill (MMA_BN): 64 where its two buffers of K and V
     * tiles (8 x keys x (head_dim + 8) bytes) fit the device's local memory, else 32, else 0
     * (no tensor-core kernel at this head_dim).
     */
    static int mmaKeysPerTile(DeviceInfo device, int headDim) {
        for (int keys : new int[] {64, 32}) if (8L * keys * (headDim + 8) <= device.localMemBytes()) return keys;
        return 0;
    }

    /** Local memory of the decode kernel: q, the per-work-item max and sum, and their accumulators for the merge. */
    public static long decodeLocalBytes(int headDim, int wg) {
        return 4L * (headDim + 2L * wg + (long) wg * (headDim + 1));
    }

    /** Whether a decode work-group of {@code wg} fits the device at this head_dim. */
    public static boolean decodeFits(DeviceInfo device, int headDim, int wg) {
        return wg <= device.maxWorkGroupSize() && headDim <= device.maxWorkGroupSize()
                && decodeLocalBytes(headDim, wg) <= device.localMemBytes();
    }

    /** Work-items per decode work-group (DECODE_WG). */
    public int decodeWg() {
        return decodeWg;
    }

    public Storage storage() {
        return storage;
    }

    public PrefillTiles tiles() {
        return tiles;
    }

    /**
     * O = softmax(scale Q K^T [+ causal mask]) V for q_len query rows against kv_len keys.
     * Causal masking is bottom-right aligned (row i sees keys j <= i + kv_len - q_len); rows that
     * see no key get zeros and lse -inf. {@code lse} ([batch, heads, q_len] fp32) may be null.
     * With a timer the launch is waited for and timed.
     */
    public void prefill(TensorView q, TensorView k, TensorView v, TensorView o, ClBuffer lse,
                        AttentionDims dims, boolean causal, float scale, KernelTimer timer) {
        checkViews(q, k, v, o, dims, dims.qLen(), headDim, storage);
        checkLse(lse, (long) dims.batch() * dims.heads() * dims.qLen());
        build(true, false);
        // (the tensor-core kernel takes the running max of raw scores, which is the max of the scaled ones only for scale > 0)
        boolean mma = prefillMma != null && scale > 0 && aligned8(q) && aligned8(k) && aligned8(v) && aligned8(o);
        ClKernel kn = mma ? prefillMma : prefill;
        int rowsPerGroup = mma ? 16 * mmaWarps : tiles.blockM(), groupSize = mma ? 32 * mmaWarps : tiles.blockM();
        int blocks = (dims.qLen() + rowsPerGroup - 1) / rowsPerGroup;
        bindQkv(kn, q, k, v);
        o.bind(kn, "o").argOrNull("lse", lse)
                .arg("heads", dims.heads()).arg("q_len", dims.qLen()).arg("kv_len", dims.kvLen()).arg("causal", causal ? 1 : 0).arg("scale", scale);
        // heads (and batches) along x, query blocks along y: see prefill_block in flash_attn.cl
        kn.launch(ctx, new long[] {(long) dims.heads() * dims.batch() * groupSize, blocks, 1}, new long[] {groupSize, 1, 1}, timer);
    }

    /** 16-byte rows: offset and strides multiples of 8 elements. */
    private static boolean aligned8(TensorView t) {
        return t.offset() % 8 == 0 && t.batchStride() % 8 == 0 && t.headStride() % 8 == 0 && t.rowStride() % 8 == 0;
    }

    /** Decode with the split length chosen for the device (see {@link #splitLength}). */
    public void decode(TensorView q, TensorView k, TensorView v, TensorView o, ClBuffer lse,
                       AttentionDims dims, float scale, KernelTimer timer) {
        decode(q, k, v, o, lse, dims, scale, splitLength(dims), timer);
    }

    /**
     * One query row per (batch, head) against kv_len keys (the last position: no mask), in
     * chunks of {@code splitLen} keys merged by their running max and sum. {@code lse}
     * ([batch, heads] fp32) may be null.
     */
    public void decode(TensorView q, TensorView k, TensorView v, TensorView o, ClBuffer lse,
                       AttentionDims dims, float scale, int splitLen, KernelTimer timer) {
        if (dims.qLen() != 1) throw new IllegalArgumentException("decode takes one query row, got q_len " + dims.qLen());
        if (splitLen <= 0) throw new IllegalArgumentException("split length must be positive, got " + splitLen);
        checkViews(q, k, v, o, dims, 1, headDim, storage);
        checkLse(lse, (long) dims.batch() * dims.heads());
        build(false, true);
        ensurePartials((long) dims.batch() * dims.heads() * splits(dims.kvLen(), splitLen));
        bindQkv(decode, q, k, v);
        bindTail(decode, combine, o, lse, dims.heads(), scale, partO, partMl);
        launchSplits(decode, combine, dims, splitLen, timer);
    }

    /**
     * A decode kernel's arguments after its inputs (from part_o on), and the combine's, but for
     * kv_len, split_len and num_splits, which {@link #launchSplits} sets: for model kernels that
     * end in decode_split, such as Phi's decode with the rotary embedding folded in.
     */
    public static void bindTail(ClKernel kn, ClKernel comb, TensorView o, ClBuffer lse, int heads, float scale, ClBuffer po, ClBuffer pml) {
        o.bind(kn.arg("part_o", po).arg("part_ml", pml).arg("heads", heads).arg("scale", scale), "o").argOrNull("lse", lse);
        o.bind(comb.arg("part_o", po).arg("part_ml", pml), "o").argOrNull("lse", lse).arg("heads", heads);
    }

    /** Sets kv_len and the split length, launches the splits, then the combine unless there is one split (which wrote o itself). */
    public void launchSplits(ClKernel kn, ClKernel comb, AttentionDims dims, int splitLen, KernelTimer timer) {
        int splits = splits(dims.kvLen(), splitLen);
        kn.arg("kv_len", dims.kvLen()).arg("split_len", splitLen);
        kn.launch(ctx, new long[] {(long) splits * decodeWg, dims.heads(), dims.batch()}, new long[] {decodeWg, 1, 1}, timer);
        if (splits == 1) return;
        comb.arg("num_splits", splits).launch(ctx, new long[] {headDim, dims.heads(), dims.batch()}, new long[] {headDim, 1, 1}, timer);
    }

    private static int splits(int kvLen, int splitLen) {
        return (kvLen + splitLen - 1) / splitLen;
    }

    /** The most splits a decode of 1..maxDims.kvLen() keys takes with the default split length. */
    public int maxSplits(AttentionDims maxDims) {
        int most = 1;
        for (int kv = 1; kv <= maxDims.kvLen(); kv++) {
            most = Math.max(most, splits(kv, splitLength(new AttentionDims(maxDims.batch(), maxDims.heads(), 1, kv, headDim))));
        }
        return most;
    }

    /** Kernels a decode of these dims launches with the default split: 1 (one split) or 2 (splits and combine). */
    public int decodeLaunches(AttentionDims dims) {
        return splitLength(dims) >= dims.kvLen() ? 1 : 2;
    }

    /**
     * Keys per decode split: enough splits that the device has about eight work-groups per compute
     * unit, each split at least two passes of its work-group over the keys (so up to 2 x the
     * work-group's keys make one split, which writes o itself: no combine launch). One split for
     * longer caches was measured on the H100 and lost: Phi-2 decode at context 512 ran 312 instead
     * of 345 tokens/s, at 2000 229 instead of 323 (bench-results/2026-11-25-h100-generate-rope-fold-*).
     */
    public int splitLength(AttentionDims dims) {
        long targetGroups = 8L * ctx.device().computeUnits();
        long splitsWanted = Math.max(1, (targetGroups + (long) dims.batch() * dims.heads() - 1) / ((long) dims.batch() * dims.heads()));
        long len = (dims.kvLen() + splitsWanted - 1) / splitsWanted;
        len = (len + decodeWg - 1) / decodeWg * decodeWg;
        return (int) Math.max(2L * decodeWg, len);
    }

    private void bindQkv(ClKernel kernel, TensorView q, TensorView k, TensorView v) {
        q.bind(kernel, "q");
        k.bind(kernel, "k");
        v.bind(kernel, "v");
    }

    /** Refuses, naming the tensor, views that do not fit their buffers or kernels built for another head_dim. */
    public static void checkViews(TensorView q, TensorView k, TensorView v, TensorView o, AttentionDims dims, int qLen,
                           int headDim, Storage storage) {
        if (dims.headDim() != headDim) {
            throw new IllegalArgumentException("head_dim " + dims.headDim() + " given to kernels built for head_dim " + headDim);
        }
        q.checkFits("q", dims.batch(), dims.heads(), qLen, headDim, storage);
        k.checkFits("k", dims.batch(), dims.heads(), dims.kvLen(), headDim, storage);
        v.checkFits("v", dims.batch(), dims.heads(), dims.kvLen(), headDim, storage);
        o.checkFits("o", dims.batch(), dims.heads(), qLen, headDim, storage);
    }

    public static void checkLse(ClBuffer lse, long elements) {
        if (lse != null && lse.bytes() < elements * Float.BYTES) {
            throw new IllegalArgumentException("lse buffer '" + lse.name() + "' holds " + lse.bytes() / Float.BYTES
                    + " floats but needs " + elements + " (batch x heads x q_len)");
        }
    }

    private void ensurePartials(long rows) {
        if (partMl != null && partMl.bytes() >= rows * 2 * Float.BYTES) return;
        if (partO != null) partO.close();
        if (partMl != null) partMl.close();
        partO = ctx.allocate("decode partial outputs", rows * headDim * Float.BYTES);
        partMl = ctx.allocate("decode partial max and sum", rows * 2 * Float.BYTES);
    }

    @Override
    public void close() {
        if (prefill != null) prefill.close();
        if (prefillMma != null) prefillMma.close();
        if (decode != null) decode.close();
        if (combine != null) combine.close();
        if (partO != null) partO.close();
        if (partMl != null) partMl.close();
    }
}
