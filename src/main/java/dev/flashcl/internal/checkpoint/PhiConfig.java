package dev.flashcl.internal.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Phi model's {@code config.json}, with the defaults transformers' PhiConfig applies to absent
 * fields (vocab 51200, hidden 2048, intermediate 8192, 24 layers, 32 heads, partial rotary 0.5,
 * theta 10000, eps 1e-5, gelu_new, 2048 positions, untied embeddings). transformers 5 writes
 * {@code rope_parameters}; older files have top-level {@code rope_theta}/{@code partial_rotary_factor}.
 */
public record PhiConfig(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
                        double partialRotaryFactor, double ropeTheta, double layerNormEps, String hiddenAct,
                        int maxPositions, boolean tieWordEmbeddings, boolean qkLayernorm, int bosTokenId, java.util.List<Integer> eosTokenIds,
                        String modelType) {

    /** The first end-of-text id (transformers allows a list). */
    public int eosTokenId() {
        return eosTokenIds.get(0);
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Rotary dims per head: int(head_dim x partial_rotary_factor), as transformers computes it. */
    public int rotaryDims() {
        return (int) (headDim() * partialRotaryFactor);
    }

    /** Parameters the config implies (tied embeddings counted once). */
    public long parameters() {
        long h = hiddenSize, f = intermediateSize;
        long layer = 2 * h + 4 * (h * h + h) + (f * h + f) + (h * f + h);
        return vocabSize * h + numLayers * layer + 2 * h + (tieWordEmbeddings ? 0 : vocabSize * h) + vocabSize;
    }

    public static PhiConfig read(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) throw new CheckpointException(dir + ": no config.json (is this a Hugging Face model directory?)");
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": not JSON: " + e.getMessage(), e);
        }
        if (c == null || !c.isObject()) throw new CheckpointException(file + ": not a JSON object");
        if (c.has("model_type") && !c.get("model_type").isTextual()) throw new CheckpointException(file + ": model_type must be a string, got " + c.get("model_type"));
        String type = c.path("model_type").asText("");
        if (type.equals("phi-msft")) {
            throw new CheckpointException(file + ": model_type \"phi-msft\" (the Dec 2023 layout) is not read; convert it with transformers' "
                    + "convert_phi_weights_to_hf.py or download the current revision of the model");
        }
        if (!type.equals("phi")) throw new CheckpointException(file + ": model_type is \"" + type + "\"; flashcl runs \"phi\" models (Phi-2 and its shape)");
        JsonNode rope = c.path("rope_parameters");
        double theta = num(c, rope, "rope_theta", 10000.0, file);
        double partial = num(c, rope, "partial_rotary_factor", 0.5, file);
        String ropeType = rope.path("rope_type").asText("default");
        JsonNode scaling = c.get("rope_scaling");
        if (!ropeType.equals("default") || (scaling != null && !scaling.isNull())) {
            throw new CheckpointException(file + ": rope scaling (" + (scaling != null && !scaling.isNull() ? scaling : ropeType)
                    + ") is not supported; flashcl runs the default rotary embedding");
        }
        int hidden = integer(c, "hidden_size", 2048, file);
        int heads = integer(c, "num_attention_heads", 32, file);
        int kvHeads = c.hasNonNull("num_key_value_heads") ? integer(c, "num_key_value_heads", heads, file) : heads;
        PhiConfig cfg = new PhiConfig(integer(c, "vocab_size", 51200, file), hidden, integer(c, "intermediate_size", 8192, file),
                integer(c, "num_hidden_layers", 24, file), heads, kvHeads, partial, theta,
                num(c, null, "layer_norm_eps", 1e-5, file), text(c, "hidden_act", "gelu_new", file),
                integer(c, "max_position_embeddings", 2048, file), bool(c, "tie_word_embeddings", false, file),
                bool(c, "qk_layernorm", false, file), integer(c, "bos_token_id", 1, file), ids(c, "eos_token_id", 2, file), type);
        cfg.check(file);
        return cfg;
    }

    /**
     * The config of a GGUF file of llama.cpp's {@code phi2} architecture: {@code phi2.*} metadata
     * (embedding_length, feed_forward_length, block_count, attention.head_count[_kv],
     * attention.layer_norm_epsilon, rope.dimension_count, rope.freq_base, context_length), the
     * vocabulary from the token embedding's rows, and the tokenizer's bos/eos ids. The embeddings
     * are tied when the file has no {@code output.weight}.
     */
    public static PhiConfig fromGguf(GgufFile g) {
        String arch = g.string("general.architecture", null);
        if (arch == null) throw new CheckpointException(g.file() + ": metadata general.architecture is missing");
        if (!arch.equals("phi2")) throw new CheckpointException(g.file() + ": architecture \"" + arch + "\"; flashcl runs \"phi2\" models (Phi-2 and its shape)");
        int hidden = g.required("phi2.embedding_length", 1, 1 << 16), heads = g.required("phi2.attention.head_count", 1, 1 << 10);
        int kvHeads = g.metadata().containsKey("phi2.attention.head_count_kv") ? g.required("phi2.attention.head_count_kv", 1, 1 << 10) : heads;
        int rot = g.required("phi2.rope.dimension_count", 0, 1 << 10);
        GgufFile.Tensor embed = g.tensors().get("token_embd.weight");
        if (embed == null || embed.ne().length != 2) throw new CheckpointException(g.file() + ": tensor 'token_embd.weight' is missing or not a matrix");
        if (embed.ne()[1] > Integer.MAX_VALUE) throw new CheckpointException(g.file() + ": tensor 'token_embd.weight' has " + embed.ne()[1] + " rows");
        double partial = hidden % heads == 0 ? (double) rot / (hidden / heads) : 1.0;
        if (hidden % heads == 0 && (int) (hidden / heads * partial) < rot) partial = Math.nextUp(partial);   // so that rotaryDims() truncates back to rot
        int bos = (int) g.integer("tokenizer.ggml.bos_token_id", 50256), eos = (int) g.integer("tokenizer.ggml.eos_token_id", 50256);
        PhiConfig cfg = new PhiConfig((int) embed.ne()[1], hidden, g.required("phi2.feed_forward_length", 1, 1 << 20),
                g.required("phi2.block_count", 1, 1 << 12), heads, kvHeads, partial,
                g.number("phi2.rope.freq_base", 10000.0), g.number("phi2.attention.layer_norm_epsilon", 1e-5), "gelu_new",
                g.required("phi2.context_length", 1, 1 << 24), !g.tensors().containsKey("output.weight"), false, bos, java.util.List.of(eos), "phi");
        cfg.check(g.file());
        return cfg;
    }

    /** Refuses, naming the field, a config this engine cannot run. */
    void check(Path file) {
        if (hiddenSize <= 0 || numHeads <= 0 || hiddenSize % numHeads != 0) {
            throw new CheckpointException(file + ": hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        }
        if (numKvHeads != numHeads) {
            throw new CheckpointException(file + ": num_key_value_heads " + numKvHeads + " differs from num_attention_heads " + numHeads
                    + "; flashcl runs plain multi-head attention, as Phi-2 has");
        }
        int hd = headDim();
        if (hd % 4 != 0 || hd > 128) throw new CheckpointException(file + ": head_dim " + hd + " (hidden_size / num_attention_heads) must be a multiple of 4 up to 128");
        if (!(partialRotaryFactor > 0 && partialRotaryFactor <= 1)) {
            throw new CheckpointException(file + ": partial_rotary_factor must be above 0 and at most 1, got " + partialRotaryFactor);
        }
        if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) throw new CheckpointException(file + ": rope_theta must be a positive number, got " + ropeTheta);
        if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps)) throw new CheckpointException(file + ": layer_norm_eps must be a positive number, got " + layerNormEps);
        for (int id : eosTokenIds) {
            if (id < 0 || id >= vocabSize) throw new CheckpointException(file + ": eos_token_id " + id + " is outside the vocabulary of " + vocabSize);
        }
        int rot = rotaryDims();
        if (rot % 2 != 0 || rot > hd) throw new CheckpointException(file + ": partial_rotary_factor " + partialRotaryFactor + " gives " + rot + " rotary dims; need an even number up to head_dim");
        if (!hiddenAct.equals("gelu_new")) throw new CheckpointException(file + ": hidden_act \"" + hiddenAct + "\" is not supported (Phi uses gelu_new)");
        if (qkLayernorm) throw new CheckpointException(file + ": qk_layernorm true is not supported (Phi-2 has false)");
        if (vocabSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || maxPositions <= 0) {
            throw new CheckpointException(file + ": vocab_size, intermediate_size, num_hidden_layers and max_position_embeddings must be positive");
        }
        if (intermediateSize % 4 != 0 || hiddenSize % 4 != 0) throw new CheckpointException(file + ": hidden_size and intermediate_size must be multiples of 4");
    }

    private static int integer(JsonNode c, String field, int dflt, Path file) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new CheckpointException(file + ": " + field + " must be an integer, got " + n);
        return n.asInt();
    }

    private static boolean bool(JsonNode c, String field, boolean dflt, Path file) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw new CheckpointException(file + ": " + field + " must be true or false, got " + n);
        return n.booleanValue();
    }

    private static String text(JsonNode c, String field, String dflt, Path file) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isTextual()) throw new CheckpointException(file + ": " + field + " must be a string, got " + n);
        return n.asText();
    }

    /** An id or a non-empty list of ids (transformers allows both for eos_token_id). */
    private static java.util.List<Integer> ids(JsonNode c, String field, int dflt, Path file) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return java.util.List.of(dflt);
        if (!n.isArray()) return java.util.List.of(integer(c, field, dflt, file));
        if (n.isEmpty()) throw new CheckpointException(file + ": " + field + " is an empty list");
        java.util.List<Integer> out = new java.util.ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw new CheckpointException(file + ": " + field + " must be integers, got " + n);
            out.add(e.asInt());
        }
        return java.util.List.copyOf(out);
    }

    private static double num(JsonNode c, JsonNode nested, String field, double dflt, Path file) {
        JsonNode n = nested != null && nested.has(field) ? nested.get(field) : c.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw new CheckpointException(file + ": " + field + " must be a number, got " + n);
        return n.asDouble();
    }
}
