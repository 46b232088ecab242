package dev.flashcl.internal.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Writes a Hugging Face Phi directory (config.json, safetensors, tokenizer.json) as a GGUF v3 file
 * the way llama.cpp's convert_hf_to_gguf.py lays out Phi-2: the phi2 metadata, the gpt2 tokenizer
 * (padded to the embedding's rows with unused tokens), tensors under llama.cpp's names, vectors
 * F32 and each matrix in the type {@code typeOf} picks for its GGUF name. Q8_0 and Q4_0 blocks
 * come from ggml's reference quantizers ({@link GgmlBlocks}); Q4_K, Q5_K and Q6_K from the simple
 * quantizers below (any valid blocks serve: llama.cpp reads the same bytes).
 */
public final class GgufWriter {
    private final List<byte[]> kv = new ArrayList<>();
    private int kvCount;

    private GgufWriter() {}

    /** {@code fuseQkv}: one attn_qkv tensor a layer (as files converted from the phi-msft layout have), else attn_q/k/v. */
    public static Path write(Path hfDir, Path out, boolean fuseQkv, Function<String, DType> typeOf) throws IOException {
        PhiConfig c = PhiConfig.read(hfDir);
        Checkpoint ck = Checkpoint.open(hfDir);
        JsonNode tj = new ObjectMapper().readTree(hfDir.resolve("tokenizer.json").toFile());
        GgufWriter w = new GgufWriter();
        w.str("general.architecture", "phi2");
        w.str("general.name", hfDir.getFileName().toString());
        w.u32("phi2.context_length", c.maxPositions());
        w.u32("phi2.embedding_length", c.hiddenSize());
        w.u32("phi2.feed_forward_length", c.intermediateSize());
        w.u32("phi2.block_count", c.numLayers());
        w.u32("phi2.attention.head_count", c.numHeads());
        w.u32("phi2.attention.head_count_kv", c.numHeads());
        w.f32("phi2.attention.layer_norm_epsilon", (float) c.layerNormEps());
        w.u32("phi2.rope.dimension_count", c.rotaryDims());
        if (c.ropeTheta() != 10000) w.f32("phi2.rope.freq_base", (float) c.ropeTheta());
        w.u32("general.file_type", 1);
        // the tokenizer: ids 0..vocab-1, added tokens as their text, padding as unused tokens
        String[] tokens = new String[c.vocabSize()];
        int[] types = new int[c.vocabSize()];
        tj.path("model").path("vocab").fields().forEachRemaining(e -> { tokens[e.getValue().asInt()] = e.getKey(); types[e.getValue().asInt()] = 1; });
        for (JsonNode a : tj.path("added_tokens")) {
            tokens[a.get("id").asInt()] = a.get("content").asText();
            types[a.get("id").asInt()] = a.path("special").asBoolean() ? 3 : 4;
        }
        for (int i = 0; i < tokens.length; i++) if (tokens[i] == null) { tokens[i] = "[PAD" + i + "]"; types[i] = 5; }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : tj.path("model").path("merges")) merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        w.str("tokenizer.ggml.model", "gpt2");
        w.str("tokenizer.ggml.pre", "phi-2");
        w.strings("tokenizer.ggml.tokens", List.of(tokens));
        w.ints("tokenizer.ggml.token_type", types);
        w.strings("tokenizer.ggml.merges", merges);
        w.u32("tokenizer.ggml.bos_token_id", c.bosTokenId());
        w.u32("tokenizer.ggml.eos_token_id", c.eosTokenId());
        w.u32("tokenizer.ggml.unknown_token_id", c.eosTokenId());
        w.bool("tokenizer.ggml.add_bos_token", false);
        Path tc = hfDir.resolve("tokenizer_config.json");   // as llama.cpp's converter does, the chat template travels in the file
        if (java.nio.file.Files.isRegularFile(tc)) {
            JsonNode t = new ObjectMapper().readTree(tc.toFile()).get("chat_template");
            if (t != null && t.isTextual()) w.str("tokenizer.chat_template", t.asText());
        }

        Map<String, float[]> data = new LinkedHashMap<>();
        Map<String, long[]> ne = new LinkedHashMap<>();
        Function<String, float[]> read = name -> {
            TensorInfo t = ck.get(name);
            float[] f = new float[Math.toIntExact(t.elements())];
            GgmlBlocks.dequantize(t.dtype(), Checkpoint.map(t), 0, f.length, f);
            return f;
        };
        int h = c.hiddenSize();
        put(data, ne, "token_embd.weight", read.apply("model.embed_tokens.weight"), h);
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".", b = "blk." + l + ".";
            put(data, ne, b + "attn_norm.weight", read.apply(p + "input_layernorm.weight"), h);
            put(data, ne, b + "attn_norm.bias", read.apply(p + "input_layernorm.bias"), h);
            if (fuseQkv) {
                for (String part : new String[] {"weight", "bias"}) {
                    float[] q = read.apply(p + "self_attn.q_proj." + part), k = read.apply(p + "self_attn.k_proj." + part), v = read.apply(p + "self_attn.v_proj." + part);
                    float[] all = new float[3 * q.length];
                    System.arraycopy(q, 0, all, 0, q.length);
                    System.arraycopy(k, 0, all, q.length, q.length);
                    System.arraycopy(v, 0, all, 2 * q.length, q.length);
                    put(data, ne, b + "attn_qkv." + part, all, part.equals("weight") ? h : 3 * h);
                }
            } else {
                for (String[] m : new String[][] {{"q_proj", "attn_q"}, {"k_proj", "attn_k"}, {"v_proj", "attn_v"}}) {
                    put(data, ne, b + m[1] + ".weight", read.apply(p + "self_attn." + m[0] + ".weight"), h);
                    put(data, ne, b + m[1] + ".bias", read.apply(p + "self_attn." + m[0] + ".bias"), h);
                }
            }
            put(data, ne, b + "attn_output.weight", read.apply(p + "self_attn.dense.weight"), h);
            put(data, ne, b + "attn_output.bias", read.apply(p + "self_attn.dense.bias"), h);
            put(data, ne, b + "ffn_up.weight", read.apply(p + "mlp.fc1.weight"), h);
            put(data, ne, b + "ffn_up.bias", read.apply(p + "mlp.fc1.bias"), c.intermediateSize());
            put(data, ne, b + "ffn_down.weight", read.apply(p + "mlp.fc2.weight"), c.intermediateSize());
            put(data, ne, b + "ffn_down.bias", read.apply(p + "mlp.fc2.bias"), h);
        }
        put(data, ne, "output_norm.weight", read.apply("model.final_layernorm.weight"), h);
        put(data, ne, "output_norm.bias", read.apply("model.final_layernorm.bias"), h);
        put(data, ne, "output.weight", read.apply(ck.has("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight"), h);
        put(data, ne, "output.bias", read.apply("lm_head.bias"), c.vocabSize());

        // header, tensor infos, then the data, each tensor 32-byte aligned
        Map<String, byte[]> encoded = new LinkedHashMap<>();
        Map<String, DType> typeByName = new LinkedHashMap<>();
        for (var e : data.entrySet()) {
            DType t = ne.get(e.getKey()).length == 1 ? DType.F32 : typeOf.apply(e.getKey());
            typeByName.put(e.getKey(), t);
            encoded.put(e.getKey(), encode(e.getValue(), t));
        }
        try (OutputStream os = Files.newOutputStream(out)) {
            ByteBuffer head = le(24).putInt(GgufFile.MAGIC).putInt(3).putLong(data.size()).putLong(w.kvCount);
            long written = 0;
            os.write(head.array());
            written += 24;
            for (byte[] b : w.kv) { os.write(b); written += b.length; }
            long offset = 0;
            for (var e : encoded.entrySet()) {
                long[] d = ne.get(e.getKey());
                byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
                ByteBuffer ti = le(8 + name.length + 4 + 8 * d.length + 4 + 8).putLong(name.length).put(name).putInt(d.length);
                for (long x : d) ti.putLong(x);
                ti.putInt(typeByName.get(e.getKey()).ggmlId).putLong(offset);
                os.write(ti.array());
                written += ti.capacity();
                offset += (e.getValue().length + 31) / 32 * 32;
            }
            os.write(new byte[(int) ((32 - written % 32) % 32)]);
            for (byte[] b : encoded.values()) {
                os.write(b);
                os.write(new byte[(32 - b.length % 32) % 32]);
            }
        }
        return out;
    }

    private static void put(Map<String, float[]> data, Map<String, long[]> ne, String name, float[] v, int rowLength) {
        data.put(name, v);
        ne.put(name, v.length == rowLength ? new long[] {rowLength} : new long[] {rowLength, v.length / rowLength});
    }

    static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** {@code x} in type {@code t}. */
    public static byte[] encode(float[] x, DType t) {
        ByteBuffer b = le(Math.toIntExact(t.bytesOf(x.length)));
        switch (t) {
            case F32 -> { for (float f : x) b.putFloat(f); }
            case F16 -> { for (float f : x) b.putShort(dev.flashcl.internal.kernels.Half.fromFloat(f)); }
            case Q8_0 -> GgmlBlocks.quantizeQ8_0(x, 0, x.length, b);
            case Q4_0 -> GgmlBlocks.quantizeQ4_0(x, 0, x.length, b);
            case Q4_K, Q5_K -> { for (int o = 0; o < x.length; o += 256) quantizeK4or5(x, o, b, t == DType.Q5_K); }
            case Q6_K -> { for (int o = 0; o < x.length; o += 256) quantizeQ6K(x, o, b); }
            default -> throw new IllegalArgumentException(t.toString());
        }
        return b.array();
    }

    /** One Q4_K / Q5_K block: per sub-block of 32 a scale and a min from its range, both as 6 bits of the block's d and dmin. */
    private static void quantizeK4or5(float[] x, int o, ByteBuffer b, boolean five) {
        int levels = five ? 31 : 15;
        float[] sc = new float[8], mn = new float[8];
        for (int j = 0; j < 8; j++) {
            float lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) { lo = Math.min(lo, x[o + 32 * j + l]); hi = Math.max(hi, x[o + 32 * j + l]); }
            sc[j] = (hi - lo) / levels;
            mn[j] = -lo;
        }
        float maxSc = 0, maxMn = 0;
        for (int j = 0; j < 8; j++) { maxSc = Math.max(maxSc, sc[j]); maxMn = Math.max(maxMn, mn[j]); }
        short dh = dev.flashcl.internal.kernels.Half.fromFloat(maxSc / 63), mh = dev.flashcl.internal.kernels.Half.fromFloat(maxMn / 63);
        float d = dev.flashcl.internal.kernels.Half.toFloat(dh), dmin = dev.flashcl.internal.kernels.Half.toFloat(mh);
        int[] qs = new int[8], qm = new int[8];
        for (int j = 0; j < 8; j++) {
            qs[j] = d > 0 ? Math.min(63, Math.round(sc[j] / d)) : 0;
            qm[j] = dmin > 0 ? Math.min(63, Math.round(mn[j] / dmin)) : 0;
        }
        byte[] s = new byte[12];
        for (int j = 0; j < 4; j++) {
            s[j] = (byte) (qs[j] | ((qs[j + 4] >> 4) << 6));
            s[j + 4] = (byte) (qm[j] | ((qm[j + 4] >> 4) << 6));
            s[j + 8] = (byte) ((qs[j + 4] & 0xf) | ((qm[j + 4] & 0xf) << 4));
        }
        int[] q = new int[256];
        for (int j = 0; j < 8; j++) {
            float dj = d * qs[j], mj = dmin * qm[j];
            for (int l = 0; l < 32; l++) q[32 * j + l] = dj > 0 ? Math.max(0, Math.min(levels, Math.round((x[o + 32 * j + l] + mj) / dj))) : 0;
        }
        b.putShort(dh).putShort(mh).put(s);
        if (five) {
            byte[] qh = new byte[32];
            for (int j = 0; j < 8; j++) for (int l = 0; l < 32; l++) if ((q[32 * j + l] & 16) != 0) qh[l] |= (byte) (1 << j);
            b.put(qh);
        }
        for (int j = 0; j < 256; j += 64) for (int l = 0; l < 32; l++) b.put((byte) ((q[j + l] & 0xf) | ((q[j + 32 + l] & 0xf) << 4)));
    }

    /** One Q6_K block: per sub-block of 16 an 8-bit scale of the block's d, values in -32..31. */
    private static void quantizeQ6K(float[] x, int o, ByteBuffer b) {
        float[] sc = new float[16];
        float maxSc = 0;
        for (int j = 0; j < 16; j++) {
            float amax = 0;
            for (int l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[o + 16 * j + l]));
            sc[j] = amax / 31;
            maxSc = Math.max(maxSc, sc[j]);
        }
        short dh = dev.flashcl.internal.kernels.Half.fromFloat(maxSc / 127);
        float d = dev.flashcl.internal.kernels.Half.toFloat(dh);
        byte[] scales = new byte[16];
        int[] q = new int[256];
        for (int j = 0; j < 16; j++) {
            scales[j] = (byte) (d > 0 ? Math.min(127, Math.round(sc[j] / d)) : 0);
            float dj = d * scales[j];
            for (int l = 0; l < 16; l++) q[16 * j + l] = (dj > 0 ? Math.max(-32, Math.min(31, Math.round(x[o + 16 * j + l] / dj))) : 0) + 32;
        }
        byte[] ql = new byte[128], qh = new byte[64];
        for (int half = 0; half < 2; half++) {
            for (int l = 0; l < 32; l++) {
                int base = 128 * half;
                int q1 = q[base + l], q2 = q[base + l + 32], q3 = q[base + l + 64], q4 = q[base + l + 96];
                ql[64 * half + l] = (byte) ((q1 & 0xf) | ((q3 & 0xf) << 4));
                ql[64 * half + l + 32] = (byte) ((q2 & 0xf) | ((q4 & 0xf) << 4));
                qh[32 * half + l] = (byte) ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
        b.put(ql).put(qh).put(scales).putShort(dh);
    }

    private void key(String k, int type, ByteBuffer value) {
        byte[] name = k.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(8 + name.length + 4 + value.capacity()).putLong(name.length).put(name).putInt(type).put(value.array());
        kv.add(b.array());
        kvCount++;
    }

    private static ByteBuffer strBytes(String s) {
        byte[] v = s.getBytes(StandardCharsets.UTF_8);
        return le(8 + v.length).putLong(v.length).put(v);
    }

    void str(String k, String v) { key(k, 8, strBytes(v)); }
    void u32(String k, int v) { key(k, 4, le(4).putInt(v)); }
    void f32(String k, float v) { key(k, 6, le(4).putFloat(v)); }
    void bool(String k, boolean v) { key(k, 7, le(1).put((byte) (v ? 1 : 0))); }

    void strings(String k, List<String> v) {
        List<ByteBuffer> parts = v.stream().map(GgufWriter::strBytes).toList();
        ByteBuffer b = le(12 + parts.stream().mapToInt(ByteBuffer::capacity).sum()).putInt(8).putLong(v.size());
        for (ByteBuffer p : parts) b.put(p.array());
        key(k, 9, b);
    }

    void ints(String k, int[] v) {
        ByteBuffer b = le(12 + 4 * v.length).putInt(5).putLong(v.length);
        for (int x : v) b.putInt(x);
        key(k, 9, b);
    }
}
