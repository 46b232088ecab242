package dev.flashcl.kernels;

import dev.flashcl.cl.ClContext;
import dev.flashcl.cl.ClKernel;
import dev.flashcl.cl.ClProgram;
import java.util.Map;

/**
 * Host side of {@code kernels/phi.cl}: the program for one storage type, built once, and a fresh
 * kernel object per graph node (a node binds its arguments once and keeps them). Work-group
 * sizes come from the device: a power of two no larger than it allows.
 */
public final class PhiKernels {
    /** GEMM tile of phi.cl: a work-group of 16 x 16 computes TM x TN outputs. */
    public static final int TM = 64, TN = 64;

    private final ClProgram program;
    private final Storage storage;
    private final int lnWg, gemvWg, argmaxWg;

    public PhiKernels(ClContext ctx, Storage storage) {
        this.storage = storage;
        int max = ctx.device().maxWorkGroupSize();
        if (max < 256) throw new IllegalArgumentException(ctx.device().name() + " allows work-groups of " + max + "; the GEMM kernel needs 256");
        lnWg = Math.min(256, Integer.highestOneBit(max));
        gemvWg = Math.min(64, Integer.highestOneBit(max));
        argmaxWg = Math.min(256, Integer.highestOneBit(max));
        program = ctx.program("phi.cl", Map.of("STORAGE_F16", storage.define(), "LN_WG", lnWg, "GEMV_WG", gemvWg, "ARGMAX_WG", argmaxWg));
    }

    public ClKernel kernel(String base) {
        return program.kernel(base + "_" + storage.suffix);
    }

    public Storage storage() {
        return storage;
    }

    public int lnWg() {
        return lnWg;
    }

    public int gemvWg() {
        return gemvWg;
    }

    public int argmaxWg() {
        return argmaxWg;
    }
}
