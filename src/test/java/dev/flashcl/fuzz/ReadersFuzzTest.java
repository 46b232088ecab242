package dev.flashcl.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.CheckpointException;
import dev.flashcl.internal.checkpoint.GgufFile;
import dev.flashcl.internal.checkpoint.PhiConfig;
import dev.flashcl.internal.checkpoint.SafetensorsFile;
import dev.flashcl.internal.checkpoint.TensorInfo;
import dev.flashcl.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of everything flashcl reads from a downloaded model
 * directory: a safetensors file, the shard index, config.json, tokenizer.json and a GGUF file (the
 * vocab.json + merges.txt form has no target yet). Every input must end in a result or flashcl's own
 * CheckpointException - an OutOfMemoryError from a lying length, an index out of bounds, any
 * other exception or a hang is a finding. Seeds: src/test/resources/dev/flashcl/fuzz/ReadersFuzzTestInputs/
 * (small real files and their pieces); under plain `mvn test` only those seeds run.
 */
class ReadersFuzzTest {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("flashcl-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code data} to {@code name} (a path under the fuzz directory, folders made as needed). */
    private static Path write(String name, byte[] data) {
        try {
            Path f = DIR.resolve(name);
            Files.createDirectories(f.getParent());
            return Files.write(f, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] read(String path) {
        try {
            return Files.readAllBytes(Path.of(path));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "10s")
    void safetensors(byte[] data) {
        Path f = write("model.safetensors", data);
        try {
            Map<String, TensorInfo> t = SafetensorsFile.read(f);
            for (TensorInfo i : t.values()) {   // every byte range it accepts lies inside the file
                if (i.bytes() > 0 && i.bytes() <= 1 << 16) Checkpoint.map(i).get((int) i.bytes() - 1);
            }
        } catch (CheckpointException expected) {
            // a clear refusal
        }
    }

    @FuzzTest(maxDuration = "10s")
    void shardIndex(byte[] data) {
        Path dir = write("indexed/" + Checkpoint.INDEX, data).getParent();
        write("indexed/model-00001-of-00001.safetensors", read("src/test/resources/dev/flashcl/fuzz/ReadersFuzzTestInputs/safetensors/tiny.safetensors"));
        try {
            Checkpoint.open(dir);
        } catch (CheckpointException expected) {
            // a clear refusal
        }
    }

    @FuzzTest(maxDuration = "10s")
    void config(byte[] data) {
        Path dir = write("config/config.json", data).getParent();
        try {
            PhiConfig c = PhiConfig.read(dir);
            c.parameters();
        } catch (CheckpointException expected) {
            // a clear refusal
        }
    }

    @FuzzTest(maxDuration = "10s")
    void tokenizerJson(byte[] data) {
        Path f = write("tokenizer.json", data);
        try {
            Tokenizer t = Tokenizer.fromTokenizerJson(f, true);
            int[] ids = t.encode("def f(x):\n    return x  # é 😀 <|endoftext|>");
            t.decode(ids);
        } catch (CheckpointException expected) {
            // a clear refusal
        }
    }

    @FuzzTest(maxDuration = "10s")
    void gguf(byte[] data) {
        Path f = write("model.gguf", data);
        try {
            GgufFile g = GgufFile.read(f);
            for (GgufFile.Tensor t : g.tensors().values()) {   // every byte range it accepts lies inside the file
                if (t.bytes() > 0 && t.bytes() <= 1 << 16) Checkpoint.map(new TensorInfo(t.name(), t.type(), t.shape(), f, t.offset(), t.bytes())).get((int) t.bytes() - 1);
            }
            Checkpoint.gguf(g);
            PhiConfig.fromGguf(g).parameters();
            Tokenizer.fromGguf(f).encode("def f(x):\n    return x  <|endoftext|>");
        } catch (CheckpointException expected) {
            // a clear refusal
        }
    }
}
