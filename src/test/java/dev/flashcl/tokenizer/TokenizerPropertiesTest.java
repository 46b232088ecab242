package dev.flashcl.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.StringLength;

/**
 * Properties of the tokenizer over generated strings (jqwik): encoding never throws and gives ids
 * in range; byte-level BPE loses nothing, so decoding without clean-up gives the string back
 * (lone surrogates as U+FFFD, the defined behaviour); with clean-up it gives transformers'
 * clean-up of the string (the golden data pins that function to transformers'); the streaming
 * decoder's pieces add up to the full decode.
 */
class TokenizerPropertiesTest {
    static final Tokenizer TOK = TokenizerGoldenTest.JSON_FORM;

    @Provide
    Arbitrary<String> texts() {
        Arbitrary<String> code = Arbitraries.strings().withChars(" \t\n\r'\"()[]{}:;.,!?_-=+*/#<>|\\0123456789abcdefxyzABCDEFXYZ").ofMaxLength(120);
        Arbitrary<String> ws = Arbitraries.strings().withChars(" \t\n").ofMinLength(1).ofMaxLength(45);
        Arbitrary<String> unicode = Arbitraries.strings().all().ofMaxLength(40);   // any char, lone surrogates included
        Arbitrary<String> words = Arbitraries.of("<|endoftext|>", "def ", "return", " n't", " 's", "'re", " .", " ,", "é", "日本", "👨‍👩‍👧", "e\u0301", "\uFFFD");
        return Arbitraries.oneOf(code, ws, unicode, Arbitraries.strings().withChars("ab ").ofMaxLength(10))
                .list().ofMaxSize(6).map(l -> String.join("", l))
                .flatMap(s -> words.list().ofMaxSize(3).map(w -> s + String.join("", w)));
    }

    @Property(tries = 600)
    void idsInRangeAndDecodeGivesTheStringBack(@ForAll("texts") String s) {
        int[] ids = TOK.encode(s);
        for (int id : ids) assertTrue(id >= 0 && id < TOK.size(), "id " + id);
        String expected = Tokenizer.replaceLoneSurrogates(s);
        assertEquals(expected, TOK.decode(ids, false, false));
        assertEquals(Tokenizer.cleanUp(expected), TOK.decode(ids, true, false));
    }

    @Property(tries = 300)
    void anyJavaStringEncodes(@ForAll @StringLength(max = 300) String s) {
        int[] ids = TOK.encode(s);
        assertEquals(Tokenizer.replaceLoneSurrogates(s), TOK.decode(ids, false, false));
    }

    @Property(tries = 300)
    void streamingAddsUpToTheFullDecode(@ForAll("texts") String s) {
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
