package dev.flashcl.internal.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * The tensors of a model under transformers' names: a Hugging Face checkpoint directory (one
 * {@code model.safetensors}, or the shards that {@code model.safetensors.index.json} lists) or a
 * GGUF file, whose tensors ({@code blk.N.attn_qkv.weight}, ...) are renamed to transformers'
 * ({@code model.layers.N.self_attn.qkv_proj.weight}: the fused q/k/v that llama.cpp's converter
 * writes for Phi-2 has no transformers name; flashcl gives it this one). Headers are read and
 * checked when opened; tensor bytes are memory-mapped one tensor at a time ({@link #map}), so no
 * file is ever held on the Java heap.
 */
public final class Checkpoint {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> fileNames;   // transformers' name -> the file's, where they differ

    private Checkpoint(Path dir, Map<String, TensorInfo> tensors) {
        this(dir, tensors, Map.of());
    }

    private Checkpoint(Path dir, Map<String, TensorInfo> tensors, Map<String, String> fileNames) {
        this.dir = dir;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.fileNames = fileNames;
    }

    /** A GGUF file's tensors under transformers' names (tensors flashcl has no name for keep their own). */
    public static Checkpoint gguf(GgufFile g) {
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        Map<String, String> names = new java.util.HashMap<>();
        for (GgufFile.Tensor t : g.tensors().values()) {
            String name = transformersName(t.name());
            if (out.containsKey(name)) throw new CheckpointException(g.file() + ": tensors '" + names.get(name) + "' and '" + t.name() + "' are the same weight");
            out.put(name, new TensorInfo(name, t.type(), t.shape(), g.file(), t.offset(), t.bytes()));
            names.put(name, t.name());
        }
        return new Checkpoint(g.file(), out, names);
    }

    private static final Map<String, String> GGUF_LAYER = Map.ofEntries(Map.entry("attn_norm", "input_layernorm"),
            Map.entry("attn_qkv", "self_attn.qkv_proj"), Map.entry("attn_q", "self_attn.q_proj"), Map.entry("attn_k", "self_attn.k_proj"),
            Map.entry("attn_v", "self_attn.v_proj"), Map.entry("attn_output", "self_attn.dense"), Map.entry("ffn_up", "mlp.fc1"),
            Map.entry("ffn_down", "mlp.fc2"));
    private static final Map<String, String> GGUF_TOP = Map.of("token_embd", "model.embed_tokens", "output_norm", "model.final_layernorm",
            "output", "lm_head");

    /** llama.cpp's name of a Phi-2 tensor to transformers'; unknown names are kept. */
    static String transformersName(String gguf) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("blk\\.(\\d{1,9})\\.(\\w+)\\.(weight|bias)").matcher(gguf);
        if (m.matches() && GGUF_LAYER.containsKey(m.group(2))) return "model.layers." + m.group(1) + "." + GGUF_LAYER.get(m.group(2)) + "." + m.group(3);
        int dot = gguf.lastIndexOf('.');
        if (dot > 0 && GGUF_TOP.containsKey(gguf.substring(0, dot))) return GGUF_TOP.get(gguf.substring(0, dot)) + gguf.substring(dot);
        return gguf;
    }

    /** The tensor's name as its file spells it (a GGUF name for a GGUF file), for messages. */
    public String fileName(String name) {
        if (fileNames.isEmpty() || fileNames.containsKey(name)) return fileNames.getOrDefault(name, name);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)\\.(weight|bias)").matcher(name);
        for (var e : GGUF_LAYER.entrySet()) if (m.matches() && e.getValue().equals(m.group(2))) return "blk." + m.group(1) + "." + e.getKey() + "." + m.group(3);
        for (var e : GGUF_TOP.entrySet()) if (name.startsWith(e.getValue() + ".")) return e.getKey() + name.substring(e.getValue().length());
        return name;
    }

    /** Whether this checkpoint is a GGUF file. */
    public boolean isGguf() {
        return !fileNames.isEmpty();
    }

    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir + ": not a directory (give the model's directory, as downloaded from the hub)");
        Path index = dir.resolve(INDEX);
        Path single = dir.resolve(SINGLE);
        if (Files.isRegularFile(index)) return new Checkpoint(dir, readIndexed(dir, index));
        if (Files.isRegularFile(single)) return new Checkpoint(dir, SafetensorsFile.read(single));
        throw new CheckpointException(dir + ": no " + SINGLE + " and no " + INDEX + " (flashcl reads safetensors checkpoints; "
                + "convert a pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))");
    }

    private static Map<String, TensorInfo> readIndexed(Path dir, Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new CheckpointException(index + ": not JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) throw new CheckpointException(index + ": no \"weight_map\" object");
        Map<String, String> shardOf = new LinkedHashMap<>();
        for (var it = map.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isTextual()) throw new CheckpointException(index + ": weight_map entry '" + e.getKey() + "' is not a file name");
            shardOf.put(e.getKey(), e.getValue().asText());
        }
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(shardOf.values())) {
            Path p = dir.resolve(shard).normalize();
            if (!p.startsWith(dir.normalize()) || shard.contains("/") || shard.contains("\\")) {
                throw new CheckpointException(index + ": shard name '" + shard + "' points outside the model directory");
            }
            if (!Files.isRegularFile(p)) throw new CheckpointException(index + " lists shard " + shard + ", which is missing from " + dir);
            Map<String, TensorInfo> inShard = SafetensorsFile.read(p);
            for (TensorInfo t : inShard.values()) {
                TensorInfo prev = out.putIfAbsent(t.name(), t);
                if (prev != null) throw new CheckpointException("tensor '" + t.name() + "' is in both " + prev.file().getFileName() + " and " + shard);
            }
        }
        for (var e : shardOf.entrySet()) {
            TensorInfo t = out.get(e.getKey());
            if (t == null || !t.file().getFileName().toString().equals(e.getValue())) {
                throw new CheckpointException(index + " places tensor '" + e.getKey() + "' in " + e.getValue() + ", which does not hold it");
            }
        }
        return out;
    }

    public Path dir() {
        return dir;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo get(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new CheckpointException(dir + ": tensor '" + fileName(name) + "' is missing from the checkpoint");
        return t;
    }

    /** Whether the checkpoint holds {@code name}. */
    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor's bytes, memory-mapped read-only, little-endian. Tensors above 2 GB are refused. */
    public static MappedByteBuffer map(TensorInfo t) {
        if (t.bytes() > Integer.MAX_VALUE) throw new CheckpointException(t + ": " + t.bytes() + " bytes is over the 2 GB a mapping holds");
        try (FileChannel ch = FileChannel.open(t.file(), StandardOpenOption.READ)) {
            MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, t.offset(), t.bytes());
            b.order(ByteOrder.LITTLE_ENDIAN);
            return b;
        } catch (IOException e) {
            throw new CheckpointException(t.file() + ": cannot map tensor '" + t.name() + "': " + e.getMessage(), e);
        }
    }

    /** Total bytes of all tensors. */
    public long bytes() {
        return tensors.values().stream().mapToLong(TensorInfo::bytes).sum();
    }
}
