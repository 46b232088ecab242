package dev.flashcl.internal.phi;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.ClProgram;
import dev.flashcl.internal.cl.KernelTimer;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.kernels.TensorView;

/**
 * Host side of {@code kernels/phi_attention.cl}: Phi's decode step with the rotary embedding and
 * the KV-cache append folded into flash decoding (one launch instead of two, plus the combine where
 * the keys are split). q, k and v of the new position, kv_len - 1, come from the projection
 * {@code qkv} ([batch, 3 x heads x head_dim] fp32, q | k | v); q and k are rotated (rotate-half)
 * on their first {@code rot} dims with {@code invFreq} (rot / 2 floats), k and v are written into
 * the cache views at that position, and attention runs over kv_len positions with the split
 * policy of the {@link FlashAttention} it is built beside.
 */
public final class PhiAttention {
    private final ClContext ctx;
    private final FlashAttention flash;
    private final ClProgram program;
    private final String suffix;

    /** Builds (or takes from the kernel cache) the program, with {@code flash}'s decode defines. */
    public PhiAttention(ClContext ctx, FlashAttention flash) {
        this.ctx = ctx;
        this.flash = flash;
        this.program = ctx.program("phi_attention.cl", flash.decodeDefines());
        this.suffix = "_" + flash.storage().suffix;
    }

    /** A fresh {@code flash_attn_decode_paged} kernel (the batched decode over a paged KV cache; see phi_attention.cl). */
    public ClKernel pagedKernel() {
        return program.kernel("flash_attn_decode_paged" + suffix);
    }

    /** Work-items per (row, head) work-group of the paged kernel. */
    public int decodeWg() {
        return flash.decodeWg();
    }

    /**
     * The decode step bound once to its buffers, for up to {@code maxDims.kvLen()} keys: its own
     * kernel objects and partial sums, so that a step sets three arguments (the key count, the
     * split length, the number of splits) where binding each step sets 23. Phi's decode graph
     * holds one per layer: some 650 fewer calls into the driver a token.
     */
    public Bound bind(ClBuffer qkv, ClBuffer invFreq, int rot, TensorView kCache, TensorView vCache, TensorView o, ClBuffer lse,
                      AttentionDims maxDims, float scale) {
        if (maxDims.qLen() != 1) throw new IllegalArgumentException("decode takes one query row, got q_len " + maxDims.qLen());
        int headDim = maxDims.headDim();
        if (rot < 0 || rot > headDim || rot % 2 != 0) throw new IllegalArgumentException("rotary dims must be even and at most head_dim " + headDim + ", got " + rot);
        FlashAttention.checkViews(kCache, kCache, vCache, o, maxDims, 1, headDim, flash.storage());
        FlashAttention.checkLse(lse, (long) maxDims.batch() * maxDims.heads());
        long need = (long) maxDims.batch() * 3 * maxDims.heads() * headDim * Float.BYTES;
        if (qkv.bytes() < need) throw new IllegalArgumentException("qkv buffer '" + qkv.name() + "' holds " + qkv.bytes() + " bytes but needs " + need);
        return new Bound(qkv, invFreq, rot, kCache, vCache, o, lse, maxDims, scale);
    }

    /** See {@link #bind}. Close it before the {@link FlashAttention} it was built beside. */
    public final class Bound implements AutoCloseable {
        private final ClKernel kernel, combine;
        private final ClBuffer partO, partMl;
        private final AttentionDims maxDims;

        private Bound(ClBuffer qkv, ClBuffer invFreq, int rot, TensorView kCache, TensorView vCache, TensorView o, ClBuffer lse,
                      AttentionDims maxDims, float scale) {
            this.maxDims = maxDims;
            long rows = (long) maxDims.batch() * maxDims.heads() * flash.maxSplits(maxDims);
            ClKernel kn = null, cb = null;
            ClBuffer a = null, b = null;
            try {
                kn = program.kernel("flash_attn_decode_rope" + suffix);
                cb = program.kernel("flash_attn_decode_combine" + suffix);
                a = ctx.allocate("decode partial outputs (bound)", rows * maxDims.headDim() * Float.BYTES);
                b = ctx.allocate("decode partial max and sum (bound)", rows * 2 * Float.BYTES);
            } catch (RuntimeException e) {
                for (AutoCloseable c : new AutoCloseable[] {kn, cb, a}) {
                    if (c != null) try { c.close(); } catch (Exception ignored) { }
                }
                throw e;
            }
            kernel = kn;
            combine = cb;
            partO = a;
            partMl = b;
            kernel.arg("qkv", qkv).arg("inv_freq", invFreq).arg("rot", rot);
            kCache.bind(kernel, "k");
            vCache.bind(kernel, "v");
            FlashAttention.bindTail(kernel, combine, o, lse, maxDims.heads(), scale, partO, partMl);
        }

        /** The rotary embedding and cache append of position kvLen - 1, then attention over kvLen keys. */
        public void run(int kvLen, KernelTimer timer) {
            if (kvLen < 1 || kvLen > maxDims.kvLen()) {
                throw new IllegalArgumentException("this bound decode takes 1.." + maxDims.kvLen() + " keys, asked for " + kvLen);
            }
            AttentionDims dims = new AttentionDims(maxDims.batch(), maxDims.heads(), 1, kvLen, maxDims.headDim());
            flash.launchSplits(kernel, combine, dims, flash.splitLength(dims), timer);
        }

        @Override
        public void close() {
            kernel.close();
            combine.close();
            partO.close();
            partMl.close();
        }
    }
}
