package dev.flashcl.cli;

import dev.flashcl.FlashCl;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --model DIR}, or the embedded model: the small Phi model inside the jar, unpacked once to a cache directory. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR|FILE",
            description = "A Hugging Face Phi model directory (config.json, *.safetensors, tokenizer files) or a phi2 .gguf file. Default: the embedded model.")
    Path model;

    Path resolve() {
        if (model != null) return model;
        Path dir = FlashCl.embeddedModelDirectory();
        Cli.note("no --model given: the embedded model (a 10M-parameter Phi trained on CPython's standard library) from " + dir);
        return dir;
    }
}
