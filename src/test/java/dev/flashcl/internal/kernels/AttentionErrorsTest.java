package dev.flashcl.internal.kernels;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import org.junit.jupiter.api.Test;

/** Bad shapes and sizes are refused before any kernel runs, with the tensor and the numbers named. */
class AttentionErrorsTest {
    final ClContext ctx = TestDevice.context();

    @Test
    void unsupportedHeadDims() {
        for (int hd : new int[] {0, 81, 130, 256}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FlashAttention(ctx, Storage.F16, hd));
            assertTrue(e.getMessage().contains("unsupported head_dim " + hd), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new AttentionDims(1, 32, 8, 8, 82));
        assertThrows(IllegalArgumentException.class, () -> new AttentionDims(1, 0, 8, 8, 80));
    }

    @Test
    void viewsThatDoNotFitTheirBuffersNameTheTensor() {
        FlashAttention fa = CheckCases.rig().flash(Storage.F16, 80, PrefillTiles.defaultFor(ctx.device(), 80), FlashAttention.defaultDecodeWg(ctx.device(), 80), false);
        AttentionDims dims = new AttentionDims(1, 2, 16, 16, 80);
        int elements = 2 * 16 * 80;
        try (ClBuffer q = ctx.allocate("q", elements * 2L);
             ClBuffer k = ctx.allocate("k cache", elements * 2L - 2);   // one element short
             ClBuffer v = ctx.allocate("v", elements * 2L);
             ClBuffer o = ctx.allocate("o", elements * 2L)) {
            TensorView qv = TensorView.contiguous(q, 2, 16, 80);
            TensorView kv = TensorView.contiguous(k, 2, 16, 80);
            TensorView vv = TensorView.contiguous(v, 2, 16, 80);
            TensorView ov = TensorView.contiguous(o, 2, 16, 80);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fa.prefill(qv, kv, vv, ov, null, dims, true, dims.defaultScale(), null));
            assertTrue(e.getMessage().startsWith("k:") && e.getMessage().contains("'k cache'"), e.getMessage());

            AttentionDims longer = new AttentionDims(1, 2, 17, 16, 80);
            e = assertThrows(IllegalArgumentException.class, () -> fa.prefill(qv, vv, vv, ov, null, longer, true, longer.defaultScale(), null));
            assertTrue(e.getMessage().startsWith("q:"), e.getMessage());

            AttentionDims otherDim = new AttentionDims(1, 2, 16, 16, 64);
            e = assertThrows(IllegalArgumentException.class, () -> fa.prefill(qv, vv, vv, ov, null, otherDim, true, 0.1f, null));
            assertTrue(e.getMessage().contains("head_dim 64") && e.getMessage().contains("built for head_dim 80"), e.getMessage());

            TensorView misaligned = new TensorView(q, 2, 16 * 80, 16 * 80, 80);
            e = assertThrows(IllegalArgumentException.class, () -> fa.prefill(misaligned, vv, vv, ov, null, new AttentionDims(1, 1, 15, 16, 80), true, 0.1f, null));
            assertTrue(e.getMessage().startsWith("q:") && e.getMessage().contains("multiples of 4"), e.getMessage());

            TensorView overlapping = new TensorView(q, 0, 0, 0, 40);
            e = assertThrows(IllegalArgumentException.class, () -> fa.prefill(overlapping, vv, vv, ov, null, dims, true, 0.1f, null));
            assertTrue(e.getMessage().contains("rows overlap"), e.getMessage());

            try (ClBuffer lse = ctx.allocate("lse", 4L * 31)) {
                e = assertThrows(IllegalArgumentException.class, () -> fa.prefill(qv, vv, vv, ov, lse, dims, true, 0.1f, null));
                assertTrue(e.getMessage().contains("lse buffer 'lse'") && e.getMessage().contains("needs 32"), e.getMessage());
            }
            AttentionDims twoRows = new AttentionDims(1, 2, 2, 16, 80);
            e = assertThrows(IllegalArgumentException.class, () -> fa.decode(qv, vv, vv, ov, null, twoRows, 0.1f, null));
            assertTrue(e.getMessage().contains("one query row"), e.getMessage());
        }
    }

    @Test
    void tilesThatDoNotFitTheDeviceAreRefused() {
        PrefillTiles huge = new PrefillTiles(ctx.device().maxWorkGroupSize() * 2, 32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new FlashAttention(ctx, Storage.F16, 80, huge, FlashAttention.DEFAULT_DECODE_WG));
        assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
    }
}
