package dev.flashcl.internal.phi;

import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.ClProgram;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.Tuning;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Host side of {@code kernels/phi.cl}: the program for one storage type, built once, and a fresh
 * kernel object per graph node (a node binds its arguments once and keeps them). Work-group
 * sizes come from the device: a power of two no larger than it allows.
 *
 * <p>With fp16 storage on a device whose compiler takes NVIDIA inline PTX, the program is built
 * with the tensor-core GEMM kernels ({@code MMA=1}: {@code mma.sync} through inline PTX) and the
 * prefill products use them; if they do not build, the build log is logged and the portable
 * program is used. {@code -Dflashcl.tensorCores=off} (or {@code FLASHCL_TENSOR_CORES=off}) keeps
 * the portable kernels everywhere.
 */
public final class PhiKernels {
    private static final Logger log = LoggerFactory.getLogger(PhiKernels.class);
    private final ClProgram program;
    private final Storage storage;
    private final ClContext ctx;
    private final Map<String, Object> defines;
    private final Map<dev.flashcl.internal.checkpoint.DType, ClProgram> quantPrograms = new java.util.EnumMap<>(dev.flashcl.internal.checkpoint.DType.class);
    private final int lnWg, gemvWg, gemvRows, argmaxWg, computeUnits;
    private final boolean tensorCores, skinny;
    /** Rows the few-rows kernel (phi.cl's gemm_rows_*) takes in one pass over the weights (its RW_M). */
    public static final int ROWS_PASS = 16;
    /**
     * Up to this many rows the portable products take the few-rows kernel: one pass on a GPU (on
     * the H200's portable path, a step of 32 rows in two passes ran at 0.64x the 64-row tiles),
     * two on a CPU device (PoCL: the server's batch of 32 at 4x the tiles' tokens/s for one
     * stream, 2.8x for eight). 0 under {@code -Dflashcl.rowsGemm=off} (the 64-row tiles for few rows
     * too, to measure against).
     */
    private final int fewRowsMax;
    /** Up to this many rows the tensor-core products take the skinny kernel (a batched decode step). */
    public static final int SKINNY_ROWS = 64;
    /** Groups of 4 warps that split k inside a skinny work-group (phi.cl's SK_GROUPS). */
    static final int SKINNY_GROUPS = 2;

    /**
     * The decode GEMVs' shape: work-items per work-group and outputs per work-group (each output
     * gets wg / rows of them; gemv_dense_fc2 gives each of its outputs a whole work-group).
     */
    public record Gemv(int wg, int rows) {
        /** Where nothing was tuned: 128 work-items, 4 outputs (a warp each on NVIDIA). */
        public static final Gemv DEFAULT = new Gemv(128, 4);

        /** Powers of two, at most the device's work-group, at least 16 work-items an output, at most 8 outputs. */
        public boolean fits(dev.flashcl.internal.cl.DeviceInfo d) {
            return Integer.bitCount(wg) == 1 && Integer.bitCount(rows) == 1 && wg <= d.maxWorkGroupSize() && wg / rows >= 16 && rows <= 8;
        }

        /** The shapes {@code flashcl tune} times: work-groups of 64, 128 and 256. */
        public static List<Gemv> candidates(dev.flashcl.internal.cl.DeviceInfo d) {
            List<Gemv> out = new java.util.ArrayList<>();
            for (int wg : new int[] {64, 128, 256}) for (int rows = 1; rows <= 8; rows *= 2) if (new Gemv(wg, rows).fits(d)) out.add(new Gemv(wg, rows));
            return out;
        }

        /**
         * -Dflashcl.gemvWg / gemvRows where given, else what {@code flashcl tune} found for this
         * device, else {@link #DEFAULT} (logged on a GPU: tuning finds its fastest).
         */
        public static Gemv forDevice(dev.flashcl.internal.cl.DeviceInfo d, Storage s) {
            var tuned = tuned(d, s);
            Gemv g = tuned.orElse(DEFAULT);
            Integer wg = Integer.getInteger("flashcl.gemvWg"), rows = Integer.getInteger("flashcl.gemvRows");
            Gemv out = new Gemv(wg != null ? wg : Math.min(g.wg, Integer.highestOneBit(d.maxWorkGroupSize())), rows != null ? rows : g.rows);
            if (tuned.isEmpty() && wg == null && rows == null && d.type() == dev.flashcl.internal.cl.DeviceInfo.DeviceType.GPU) {
                log.info("decode GEMVs: work-groups of {} with {} outputs, the default ('flashcl tune --what gemv' measures this device's fastest and keeps it)",
                        out.wg, out.rows);
            }
            return out;
        }

        /** The shape {@code flashcl tune} stored for this device and storage, if any and it still fits. */
        public static java.util.Optional<Gemv> tuned(dev.flashcl.internal.cl.DeviceInfo d, Storage s) {
            var n = Tuning.entry(d, "gemv " + s.suffix);
            var g = new Gemv(n.path("wg").asInt(0), n.path("rows").asInt(0));
            return g.wg() > 0 && g.rows() > 0 && g.fits(d) ? java.util.Optional.of(g) : java.util.Optional.empty();
        }

