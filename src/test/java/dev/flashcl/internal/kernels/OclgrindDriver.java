package dev.flashcl.internal.kernels;

import dev.flashcl.internal.check.AttentionCheck;
import dev.flashcl.internal.check.AttentionReference;
import dev.flashcl.internal.check.GuardedTensor;
import dev.flashcl.internal.check.Layout;
import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;

/**
 * Runs every attention kernel on small shapes, checked against the fp64 reference; started by
 * {@link OclgrindTest} in a JVM whose only OpenCL device is Oclgrind's simulator, which reports
 * data races, out-of-bounds and uninitialized accesses to its log. Exits non-zero on a wrong result.
 *
 * <p>No buffer is released before the end (the context releases them all): Oclgrind 21.10's
 * uninitialized-value tracking reports reads of a buffer allocated where a released one was, even
 * after a kernel wrote every element of it (results right, report false). So the decode cases run
 * largest first, sizing the partial-result buffers once.
 */
public final class OclgrindDriver {
    public static void main(String[] args) {
        boolean graphOnly = args.length > 0 && args[0].equals("graph");
        if (args.length > 1) GRAPH_STORAGES = new Storage[] {Storage.valueOf(args[1])};
        try (ClContext ctx = ClContext.open(null)) {
            for (Storage s : graphOnly ? new Storage[0] : Storage.values()) {
                NaiveAttention naive = new NaiveAttention(ctx, s, 80);
                java.util.List<PrefillTiles> tiles = new java.util.ArrayList<>(PrefillTiles.candidates(ctx.device(), 80));
                // Oclgrind's 32 KB of local memory takes no 64-row quad tile: the quad kernel is checked at 32 rows
                if (tiles.stream().noneMatch(PrefillTiles::quad)) tiles.add(PrefillTiles.quad(32, 16));
                for (PrefillTiles t : tiles) {
                    FlashAttention fa = new FlashAttention(ctx, s, 80, t, FlashAttention.DEFAULT_DECODE_WG);
                    // Two query blocks when blockM is 64 (the largest case first: it sizes naive's score matrix),
                    // a ragged K/V tail, a chunk against a longer cache, rows that see no key.
                    prefill(ctx, fa, naive, new AttentionDims(1, 1, 70, 70, 80), true, Layout.CONTIGUOUS);
                    prefill(ctx, fa, naive, new AttentionDims(1, 1, 5, 37, 80), true, Layout.CACHE_SLICE);
                    prefill(ctx, fa, naive, new AttentionDims(2, 1, 9, 5, 80), false, Layout.SEQ_MAJOR);
                    prefill(ctx, fa, naive, new AttentionDims(1, 1, 9, 5, 80), true, Layout.CONTIGUOUS);
                }
                FlashAttention fa = new FlashAttention(ctx, s, 80);
                decode(ctx, fa, new AttentionDims(2, 2, 1, 300, 80), 64);
                decode(ctx, fa, new AttentionDims(1, 1, 1, 7, 80), 3);
            }
            graph(ctx);
        }
        System.out.println("oclgrind driver: all results match the reference");
    }

    /**
     * The whole Phi graph (every phi.cl kernel, flash prefill and decode) on a micro model, both
     * storages: a 5-token prompt in chunks of 3 (a chunk against the cache before it), then decode
     * steps. Results are checked on PoCL (PhiModelTest); here the point is Oclgrind's log, and
     * that greedy ids stay in the vocabulary and logits finite. F32 storage only: Oclgrind 21.10's
     * uninitialized-value tracking does not mark memory written by vstore_half as defined, so a
     * kernel reading another kernel's fp16 output is reported (seen here: gemm reading LayerNorm's
     * output; the f16 graph's results equal the f32 graph's). The fp16 load paths are under
     * Oclgrind in the attention cases above, on host-written data.
     */
    static Storage[] GRAPH_STORAGES = {Storage.F32};

