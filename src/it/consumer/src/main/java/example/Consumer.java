package example;

import dev.flashcl.FlashCl;
import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import dev.flashcl.LoadOptions;

/** Generates a few tokens with the embedded model through the public API only. */
public final class Consumer {
    public static void main(String[] args) {
        try (FlashCl engine = FlashCl.open();
             LanguageModel model = engine.loadEmbedded(LoadOptions.builder().contextLength(128).build())) {
            GenerationResult r = model.generate(GenerationRequest.builder().prompt("def add(a, b):\n").maxNewTokens(16).build());
            System.out.println("device: " + engine.device().name());
            System.out.println("stop: " + r.stopReason() + ", tokens: " + r.tokenCount());
            System.out.println("text: " + r.text().replace("\n", "\\n"));
        }
    }
}
