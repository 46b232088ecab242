package dev.flashcl.internal.kernels;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.ClProgram;
import dev.flashcl.internal.cl.KernelTimer;
import java.util.Map;

/**
 * Host side of {@code kernels/attn_naive.cl}: attention through a materialized fp32 score matrix
 * of batch x heads x q_len x kv_len floats. The baseline for benchmarks and error bars. The matrix
 * is kept and grown as calls need (released by {@link #close}); one too large for the device fails
 * with a {@code DeviceMemoryException} that gives its size.
 */
public final class NaiveAttention implements AutoCloseable {
    static final int SOFTMAX_WG = 128;
    private final ClContext ctx;
    private final Storage storage;
    private final int headDim;
    private final ClKernel scores;
    private final ClKernel softmax;
    private final ClKernel pv;
    private final int softmaxWg;
    private ClBuffer scoreMatrix;   // [batch * heads, q_len, kv_len] fp32

    public NaiveAttention(ClContext ctx, Storage storage, int headDim) {
        AttentionDims.checkHeadDim(headDim);
        this.ctx = ctx;
        this.storage = storage;
        this.headDim = headDim;
        int wg = Math.min(SOFTMAX_WG, Integer.highestOneBit(ctx.device().maxWorkGroupSize()));
        ClProgram program = ctx.program("attn_naive.cl", Map.of("HEAD_DIM", headDim, "SOFTMAX_WG", wg, "STORAGE_F16", storage.define()));
        scores = program.kernel("attn_naive_scores_" + storage.suffix);
        softmax = program.kernel("attn_naive_softmax");
        pv = program.kernel("attn_naive_pv_" + storage.suffix);
        this.softmaxWg = wg;
    }

    /** Bytes of the score matrix this call would allocate. */
    public static long scoreBytes(AttentionDims dims) {
        return (long) dims.batch() * dims.heads() * dims.qLen() * dims.kvLen() * Float.BYTES;
    }

    /** Same contract as {@link FlashAttention#prefill}. */
    public void run(TensorView q, TensorView k, TensorView v, TensorView o, ClBuffer lse,
                    AttentionDims dims, boolean causal, float scale, KernelTimer timer) {
        FlashAttention.checkViews(q, k, v, o, dims, dims.qLen(), headDim, storage);
        FlashAttention.checkLse(lse, (long) dims.batch() * dims.heads() * dims.qLen());
        long bh = (long) dims.batch() * dims.heads();
        ClBuffer s = scores(scoreBytes(dims));
        k.bind(q.bind(scores, "q"), "k")
                .arg("scores", s).arg("heads", dims.heads()).arg("q_len", dims.qLen()).arg("kv_len", dims.kvLen()).arg("causal", causal ? 1 : 0).arg("scale", scale);
        scores.launch(ctx, new long[] {dims.kvLen(), dims.qLen(), bh}, null, timer);
        softmax.arg("scores", s).argOrNull("lse", lse).arg("q_len", dims.qLen()).arg("kv_len", dims.kvLen());
        softmax.launch(ctx, new long[] {softmaxWg, dims.qLen(), bh}, new long[] {softmaxWg, 1, 1}, timer);
        o.bind(v.bind(pv.arg("probs", s), "v"), "o").arg("heads", dims.heads()).arg("q_len", dims.qLen()).arg("kv_len", dims.kvLen());
        pv.launch(ctx, new long[] {headDim, dims.qLen(), bh}, null, timer);
    }

    private ClBuffer scores(long bytes) {
        if (scoreMatrix != null && scoreMatrix.bytes() >= bytes) return scoreMatrix;
        if (scoreMatrix != null) {
            ctx.finish();   // launches still reading the old matrix
            scoreMatrix.close();
            scoreMatrix = null;
        }
        scoreMatrix = ctx.allocate("naive score matrix", bytes);
        return scoreMatrix;
    }

    @Override
    public void close() {
        if (scoreMatrix != null) scoreMatrix.close();
        scores.close();
        softmax.close();
        pv.close();
    }
}
