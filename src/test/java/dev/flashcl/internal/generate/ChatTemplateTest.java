package dev.flashcl.internal.generate;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.ChatMessage;
import dev.flashcl.ChatPrompt;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.GgufWriter;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chat templates rendered by Jinjava equal transformers' own rendering (testdata/chat/templates.json,
 * made by make_chat_templates.py beside it): six templates in the hub's shapes times five chats,
 * including the templates' raise_exception refusals; and Phi-2's documented forms.
 */
class ChatTemplateTest {
    static Stream<Arguments> cases() throws Exception {
        JsonNode d = new ObjectMapper().readTree(new File("testdata/chat/templates.json"));
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : d.get("cases")) {
            out.add(Arguments.of(c.get("template_name").asText() + " / " + c.get("messages_name").asText(), c, d.get("bos_token").asText(),
                    d.get("eos_token").asText()));
        }
        return out.stream();
    }

    static List<ChatMessage> messages(JsonNode a) {
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : a) out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersAsTransformersDoes(String name, JsonNode c, String bos, String eos) {
        ChatFormat f = ChatFormat.template(c.get("template").asText(), bos, eos, "templates.json " + name);
        List<ChatMessage> m = messages(c.get("messages"));
        if (c.has("error")) {
            var e = assertThrows(IllegalArgumentException.class, () -> f.render(m));
            assertEquals("the chat template refused the messages: " + c.get("error").asText(), e.getMessage());
        } else {
            ChatPrompt p = f.render(m);
            assertEquals(c.get("rendered").asText(), p.text());
            assertEquals("chat_template", p.format());
            assertEquals(List.of(), p.stopStrings());
        }
    }

    @Test
    void phi2FormsWithoutATemplate() {
        ChatPrompt d = ChatFormat.PHI2.render(List.of(ChatMessage.user("hi"), ChatMessage.assistant("hello"), ChatMessage.user("how are you?")));
        assertEquals("User: hi\nAssistant: hello\nUser: how are you?\nAssistant:", d.text());
        assertEquals(ChatFormat.DIALOGUE_STOPS, d.stopStrings());
        ChatPrompt i = ChatFormat.PHI2.render(List.of(ChatMessage.system("Be brief."), ChatMessage.user(" name three primes. ")));
        assertEquals("Be brief.\nInstruct: name three primes.\nOutput:", i.text());
        assertEquals("instruct", i.format());
        assertThrows(IllegalArgumentException.class, () -> ChatFormat.PHI2.render(List.of(ChatMessage.assistant("alone"))));
        assertThrows(IllegalArgumentException.class, () -> ChatFormat.PHI2.render(List.of()));
    }

    /** A GGUF file written from a directory whose tokenizer_config.json has a template carries it, and bos_token is its bos id's text. */
    @Test
    void aGgufFileCarriesItsTemplate(@TempDir Path dir) throws Exception {
        JsonNode c = null;
        for (JsonNode x : new ObjectMapper().readTree(new File("testdata/chat/templates.json")).get("cases")) {
            if (x.get("template_name").asText().equals("phi3") && x.get("messages_name").asText().equals("three turns")) c = x;
        }
        Path hf = Files.createDirectories(dir.resolve("hf"));
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) Files.copy(Path.of("testdata/embedded", f), hf.resolve(f));
        var config = (ObjectNode) new ObjectMapper().readTree(new File("testdata/embedded/tokenizer_config.json"));
        Files.writeString(hf.resolve("tokenizer_config.json"), config.put("chat_template", c.get("template").asText()).toString());
        assertEquals(c.get("rendered").asText(), ChatFormat.of(hf).render(messages(c.get("messages"))).text().replace("<|endoftext|>", "<s>"));
        Path gguf = GgufWriter.write(hf, dir.resolve("m.gguf"), false, name -> DType.F16);
        ChatFormat f = ChatFormat.of(gguf);
        assertTrue(f.isTemplate());
        String want = c.get("rendered").asText().replace("<s>", "<|endoftext|>");   // the model's bos is <|endoftext|>
        assertEquals(want, f.render(messages(c.get("messages"))).text());
        assertFalse(ChatFormat.of(Path.of("testdata/embedded")).isTemplate(), "no chat_template: Phi-2's forms");
    }

    @Test
    void aBrokenTemplateNamesItsOrigin() {
        ChatFormat f = ChatFormat.template("{% for m in messages %}{{ m.content }", "", "", "model/tokenizer_config.json chat_template");
        var e = assertThrows(IllegalArgumentException.class, () -> f.render(List.of(ChatMessage.user("x"))));
        assertTrue(e.getMessage().startsWith("model/tokenizer_config.json chat_template failed to render"), e.getMessage());
    }
}
