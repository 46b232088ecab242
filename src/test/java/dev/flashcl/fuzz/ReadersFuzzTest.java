package dev.flashcl.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.flashcl.checkpoint.Checkpoint;
import dev.flashcl.checkpoint.CheckpointException;
import dev.flashcl.checkpoint.PhiConfig;
import dev.flashcl.checkpoint.SafetensorsFile;
import dev.flashcl.checkpoint.TensorInfo;
import dev.flashcl.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of everything flashcl reads from a downloaded model
 * directory: a safetensors file, the shard index, config.json, tokenizer.json and the
 * vocab.json + merges.txt form. Every input must end in a result or flashcl's own
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

    private static Path write(String name, byte[] data) {
        try {
            return Files.write(DIR.resolve(name), data);
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
        Path dir = DIR.resolve("indexed");
        try {
            Files.createDirectories(dir);
            Files.write(dir.resolve(Checkpoint.INDEX), data);
            Files.write(dir.resolve("model-00001-of-00001.safetensors"), Files.readAllBytes(
                    Path.of("src/test/resources/dev/flashcl/fuzz/ReadersFuzzTestInputs/safetensors/tiny.safetensors")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Checkpoint.open(dir);
        } catch (CheckpointException expected) {
            // a clear refusal
        }
    }

    @FuzzTest(maxDuration = "10s")
    void config(byte[] data) {
        Path dir = DIR.resolve("config");
        try {
            Files.createDirectories(dir);
            Files.write(dir.resolve("config.json"), data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
}
