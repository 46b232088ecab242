package dev.flashcl.internal.kernels;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClKernel;

/**
 * A [batch, heads, seq, head_dim] tensor inside a buffer, head_dim contiguous, the other strides
 * in elements, so a slice of a KV cache or a [seq, heads, head_dim] projection is a view, not a copy.
 * Offset and strides are multiples of 4 elements: the kernels read 4 at a time with aligned loads.
 */
public record TensorView(ClBuffer buffer, int offset, int batchStride, int headStride, int rowStride) {

    /** A tensor that fills {@code buffer} from element 0, laid out [batch, heads, seq, headDim]. */
    public static TensorView contiguous(ClBuffer buffer, int heads, int seq, int headDim) {
        return new TensorView(buffer, 0, heads * seq * headDim, seq * headDim, headDim);
    }

    /**
     * Throws, naming the tensor, unless every element of a [batch, heads, seq, headDim] view lies
     * inside the buffer and the strides are non-negative.
     */
    void checkFits(String name, int batch, int heads, int seq, int headDim, Storage storage) {
        if (offset < 0 || batchStride < 0 || headStride < 0 || rowStride < 0) {
            throw new IllegalArgumentException(name + ": offset and strides must be non-negative, got " + this);
        }
        if (offset % 4 != 0 || batchStride % 4 != 0 || headStride % 4 != 0 || rowStride % 4 != 0) {
            throw new IllegalArgumentException(name + ": offset and strides must be multiples of 4 elements (the kernels load 4 at a time), got " + this);
        }
        if (seq > 1 && rowStride < headDim) {
            throw new IllegalArgumentException(name + ": row stride " + rowStride + " is smaller than head_dim " + headDim + ", so rows overlap");
        }
        long last = offset + (long) (batch - 1) * batchStride + (long) (heads - 1) * headStride + (long) (seq - 1) * rowStride + headDim;
        long capacity = buffer.bytes() / storage.bytes;
        if (last > capacity) {
            throw new IllegalArgumentException(String.format(
                    "%s: a [%d, %d, %d, %d] view at offset %d with strides (%d, %d, %d) reaches element %d but buffer '%s' holds %d %s elements",
                    name, batch, heads, seq, headDim, offset, batchStride, headStride, rowStride, last, buffer.name(), capacity, storage.suffix));
        }
    }

    @Override
    public String toString() {
        return "TensorView[" + buffer.name() + ", offset " + offset + ", strides (" + batchStride + ", " + headStride + ", " + rowStride + ")]";
    }

    /** Sets a kernel's tensor argument {@code arg} and its {@code int4} layout, {@code arg_layout} (offset, batch, head and row strides). */
    public ClKernel bind(ClKernel kernel, String arg) {
        return kernel.arg(arg, buffer()).arg4(arg + "_layout", offset(), batchStride(), headStride(), rowStride());
    }
}
