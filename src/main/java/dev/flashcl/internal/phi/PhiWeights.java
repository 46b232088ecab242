package dev.flashcl.internal.phi;

import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.CheckpointException;
import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.GgmlBlocks;
import dev.flashcl.internal.checkpoint.PhiConfig;
import dev.flashcl.internal.checkpoint.TensorInfo;
import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Phi's weights on the device. Matrices are stored as the model's storage type (F16 or F32;
 * BF16 and F32 checkpoints converted while copying), q/k/v fused into one [3H, H] matrix;
 * LayerNorm parameters and biases are fp32. Tensors go from the memory-mapped file to the device
 * one at a time, converted through a small direct staging buffer when the types differ.
 */
final class PhiWeights implements AutoCloseable {
    record Layer(ClBuffer lnW, ClBuffer lnB, ClBuffer qkvW, ClBuffer qkvB, ClBuffer denseW, ClBuffer denseB,
                 ClBuffer fc1W, ClBuffer fc1B, ClBuffer fc2W, ClBuffer fc2B) {}

    final ClBuffer embed, finalLnW, finalLnB, lmHeadW, lmHeadB;
    final Layer[] layers;
    /** The block type of the layers' four matrices and of the lm_head on the device (Q8_0, Q4_0), or null for the storage type. */
    final DType layerFormat, headFormat;
    private final List<ClBuffer> owned;

    private PhiWeights(ClBuffer embed, ClBuffer finalLnW, ClBuffer finalLnB, ClBuffer lmHeadW, ClBuffer lmHeadB, Layer[] layers, List<ClBuffer> owned,
                       DType layerFormat, DType headFormat) {
        this.layerFormat = layerFormat;
        this.headFormat = headFormat;
        this.embed = embed;
        this.finalLnW = finalLnW;
        this.finalLnB = finalLnB;
        this.lmHeadW = lmHeadW;
        this.lmHeadB = lmHeadB;
        this.layers = layers;
        this.owned = owned;
    }

    static String layer(int i, String rest) {
        return "model.layers." + i + "." + rest;
    }

    /** Checks every tensor the config needs against the checkpoint (present, right shape) before anything is allocated. */
    static void validate(Checkpoint ck, PhiConfig c) {
        long v = c.vocabSize(), h = c.hiddenSize(), f = c.intermediateSize();
        expect(ck, "model.embed_tokens.weight", v, h);
        for (int i = 0; i < c.numLayers(); i++) {
            expect(ck, layer(i, "input_layernorm.weight"), h);
            expect(ck, layer(i, "input_layernorm.bias"), h);
            if (ck.has(layer(i, "self_attn.qkv_proj.weight"))) {   // a GGUF file's fused attn_qkv
                expect(ck, layer(i, "self_attn.qkv_proj.weight"), 3 * h, h);
                expect(ck, layer(i, "self_attn.qkv_proj.bias"), 3 * h);
            } else {
                for (String p : new String[] {"q_proj", "k_proj", "v_proj"}) {
                    expect(ck, layer(i, "self_attn." + p + ".weight"), h, h);
                    expect(ck, layer(i, "self_attn." + p + ".bias"), h);
                }
            }
            expect(ck, layer(i, "self_attn.dense.weight"), h, h);
            expect(ck, layer(i, "self_attn.dense.bias"), h);
            expect(ck, layer(i, "mlp.fc1.weight"), f, h);
            expect(ck, layer(i, "mlp.fc1.bias"), f);
            expect(ck, layer(i, "mlp.fc2.weight"), h, f);
            expect(ck, layer(i, "mlp.fc2.bias"), h);
        }
        for (String name : ck.tensors().keySet()) {
            if (!name.startsWith("model.layers.")) continue;
            String n = name.substring("model.layers.".length());
            int dot = n.indexOf('.');
            if (dot > 0 && n.substring(0, dot).matches("\\d{1,9}") && Integer.parseInt(n.substring(0, dot)) >= c.numLayers()) {
                throw new CheckpointException(ck.get(name).file() + ": tensor '" + name + "' is a layer beyond config.json's num_hidden_layers of "
                        + c.numLayers() + "; the config and the checkpoint do not match");
            }
        }
        expect(ck, "model.final_layernorm.weight", h);
        expect(ck, "model.final_layernorm.bias", h);
        if (!c.tieWordEmbeddings() || ck.has("lm_head.weight")) expect(ck, "lm_head.weight", v, h);
        expect(ck, "lm_head.bias", v);
    }

