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
    private final ClProgram program;
    private final Storage storage;
    private final int lnWg, gemvWg, argmaxWg, computeUnits;

    public PhiKernels(ClContext ctx, Storage storage) {
        this.storage = storage;
        int max = ctx.device().maxWorkGroupSize();
        if (max < 256) throw new IllegalArgumentException(ctx.device().name() + " allows work-groups of " + max + "; the GEMM kernel needs 256");
        computeUnits = ctx.device().computeUnits();
        lnWg = Math.min(256, Integer.highestOneBit(max));
        gemvWg = Math.min(128, Integer.highestOneBit(max));
        argmaxWg = Math.min(256, Integer.highestOneBit(max));
        program = ctx.program("phi.cl", Map.of("STORAGE_F16", storage.define(), "LN_WG", lnWg, "GEMV_WG", gemvWg, "GEMV_ROWS", GEMV_ROWS,
                "ARGMAX_WG", argmaxWg));
    }

    public ClKernel kernel(String base) {
        return program.kernel(base + "_" + storage.suffix);
    }

    /**
     * The GEMM tile for rows x n outputs: 128 (kernels {@code gemm128_*}, 8 x 8 outputs per
     * work-item) when that still gives two tiles per compute unit, else 64 ({@code gemm_*}).
     */
    public int gemmTile(int rows, int n) {
        long big = (long) ((rows + 127) / 128) * ((n + 127) / 128);
        return big >= 2L * computeUnits ? 128 : 64;
    }

    /** Kernel name prefix of a GEMM tile. */
    public static String gemmName(int tile) {
        return tile == 128 ? "gemm128_" : "gemm_";
    }

    /** The NDRange of a GEMM tile over rows x n outputs (work-groups of 16 x 16). */
    public static long[] gemmGlobal(int rows, int n, int tile) {
        return new long[] {(long) (n + tile - 1) / tile * 16, (long) (rows + tile - 1) / tile * 16};
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

    /** Outputs per GEMV work-group. */
    public static final int GEMV_ROWS = 4;

    /** The NDRange of a GEMV over n outputs. */
    public long[] gemvGlobal(int n) {
        return new long[] {(long) (n + GEMV_ROWS - 1) / GEMV_ROWS * gemvWg};
    }

    public int argmaxWg() {
        return argmaxWg;
    }
}