        /** Keeps this shape as the device's tuned one for {@code s}. */
        public java.nio.file.Path store(dev.flashcl.internal.cl.DeviceInfo d, Storage s, Map<String, Object> measured) throws java.io.IOException {
            return Tuning.storeEntry(d, "gemv " + s.suffix, Map.of("wg", wg, "rows", rows), measured);
        }

        @Override
        public String toString() {
            return wg + "/" + rows;
        }
    }

    public PhiKernels(ClContext ctx, Storage storage) {
        this(ctx, storage, Gemv.forDevice(ctx.device(), storage), true);
    }

    /** With this GEMV shape; {@code tryTensorCores} false builds the portable program alone (tuning the GEMVs, which are the same in both). */
    public PhiKernels(ClContext ctx, Storage storage, Gemv gemv, boolean tryTensorCores) {
        this.storage = storage;
        int max = ctx.device().maxWorkGroupSize();
        if (max < 256) throw new IllegalArgumentException(ctx.device().name() + " allows work-groups of " + max + "; the GEMM kernel needs 256");
        computeUnits = ctx.device().computeUnits();
        fewRowsMax = "off".equals(System.getProperty("flashcl.rowsGemm")) ? 0
                : ctx.device().type() == dev.flashcl.internal.cl.DeviceInfo.DeviceType.CPU ? 2 * ROWS_PASS : ROWS_PASS;
        lnWg = Integer.getInteger("flashcl.lnWg", Math.min(256, Integer.highestOneBit(max)));
        gemvWg = gemv.wg();
        gemvRows = gemv.rows();
        if (Integer.bitCount(lnWg) != 1 || lnWg > max) throw new IllegalArgumentException("LayerNorm work-group " + lnWg + " must be a power of two at most " + max + " (-Dflashcl.lnWg)");
        if (Integer.bitCount(gemvWg) != 1 || gemvWg > max || Integer.bitCount(gemvRows) != 1 || gemvRows > gemvWg) {
            throw new IllegalArgumentException("GEMV work-group " + gemvWg + " with " + gemvRows + " outputs each: both must be powers of two, "
                    + "the outputs at most the work-group, the work-group at most " + max + " (-Dflashcl.gemvWg, -Dflashcl.gemvRows)");
        }
        argmaxWg = Math.min(256, Integer.highestOneBit(max));
        this.ctx = ctx;
        defines = new HashMap<>(Map.of("STORAGE_F16", storage.define(), "LN_WG", lnWg, "GEMV_WG", gemvWg,
                "GEMV_ROWS", gemvRows, "ARGMAX_WG", argmaxWg, "MMA", 0));
        ClProgram mma = null;
        if (tryTensorCores && storage == Storage.F16 && ctx.tensorCores()) {
            Map<String, Object> withMma = new HashMap<>(defines);
            withMma.put("MMA", 1);
            withMma.put("SK_GROUPS", SKINNY_GROUPS);
            withMma.put("MMA_LDMATRIX", Integer.getInteger("flashcl.mmaLdmatrix", 2));   // see phi.cl: 0 none, 1 all, 2 all but residual
            mma = ctx.tryProgram("phi.cl", withMma, "the tensor-core GEMM kernels").orElse(null);
            if (mma != null) log.info("tensor cores: prefill matrix products use inline PTX mma.sync on {} (-Dflashcl.tensorCores=off for the portable kernels)",
                    ctx.device().name());
        }
        tensorCores = mma != null;
        skinny = !"off".equals(System.getProperty("flashcl.skinnyGemm"));   // off: 128-row tiles for every row count (to measure against)
        program = mma != null ? mma : ctx.program("phi.cl", defines);
    }

    /** Whether the tensor-core GEMM kernels were built (and are chosen for k a multiple of 8). */
    public boolean tensorCores() {
        return tensorCores;
    }

    public ClKernel kernel(String base) {
        return program.kernel(base + "_" + storage.suffix);
    }

    /**
     * A kernel of the program for quantized weights {@code weights} (Q8_0 or Q4_0: phi.cl built
     * with WQ, the qgemv and dequant kernels), or of the main program when {@code weights} is null.
     */
    public ClKernel kernel(String base, dev.flashcl.internal.checkpoint.DType weights) {
        if (weights == null) return kernel(base);
        ClProgram p = quantPrograms.computeIfAbsent(weights, t -> {
            Map<String, Object> d = new HashMap<>(defines);
            d.put("WQ", wqDefine(t));
            return ctx.program("phi.cl", d);
        });
        return p.kernel(base + "_" + storage.suffix);
    }

    /** phi.cl's WQ for a weight format the quantized kernels take. */
    public static int wqDefine(dev.flashcl.internal.checkpoint.DType t) {
        return switch (t) {
            case Q8_0 -> 8;
            case Q4_0 -> 4;
            default -> throw new IllegalArgumentException(t + " weights have no device kernels (Q8_0 and Q4_0 do)");
        };
    }