    static void graph(ClContext ctx) {
        try {
            java.nio.file.Path dir = dev.flashcl.internal.phi.MicroModel.write(java.nio.file.Files.createTempDirectory("flashcl-micro"), 40, 80, 1, 96, 1, 16, 5);
            java.util.List<dev.flashcl.internal.phi.PhiModel> models = new java.util.ArrayList<>();   // closed together at the end (see above)
            for (Storage s : GRAPH_STORAGES) {
                dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, dir, dev.flashcl.internal.phi.PhiModel.Options.defaults().withStorage(s).withChunk(3), null);
                models.add(m);
                {
                    var r = new dev.flashcl.internal.generate.Generator(m).generate(dev.flashcl.GenerationRequest.builder().promptTokens(1, 2, 3, 4, 5)
                            .maxNewTokens(3).stopAtEos(false).build());
                    for (int id : r.tokens()) if (id < 0 || id >= 40) throw new AssertionError("graph " + s + ": token id " + id + " outside the vocabulary");
                    for (float f : m.logits(1)) if (!Float.isFinite(f)) throw new AssertionError("graph " + s + ": logits not finite");
                    System.out.println("ok graph " + s + " " + java.util.Arrays.toString(r.tokens()));
                }
                // the batched step (paged attention, cache_to_pages) and a shared prefix (pages_to_cache), driven from this
                // thread (Oclgrind's runtime fails when a second host thread, as the batch loop's, enqueues): pages of 4 positions
                try (var b = m.openBatch(2, 4, 8)) {
                    int[] first = {b.takePage(), b.takePage(), b.takePage(), -1};
                    int[] prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
                    m.reset();
                    m.prefill(java.util.Arrays.copyOf(prompt, 9), null);
                    b.copyPrefill(first, 9);
                    b.registerPrefix(java.util.Arrays.copyOf(prompt, 9), first);
                    int[] table = {-1, -1, -1, -1};
                    if (b.sharePrefix(prompt, table) != 2) throw new AssertionError("batch " + s + ": the prompt did not take the two full pages");
                    table[2] = b.takePage();
                    m.reset();
                    b.restorePrefix(table, 8);
                    m.prefill(java.util.Arrays.copyOfRange(prompt, 8, 10), null);
                    b.copyPrefill(table, 10);
                    int[] next = new int[2];
                    b.step(2, new int[] {prompt[10], 9}, new int[] {10, 9}, new int[][] {table, first}, next, new boolean[2]);
                    for (int id : next) if (id < 0 || id >= 40) throw new AssertionError("batch " + s + ": token id " + id + " outside the vocabulary");
                    for (int r = 0; r < 2; r++) for (float x : b.logits(r)) if (!Float.isFinite(x)) throw new AssertionError("batch " + s + ": logits not finite");
                    System.out.println("ok batch " + s + " " + java.util.Arrays.toString(next));
                }
            }
            // the quantized kernels (qgemv decode, dequant_rows before the prefill GEMMs): rows of whole 32-element blocks;
            // their prefill chunks of 3 rows take the 64-row tiles (the F32 graph above took the few-rows kernels)
            System.setProperty("flashcl.rowsGemm", "off");
            java.nio.file.Path q = dev.flashcl.internal.phi.MicroModel.write(java.nio.file.Files.createTempDirectory("flashcl-micro-q"), 40, 96, 1, 128, 1, 16, 6);
            for (var t : new dev.flashcl.internal.checkpoint.DType[] {dev.flashcl.internal.checkpoint.DType.Q8_0, dev.flashcl.internal.checkpoint.DType.Q4_0}) {
                dev.flashcl.internal.phi.PhiModel m = dev.flashcl.internal.phi.PhiModel.load(ctx, q,
                        dev.flashcl.internal.phi.PhiModel.Options.defaults().withStorage(Storage.F32).withChunk(3).withWeights(t), null);
                models.add(m);
                var r = new dev.flashcl.internal.generate.Generator(m).generate(dev.flashcl.GenerationRequest.builder().promptTokens(1, 2, 3, 4, 5)
                        .maxNewTokens(3).stopAtEos(false).build());
                for (int id : r.tokens()) if (id < 0 || id >= 40) throw new AssertionError("graph " + t + ": token id " + id + " outside the vocabulary");
                for (float f : m.logits(1)) if (!Float.isFinite(f)) throw new AssertionError("graph " + t + ": logits not finite");
                System.out.println("ok graph " + t + " " + java.util.Arrays.toString(r.tokens()));
            }
            models.forEach(dev.flashcl.internal.phi.PhiModel::close);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void prefill(ClContext ctx, FlashAttention fa, NaiveAttention naive, AttentionDims dims, boolean causal, Layout layout) {
        Storage s = fa.storage();
        String what = "prefill " + s + " " + fa.tiles() + " " + dims + (causal ? " causal" : "");
        int rows = dims.batch() * dims.heads() * dims.qLen();
        AttentionCheck.Inputs in = AttentionCheck.inputs(ctx, dims, s, layout, 1f, 11);
        GuardedTensor o = AttentionCheck.output(ctx, s, layout, dims, dims.qLen());
        GuardedTensor oNaive = AttentionCheck.output(ctx, s, layout, dims, dims.qLen());
        ClBuffer lse = ctx.allocate("lse", (long) rows * Float.BYTES);
        AttentionReference.Result ref = AttentionReference.attention(in.q(), in.k(), in.v(), dims, causal, dims.defaultScale());
        fa.prefill(in.qv(), in.kv(), in.vv(), AttentionCheck.outputView(o, layout, dims, dims.qLen()), lse, dims, causal, dims.defaultScale(), null);
        naive.run(in.qv(), in.kv(), in.vv(), AttentionCheck.outputView(oNaive, layout, dims, dims.qLen()), null, dims, causal, dims.defaultScale(), null);
        AttentionCheck.assertClose(what, AttentionCheck.readOutput(o, layout, dims, dims.qLen(), what), ref, dims, dims.qLen(), s, 1.0);
        AttentionCheck.assertClose("naive " + what, AttentionCheck.readOutput(oNaive, layout, dims, dims.qLen(), what), ref, dims, dims.qLen(), s, 1.0);
        AttentionCheck.assertLse(what, AttentionCheck.readFloats(lse, rows), ref, dims);
        System.out.println("ok " + what);
    }

    static void decode(ClContext ctx, FlashAttention fa, AttentionDims dims, int splitLen) {
        Storage s = fa.storage();
        String what = "decode " + s + " " + dims + " split " + splitLen;
        AttentionCheck.Inputs in = AttentionCheck.inputs(ctx, dims, s, Layout.CACHE_SLICE, 1f, 12);
        GuardedTensor o = AttentionCheck.output(ctx, s, Layout.CONTIGUOUS, dims, 1);
        ClBuffer lse = ctx.allocate("lse", (long) dims.batch() * dims.heads() * Float.BYTES);
        AttentionReference.Result ref = AttentionReference.attention(in.q(), in.k(), in.v(), dims, false, dims.defaultScale());
        fa.decode(in.qv(), in.kv(), in.vv(), AttentionCheck.outputView(o, Layout.CONTIGUOUS, dims, 1), lse, dims, dims.defaultScale(), splitLen, null);
        AttentionCheck.assertClose(what, AttentionCheck.readOutput(o, Layout.CONTIGUOUS, dims, 1, what), ref, dims, 1, s, 1.0);
        AttentionCheck.assertLse(what, AttentionCheck.readFloats(lse, dims.batch() * dims.heads()), ref, dims);
        System.out.println("ok " + what);
    }
}
