package dev.flashcl.internal.phi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a random Phi checkpoint (config.json + one F32 model.safetensors) of any small shape:
 * the model the Oclgrind run and the resource tests load when transformers' outputs are not the
 * point. Weights are seeded, scaled so that activations stay O(1).
 */
public final class MicroModel {
    private MicroModel() {}

    public static Path write(Path dir, int vocab, int hidden, int heads, int intermediate, int layers, int maxPositions, long seed) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), String.format("{\"model_type\":\"phi\",\"vocab_size\":%d,\"hidden_size\":%d,"
                + "\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,"
                + "\"max_position_embeddings\":%d,\"partial_rotary_factor\":0.4,\"rope_theta\":10000.0,\"hidden_act\":\"gelu_new\","
                + "\"layer_norm_eps\":1e-5,\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":0}",
                vocab, hidden, heads, heads, intermediate, layers, maxPositions));
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new int[] {vocab, hidden});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new int[] {hidden});
            shapes.put(p + "input_layernorm.bias", new int[] {hidden});
            for (String m : new String[] {"q_proj", "k_proj", "v_proj", "dense"}) {
                shapes.put(p + "self_attn." + m + ".weight", new int[] {hidden, hidden});
                shapes.put(p + "self_attn." + m + ".bias", new int[] {hidden});
            }
            shapes.put(p + "mlp.fc1.weight", new int[] {intermediate, hidden});
            shapes.put(p + "mlp.fc1.bias", new int[] {intermediate});
            shapes.put(p + "mlp.fc2.weight", new int[] {hidden, intermediate});
            shapes.put(p + "mlp.fc2.bias", new int[] {hidden});
        }
        shapes.put("model.final_layernorm.weight", new int[] {hidden});
        shapes.put("model.final_layernorm.bias", new int[] {hidden});
        shapes.put("lm_head.weight", new int[] {vocab, hidden});
        shapes.put("lm_head.bias", new int[] {vocab});
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long n = 1;
            for (int d : e.getValue()) n *= d;
            if (header.length() > 1) header.append(',');
            header.append(String.format("\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}", e.getKey(),
                    java.util.Arrays.toString(e.getValue()).replace(" ", ""), offset, offset + 4 * n));
            offset += 4 * n;
        }
        header.append('}');
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(8 + h.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        SplittableRandom r = new SplittableRandom(seed);
        for (var e : shapes.entrySet()) {
            int[] s = e.getValue();
            long n = 1;
            for (int d : s) n *= d;
            boolean norm = e.getKey().endsWith("layernorm.weight");
            double scale = s.length == 2 ? (e.getKey().contains("embed") ? 1.0 : 1.5 / Math.sqrt(s[1])) : 0.2;
            for (long i = 0; i < n; i++) b.putFloat((float) ((norm ? 1 : 0) + scale * (r.nextDouble() * 2 - 1) * Math.sqrt(3)));
        }
        Files.write(dir.resolve("model.safetensors"), b.array());
        return dir;
    }
}