    /**
     * The prefill GEMM kernels: portable tilings of 64 x 64 and 128 x 128 outputs per work-group
     * of 16 x 16, and the tensor-core ones (fp16 storage, k a multiple of 8): 128 x 128 per
     * work-group of 256, and for few rows 64 rows x 64 outputs per work-group of 256.
     */
    public enum Gemm {
        TILE64("gemm_", 64), TILE128("gemm128_", 128), MMA("gemm_mma_", 128), SKINNY("gemm_skinny_", 64), ROWS("gemm_rows_", 16);

        /** Kernel name prefix: the epilogue ({@code f32out}, {@code gelu}) or {@code split} follows. */
        public final String prefix;
        public final int tile;

        Gemm(String prefix, int tile) {
            this.prefix = prefix;
            this.tile = tile;
        }

        /** The NDRange over rows x n outputs, in {@code splits} parts along k (z; 1 for the plain kernels). */
        public long[] global(int rows, int n, int splits) {
            long tn = (n + tile - 1) / tile, tm = (rows + tile - 1) / tile;
            return switch (this) {
                case MMA -> new long[] {tn * 256, tm, splits};
                case SKINNY -> new long[] {tn * 128 * SKINNY_GROUPS, tm, splits};
                case ROWS -> new long[] {(n + 3) / 4 * 64L, tm, splits};
                default -> new long[] {tn * 16, tm * 16, splits};
            };
        }

        public long[] global(int rows, int n) {
            return global(rows, n, 1);
        }

        public long[] local() {
            return switch (this) {
                case MMA -> new long[] {256, 1, 1};
                case SKINNY -> new long[] {128 * SKINNY_GROUPS, 1, 1};
                case ROWS -> new long[] {64, 1, 1};
                default -> new long[] {16, 16, 1};
            };
        }
    }

    /**
     * The GEMM for rows x n outputs over k: tensor cores when built and k allows (the skinny
     * kernel up to {@link #SKINNY_ROWS} rows, unless {@code -Dflashcl.skinnyGemm=off}), else the
     * few-rows kernel up to 16 rows, 32 on a CPU device (unless {@code -Dflashcl.rowsGemm=off}),
     * else the 128 tiling for more than 64 rows when that still gives two tiles per compute unit,
     * else the 64 one.
     */
    public Gemm gemm(int rows, int n, int k) {
        return gemm(rows, n, k % 8 == 0, 1);
    }

    /** The same choice for a product in {@code splits} parts along k, {@code k8}: every k range a multiple of 8. */
    public Gemm gemm(int rows, int n, boolean k8, int splits) {
        if (tensorCores && k8) return rows <= SKINNY_ROWS && skinny ? Gemm.SKINNY : Gemm.MMA;
        if (rows <= fewRowsMax) return Gemm.ROWS;
        long big = (long) ((rows + 127) / 128) * ((n + 127) / 128) * splits;
        return rows > 64 && big >= 2L * computeUnits ? Gemm.TILE128 : Gemm.TILE64;
    }

    /**
     * How the {@code *_split} kernels cut o Wd^T (k1) + g W2^T (k2): the first whole, the second
     * in chunks of about k1 (a multiple of 32), {@code parts} in all, so that the work-groups
     * have equal work. Phi-2: 2560 + 4 x 2560.
     */
    public record Split(int chunk, int parts) {
        public static Split of(int k1, int k2) {
            int pieces = Math.max(1, (k2 + k1 - 1) / k1);
            return withChunk(k2, ((k2 + pieces - 1) / pieces + 31) / 32 * 32);
        }

        /** The first product whole, the second (k2) in chunks of {@code chunk}, a multiple of 32. */
        public static Split withChunk(int k2, int chunk) {
            return new Split(chunk, 1 + (k2 + chunk - 1) / chunk);
        }
    }

    /** Whether this program has that GEMM's kernels. */
    /** Quantized weights (ggml blocks) in the layout the WQ kernels read: each row's quants, then its fp16 scales. */
    public static java.nio.ByteBuffer quantizedLayout(dev.flashcl.internal.checkpoint.DType t, java.nio.ByteBuffer blocks) {
        return PhiWeights.deviceLayout(t, blocks);
    }

    public boolean has(Gemm g) {
        return g != Gemm.MMA && g != Gemm.SKINNY || tensorCores;
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

    public Gemv gemv() {
        return new Gemv(gemvWg, gemvRows);
    }

    /** Outputs per GEMV work-group (see {@link Gemv}). */
    public int gemvRows() {
        return gemvRows;
    }

    /** The NDRange of a GEMV over n outputs. */
    public long[] gemvGlobal(int n) {
        return new long[] {(long) (n + gemvRows - 1) / gemvRows * gemvWg};
    }

    public int argmaxWg() {
        return argmaxWg;
    }
}
