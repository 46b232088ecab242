package dev.flashcl.internal.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.ChatMessage;
import dev.flashcl.ChatPrompt;
import dev.flashcl.internal.checkpoint.CheckpointException;
import dev.flashcl.internal.checkpoint.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * How a model renders chat messages. A model whose tokenizer_config.json (or GGUF metadata,
 * {@code tokenizer.chat_template}) has a chat template renders through it, as transformers'
 * apply_chat_template does ({@link JinjaTemplate}); any other renders Phi-2's documented forms:
 * one question (system messages may come first) as {@code Instruct: ...\nOutput:}, several turns
 * as a plain {@code User: ...\nAssistant: ...} dialogue ending on the assistant's turn, whose stop
 * strings end a reply before the model writes the user's next line.
 */
public final class ChatFormat {
    /** The dialogue form's stop strings. */
    public static final List<String> DIALOGUE_STOPS = List.of("\nUser:", "\nAssistant:");
    /** Phi-2's forms. */
    public static final ChatFormat PHI2 = new ChatFormat(null, null, null, null);

    private final String template, bos, eos, origin;
    private JinjaTemplate compiled;

    private ChatFormat(String template, String bos, String eos, String origin) {
        this.template = template;
        this.bos = bos;
        this.eos = eos;
        this.origin = origin;
    }

    /**
     * A chat template and the special tokens it may name.
     *
     * @param template the Jinja source
     * @param bos      {@code bos_token}'s text
     * @param eos      {@code eos_token}'s text
     * @param origin   where it came from, for error messages
     * @return the format
     */
    public static ChatFormat template(String template, String bos, String eos, String origin) {
        return new ChatFormat(template, bos == null ? "" : bos, eos == null ? "" : eos, origin);
    }

    /** @return the model's format: its chat template when {@code source} (a model directory or a .gguf file) has one, else Phi-2's */
    public static ChatFormat of(Path source) {
        if (source == null) return PHI2;
        if (Files.isRegularFile(source) && source.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf")) return ofGguf(source);
        Path config = source.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(config)) return PHI2;
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(config.toFile());
        } catch (IOException e) {
            throw new CheckpointException(config + ": not valid JSON: " + e.getMessage());
        }
        JsonNode t = c.get("chat_template");
        if (t == null || t.isNull()) return PHI2;
        String text = null;
        if (t.isTextual()) {
            text = t.asText();
        } else if (t.isArray()) {   // [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
            for (JsonNode n : t) if (n.path("name").asText().equals("default") && n.path("template").isTextual()) text = n.get("template").asText();
        }
        if (text == null) throw new CheckpointException(config + ": chat_template must be a string or a list holding a template named 'default'");
        return template(text, special(c.get("bos_token")), special(c.get("eos_token")), config + " chat_template");
    }

    private static ChatFormat ofGguf(Path file) {
        GgufFile g = GgufFile.read(file);
        String t = g.string("tokenizer.chat_template", null);
        if (t == null) return PHI2;
        List<?> tokens = g.array("tokenizer.ggml.tokens");
        return template(t, token(tokens, g.integer("tokenizer.ggml.bos_token_id", -1)), token(tokens, g.integer("tokenizer.ggml.eos_token_id", -1)),
                file + " tokenizer.chat_template");
    }

    private static String token(List<?> tokens, long id) {
        return tokens != null && id >= 0 && id < tokens.size() ? String.valueOf(tokens.get((int) id)) : "";
    }

    /** tokenizer_config.json names a special token as a string or as {"content": ...}. */
    private static String special(JsonNode n) {
        if (n == null || n.isNull()) return "";
        if (n.isTextual()) return n.asText();
        return n.path("content").asText("");
    }

    /** @return whether this is a model's own template (else Phi-2's forms) */
    public boolean isTemplate() {
        return template != null;
    }

    /**
     * @param messages the chat, at least one message
     * @return the prompt
     * @throws IllegalArgumentException when the messages do not suit the format (the template's own refusals included)
     */
    public ChatPrompt render(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) throw new IllegalArgumentException("the chat has no messages");
        if (template != null) {
            synchronized (this) {
                if (compiled == null) compiled = new JinjaTemplate(template, origin);
            }
            return new ChatPrompt(compiled.render(messages, bos, eos), List.of(), "chat_template");
        }
        if (messages.stream().noneMatch(m -> m.role().equals("user"))) throw new IllegalArgumentException("the chat has no user message");
        StringBuilder sb = new StringBuilder();
        if (messages.stream().filter(m -> !m.role().equals("system")).count() == 1) {
            for (ChatMessage m : messages) if (m.role().equals("system")) sb.append(m.content().strip()).append("\n");
            ChatMessage q = messages.stream().filter(m -> m.role().equals("user")).findFirst().orElseThrow();
            return new ChatPrompt(sb.append("Instruct: ").append(q.content().strip()).append("\nOutput:").toString(), List.of(), "instruct");
        }
        for (ChatMessage m : messages) {
            switch (m.role()) {
                case "system" -> sb.append(m.content().strip()).append("\n");
                case "user" -> sb.append("User: ").append(m.content().strip()).append("\n");
                default -> sb.append("Assistant: ").append(m.content().strip()).append("\n");
            }
        }
        return new ChatPrompt(sb.append("Assistant:").toString(), DIALOGUE_STOPS, "dialogue");
    }
}
