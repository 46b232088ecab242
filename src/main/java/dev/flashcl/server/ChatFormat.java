package dev.flashcl.server;

import java.util.List;

/**
 * Chat messages as Phi-2's documented prompt formats render them: one question (a system message
 * may come first) as {@code Instruct: ...\nOutput:}, several turns as a plain dialogue,
 * {@code User: ...\nAssistant: ...}, ending on the assistant's turn. The dialogue form's stop
 * strings end a reply before the model writes the user's next line.
 */
final class ChatFormat {
    /** A chat message: role (system, user or assistant) and its text. */
    record Message(String role, String content) {}

    /** The dialogue form's stop strings. */
    static final List<String> DIALOGUE_STOPS = List.of("\nUser:", "\nAssistant:");

    private ChatFormat() {}

    /** Whether {@code messages} is a single question (system messages aside), rendered in the instruct form. */
    static boolean isInstruct(List<Message> messages) {
        return messages.stream().filter(m -> !m.role().equals("system")).count() == 1;
    }

    static String render(List<Message> messages) {
        StringBuilder sb = new StringBuilder();
        if (isInstruct(messages)) {
            for (Message m : messages) if (m.role().equals("system")) sb.append(m.content().strip()).append("\n");
            Message q = messages.stream().filter(m -> m.role().equals("user")).findFirst().orElseThrow();
            return sb.append("Instruct: ").append(q.content().strip()).append("\nOutput:").toString();
        }
        for (Message m : messages) {
            switch (m.role()) {
                case "system" -> sb.append(m.content().strip()).append("\n");
                case "user" -> sb.append("User: ").append(m.content().strip()).append("\n");
                default -> sb.append("Assistant: ").append(m.content().strip()).append("\n");
            }
        }
        return sb.append("Assistant:").toString();
    }
}
