package dev.flashcl.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Properties of the tokenizer over generated strings (seeded, so a failure names a case that
 * reproduces): encoding never throws and gives ids in range; byte-level BPE loses nothing, so
 * decoding without clean-up gives the string back (lone surrogates as U+FFFD, the defined
 * behaviour); with clean-up it gives transformers' clean-up of the string (the golden data pins
 * that function to transformers'); the streaming decoder's pieces add up to the full decode.
 */
class TokenizerPropertiesTest {
    static final Tokenizer TOK = TokenizerGoldenTest.JSON_FORM;
    private static final String CODE_CHARS = " \t\n\r'\"()[]{}:;.,!?_-=+*/#<>|\\0123456789abcdefxyzABCDEFXYZ";
    private static final String[] WORDS = {"<|endoftext|>", "def ", "return", " n't", " 's", "'re", " .", " ,", "é", "日本", "👨‍👩‍👧", "e\u0301", "\uFFFD"};

    /** Code-like text, runs of whitespace, any UTF-16 units (lone surrogates included) and tight alphabets, joined, then words that stress the rules. */
    static String text(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int parts = r.nextInt(7);
        for (int p = 0; p < parts; p++) {
            switch (r.nextInt(4)) {
                case 0 -> sb.append(from(r, CODE_CHARS, r.nextInt(121)));
                case 1 -> sb.append(from(r, " \t\n", 1 + r.nextInt(45)));
                case 2 -> sb.append(anyChars(r, r.nextInt(41)));
                default -> sb.append(from(r, "ab ", r.nextInt(11)));
            }
        }
        int words = r.nextInt(4);
        for (int w = 0; w < words; w++) sb.append(WORDS[r.nextInt(WORDS.length)]);
        return sb.toString();
    }

    private static String from(SplittableRandom r, String alphabet, int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
        return sb.toString();
    }

    /** Any UTF-16 code units: half from the BMP at large (surrogates too), half ASCII and Latin-1, so both kinds are common. */
    static String anyChars(SplittableRandom r, int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) sb.append((char) (r.nextBoolean() ? r.nextInt(0x10000) : r.nextInt(0x100)));
        return sb.toString();
    }

    static Stream<String> texts() {
        SplittableRandom r = new SplittableRandom(20261202);
        return IntStream.range(0, 600).mapToObj(i -> text(r));
    }

    static Stream<String> javaStrings() {
        SplittableRandom r = new SplittableRandom(20261203);
        return IntStream.range(0, 300).mapToObj(i -> anyChars(r, r.nextInt(301)));
    }

    static Stream<String> streamed() {
        SplittableRandom r = new SplittableRandom(20261204);
        return IntStream.range(0, 300).mapToObj(i -> text(r));
    }

    @ParameterizedTest(name = "case {index}")
    @MethodSource("texts")
    void idsInRangeAndDecodeGivesTheStringBack(String s) {
        int[] ids = TOK.encode(s);
        for (int id : ids) assertTrue(id >= 0 && id < TOK.size(), "id " + id);
        String expected = Tokenizer.replaceLoneSurrogates(s);
        assertEquals(expected, TOK.decode(ids, false, false));
        assertEquals(Tokenizer.cleanUp(expected), TOK.decode(ids, true, false));
    }

    @ParameterizedTest(name = "case {index}")
    @MethodSource("javaStrings")
    void anyJavaStringEncodes(String s) {
        int[] ids = TOK.encode(s);
        assertEquals(Tokenizer.replaceLoneSurrogates(s), TOK.decode(ids, false, false));
    }

    @ParameterizedTest(name = "case {index}")
    @MethodSource("streamed")
    void streamingAddsUpToTheFullDecode(String s) {
        int[] ids = TOK.encode(s);
        for (boolean clean : new boolean[] {false, true}) {
            StreamDecoder d = TOK.streamDecoder(clean);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(d.next(id));
            sb.append(d.flush());
            assertEquals(TOK.decode(ids, clean, false), sb.toString());
        }
    }
}
