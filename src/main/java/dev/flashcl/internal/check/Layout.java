package dev.flashcl.internal.check;

/** How a test lays out a [batch, heads, seq, head_dim] tensor in its buffer. */
public enum Layout {
    /** [batch, heads, seq, head_dim], packed. */
    CONTIGUOUS,
    /** [batch, seq, heads, head_dim]: a projection's output, viewed per head without a copy. */
    SEQ_MAJOR,
    /** Rows 3.. of a longer [batch, heads, seq + 8, head_dim] cache: nonzero offset, gaps between heads. */
    CACHE_SLICE;

    public static final int SLICE_START = 3;
    public static final int SLICE_EXTRA = 8;

    /** (offset, batch stride, head stride, row stride) in elements. */
    public int[] strides(int heads, int seq, int headDim) {
        return switch (this) {
            case CONTIGUOUS -> new int[] {0, heads * seq * headDim, seq * headDim, headDim};
            case SEQ_MAJOR -> new int[] {0, seq * heads * headDim, headDim, heads * headDim};
            case CACHE_SLICE -> new int[] {SLICE_START * headDim, heads * (seq + SLICE_EXTRA) * headDim, (seq + SLICE_EXTRA) * headDim, headDim};
        };
    }

    /** Elements the buffer must hold. */
    public int elements(int batch, int heads, int seq, int headDim) {
        int[] s = strides(heads, seq, headDim);
        return this == CACHE_SLICE ? batch * s[1] : batch * heads * seq * headDim;
    }
}
