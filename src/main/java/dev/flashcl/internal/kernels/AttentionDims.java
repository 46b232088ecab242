package dev.flashcl.internal.kernels;

/** The sizes of one attention call; {@code qLen} is 1 for decode. */
public record AttentionDims(int batch, int heads, int qLen, int kvLen, int headDim) {
    public static final int MAX_HEAD_DIM = 128;

    public AttentionDims {
        positive("batch", batch);
        positive("heads", heads);
        positive("q_len", qLen);
        positive("kv_len", kvLen);
        checkHeadDim(headDim);
    }

    /** head_dim must be a multiple of 4 from 4 to {@value #MAX_HEAD_DIM} (64, 80, 96, 128 and the like). */
    public static void checkHeadDim(int headDim) {
        if (headDim < 4 || headDim > MAX_HEAD_DIM || headDim % 4 != 0) {
            throw new IllegalArgumentException("unsupported head_dim " + headDim
                    + ": the attention kernels take a multiple of 4 from 4 to " + MAX_HEAD_DIM + " (Phi-2's is 80)");
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }

    /** 1/sqrt(head_dim), the usual softmax scale. */
    public float defaultScale() {
        return (float) (1.0 / Math.sqrt(headDim));
    }
}