    private static void expect(Checkpoint ck, String name, long... shape) {
        if (!ck.has(name)) {
            throw new CheckpointException(ck.dir() + ": tensor '" + ck.fileName(name) + "' is missing (the config needs it" +
                    (ck.isGguf() ? ")" : "; is this the older phi-msft layout?)"));
        }
        TensorInfo t = ck.get(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(t.file() + ": tensor '" + ck.fileName(name) + "' has shape " + t.shapeString() + " but " + (ck.isGguf() ? "the metadata implies " : "config.json implies ")
                    + Arrays.toString(shape));
        }
        if (shape.length == 1 && t.dtype().quantized()) {
            throw new CheckpointException(t.file() + ": tensor '" + ck.fileName(name) + "' is " + t.dtype() + "; vectors (biases, LayerNorm) must be F32, F16 or BF16");
        }
    }

    /** Device bytes the weights take in {@code s}, with the layer matrices and lm_head in the given block types (null: {@code s}). */
    static long deviceBytes(PhiConfig c, Storage s, boolean tiedUsesEmbedding, DType layerFormat, DType headFormat) {
        long v = c.vocabSize(), h = c.hiddenSize(), f = c.intermediateSize();
        long layerElements = c.numLayers() * (4 * h * h + 2 * f * h);
        long matrices = v * h * s.bytes + (layerFormat == null ? layerElements * s.bytes : layerFormat.bytesOf(layerElements))
                + (tiedUsesEmbedding ? 0 : headFormat == null ? v * h * s.bytes : headFormat.bytesOf(v * h));
        long vectors = c.numLayers() * (2 * h + 3 * h + h + f + h) + 2 * h + v;
        return matrices + vectors * 4;
    }

    static long deviceBytes(PhiConfig c, Storage s, boolean tiedUsesEmbedding) {
        return deviceBytes(c, s, tiedUsesEmbedding, null, null);
    }

    /** The layer matrices of layer i as the checkpoint holds them: q, k, v (or the fused qkv), dense, fc1, fc2. */
    static List<TensorInfo> layerMatrices(Checkpoint ck, int i) {
        List<TensorInfo> out = new ArrayList<>();
        if (ck.has(layer(i, "self_attn.qkv_proj.weight"))) out.add(ck.get(layer(i, "self_attn.qkv_proj.weight")));
        else for (String p : new String[] {"q_proj", "k_proj", "v_proj"}) out.add(ck.get(layer(i, "self_attn." + p + ".weight")));
        for (String n : new String[] {"self_attn.dense.weight", "mlp.fc1.weight", "mlp.fc2.weight"}) out.add(ck.get(layer(i, n)));
        return out;
    }

