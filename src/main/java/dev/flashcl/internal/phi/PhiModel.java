package dev.flashcl.internal.phi;

import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.PhiConfig;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.DeviceMemoryException;
import dev.flashcl.internal.graph.Graph;
import dev.flashcl.internal.graph.Graph.Step;
import dev.flashcl.internal.graph.Graph.Tensor;
import dev.flashcl.internal.kernels.AttentionDims;
import dev.flashcl.internal.kernels.FlashAttention;
import dev.flashcl.internal.phi.PhiKernels;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TensorView;
import dev.flashcl.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phi (Phi-2 and models of its shape) on one OpenCL device: the weights, a KV cache for the
 * context length, and two graphs built once from the config, one for prefill chunks (GEMM, flash
 * prefill) and one for single-token decode (GEMV, flash decoding). Per layer:
 *
 * <pre>
 *   layer.L.input_layernorm   h = LN(x)
 *   layer.L.attn.qkv          qkv = h Wqkv^T + b                (q, k, v fused)
 *   layer.L.attn.rope_cache   q = rope(q); cache[pos..] = rope(k), v
 *   layer.L.attn.flash        o = softmax(q K^T / sqrt(d), causal) V
 *   layer.L.mlp.fc1           g = gelu_new(h W1^T + b1)
 *   layer.L.dense+mlp.fc2     partials of o Wd^T and g W2^T     (split along k: one launch that fills the device)
 *   layer.L.residual          x += bd + b2 + the partials       (parallel block: one LN feeds both, x = x + attn + mlp)
 * </pre>
 * The decode graph fuses qkv with fc1 ({@code layer.L.qkv+mlp.fc1}: both read h), the rotary
 * embedding and cache append into attention ({@code layer.L.attn.rope+flash}), and dense with fc2
 * ({@code layer.L.dense+mlp.fc2}: both add into x): four launches a layer instead of seven (five
 * where attention splits the keys and combines). (Folding the LayerNorm into the first was
 * measured twice and dropped: each work-group reducing the residual row itself cost what the
 * saved launch gained on an H100, and the statistics taken in the GEMV's own pass over x, with
 * the LayerNorm's weights folded into qkv and fc1 at load, made that GEMV 0.39 ms a token slower
 * on an H200 where the LayerNorms took 0.31: commit 089627e, reverted.) Then final_layernorm, lm_head (last row, or every row when asked) and argmax on the device.
 * The prefill graph's argmax writes the next id where the decode graph's embedding reads it, so
 * a greedy step needs only the 4-byte read of that id. Not thread-safe: one generation at a time
 * (see {@link Generator}).
 */
