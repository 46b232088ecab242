package dev.flashcl.internal.cl;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.kernels.TestDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Argument names come from the kernel sources: macros expanded, every kernel found, names unique; a wrong name is refused with the kernel's list. */
class KernelSignaturesTest {
    static Map<String, List<String>> of(String file) throws Exception {
        return KernelSignatures.parse(Files.readString(Path.of("kernels", file)));
    }

    @Test
    void everyKernelOfEveryFileIsRead() throws Exception {
        Map<String, List<String>> phi = of("phi.cl"), flash = of("flash_attn.cl"), naive = of("attn_naive.cl");
        assertEquals(List.of("a", "a_row0", "w", "bias", "out", "rows", "n_out", "k"), phi.get("gemm128_gelu_f16"), "GEMM_ARGS(T) inside GEMM_KERNELS(gemm128, ...)");
        assertEquals(List.of("a1", "w1", "k1", "a2", "w2", "k2", "chunk", "part", "rows", "n_out"), phi.get("gemm_mma_split_f32"), "SPLIT_ARGS");
        assertEquals(List.of("h", "w1", "b1", "out1", "n1", "w2", "b2", "out2", "n2", "k"), phi.get("gemv_qkv_fc1_f16"));
        assertEquals(List.of("q", "q_layout", "k", "k_layout", "v", "v_layout", "o", "o_layout", "lse", "heads", "q_len", "kv_len", "causal", "scale"),
                flash.get("flash_attn_prefill_quad_f32"), "PREFILL_ARGS");
        assertEquals(List.of("scores", "lse", "q_len", "kv_len"), naive.get("attn_naive_softmax"), "a kernel without KERNEL()");
        assertEquals(2 * 29, phi.size(), "with cache_to_pages and pages_to_cache, the skinny tensor-core products, the few-rows products and the quantized GEMVs and dequant");
        assertEquals(phi.get("cache_to_pages_f16"), phi.get("pages_to_cache_f16"), "the copy back takes the same arguments");
        assertEquals(phi.get("gemm_split_f16"), phi.get("gemm_rows_split_f16"), "the few-rows products take the same arguments");
        assertEquals(phi.get("gemm_mma_split_f16"), phi.get("gemm_skinny_split_f16"), "the skinny products take the same arguments");
        assertEquals(List.of("logits_all", "first", "n", "token", "flag_at"), phi.get("argmax_f32"));
        assertEquals(2 * 5, flash.size());
        Map<String, List<String>> phiAttention = KernelSignatures.parse(ClContext.loadSource("phi_attention.cl"));
        assertEquals(2 * 7, phiAttention.size(), "flash_attn.cl's kernels, included, the rope decode and the paged decode");
        assertEquals(List.of("qkv", "inv_freq", "rot", "k_pages", "v_pages", "page_size", "positions", "block_table", "max_pages", "heads", "scale", "o"),
                phiAttention.get("flash_attn_decode_paged_f32"));
        assertEquals(List.of("qkv", "inv_freq", "rot", "k", "k_layout", "v", "v_layout", "part_o", "part_ml", "heads", "kv_len", "split_len", "scale",
                "o", "o_layout", "lse"), phiAttention.get("flash_attn_decode_rope_f16"));
        assertEquals(2 * 2 + 1, naive.size());
        for (var all : List.of(phi, flash, naive)) {
            for (var e : all.entrySet()) {
                assertFalse(e.getValue().isEmpty(), e.getKey());
                assertEquals(e.getValue().size(), new HashSet<>(e.getValue()).size(), e.getKey() + " has unique argument names");
            }
        }
    }

    @Test
    void aNameTheKernelLacksIsRefused() {
        ClContext ctx = TestDevice.context();
        try (ClProgram p = ctx.build("probe", "__kernel void probe(__global int* out, int n) { out[0] = n; }", "");
             ClKernel k = p.kernel("probe")) {
            assertEquals(List.of("out", "n"), k.argNames());
            var e = assertThrows(IllegalArgumentException.class, () -> k.arg("count", 3));
            assertTrue(e.getMessage().contains("probe") && e.getMessage().contains("[out, n]"), e.getMessage());
            var missing = assertThrows(ClException.class, () -> p.kernel("other"));
            assertTrue(missing.getMessage().contains("other"), missing.getMessage());
        }
    }
}
