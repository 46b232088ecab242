package dev.flashcl.internal.check;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.kernels.NaiveAttention;
import dev.flashcl.internal.kernels.PrefillTiles;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.PhiKernels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the cases of one run share on a device: its context, the kernel objects built so far (each
 * program is built once per shape) and the buffers the Phi cases allocate, released together.
 */
public final class CheckRig implements AutoCloseable {
    private final ClContext ctx;
    private final Map<String, FlashAttention> flash = new HashMap<>();
    private final Map<String, NaiveAttention> naive = new HashMap<>();
    private final Map<String, PhiKernels> phi = new HashMap<>();
    private final List<ClBuffer> buffers = new ArrayList<>();

    public CheckRig(ClContext ctx) {
        this.ctx = ctx;
    }

    public ClContext ctx() {
        return ctx;
    }

    public synchronized FlashAttention flash(Storage s, int headDim, PrefillTiles tiles, int decodeWg, boolean tensorCores) {
        return flash.computeIfAbsent(s + "/" + headDim + "/" + tiles + "/" + decodeWg + "/" + tensorCores,
                key -> new FlashAttention(ctx, s, headDim, tiles, decodeWg).tensorCores(tensorCores));
    }

    public synchronized NaiveAttention naive(Storage s, int headDim) {
        return naive.computeIfAbsent(s + "/" + headDim, key -> new NaiveAttention(ctx, s, headDim));
    }

    /** Phi's kernels in this storage with the device's GEMV shape. */
    public synchronized PhiKernels phi(Storage s) {
        return phi.computeIfAbsent(s.toString(), key -> new PhiKernels(ctx, s));
    }

    /** Phi's kernels with the given GEMV shape (the device's own where it is that shape). */
    public synchronized PhiKernels phi(Storage s, PhiKernels.Gemv g) {
        if (g.equals(phi(s).gemv())) return phi(s);
        return phi.computeIfAbsent(s + " " + g, key -> new PhiKernels(ctx, s, g, false));
    }

    /** A buffer released with the rig (or at {@link #releaseBuffers}). */
    public synchronized ClBuffer allocate(String name, long bytes) {
        ClBuffer b = ctx.allocate(name, bytes);
        buffers.add(b);
        return b;
    }

    public synchronized void releaseBuffers() {
        buffers.forEach(ClBuffer::close);
        buffers.clear();
    }

    /** Releases the attention kernels and the buffers; the context, which owns the Phi programs, stays open (its owner closes it). */
    @Override
    public synchronized void close() {
        releaseBuffers();
        flash.values().forEach(FlashAttention::close);
        naive.values().forEach(NaiveAttention::close);
        flash.clear();
        naive.clear();
        phi.clear();
    }
}