    /**
     * The device block types {layers, lm_head} (null: the storage type). {@code requested} (Q8_0,
     * Q4_0: {@code --weights}) quantizes both at load; otherwise a file's Q8_0 or Q4_0 blocks stay
     * as they are when every layer matrix has the one type (the fused products take one format),
     * and any other block type is dequantized. The quantized kernels need rows of whole blocks.
     */
    static DType[] formats(Checkpoint ck, PhiConfig c, DType requested, DType requestedHead) {
        boolean rowsFit = c.hiddenSize() % 32 == 0 && c.intermediateSize() % 32 == 0;
        boolean hasHead = ck.has("lm_head.weight");
        if (requested != null) {
            if (!rowsFit) throw new CheckpointException(ck.dir() + ": --weights " + requested.name().toLowerCase(java.util.Locale.ROOT) + " needs hidden_size and intermediate_size "
                    + "multiples of 32 (blocks of 32 along each row); this model has " + c.hiddenSize() + " and " + c.intermediateSize());
            return new DType[] {requested, requestedHead};   // a tied lm_head gets its own quantized copy, as llama.cpp's converter writes one
        }
        java.util.Set<DType> types = java.util.EnumSet.noneOf(DType.class);
        for (int i = 0; i < c.numLayers(); i++) for (TensorInfo t : layerMatrices(ck, i)) types.add(t.dtype());
        DType layers = types.size() == 1 && rowsFit && kernelType(types.iterator().next()) ? types.iterator().next() : null;
        DType head = hasHead && rowsFit && kernelType(ck.get("lm_head.weight").dtype()) ? ck.get("lm_head.weight").dtype() : null;
        return new DType[] {layers, head};
    }

    private static boolean kernelType(DType t) {
        return t == DType.Q8_0 || t == DType.Q4_0;
    }

    static PhiWeights load(ClContext ctx, Checkpoint ck, PhiConfig c, Storage s, DType[] formats, LongConsumer progress) {
        List<ClBuffer> owned = new ArrayList<>();
        DType lf = formats[0], hf = formats[1];
        try {
            Uploader up = new Uploader(ctx, owned, progress);
            long h = c.hiddenSize();
            ClBuffer embed = up.matrix("model.embed_tokens.weight", ck.get("model.embed_tokens.weight"), s);
            Layer[] layers = new Layer[c.numLayers()];
            for (int i = 0; i < layers.length; i++) {
                String[] qkv = {"q_proj", "k_proj", "v_proj"};
                boolean fusedInFile = ck.has(layer(i, "self_attn.qkv_proj.weight"));
                List<TensorInfo> m = layerMatrices(ck, i);
                ClBuffer qkvW = lf != null ? up.quantized(layer(i, "self_attn.qkv (fused)"), m.subList(0, m.size() - 3), lf)
                        : fusedInFile ? up.matrix(layer(i, "self_attn.qkv_proj.weight"), ck.get(layer(i, "self_attn.qkv_proj.weight")), s)
                        : up.fused(layer(i, "self_attn.qkv (fused)"), ck, layer(i, "self_attn.%s.weight"), qkv, s);
                ClBuffer qkvB = fusedInFile ? up.vector(ck.get(layer(i, "self_attn.qkv_proj.bias")))
                        : up.fused(layer(i, "self_attn.qkv.bias (fused)"), ck, layer(i, "self_attn.%s.bias"), qkv, Storage.F32);
                layers[i] = new Layer(up.vector(ck.get(layer(i, "input_layernorm.weight"))), up.vector(ck.get(layer(i, "input_layernorm.bias"))),
                        qkvW, qkvB,
                        up.matrix(layer(i, "self_attn.dense.weight"), ck.get(layer(i, "self_attn.dense.weight")), s, lf),
                        up.vector(ck.get(layer(i, "self_attn.dense.bias"))),
                        up.matrix(layer(i, "mlp.fc1.weight"), ck.get(layer(i, "mlp.fc1.weight")), s, lf), up.vector(ck.get(layer(i, "mlp.fc1.bias"))),
                        up.matrix(layer(i, "mlp.fc2.weight"), ck.get(layer(i, "mlp.fc2.weight")), s, lf), up.vector(ck.get(layer(i, "mlp.fc2.bias"))));
            }
            ClBuffer lnW = up.vector(ck.get("model.final_layernorm.weight"));
            ClBuffer lnB = up.vector(ck.get("model.final_layernorm.bias"));
            TensorInfo head = ck.has("lm_head.weight") ? ck.get("lm_head.weight") : ck.get("model.embed_tokens.weight");
            ClBuffer headW = hf != null ? up.quantized("lm_head.weight", List.of(head), hf) : ck.has("lm_head.weight") ? up.matrix("lm_head.weight", head, s) : embed;
            ClBuffer headB = up.vector(ck.get("lm_head.bias"));
            return new PhiWeights(embed, lnW, lnB, headW, headB, layers, owned, lf, hf);
        } catch (RuntimeException e) {
            for (ClBuffer b : owned) b.close();   // nothing half-loaded stays on the device
            throw e;
        }
    }

