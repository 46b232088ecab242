package dev.flashcl.cli;

import dev.flashcl.internal.checkpoint.CheckpointException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** {@code --model DIR}, or the embedded model: the small Phi model inside the jar, unpacked once to a cache directory. */
final class ModelOptions {
    private static final Logger log = LoggerFactory.getLogger(ModelOptions.class);
    /** Files of testdata/embedded that the jar carries under /models/embedded/. */
    static final List<String> EMBEDDED_FILES = List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "training.json");

    @Option(names = "--model", paramLabel = "DIR",
            description = "A Hugging Face Phi model directory (config.json, *.safetensors, tokenizer files). Default: the embedded model.")
    Path model;

    Path resolve() {
        if (model != null) return model;
        Path dir = dev.flashcl.internal.cl.KernelCache.cacheRoot().resolve("models/embedded-" + embeddedVersion());
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))) {
            try {
                Files.createDirectories(dir);
                for (String f : EMBEDDED_FILES) {
                    try (InputStream in = ModelOptions.class.getResourceAsStream("/models/embedded/" + f)) {
                        if (in == null) throw new CheckpointException("the embedded model's " + f + " is not in this jar; give --model DIR");
                        Path tmp = dir.resolve(f + ".part");
                        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                        Files.move(tmp, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    }
                }
            } catch (IOException e) {
                throw new CheckpointException("cannot unpack the embedded model to " + dir + ": " + e.getMessage(), e);
            }
        }
        log.info("no --model given: using the embedded model (a 10M-parameter Phi trained on CPython's standard library; see README) from {}", dir);
        return dir;
    }

    private static String embeddedVersion() {
        try (InputStream in = ModelOptions.class.getResourceAsStream("/models/embedded/config.json")) {
            if (in == null) return "missing";
            return Integer.toHexString(java.util.Arrays.hashCode(in.readAllBytes()));
        } catch (IOException e) {
            return "unknown";
        }
    }
}
