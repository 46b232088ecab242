package dev.flashcl.internal.kernels;

import dev.flashcl.internal.cl.DeviceInfo;
import java.util.List;

/**
 * The prefill kernel and its tile: {@code blockM} query rows per work-group of blockM work-items
 * and {@code blockN} keys per K/V tile in local memory. {@code quad}: flash_attn_prefill_quad
 * (four work-items share four rows; Q^T, K^T, V and the tile's scores in local memory), else
 * flash_attn_prefill (a row per work-item, q in registers; K and V tiles in local memory).
 * Every candidate is tested; a device gets those that fit its limits.
 */
public record PrefillTiles(boolean quad, int blockM, int blockN) {
    /** The row-per-work-item kernel with this tile. */
    public PrefillTiles(int blockM, int blockN) {
        this(false, blockM, blockN);
    }

    public static PrefillTiles quad(int blockM, int blockN) {
        return new PrefillTiles(true, blockM, blockN);
    }

    /**
     * In order of preference: the first that fits a device is its default. Measured on an H200
     * (2026-12-02, bench-results/2026-12-02-h200-attention-pipelined*): quad 64x16 is the fastest
     * from N = 2048 up (25.4 / 28.3 / 29.5 / 30.3 TFLOP/s at 2048 / 4096 / 8192 / 16384, against
     * 23.5 / 25.8 / 26.7 / 27.3 for 128x16); it takes 34 KB of local memory at head_dim 80. The row
     * kernel's 128x16 (10 KB) is next: 128 rows share each K/V tile twice as widely as 64, 16 keys
     * keep the scores in 16 registers; 128x32 was fastest at N = 512 (2026-12-01). Measured and
     * dropped: 64x32, 64x64 and 32x16 (lost at every N on the H100), 256x32 (within 3% of 128x16,
     * and the slowest under Oclgrind), quad 64x32, 32x16 and 32x32 (lost at every N); register caps on the quads (-cl-nv-maxrregcount 168 and 200, which
     * let local memory rather than registers bound the work-groups per SM) changed nothing.
     */
    public static final List<PrefillTiles> CANDIDATES = List.of(quad(64, 16), new PrefillTiles(128, 16), new PrefillTiles(128, 32));

    /** Local memory the kernel declares: K and V tiles, and for quads also Q^T and the tile's scores. */
    public long localBytes(int headDim) {
        long kv = 2L * blockN * headDim;
        return Float.BYTES * (quad ? kv + (long) blockM * headDim + (long) blockN * blockM : kv);
    }

    public boolean fits(DeviceInfo device, int headDim) {
        boolean shape = !quad || (headDim % 16 == 0 && blockN % 16 == 0 && blockM % 4 == 0);
        return shape && blockM <= device.maxWorkGroupSize() && localBytes(headDim) <= device.localMemBytes();
    }

    /** The candidates that fit the device at this head_dim. */
    public static List<PrefillTiles> candidates(DeviceInfo device, int headDim) {
        return CANDIDATES.stream().filter(t -> t.fits(device, headDim)).toList();
    }

    /** The first candidate that fits: 128 rows and 16 keys per tile where it can (10 KB of local memory at head_dim 80). */
    public static PrefillTiles defaultFor(DeviceInfo device, int headDim) {
        List<PrefillTiles> fit = candidates(device, headDim);
        if (fit.isEmpty()) {
            throw new IllegalArgumentException("no prefill tile fits " + device.name() + " at head_dim " + headDim
                    + " (local memory " + device.localMemBytes() + " bytes, max work-group " + device.maxWorkGroupSize() + ")");
        }
        return fit.get(0);
    }

    @Override
    public String toString() {
        return (quad ? "quad " : "") + blockM + "x" + blockN;
    }
}