    /**
     * ggml blocks of {@code t} (Q8_0 or Q4_0), in file order (row by row), as phi.cl's quantized
     * kernels read them: every block's quants, then every block's fp16 scale (see phi.cl, WQ).
     */
    static ByteBuffer deviceLayout(DType t, ByteBuffer blocks) {
        int n = blocks.remaining() / t.blockBytes, quant = t.blockBytes - 2, p0 = blocks.position();
        ByteBuffer out = ByteBuffer.allocateDirect(n * t.blockBytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int b = 0; b < n; b++) {
            int p = p0 + b * t.blockBytes;
            out.putShort(n * quant + 2 * b, blocks.getShort(p));
            for (int j = 0; j < quant; j++) out.put(b * quant + j, blocks.get(p + 2 + j));
        }
        return out;
    }

    @Override
    public void close() {
        for (ClBuffer b : owned) b.close();
        owned.clear();
    }

    /** Copies tensors to the device, converting dtype through a direct staging buffer. */
    private static final class Uploader {
        private static final int STAGE_ELEMENTS = 1 << 20;
        private final ClContext ctx;
        private final List<ClBuffer> owned;
        private final LongConsumer progress;
        private final ByteBuffer stage = ByteBuffer.allocateDirect(STAGE_ELEMENTS * 4).order(ByteOrder.LITTLE_ENDIAN);

        Uploader(ClContext ctx, List<ClBuffer> owned, LongConsumer progress) {
            this.ctx = ctx;
            this.owned = owned;
            this.progress = progress;
        }

        ClBuffer alloc(String name, long bytes) {
            ClBuffer b = ctx.allocate(name, bytes);
            owned.add(b);
            return b;
        }

        /** A matrix in block type {@code q} (null: in the storage type {@code s}). */
        ClBuffer matrix(String name, TensorInfo t, Storage s, DType q) {
            return q == null ? matrix(name, t, s) : quantized(name, List.of(t), q);
        }

        /**
         * Matrices {@code parts} stacked (their rows one after another) as blocks of {@code q}, in
         * phi.cl's layout, written in one transfer. A part already of type {@code q} is copied as
         * its blocks; any other is dequantized and quantized with ggml's reference quantizer.
         */
        ClBuffer quantized(String name, List<TensorInfo> parts, DType q) {
            long total = 0;
            for (TensorInfo t : parts) total += q.bytesOf(t.elements());
            if (total > Integer.MAX_VALUE) throw new CheckpointException(name + ": " + total + " bytes is over 2 GB");
            ByteBuffer blocks = ByteBuffer.allocateDirect((int) total).order(ByteOrder.LITTLE_ENDIAN);
            for (TensorInfo t : parts) {
                ByteBuffer src = Checkpoint.map(t);
                if (t.dtype() == q) {
                    blocks.put(src);
                } else {   // chunks in parallel, each into its own slice of the output (reads of src are absolute)
                    int at = blocks.position();
                    java.util.stream.LongStream.range(0, (t.elements() + STAGE_ELEMENTS - 1) / STAGE_ELEMENTS).parallel().forEach(c -> {
                        long e0 = c * STAGE_ELEMENTS;
                        int n = (int) Math.min(STAGE_ELEMENTS, t.elements() - e0);
                        float[] f = new float[n];
                        GgmlBlocks.dequantize(t.dtype(), src, e0, n, f);
                        ByteBuffer dst = blocks.slice(at + (int) q.bytesOf(e0), (int) q.bytesOf(n)).order(ByteOrder.LITTLE_ENDIAN);
                        if (q == DType.Q8_0) GgmlBlocks.quantizeQ8_0(f, 0, n, dst);
                        else GgmlBlocks.quantizeQ4_0(f, 0, n, dst);
                    });
                    blocks.position(at + (int) q.bytesOf(t.elements()));
                }
                progress.accept(t.bytes());
            }
            blocks.flip();
            ClBuffer b = alloc(name, total);
            b.write(0, deviceLayout(q, blocks));
            return b;
        }

