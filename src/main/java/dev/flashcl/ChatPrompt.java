package dev.flashcl;

import java.util.List;

/**
 * Chat messages rendered as the prompt a model continues, from {@link LanguageModel#chatPrompt}.
 *
 * @param text        the prompt, ending where the assistant's reply begins
 * @param stopStrings texts that end the reply before the model writes the next turn (the
 *                    dialogue form's; a chat template relies on the model's end-of-turn token)
 * @param format      which rendering made it: {@code instruct} or {@code dialogue} (Phi-2's
 *                    documented forms) or {@code chat_template} (the model's own template)
 */
public record ChatPrompt(String text, List<String> stopStrings, String format) {
    /**
     * Copies the stop strings.
     *
     * @param text        the prompt
     * @param stopStrings the texts that end the reply
     * @param format      {@code instruct}, {@code dialogue} or {@code chat_template}
     */
    public ChatPrompt {
        stopStrings = List.copyOf(stopStrings);
    }
}
