package dev.flashcl.internal.phi;

import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.CheckpointException;
import dev.flashcl.internal.checkpoint.GgufFile;
import dev.flashcl.internal.checkpoint.PhiConfig;
import dev.flashcl.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * What {@code --model} names, read and checked, touching no device: a Hugging Face directory
 * (config.json, safetensors, tokenizer files) or a GGUF file (or a directory holding exactly one
 * and no config.json), whose config and tokenizer come from its metadata.
 *
 * @param source    the directory or file given
 * @param config    the model's shape
 * @param checkpoint its tensors under transformers' names
 * @param tokenizer its tokenizer, or null when a directory has no tokenizer files
 */
public record ModelFiles(Path source, PhiConfig config, Checkpoint checkpoint, Tokenizer tokenizer) {

    public static ModelFiles open(Path path) {
        Path gguf = ggufOf(path);
        if (gguf != null) {
            GgufFile g = GgufFile.read(gguf);
            PhiConfig cfg = PhiConfig.fromGguf(g);
            Checkpoint ck = Checkpoint.gguf(g);
            PhiWeights.validate(ck, cfg);
            Tokenizer tok = Tokenizer.fromGguf(gguf);
            tok.checkAgainst(cfg.vocabSize(), gguf);
            return new ModelFiles(gguf, cfg, ck, tok);
        }
        PhiConfig cfg = PhiConfig.read(path);
        Checkpoint ck = Checkpoint.open(path);
        PhiWeights.validate(ck, cfg);
        Tokenizer tok = Files.isRegularFile(path.resolve("tokenizer.json")) || Files.isRegularFile(path.resolve("vocab.json")) ? Tokenizer.load(path) : null;
        return new ModelFiles(path, cfg, ck, tok);
    }

    /** The GGUF file {@code path} names: itself, or the one .gguf in a directory without config.json; null for a Hugging Face directory. */
    static Path ggufOf(Path path) {
        if (Files.isRegularFile(path)) {
            if (path.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf")) return path;
            throw new CheckpointException(path + ": not a .gguf file; give a .gguf file or a Hugging Face model directory");
        }
        if (!Files.isDirectory(path)) throw new CheckpointException(path + ": no such file or directory");
        if (Files.isRegularFile(path.resolve("config.json"))) return null;
        List<Path> found;
        try (Stream<Path> s = Files.list(path)) {
            found = s.filter(p -> p.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf")).sorted().toList();
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot list: " + e.getMessage(), e);
        }
        if (found.size() > 1) throw new CheckpointException(path + " holds " + found.size() + " .gguf files " + found.stream().map(p -> p.getFileName().toString()).toList()
                + "; give one of them as --model");
        return found.isEmpty() ? null : found.get(0);
    }

    /** The tokenizer, or an error saying the model has none. */
    public Tokenizer requireTokenizer() {
        if (tokenizer == null) throw new CheckpointException(source + ": no tokenizer.json and no vocab.json + merges.txt (copy the tokenizer files from the model's hub page)");
        return tokenizer;
    }
}
