package dev.flashcl.tokenizer;

import java.io.ByteArrayOutputStream;

/**
 * Decodes ids one at a time into text ready to print. Bytes of a UTF-8 character split across
 * tokens are held until it is complete; with clean-up on, the last few characters are held while
 * a following token could still change them (the clean-up removes a space before . , ! ? and in
 * contractions). {@link #flush()} gives the rest. The concatenation of everything returned equals
 * {@link Tokenizer#decode(int[], boolean, boolean)} of all ids.
 */
public final class StreamDecoder {
    /** Characters held back under clean-up: a pattern is at most 4 characters, a cascade of two at most 8. */
    private static final int HOLD = 8;

    private final Tokenizer tok;
    private final boolean cleanUp;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private int emitted;   // characters of the (cleaned) text already returned

    StreamDecoder(Tokenizer tok, boolean cleanUp) {
        this.tok = tok;
        this.cleanUp = cleanUp;
    }

    /**
     * @param id the next token id
     * @return text that became final with it (may be empty)
     */
    public String next(int id) {
        bytes.writeBytes(tok.bytesOf(id));
        byte[] all = bytes.toByteArray();
        int complete = completePrefix(all);
        String text = Tokenizer.utf8(all, 0, complete);
        if (cleanUp) text = Tokenizer.cleanUp(text);
        int stable = cleanUp ? Math.max(emitted, text.length() - HOLD) : text.length();
        if (stable > 0 && stable < text.length() && Character.isHighSurrogate(text.charAt(stable - 1))) stable--;
        String out = text.substring(emitted, Math.max(emitted, stable));
        emitted = Math.max(emitted, stable);
        return out;
    }

    /** @return everything not yet returned, incomplete UTF-8 at the end decoded as U+FFFD */
    public String flush() {
        byte[] all = bytes.toByteArray();
        String text = Tokenizer.utf8(all, 0, all.length);
        if (cleanUp) text = Tokenizer.cleanUp(text);
        String out = text.substring(Math.min(emitted, text.length()));
        emitted = text.length();
        return out;
    }

    /**
     * Length of the longest prefix that does not end inside a UTF-8 sequence that could still be
     * completed by the next bytes. Malformed bytes count as complete (they decode as U+FFFD).
     */
    static int completePrefix(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xff;
            if ((c & 0xC0) == 0x80) continue;   // continuation byte: look further back for its lead
            int need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