public final class PhiModel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PhiModel.class);

    /**
     * @param contextLength KV cache positions (0: the config's max_position_embeddings)
     * @param storage       weights, KV cache and matrix-product inputs: F16 (default) or F32
     * @param prefillChunk  rows per prefill pass; longer prompts run in chunks
     * @param allLogits     keep the logits of every prompt row (tests), not only the last
     * @param weights       Q8_0 or Q4_0: the layer matrices quantized at load; null: as stored
     * @param headWeights   the lm_head's, likewise (null exactly when weights is)
     */
    public record Options(int contextLength, Storage storage, int prefillChunk, boolean allLogits, DType weights, DType headWeights) {
        public static Options defaults() {
            return new Options(0, Storage.F16, 2048, false, null, null);
        }

        public Options withStorage(Storage s) {
            return new Options(contextLength, s, prefillChunk, allLogits, weights, headWeights);
        }

        public Options withContext(int n) {
            return new Options(n, storage, prefillChunk, allLogits, weights, headWeights);
        }

        public Options withChunk(int n) {
            return new Options(contextLength, storage, n, allLogits, weights, headWeights);
        }

        public Options withAllLogits(boolean b) {
            return new Options(contextLength, storage, prefillChunk, b, weights, headWeights);
        }

        /** Quantize the layer matrices and lm_head to Q8_0 or Q4_0 at load (null: as the file holds them). */
        public Options withWeights(DType t) {
            return withWeights(t, t);
        }

        /** The layer matrices to {@code layers}, the lm_head to {@code head} (a mix, as llama.cpp's Q4_0 files keep a finer lm_head). */
        public Options withWeights(DType layers, DType head) {
            if (layers != null) PhiKernels.wqDefine(layers);
            if (head != null) PhiKernels.wqDefine(head);
            if ((layers == null) != (head == null)) throw new IllegalArgumentException("quantize both the layers and the lm_head, or neither");
            return new Options(contextLength, storage, prefillChunk, allLogits, layers, head);
        }
    }

    private final ClContext ctx;
    private final PhiConfig cfg;
    private final Tokenizer tokenizer;
    private final Options opts;
    private final int context;
    private final Storage st;
    private boolean tensorCores;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private PhiWeights w;
    private PhiKernels kernels;
    private ClBuffer ids, logits, kCache, vCache, invFreq;
    private Graph prefillGraph, decodeGraph;
    private FlashAttention flash;
    private PhiAttention phiAttention;
    private volatile int cached;   // positions held in the KV cache (read by other threads: progress, cancellation)

    private PhiModel(ClContext ctx, PhiConfig cfg, Tokenizer tokenizer, Options opts) {
        this.ctx = ctx;
        this.cfg = cfg;
        this.tokenizer = tokenizer;
        this.opts = opts;
        this.st = opts.storage();
        int max = cfg.maxPositions();
        if (opts.contextLength() < 0 || opts.contextLength() > max) {
            throw new IllegalArgumentException("context length " + opts.contextLength() + " is outside 1.." + max + " (the model's max_position_embeddings)");
        }
        this.context = opts.contextLength() == 0 ? max : opts.contextLength();
        if (opts.prefillChunk() < 1) throw new IllegalArgumentException("prefill chunk must be positive, got " + opts.prefillChunk());
    }

    /** Loads the model at {@code dir} (a Hugging Face directory or a GGUF file, see {@link ModelFiles}) onto the device. */
    public static PhiModel load(ClContext ctx, Path dir, Options opts, LongConsumer progress) {
        return load(ctx, ModelFiles.open(dir), opts, progress);
    }

    /** Loads model files already read and checked ({@link ModelFiles#open}) onto the device. */
    public static PhiModel load(ClContext ctx, ModelFiles files, Options opts, LongConsumer progress) {
        PhiConfig cfg = files.config();
        Checkpoint ck = files.checkpoint();
        Tokenizer tok = files.tokenizer();
        Path dir = files.source();
        PhiModel m = new PhiModel(ctx, cfg, tok, opts);
        DType[] formats = PhiWeights.formats(ck, cfg, opts.weights(), opts.headWeights());
        long need = deviceBytesFor(cfg, m.st, m.context, opts.prefillChunk(), opts.allLogits(), ck.has("lm_head.weight") || formats[1] != null, formats[0], formats[1]);
        long have = ctx.device().globalMemBytes() - ctx.bytesInUse();
        if (need > have) {
            throw new DeviceMemoryException(String.format("%s needs about %s of device memory at context %d (%s weights), but %s has %s free; "
                    + "use --context to shorten the KV cache, or a device with more memory", dir, Bytes.format(need), m.context, m.st.suffix,
                    ctx.device().name(), Bytes.format(have)));
        }
        try {
            long t0 = System.nanoTime();
            m.w = PhiWeights.load(ctx, ck, cfg, m.st, formats, progress == null ? n -> {} : progress);
            m.owned.add(m.w);
            m.build();
            log.info("loaded {} ({} parameters, {} weights) in {} ms; device memory {} ({} weights, {} KV cache for {} positions)",
                    dir, cfg.parameters(), m.weightsDescription(), (System.nanoTime() - t0) / 1_000_000, Bytes.format(ctx.bytesInUse()),
                    Bytes.format(PhiWeights.deviceBytes(cfg, m.st, !ck.has("lm_head.weight") && formats[1] == null, formats[0], formats[1])), Bytes.format(m.cacheBytes()), m.context);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The block types {layers, lm_head} the device would hold for this checkpoint as stored (null: the storage type). */
    public static DType[] storedFormats(Checkpoint ck, PhiConfig cfg) {
        return PhiWeights.formats(ck, cfg, null, null);
    }

    /** Checks, touching no device, that the checkpoint holds every tensor {@code cfg} needs, each of the right shape. */
    public static void validate(Checkpoint ck, PhiConfig cfg) {
        PhiWeights.validate(ck, cfg);
    }

    /** Device bytes of the KV cache. */
    public long cacheBytes() {
        return cacheBytes(cfg, st, context);
    }

    private static long cacheBytes(PhiConfig cfg, Storage st, int context) {
        return 2L * cfg.numLayers() * context * cfg.hiddenSize() * st.bytes;
    }

    /**
     * Weights + KV cache + activations for a model at a context length, before anything is
     * allocated (the check in {@link #load}, and {@code inspect}).
     */
    public static long deviceBytesFor(PhiConfig cfg, Storage st, int context, int prefillChunk, boolean allLogits, boolean separateHead) {
        return deviceBytesFor(cfg, st, context, prefillChunk, allLogits, separateHead, null, null);
    }

    /** As above, with the layer matrices and lm_head in block types (null: the storage type), and the prefill's dequantized scratch. */
    public static long deviceBytesFor(PhiConfig cfg, Storage st, int context, int prefillChunk, boolean allLogits, boolean separateHead,
                                      DType layerFormat, DType headFormat) {
        long h = cfg.hiddenSize(), f = cfg.intermediateSize(), v = cfg.vocabSize(), rows = prefillChunk;
        long perRow = 4 * h + 3 * h * 4 + 3 * h * st.bytes + f * st.bytes;   // x, qkv, h/q/o, g
        long logitRows = allLogits ? rows : 1;
        long scratch = (layerFormat == null ? 0 : (Math.max(3 * h * h, f * h) + h * f) * st.bytes) + (headFormat != null && allLogits ? v * h * st.bytes : 0);
        return PhiWeights.deviceBytes(cfg, st, !separateHead, layerFormat, headFormat) + cacheBytes(cfg, st, context) + rows * perRow * 2 + logitRows * v * 4
                + rows * 4 + scratch;
    }

    /** The layers' matrices' block type on the device, or null for the storage type. */
    public DType layerFormat() {
        return w.layerFormat;
    }

    /** The lm_head's block type on the device, or null for the storage type. */
    public DType headFormat() {
        return w.headFormat;
    }

    /** "f16", or the block types with the storage: "Q4_0 (lm_head Q8_0), f16 activations". */
    public String weightsDescription() {
        if (w.layerFormat == null && w.headFormat == null) return st.suffix;
        String layers = w.layerFormat == null ? st.suffix : w.layerFormat.name();
        String head = w.headFormat == null ? st.suffix : w.headFormat.name();
        return layers + (head.equals(layers) ? "" : " (lm_head " + head + ")") + ", " + st.suffix + " activations";
    }

    private void build() {
        int h = cfg.hiddenSize(), heads = cfg.numHeads(), d = cfg.headDim(), layers = cfg.numLayers();
        int chunk = Math.min(opts.prefillChunk(), context);
        ids = own(ctx.allocate("token ids", (long) Math.max(chunk, 2) * 4));   // argmax leaves (id, not-finite flag) in the first two
        logits = own(ctx.allocate("logits", (long) (opts.allLogits() ? chunk : 1) * cfg.vocabSize() * 4));
        long layerCache = (long) heads * context * d;
        kCache = own(ctx.allocate("KV cache (keys)", layers * layerCache * st.bytes));
        vCache = own(ctx.allocate("KV cache (values)", layers * layerCache * st.bytes));
        float[] inv = new float[cfg.rotaryDims() / 2];
        for (int i = 0; i < inv.length; i++) {   // as transformers: 1 / base^(2i / rot), in float32
            float exponent = (float) (2 * i) / cfg.rotaryDims();
            inv[i] = 1.0f / (float) Math.pow(cfg.ropeTheta(), exponent);
        }
        invFreq = own(ctx.allocate("rotary inverse frequencies", Math.max(4, inv.length * 4L)));
        if (inv.length > 0) invFreq.write(inv);
        flash = own(new FlashAttention(ctx, st, d).build(true, true));   // compile now, not inside the first prefill
        phiAttention = new PhiAttention(ctx, flash);
        PhiKernels k = new PhiKernels(ctx, st);
        tensorCores = k.tensorCores();
        kernels = k;
        prefillGraph = own(buildGraph(Mode.PREFILL, k, chunk, null));
        decodeGraph = own(buildGraph(Mode.DECODE, k, 1, null));
        log.info("graphs: prefill {} nodes, {} activation buffers ({}); decode {} nodes, {} buffers ({})", prefillGraph.size(),
                prefillGraph.bufferCount(), Bytes.format(prefillGraph.activationBytes()), decodeGraph.size(), decodeGraph.bufferCount(),
                Bytes.format(decodeGraph.activationBytes()));
    }

    <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    /** The three graphs: a prompt chunk of one sequence, one token of one sequence, one token each of many (paged KV cache). */
    enum Mode { PREFILL, DECODE, BATCH }

    /**
     * The graph of {@code mode} for up to {@code maxRows} rows. BATCH runs the prefill products
     * over the batch's rows, with the kernel chosen once for {@code maxRows} (so that a row's
     * arithmetic is the same whatever else is in the batch), paged attention, and every row's
     * logits and argmax; its inputs and outputs are {@code batch}'s buffers.
     */
    Graph buildGraph(Mode mode, PhiKernels k, int maxRows, PhiBatch batch) {
        int h = cfg.hiddenSize(), heads = cfg.numHeads(), d = cfg.headDim(), f = cfg.intermediateSize(), v = cfg.vocabSize();
        boolean decode = mode == Mode.DECODE, batched = mode == Mode.BATCH;
        int fixedRows = batched ? maxRows : 0;
        ClBuffer idsIn = batched ? batch.ids : ids, logitsOut = batched ? batch.logits : logits;
        Graph g = new Graph(mode.name().toLowerCase(java.util.Locale.ROOT));
        DType lf = w.layerFormat, hf = w.headFormat;
        boolean all = batched || opts.allLogits() && !decode;
        // quantized weights reach the GEMMs dequantized, a matrix at a time, into scratch in the storage type
        ClBuffer scratchA = lf == null || decode ? null : own(ctx.allocate(mode.name().toLowerCase(java.util.Locale.ROOT) + " dequantized weights", (long) Math.max(3 * h, f) * h * st.bytes));
        ClBuffer scratchB = lf == null || decode ? null : own(ctx.allocate(mode.name().toLowerCase(java.util.Locale.ROOT) + " dequantized weights (fc2)", (long) f * h * st.bytes));
        ClBuffer scratchHead = hf == null || !all ? null : own(ctx.allocate(mode.name().toLowerCase(java.util.Locale.ROOT) + " dequantized lm_head", (long) v * h * st.bytes));
        Tensor x = g.tensor("x", 4L * h);
        g.node("embed", List.of(), List.of(x), gr -> {
            ClKernel kn = kernel(k, "embed").arg("ids", idsIn).arg("table", w.embed).arg("x", x.buffer()).arg("h", h).arg("vocab", v);
            return s -> kn.launch(ctx, new long[] {h, s.rows()}, null);
        });
        for (int l = 0; l < cfg.numLayers(); l++) {
            PhiWeights.Layer lw = w.layers[l];
            String p = "layer." + l + ".";
            Tensor hn = g.tensor(p + "h", (long) h * st.bytes);
            Tensor qkv = g.tensor(p + "qkv", 12L * h);
            Tensor q = decode ? null : g.tensor(p + "q", (long) h * st.bytes);
            Tensor o = g.tensor(p + "o", (long) h * st.bytes);
            Tensor mid = g.tensor(p + "g", (long) f * st.bytes);
            g.node(p + "input_layernorm", List.of(x), List.of(hn), gr -> layerNorm(k, x, lw.lnW(), lw.lnB(), hn));
            if (decode) {   // one launch for both products of h, one for both residual adds (fewer, larger launches)
                g.node(p + "qkv+mlp.fc1", List.of(hn), List.of(qkv, mid), gr -> {
                    ClKernel kn = kernel(k, lf == null ? "gemv_qkv_fc1" : "qgemv_qkv_fc1", lf).arg("h", hn.buffer()).arg("w1", lw.qkvW()).arg("b1", lw.qkvB()).arg("out1", qkv.buffer()).arg("n1", 3 * h)
                            .arg("w2", lw.fc1W()).arg("b2", lw.fc1B()).arg("out2", mid.buffer()).arg("n2", f).arg("k", h);
                    return s -> kn.launch(ctx, k.gemvGlobal(3 * h + f), new long[] {k.gemvWg()});
                });
            } else {
                ClBuffer qkvW = dequantized(g, k, p + "attn.qkv.dequant", lw.qkvW(), lf, 3 * h, h, scratchA);
                g.node(p + "attn.qkv", List.of(hn), List.of(qkv), gr -> gemm(k, "f32out", hn, qkvW, lw.qkvB(), qkv, 3 * h, h, fixedRows));
            }
            final long cacheOffset = (long) l * heads * context * d;
            final int off = Math.toIntExact(cacheOffset);
            final float scale = (float) (1.0 / Math.sqrt(d));
            if (batched) {   // each row's rotary embedding, page append and attention over its own pages
                final int layer = l;
                g.node(p + "attn.rope+paged", List.of(qkv), List.of(o), gr -> {
                    ClKernel kn = own(phiAttention.pagedKernel()).arg("qkv", qkv.buffer()).arg("inv_freq", invFreq).arg("rot", cfg.rotaryDims())
                            .arg("k_pages", batch.kPages[layer]).arg("v_pages", batch.vPages[layer]).arg("page_size", batch.pageSize())
                            .arg("positions", batch.positions).arg("block_table", batch.table).arg("max_pages", batch.maxPagesPerSequence())
                            .arg("heads", heads).arg("scale", scale).arg("o", o.buffer());
                    long wg = phiAttention.decodeWg();
                    return s -> kn.launch(ctx, new long[] {wg, heads, s.rows()}, new long[] {wg, 1, 1});
                });
            } else if (decode) {   // rotary embedding, cache append and attention in one launch (or two with a combine)
                g.node(p + "attn.rope+flash", List.of(qkv), List.of(o), gr -> {   // bound once: a step sets only the key count
                    TensorView kv = new TensorView(kCache, off, 0, context * d, d);
                    TensorView vv = new TensorView(vCache, off, 0, context * d, d);
                    TensorView ov = new TensorView(o.buffer(), 0, 0, d, h);
                    var bound = own(phiAttention.bind(qkv.buffer(), invFreq, cfg.rotaryDims(), kv, vv, ov, null,
                            new AttentionDims(1, heads, 1, context, d), scale));
                    return s -> bound.run(s.kvLen(), null);
                });
            } else {
                g.node(p + "attn.rope_cache", List.of(qkv), List.of(q), gr -> {
                    ClKernel kn = kernel(k, "rope_cache").arg("qkv", qkv.buffer()).arg("inv_freq", invFreq).arg("q", q.buffer()).arg("k_cache", kCache).arg("v_cache", vCache)
                            .arg("heads", heads).arg("d_head", d).arg("rot", cfg.rotaryDims()).arg("ctx", context).arg("cache_row0", Math.toIntExact(cacheOffset / d));
                    return s -> {
                        kn.arg("rows", s.rows()).arg("pos0", s.position());
                        kn.launch(ctx, new long[] {d, heads, s.rows()}, null);
                    };
                });
                g.node(p + "attn.flash", List.of(q), List.of(o), gr -> s -> {
                    TensorView kv = new TensorView(kCache, off, 0, context * d, d);
                    TensorView vv = new TensorView(vCache, off, 0, context * d, d);
                    TensorView qv = new TensorView(q.buffer(), 0, 0, s.rows() * d, d);
                    TensorView ov = new TensorView(o.buffer(), 0, 0, d, h);   // written as [rows, heads, d] = [rows, H]
                    flash.prefill(qv, kv, vv, ov, null, new AttentionDims(1, heads, s.rows(), s.kvLen(), d), true, scale, null);
                });
            }
            if (decode) {
                g.node(p + "dense+mlp.fc2", List.of(o, mid, x), List.of(x), gr -> {
                    ClKernel kn = kernel(k, lf == null ? "gemv_dense_fc2" : "qgemv_dense_fc2", lf).arg("o", o.buffer()).arg("wd", lw.denseW()).arg("bd", lw.denseB()).arg("k1", h)
                            .arg("g", mid.buffer()).arg("w2", lw.fc2W()).arg("b2", lw.fc2B()).arg("k2", f).arg("x", x.buffer()).arg("n_out", h);
                    return s -> kn.launch(ctx, new long[] {(long) h * k.gemvWg()}, new long[] {k.gemvWg()});
                });
            } else {
                ClBuffer fc1W = dequantized(g, k, p + "mlp.fc1.dequant", lw.fc1W(), lf, f, h, scratchA);
                g.node(p + "mlp.fc1", List.of(hn), List.of(mid), gr -> gemm(k, "gelu", hn, fc1W, lw.fc1B(), mid, f, h, fixedRows));
                PhiKernels.Split split = PhiKernels.Split.of(h, f);
                Tensor part = g.tensor(p + "partials", 4L * split.parts() * h);
                ClBuffer denseW = dequantized(g, k, p + "attn.dense.dequant", lw.denseW(), lf, h, h, scratchA);
                ClBuffer fc2W = dequantized(g, k, p + "mlp.fc2.dequant", lw.fc2W(), lf, h, f, scratchB);
                g.node(p + "dense+mlp.fc2", List.of(o, mid), List.of(part), gr -> splitGemm(k, split, o, denseW, mid, fc2W, part, h, f, fixedRows));
                g.node(p + "residual", List.of(part, x), List.of(x), gr -> {
                    ClKernel kn = kernel(k, "residual_sum").arg("part", part.buffer()).arg("parts", split.parts()).arg("bd", lw.denseB()).arg("b2", lw.fc2B())
                            .arg("x", x.buffer()).arg("n_out", h);
                    return s -> kn.arg("rows", s.rows()).launch(ctx, new long[] {h, s.rows()}, null);
                });
            }
        }
        Tensor fh = g.tensor("final_h", (long) h * st.bytes);
        g.node("final_layernorm", List.of(x), List.of(fh), gr -> layerNorm(k, x, w.finalLnW, w.finalLnB, fh));
        ClBuffer headW = all ? dequantized(g, k, "lm_head.dequant", w.lmHeadW, hf, v, h, scratchHead) : w.lmHeadW;
        g.node("lm_head", List.of(fh), List.of(), gr -> {
            if (batched) return gemm(k, "f32out", fh, headW, w.lmHeadB, logitsOut, v, h, fixedRows);
            if (all) {
                ClKernel kn = kernel(k, "gemm_f32out").arg("a", fh.buffer()).arg("a_row0", 0).arg("w", headW).arg("bias", w.lmHeadB).arg("out", logits)
                        .arg("n_out", v).arg("k", h);
                return s -> {
                    kn.arg("rows", s.rows());
                    kn.launch(ctx, PhiKernels.Gemm.TILE64.global(s.rows(), v), PhiKernels.Gemm.TILE64.local());
                };
            }
            ClKernel kn = kernel(k, hf == null ? "gemv_f32out" : "qgemv_f32out", hf).arg("a", fh.buffer()).arg("w", w.lmHeadW).arg("bias", w.lmHeadB).arg("out", logits).arg("n_out", v).arg("k", h);
            return s -> {
                kn.arg("a_row0", s.rows() - 1);   // the last row only
                kn.launch(ctx, k.gemvGlobal(v), new long[] {k.gemvWg()});
            };
        });
        g.node("argmax", List.of(), List.of(), gr -> {
            ClKernel kn = kernel(k, "argmax").arg("logits_all", logitsOut).arg("n", v).arg("token", idsIn).arg("flag_at", batched ? maxRows : 1);
            if (batched) {   // every row's id where the next step's embedding reads it, the flags after them
                kn.arg("first", 0);
                return s -> kn.launch(ctx, new long[] {(long) k.argmaxWg() * s.rows()}, new long[] {k.argmaxWg()});
            }
            return s -> {
                kn.arg("first", all ? (s.rows() - 1) * v : 0);
                kn.launch(ctx, new long[] {k.argmaxWg()}, new long[] {k.argmaxWg()});
            };
        });
        g.plan(ctx, maxRows);
        return g;
    }

    ClKernel kernel(PhiKernels k, String name) {
        return own(k.kernel(name));
    }

    ClKernel kernel(PhiKernels k, String name, DType weights) {
        return own(k.kernel(name, weights));
    }

    /**
     * {@code wt} itself when it is in the storage type; for block type {@code format}, a node that
     * dequantizes it ({@code rows} x {@code cols}) into {@code scratch}, which it returns.
     */
    private ClBuffer dequantized(Graph g, PhiKernels k, String name, ClBuffer wt, DType format, int rows, int cols, ClBuffer scratch) {
        if (format == null) return wt;
        g.node(name, List.of(), List.of(), gr -> {
            ClKernel kn = kernel(k, "dequant_rows", format).arg("w", wt).arg("n_rows", rows).arg("k", cols).arg("out", scratch);
            return s -> kn.launch(ctx, new long[] {cols / 16, rows}, null);
        });
        return scratch;
    }

    private Graph.Launch layerNorm(PhiKernels k, Tensor in, ClBuffer wt, ClBuffer b, Tensor out) {
        ClKernel kn = kernel(k, "layernorm").arg("x", in.buffer()).arg("w", wt).arg("b", b).arg("out", out.buffer())
                .arg("h", cfg.hiddenSize()).arg("eps", (float) cfg.layerNormEps());
        return s -> kn.launch(ctx, new long[] {(long) s.rows() * k.lnWg()}, new long[] {k.lnWg()});
    }

    /** A prefill matrix product with its epilogue; the kernel is chosen per launch from the row count, or for {@code fixedRows} rows where that is not 0. */
    private Graph.Launch gemm(PhiKernels k, String epilogue, Tensor a, ClBuffer wt, ClBuffer b, Tensor out, int n, int kk, int fixedRows) {
        return gemm(k, epilogue, a, wt, b, out.buffer(), n, kk, fixedRows);
    }

    private Graph.Launch gemm(PhiKernels k, String epilogue, Tensor a, ClBuffer wt, ClBuffer b, ClBuffer out, int n, int kk, int fixedRows) {
        Map<PhiKernels.Gemm, ClKernel> kernels = gemmKernels(k, epilogue,
                kn -> kn.arg("a", a.buffer()).arg("a_row0", 0).arg("w", wt).arg("bias", b).arg("out", out).arg("n_out", n).arg("k", kk));
        return s -> {
            PhiKernels.Gemm g = k.gemm(fixedRows > 0 ? fixedRows : s.rows(), n, kk);
            kernels.get(g).arg("rows", s.rows()).launch(ctx, g.global(s.rows(), n), g.local());
        };
    }

    /** o Wd^T and g W2^T, split along k, into the partial sums the residual node adds into x. */
    private Graph.Launch splitGemm(PhiKernels k, PhiKernels.Split split, Tensor o, ClBuffer wd, Tensor mid, ClBuffer w2, Tensor part, int h, int f, int fixedRows) {
        boolean k8 = h % 8 == 0 && f % 8 == 0;
        Map<PhiKernels.Gemm, ClKernel> kernels = gemmKernels(k, "split", kn -> kn.arg("a1", o.buffer()).arg("w1", wd).arg("k1", h).arg("a2", mid.buffer())
                .arg("w2", w2).arg("k2", f).arg("chunk", split.chunk()).arg("part", part.buffer()).arg("n_out", h));
        return s -> {
            PhiKernels.Gemm g = k.gemm(fixedRows > 0 ? fixedRows : s.rows(), h, k8, split.parts());
            kernels.get(g).arg("rows", s.rows()).launch(ctx, g.global(s.rows(), h, split.parts()), g.local());
        };
    }

    /** The kernel {@code suffix} of each GEMM tiling the program has, its fixed arguments bound by {@code bind}. */
    private Map<PhiKernels.Gemm, ClKernel> gemmKernels(PhiKernels k, String suffix, java.util.function.UnaryOperator<ClKernel> bind) {
        Map<PhiKernels.Gemm, ClKernel> kernels = new EnumMap<>(PhiKernels.Gemm.class);
        for (PhiKernels.Gemm g : PhiKernels.Gemm.values()) {
            if (k.has(g)) kernels.put(g, bind.apply(kernel(k, g.prefix + suffix)));
        }
        return kernels;
    }

    /**
     * Opens a batched decode over a paged KV cache of {@code pages} pages of {@code pageSize}
     * positions, for up to {@code maxRows} sequences a step (see {@link PhiBatch}). Close it
     * before the model.
     */
    public PhiBatch openBatch(int maxRows, int pageSize, int pages) {
        return new PhiBatch(this, maxRows, pageSize, pages);
    }

    PhiKernels kernels() {
        return kernels;
    }

    PhiWeights weights() {
        return w;
    }

    ClBuffer keyCache() {
        return kCache;
    }

    ClBuffer valueCache() {
        return vCache;
    }

    PhiAttention attention() {
        return phiAttention;
    }

    public PhiConfig config() {
        return cfg;
    }

    /** The tokenizer from the model directory, or null when it has none. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public int contextLength() {
        return context;
    }

    public int cachedPositions() {
        return cached;
    }

    public Storage storage() {
        return st;
    }

    public ClContext context() {
        return ctx;
    }

    /**
     * Runs one token through prefill and one decode step, then forgets them: drivers that compile
     * a kernel on its first launch (PoCL specializes each for its work-group size) do it here, at
     * load, not inside the first generation's measured prefill. A model whose logits are not
     * finite for that token says so when it generates, not here.
     */
    public void warmUp() {
        try {
            prefill(new int[] {0}, null);
            decode(null);
        } catch (NumericalException e) {
            log.debug("warm-up: {}", e.getMessage());
        } finally {
            reset();
        }
    }

    /** Forgets the KV cache (the next prefill starts at position 0). */
    public void reset() {
        cached = 0;
    }

    /** The KV cache holds positions [0, n) (copied into it from a batch's pages): the next prefill starts at n. */
    void resumeAt(int n) {
        cached = n;
    }

    /**
     * Runs {@code tokens} through the model after what the cache holds, in chunks, and returns
     * the argmax of the last row's logits (which also waits for the device).
     */
    public int prefill(int[] tokens, Graph.Observer observer) {
        if (tokens.length == 0) throw new IllegalArgumentException("nothing to prefill: no tokens");
        if (cached + tokens.length > context) {
            throw new IllegalArgumentException("prompt of " + tokens.length + " tokens after " + cached + " cached positions exceeds the context of "
                    + context + " positions");
        }
        for (int t : tokens) {
            if (t < 0 || t >= cfg.vocabSize()) throw new IllegalArgumentException("token id " + t + " is outside the vocabulary of " + cfg.vocabSize());
        }
        int first = cached;
        runChunks(prefillGraph, tokens, observer);
        int[] r = readIdAndFlag();
        if (r[1] != 0) throw diagnose(tokens, first);
        return last = r[0];
    }

    private int last;   // the id the next decode step reads, as the host last saw it

    /** Runs {@code tokens} through {@code g} after the cached positions, in chunks of the prefill size, advancing the cache. */
    private void runChunks(Graph g, int[] tokens, Graph.Observer observer) {
        int chunk = Math.min(opts.prefillChunk(), context);
        for (int start = 0; start < tokens.length; start += chunk) {
            int rows = Math.min(chunk, tokens.length - start);
            ids.write(java.util.Arrays.copyOfRange(tokens, start, start + rows));
            g.run(new Step(rows, cached), observer);
            cached += rows;
        }
    }

    /**
     * The logits went NaN or infinite: runs the same tokens again from the same position with a
     * check of the residual stream after the embedding and after every layer, and names the
     * first place a non-finite value appeared.
     */
    private NumericalException diagnose(int[] tokens, int first) {
        cached = first;
        String[] found = {null};
        boolean decode = tokens.length == 1 && first > 0;
        Graph g = decode ? decodeGraph : prefillGraph;
        int h = cfg.hiddenSize();
        Graph.Observer check = (node, step) -> {
            if (found[0] != null || !(node.equals("embed") || node.endsWith(decode ? ".dense+mlp.fc2" : ".residual") || node.equals("final_layernorm"))) return;
            String tensor = node.equals("final_layernorm") ? "final_h" : "x";
            if (tensor.equals("final_h") && st != Storage.F32) return;
            float[] v = new float[step.rows() * h];
            g.get(tensor).buffer().read(v, 0);
            for (float f : v) {
                if (!Float.isFinite(f)) {
                    found[0] = node.equals("embed") ? "the embedding" : node.equals("final_layernorm") ? "the final LayerNorm"
                            : "layer " + node.split("\\.")[1] + " (its output, x + attention + MLP)";
                    return;
                }
            }
        };
        runChunks(g, tokens, check);
        return new NumericalException(String.format("NaN or infinity in the logits at position %d; it first appeared in %s. "
                + "The checkpoint may hold non-finite weights, or activations overflowed %s storage (try --storage f32)",
                cached - 1, found[0] != null ? found[0] : "the lm_head (every layer's output was finite)", st.suffix));
    }

    /**
     * One decode step: the id the last step left on the device (or {@link #setNextToken}) goes in
     * at the next position; returns the argmax of the new logits.
     */
    public int decode(Graph.Observer observer) {
        if (cached + 1 > context) throw new IllegalStateException("the KV cache is full (" + context + " positions)");
        int input = last;
        decodeGraph.run(new Step(1, cached), observer);
        cached += 1;
        int[] r = readIdAndFlag();
        if (r[1] != 0) throw diagnose(new int[] {input}, cached - 1);
        return last = r[0];
    }

    /** Overrides the id the next decode step reads (sampling picks it on the host). */
    public void setNextToken(int id) {
        if (id < 0 || id >= cfg.vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + cfg.vocabSize());
        ids.write(new int[] {id});
        last = id;
    }

    private int[] readIdAndFlag() {
        int[] t = new int[2];
        ids.read(t);
        return t;
    }

    /** The logits of the last pass: its last row, or with allLogits after a prefill, {@code rows} rows. */
    public float[] logits(int rows) {
        float[] out = new float[rows * cfg.vocabSize()];
        logits.read(out, 0);
        return out;
    }

    /** Reads a graph tensor of the last pass (tests, debugging): {@code count} floats of an fp32 tensor such as "x". */
    public float[] readTensor(boolean decode, String tensor, int count) {
        float[] out = new float[count];
        (decode ? decodeGraph : prefillGraph).get(tensor).buffer().read(out, 0);
        return out;
    }

    /** Whether the prefill matrix products run on tensor cores (see {@link PhiKernels}). */
    public boolean tensorCores() {
        return tensorCores;
    }

    /** Kernels a decode step enqueues with {@code kvLen} keys cached (attention: one, or split and combine). */
    public int kernelsPerDecodeStep(int kvLen) {
        int attention = flash.decodeLaunches(new AttentionDims(1, cfg.numHeads(), 1, kvLen, cfg.headDim()));
        return decodeGraph.size() + cfg.numLayers() * (attention - 1);
    }

    public List<String> nodeNames(boolean decode) {
        return (decode ? decodeGraph : prefillGraph).nodeNames();
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                log.warn("closing {}: {}", owned.get(i), e.toString());
            }
        }
        owned.clear();
    }
}
