package dev.flashcl.kernels;

import dev.flashcl.cl.DeviceInfo;
import java.util.List;

/**
 * The prefill kernel and its tile: {@code blockM} query rows per work-group of blockM work-items
 * and {@code blockN} keys per K/V tile in local memory. {@code quad}: flash_attn_prefill_quad
 * (four work-items share four rows; Q^T, K^T, V and the tile's scores in local memory), else
 * flash_attn_prefill (a row per work-item, q in registers; K and V tiles in local memory).
 * {@code maxRegisters} (0: none) caps the registers per work-item where the device takes a cap
 * ({@link DeviceInfo#takesRegisterCap}; a capped tile is offered only there), so that more
 * work-groups share a compute unit. Every candidate is tested; a device gets those that fit.
 */
public record PrefillTiles(boolean quad, int blockM, int blockN, int maxRegisters) {
    /** The row-per-work-item kernel with this tile. */
    public PrefillTiles(int blockM, int blockN) {
        this(false, blockM, blockN, 0);
    }

    public static PrefillTiles quad(int blockM, int blockN) {
        return new PrefillTiles(true, blockM, blockN, 0);
    }

    /** This tile with at most {@code registers} registers per work-item. */
    public PrefillTiles withMaxRegisters(int registers) {
        return new PrefillTiles(quad, blockM, blockN, registers);
    }

    /**
     * In order of preference: the first that fits a device is its default. Row kernel: 128 rows
     * share each K/V tile twice as widely as 64 (half the tile loads and barriers per FLOP); 16
     * keys per tile keep the scores in 16 registers instead of 32. On an H100
     * (bench-results/2026-11-25-h100-attention-tc.json) 128x16 was fastest at N = 2048 and 4096 and
     * within 3% of 256x32 at 16384; 64x32, 64x64 and 32x16 lost at every N and are gone. Quad
     * kernel: 64 rows take 34 KB of local memory at head_dim 80 (64x32: the whole 48 KB); 32 rows
     * make one-warp work-groups with half that.
     */
    public static final List<PrefillTiles> CANDIDATES = List.of(
            new PrefillTiles(128, 16), new PrefillTiles(128, 32), new PrefillTiles(256, 32),
            quad(64, 16), quad(64, 32), quad(32, 16), quad(32, 32),
            // NVIDIA's compiler gives these 254 registers when uncapped (ptxas, H200, 2026-12-01), which
            // leaves room for 4 work-groups of 64 (8 of 32) on a compute unit of 64K registers; their local
            // memory admits 6 (10): 168 (200) registers per work-item let them all in.
            quad(64, 16).withMaxRegisters(168), quad(32, 16).withMaxRegisters(200));

    /** Local memory the kernel declares: K and V tiles, and for quads also Q^T and the tile's scores. */
    public long localBytes(int headDim) {
        long kv = 2L * blockN * headDim;
        return Float.BYTES * (quad ? kv + (long) blockM * headDim + (long) blockN * blockM : kv);
    }

    public boolean fits(DeviceInfo device, int headDim) {
        boolean shape = !quad || (headDim % 16 == 0 && blockN % 16 == 0 && blockM % 4 == 0);
        return shape && (maxRegisters == 0 || device.takesRegisterCap())
                && blockM <= device.maxWorkGroupSize() && localBytes(headDim) <= device.localMemBytes();
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
        return (quad ? "quad " : "") + blockM + "x" + blockN + (maxRegisters > 0 ? " r" + maxRegisters : "");
    }
}
