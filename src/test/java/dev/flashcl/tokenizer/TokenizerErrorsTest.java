package dev.flashcl.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flashcl.FlashClException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tokenizer whose ids are not unique is refused at load, naming both tokens and the id. */
class TokenizerErrorsTest {
    @TempDir Path dir;

    /** vocab.json with the 256 byte tokens (ids 0..255) and "ab" at {@code abId}; merges.txt with "a b". */
    Path write(int abId, String added) throws Exception {
        ObjectNode vocab = new ObjectMapper().createObjectNode();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]), b);
        vocab.put("ab", abId);
        Files.writeString(dir.resolve("vocab.json"), vocab.toString());
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b\n");
        if (added != null) Files.writeString(dir.resolve("added_tokens.json"), added);
        return dir;
    }

    @Test
    void uniqueIdsLoad() throws Exception {
        Tokenizer t = Tokenizer.load(write(256, null));
        assertArrayEquals(new int[] {256}, t.encode("ab"));
    }

    @Test
    void twoTokensWithOneIdAreRefused() throws Exception {
        var e = assertThrows(FlashClException.class, () -> Tokenizer.load(write(97, null)));
        assertTrue(e.getMessage().contains("both have id 97") && e.getMessage().contains("'ab'"), e.getMessage());
    }

    @Test
    void anAddedTokenOnAnotherTokensIdIsRefused() throws Exception {
        var e = assertThrows(FlashClException.class, () -> Tokenizer.load(write(256, "{\"<|x|>\": 256}")));
        assertTrue(e.getMessage().contains("<|x|>") && e.getMessage().contains("256") && e.getMessage().contains("unique"), e.getMessage());
    }
}
