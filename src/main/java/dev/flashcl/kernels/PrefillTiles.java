package dev.flashcl.kernels;

import dev.flashcl.cl.DeviceInfo;
import java.util.List;

/**
 * The prefill kernel's tile: {@code blockM} query rows per work-group (one per work-item) and
 * {@code blockN} keys per K/V tile in local memory (K and V tiles take 2 x blockN x head_dim
 * floats). Every candidate is tested; a device gets those that fit its limits.
 */
public record PrefillTiles(int blockM, int blockN) {
    /**
     * In order of preference: the first that fits a device is its default. 128 rows share each
     * K/V tile twice as widely as 64 (half the tile loads and barriers per FLOP); 16 keys per tile
     * keep the scores in 16 registers instead of 32, so more work-groups fit a compute unit. On an
     * H100 (bench-results/2026-11-24-h100-attention-tiles.json) 128x16 was fastest at N = 2048 and
     * 4096 and within 3% of 256x32 at 16384; 64 keys per tile spill.
     */
    public static final List<PrefillTiles> CANDIDATES = List.of(
            new PrefillTiles(128, 16), new PrefillTiles(128, 32), new PrefillTiles(256, 32), new PrefillTiles(64, 32),
            new PrefillTiles(64, 64), new PrefillTiles(32, 16));

    public long localBytes(int headDim) {
        return 2L * blockN * headDim * Float.BYTES;
    }

    public boolean fits(DeviceInfo device, int headDim) {
        return blockM <= device.maxWorkGroupSize() && localBytes(headDim) <= device.localMemBytes();
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
        return blockM + "x" + blockN;
    }
}