        ClBuffer matrix(String name, TensorInfo t, Storage s) {
            ClBuffer b = alloc(name, t.elements() * s.bytes);
            copy(t, b, 0, s);
            return b;
        }

        ClBuffer vector(TensorInfo t) {
            ClBuffer b = alloc(t.name(), t.elements() * 4);
            copy(t, b, 0, Storage.F32);
            return b;
        }

        /**
         * Tensors {@code parts} (e.g. q, k, v) stacked in one buffer, assembled on the host and
         * written in one transfer (one write per buffer also keeps Oclgrind's uninitialized-value
         * tracking exact: it reported reads of buffers filled by several partial writes).
         */
        ClBuffer fused(String name, Checkpoint ck, String pattern, String[] parts, Storage target) {
            long total = 0;
            for (String p : parts) total += ck.get(String.format(pattern, p)).elements() * target.bytes;
            if (total > Integer.MAX_VALUE) throw new CheckpointException(name + ": " + total + " bytes is over 2 GB");
            ByteBuffer all = ByteBuffer.allocateDirect((int) total).order(ByteOrder.LITTLE_ENDIAN);
            for (String p : parts) {
                TensorInfo t = ck.get(String.format(pattern, p));
                convert(t, Checkpoint.map(t), 0, t.elements(), target, all);
                progress.accept(t.bytes());
            }
            all.flip();
            ClBuffer b = alloc(name, total);
            b.write(0, all);
            return b;
        }

        /** Elements [e0, e0 + n) of {@code src} (dtype of t, block types dequantized) appended to {@code dst} as {@code target}. */
        private static void convert(TensorInfo t, ByteBuffer src, long e0, long n, Storage target, ByteBuffer dst) {
            float[] f = new float[(int) Math.min(n, STAGE_ELEMENTS)];
            for (long done = 0; done < n; done += f.length) {
                int m = (int) Math.min(f.length, n - done);
                GgmlBlocks.dequantize(t.dtype(), src, e0 + done, m, f);
                for (int i = 0; i < m; i++) {
                    if (target == Storage.F16) dst.putShort(Half.fromFloat(f[i]));
                    else dst.putFloat(f[i]);
                }
            }
        }

        void copy(TensorInfo t, ClBuffer dst, long dstOffset, Storage target) {
            MappedByteBuffer src = Checkpoint.map(t);
            boolean same = (t.dtype() == DType.F16 && target == Storage.F16) || (t.dtype() == DType.F32 && target == Storage.F32);
            if (same) {
                for (long done = 0; done < t.bytes(); ) {   // 64 MB at a time, so the progress bar moves
                    int n = (int) Math.min(64L << 20, t.bytes() - done);
                    dst.write(dstOffset + done, src.slice((int) done, n));
                    done += n;
                    progress.accept(n);
                }
                return;
            }
            long elements = t.elements();
            for (long e0 = 0; e0 < elements; e0 += STAGE_ELEMENTS) {
                int n = (int) Math.min(STAGE_ELEMENTS, elements - e0);
                stage.clear();
                convert(t, src, e0, n, target, stage);
                stage.flip();
                dst.write(dstOffset + e0 * target.bytes, stage);
                progress.accept(t.dtype().bytesOf(n));
            }
        }
    }
}
