package dev.flashcl.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Phi-2's tokenizer against Hugging Face's tokenizers library (testdata/tokenizer/golden.json,
 * made by make_golden.py): ids for every corpus string, transformers' decoded text with and
 * without the clean-up, and the streaming decoder, from both file forms the hub uses.
 */
class TokenizerGoldenTest {
    static final Path DIR = Path.of("testdata/tokenizer");
    static final Tokenizer JSON_FORM = Tokenizer.fromTokenizerJson(DIR.resolve("tokenizer.json"), true);
    static final Tokenizer FILES_FORM = Tokenizer.fromVocabMerges(DIR.resolve("vocab.json"), DIR.resolve("merges.txt"),
            DIR.resolve("added_tokens.json"), DIR.resolve("special_tokens_map.json"), true);

    record Case(String text, int[] ids, String decoded, String decodedClean) {
        @Override
        public String toString() {
            String t = text.length() > 40 ? text.substring(0, 40) + "..." : text;
            return t.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + " (" + text.length() + " chars)";
        }
    }

    static List<Case> golden() throws IOException {
        JsonNode root = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        List<Case> out = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            int[] ids = new int[c.get("ids").size()];
            for (int i = 0; i < ids.length; i++) ids[i] = c.get("ids").get(i).asInt();
            out.add(new Case(c.get("text").asText(), ids, c.get("decoded").asText(), c.get("decoded_clean").asText()));
        }
        return out;
    }

    static Stream<Arguments> cases() throws IOException {
        return golden().stream().map(c -> Arguments.of(c));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesTokenizersLibrary(Case c) {
        assertArrayEquals(c.ids, JSON_FORM.encode(c.text), "ids from tokenizer.json");
        assertArrayEquals(c.ids, FILES_FORM.encode(c.text), "ids from vocab.json + merges.txt + added_tokens.json");
        assertEquals(c.decoded, JSON_FORM.decode(c.ids, false, false), "decode without clean-up");
        assertEquals(c.decodedClean, JSON_FORM.decode(c.ids, true, false), "decode with clean-up");
        for (boolean clean : new boolean[] {false, true}) {
            StreamDecoder s = JSON_FORM.streamDecoder(clean);
            StringBuilder sb = new StringBuilder();
            for (int id : c.ids) {
                String part = s.next(id);
                assertFalse(!part.isEmpty() && Character.isLowSurrogate(part.charAt(0)), "stream split a surrogate pair");
                sb.append(part);
            }
            sb.append(s.flush());
            assertEquals(clean ? c.decodedClean : c.decoded, sb.toString(), "streamed text, clean-up " + clean);
        }
    }

    @Test
    void corpusCoversWhatTheIssueAsks() throws IOException {
        List<Case> g = golden();
        assertTrue(g.size() >= 300, "at least 300 strings, got " + g.size());
        assertTrue(g.stream().anyMatch(c -> c.text.isEmpty()));
        assertTrue(g.stream().anyMatch(c -> c.text.contains("<|endoftext|>")));
        assertTrue(g.stream().anyMatch(c -> c.text.contains("\r\n")));
        assertTrue(g.stream().anyMatch(c -> c.text.contains(" ".repeat(40))));
        assertTrue(g.stream().anyMatch(c -> c.text.length() > 10_000));
    }

    /** The two encodings phi2.md records from the tokenizers library on the GPU machine. */
    @Test
    void referenceEncodings() {
        assertArrayEquals(new int[] {15496, 2159}, JSON_FORM.encode("Hello World"));
        assertArrayEquals(new int[] {4299, 1109, 5132, 7, 77, 2599, 198, 50284, 37811, 198, 50284, 9771, 3129, 378, 262, 1109,
                5132, 286, 257, 1271, 299, 198, 50284, 37811, 198},
                JSON_FORM.encode("def factorial(n):\n    \"\"\"\n    Calculate the factorial of a number n\n    \"\"\"\n"));
        assertArrayEquals(new int[] {50257, 50286}, JSON_FORM.encode(" ".repeat(33)), "33 spaces: 31 then 2, leftmost-longest");
        assertEquals(50295, JSON_FORM.size());
        assertTrue(JSON_FORM.isSpecial(50256));
        assertFalse(JSON_FORM.isSpecial(50284));
    }

    /** A lone surrogate is encoded as U+FFFD (what UTF-8 encoders with replacement write), whose ids the golden data holds. */
    @Test
    void loneSurrogatesEncodeAsReplacementCharacter() {
        assertArrayEquals(JSON_FORM.encode("a\uFFFDb"), JSON_FORM.encode("a\uD800b"));
        assertArrayEquals(JSON_FORM.encode("a\uFFFDb"), JSON_FORM.encode("a\uDC00b"));
        assertArrayEquals(JSON_FORM.encode("\uFFFD"), JSON_FORM.encode("\uD83D"));
        assertArrayEquals(JSON_FORM.encode("😀\uFFFD"), JSON_FORM.encode("😀\uD83D"));
        assertEquals("a\uFFFDb", JSON_FORM.decode(JSON_FORM.encode("a\uD800b"), false, false));
    }

    /** Phi-2's embedding has 51,200 rows for the tokenizer's 50,295 ids: sampling may pick one of the rest, which decodes to nothing (as in transformers). */
    @Test
    void idsTheTokenizerLacksDecodeToNothing() {
        assertEquals(50295, JSON_FORM.size());
        assertEquals("Hello", JSON_FORM.decode(new int[] {15496, 50302}));
        assertEquals("Hello World", JSON_FORM.decode(new int[] {15496, 51199, 2159}));
        StreamDecoder s = JSON_FORM.streamDecoder(false);
        assertEquals("", s.next(50302));
        assertEquals("Hello", s.next(15496) + s.flush());
        var e = assertThrows(IllegalArgumentException.class, () -> JSON_FORM.decode(new int[] {-1}));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
    }

    /** Clean-up is off unless asked, though tokenizer_config.json asks for it: it turns code's {@code else ' '} into {@code else''}. */
    @Test
    void decodingKeepsCodeAsWritten() {
        String code = "x = a if b else ' '\nfrom . import y";
        assertTrue(JSON_FORM.cleanUpByDefault(), "Phi-2's tokenizer_config.json asks for the clean-up");
        assertEquals(code, JSON_FORM.decode(JSON_FORM.encode(code)));
        assertEquals("x = a if b else''\nfrom. import y", JSON_FORM.decode(JSON_FORM.encode(code), true, false), "the clean-up, when asked");
    }

    /** Half a character never leaves the stream decoder: an emoji's four bytes arrive as separate byte tokens. */
    @Test
    void streamHoldsPartialCharacters() {
        int[] ids = JSON_FORM.encode("😀");
        assertTrue(ids.length > 1, "the emoji should take several byte tokens");
        StreamDecoder s = JSON_FORM.streamDecoder(false);
        for (int i = 0; i < ids.length - 1; i++) assertEquals("", s.next(ids[i]));
        assertEquals("😀", s.next(ids[ids.length - 1]));
        StreamDecoder cut = JSON_FORM.streamDecoder(false);
        cut.next(ids[0]);
        assertEquals("\uFFFD", cut.flush(), "an unfinished character at the end is a replacement character");
    }
}
