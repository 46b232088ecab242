package dev.flashcl;

/**
 * One message of a chat, for {@link LanguageModel#chatPrompt}.
 *
 * @param role    {@code system}, {@code user} or {@code assistant}
 * @param content its text
 */
public record ChatMessage(String role, String content) {
    /**
     * Checks the role and the content.
     *
     * @param role    {@code system}, {@code user} or {@code assistant}
     * @param content its text
     */
    public ChatMessage {
        if (role == null || !(role.equals("system") || role.equals("user") || role.equals("assistant"))) {
            throw new IllegalArgumentException("a chat message's role must be system, user or assistant, got " + (role == null ? "none" : "'" + role + "'"));
        }
        if (content == null) throw new IllegalArgumentException("a " + role + " message has no content");
    }

    /**
     * @param content the text
     * @return a system message
     */
    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    /**
     * @param content the text
     * @return a user message
     */
    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    /**
     * @param content the text
     * @return an assistant message
     */
    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
