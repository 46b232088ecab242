package dev.flashcl.internal.check;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TensorView;

/**
 * A device buffer with {@value #GUARD} poisoned elements before and after its data. The poison
 * is a NaN bit pattern, so an element the kernel should have written but did not fails the NaN
 * check, and a write outside the data fails {@link #readChecked}.
 */
public final class GuardedTensor implements AutoCloseable {
    public static final int GUARD = 64;
    public static final int POISON_F32 = 0x7fc0dead;
    public static final short POISON_F16 = 0x7e5a;

    public final ClBuffer buffer;
    final Storage storage;
    final int elements;

    private GuardedTensor(ClContext ctx, String name, Storage storage, int elements) {
        this.storage = storage;
        this.elements = elements;
        this.buffer = ctx.allocate(name, (long) (elements + 2 * GUARD) * storage.bytes);
    }

    /** Uploads {@code values} (already representable in the storage type) between guards. */
    public static GuardedTensor input(ClContext ctx, String name, Storage storage, float[] values) {
        GuardedTensor t = new GuardedTensor(ctx, name, storage, values.length);
        if (storage == Storage.F32) {
            float[] all = new float[values.length + 2 * GUARD];
            java.util.Arrays.fill(all, Float.intBitsToFloat(POISON_F32));
            System.arraycopy(values, 0, all, GUARD, values.length);
            t.buffer.write(all);
        } else {
            short[] all = new short[values.length + 2 * GUARD];
            java.util.Arrays.fill(all, POISON_F16);
            for (int i = 0; i < values.length; i++) all[GUARD + i] = Half.fromFloat(values[i]);
            t.buffer.write(all);
        }
        return t;
    }

    /** An output of {@code elements}, every element and guard poisoned. */
    public static GuardedTensor output(ClContext ctx, String name, Storage storage, int elements) {
        GuardedTensor t = new GuardedTensor(ctx, name, storage, elements);
        t.poison();
        return t;
    }

    public void poison() {
        if (storage == Storage.F32) buffer.fill(POISON_F32);
        else buffer.fill((POISON_F16 & 0xffff) | (POISON_F16 << 16));
    }

    /** A view whose element 0 is the first element after the leading guard. */
    public TensorView view(int batchStride, int headStride, int rowStride, int offset) {
        return new TensorView(buffer, GUARD + offset, batchStride, headStride, rowStride);
    }

    /** Reads the data, failing if a guard element changed. */
    public float[] readChecked(String what) {
        float[] all;
        if (storage == Storage.F32) {
            all = new float[elements + 2 * GUARD];
            buffer.read(all);
            for (int i = 0; i < all.length; i++) {
                if ((i < GUARD || i >= GUARD + elements) && Float.floatToRawIntBits(all[i]) != POISON_F32) {
                    throw new CheckFailure(what + ": guard element " + (i - GUARD) + " was overwritten with " + all[i]);
                }
            }
        } else {
            short[] raw = new short[elements + 2 * GUARD];
            buffer.read(raw);
            all = new float[raw.length];
            for (int i = 0; i < raw.length; i++) {
                if ((i < GUARD || i >= GUARD + elements) && raw[i] != POISON_F16) {
                    throw new CheckFailure(what + ": guard element " + (i - GUARD) + " was overwritten with " + Half.toFloat(raw[i]));
                }
                all[i] = Half.toFloat(raw[i]);
            }
        }
        return java.util.Arrays.copyOfRange(all, GUARD, GUARD + elements);
    }

    @Override
    public void close() {
        buffer.close();
    }
}
