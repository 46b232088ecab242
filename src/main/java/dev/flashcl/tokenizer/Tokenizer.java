package dev.flashcl.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.internal.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Phi-2's tokenizer (CodeGen's): GPT-2 byte-level BPE plus added tokens.
 *
 * <pre>
 *   encode: text -> split on added tokens, leftmost-longest (&lt;|endoftext|&gt;, runs of 2..31 spaces, 2..9 tabs)
 *                -> each other piece: GPT-2 pre-tokenizer regex -> bytes -> byte-to-unicode -> BPE merges by rank
 *   decode: ids -> added tokens as their text, others as bytes -> UTF-8 with replacement [-> clean-up of spaces]
 * </pre>
 * Read from {@code tokenizer.json}, or from {@code vocab.json} + {@code merges.txt} (+ {@code added_tokens.json}).
 * Immutable and safe to share between threads.
 */
public final class Tokenizer {
    /** GPT-2's pre-tokenizer, with Unicode classes (\s, \p{L}, \p{N}) as the Rust regex has them. */
    static final Pattern PRE_TOKENIZER = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    /** transformers' clean_up_tokenization, applied in this order. */
    private static final String[][] CLEANUP = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
            {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};

    private final String[] idToToken;
    private final byte[][] idToBytes;
    private final int[] byteToId = new int[256];
    private final PairMap merges;
    private final AddedTokens added;
    private final boolean[] special;
    private final boolean cleanUpDefault;
    private final String source;

    private Tokenizer(Map<String, Integer> vocab, List<String[]> mergeList, Map<String, Integer> addedTokens,
                      Map<String, Boolean> specialFlags, boolean cleanUp, String source) {
        this.source = source;
        long size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1L);
        for (int id : addedTokens.values()) size = Math.max(size, id + 1L);
        long entries = vocab.size() + addedTokens.size();
        if (size > 2 * entries + 1024) {   // ids index arrays: a lying id must not allocate gigabytes
            throw new CheckpointException(source + ": token ids go up to " + (size - 1) + " for " + entries + " tokens; ids must be dense (0.." + (entries - 1) + ")");
        }
        idToToken = new String[(int) size];
        idToBytes = new byte[(int) size][];
        special = new boolean[(int) size];
        for (var e : vocab.entrySet()) {
            if (e.getValue() < 0) throw new CheckpointException(source + ": token '" + e.getKey() + "' has a negative id");
            if (idToToken[e.getValue()] != null) {
                throw new CheckpointException(source + ": tokens '" + idToToken[e.getValue()] + "' and '" + e.getKey() + "' both have id " + e.getValue() + "; ids must be unique");
            }
            idToToken[e.getValue()] = e.getKey();
            idToBytes[e.getValue()] = ByteLevel.tokenBytes(e.getKey());
        }
        Arrays.fill(byteToId, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
            if (id == null) throw new CheckpointException(source + ": the vocabulary lacks the byte token for byte " + b + " (not a byte-level BPE vocabulary)");
            byteToId[b] = id;
        }
        for (var e : addedTokens.entrySet()) {
            int id = e.getValue();
            if (id < 0) throw new CheckpointException(source + ": added token '" + e.getKey() + "' has a negative id");
            if (idToToken[id] != null && !idToToken[id].equals(e.getKey())) {
                throw new CheckpointException(source + ": added token '" + e.getKey() + "' has id " + id + ", which '" + idToToken[id] + "' already has; ids must be unique");
            }
            idToToken[id] = e.getKey();
            idToBytes[id] = e.getKey().getBytes(StandardCharsets.UTF_8);
            special[id] = specialFlags.getOrDefault(e.getKey(), false);
        }
        merges = new PairMap(mergeList.size() * 2);
        for (int rank = 0; rank < mergeList.size(); rank++) {
            String[] m = mergeList.get(rank);
            Integer a = vocab.get(m[0]), b = vocab.get(m[1]), ab = vocab.get(m[0] + m[1]);
            if (a == null || b == null || ab == null) {
                throw new CheckpointException(source + ": merge " + (rank + 1) + " (\"" + m[0] + " " + m[1] + "\") uses a token that is not in the vocabulary");
            }
            merges.putIfAbsent(a, b, rank, ab);
        }
        added = new AddedTokens(addedTokens);
        cleanUpDefault = cleanUp;
    }

    /**
     * The tokenizer of a model directory: {@code tokenizer.json}, else {@code vocab.json} + {@code merges.txt}.
     *
     * @param dir a Hugging Face model directory
     * @return the tokenizer
     * @throws dev.flashcl.FlashClException naming the file and what is wrong with it
     */
    public static Tokenizer load(Path dir) {
        boolean cleanUp = readCleanUp(dir.resolve("tokenizer_config.json"));
        if (Files.isRegularFile(dir.resolve("tokenizer.json"))) return fromTokenizerJson(dir.resolve("tokenizer.json"), cleanUp);
        if (Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))) {
            return fromVocabMerges(dir.resolve("vocab.json"), dir.resolve("merges.txt"), dir.resolve("added_tokens.json"),
                    dir.resolve("special_tokens_map.json"), cleanUp);
        }
        throw new CheckpointException(dir + ": no tokenizer.json and no vocab.json + merges.txt (copy the tokenizer files from the model's hub page)");
    }

    private static boolean readCleanUp(Path config) {
        if (!Files.isRegularFile(config)) return true;
        JsonNode c = readJson(config);
        return c.path("clean_up_tokenization_spaces").asBoolean(true);
    }

    static JsonNode readJson(Path file) {
        try {
            JsonNode n = new ObjectMapper().readTree(file.toFile());
            if (n == null || !n.isObject()) throw new CheckpointException(file + ": not a JSON object");
            return n;
        } catch (IOException e) {
            throw new CheckpointException(file + ": not JSON: " + e.getMessage(), e);
        }
    }

    /**
     * @param file    a {@code tokenizer.json} of a byte-level BPE tokenizer
     * @param cleanUp what {@link #cleanUpByDefault()} reports
     * @return the tokenizer
     */
    public static Tokenizer fromTokenizerJson(Path file, boolean cleanUp) {
        JsonNode root = readJson(file);
        JsonNode model = root.path("model");
        if (!model.path("type").asText("BPE").equals("BPE")) {
            throw new CheckpointException(file + ": model type \"" + model.path("type").asText() + "\" is not BPE (flashcl reads GPT-2 style byte-level BPE)");
        }
        JsonNode pre = root.path("pre_tokenizer");
        if (!pre.isMissingNode() && !pre.isNull() && !pre.toString().contains("ByteLevel")) {
            throw new CheckpointException(file + ": pre_tokenizer " + pre.path("type").asText() + " is not ByteLevel");
        }
        Map<String, Integer> vocab = vocabFrom(model.path("vocab"), file);
        List<String[]> merges = new ArrayList<>();
        JsonNode m = model.path("merges");
        if (!m.isArray()) throw new CheckpointException(file + ": model.merges is not a list");
        for (JsonNode e : m) {
            if (e.isTextual()) merges.add(splitMerge(e.asText(), file, merges.size()));
            else if (e.isArray() && e.size() == 2 && e.get(0).isTextual() && e.get(1).isTextual()) merges.add(new String[] {e.get(0).asText(), e.get(1).asText()});
            else throw new CheckpointException(file + ": merge " + (merges.size() + 1) + " is neither \"a b\" nor [a, b]");
        }
        Map<String, Integer> added = new HashMap<>();
        Map<String, Boolean> specials = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            if (!t.path("content").isTextual() || !t.path("id").canConvertToInt()) throw new CheckpointException(file + ": an added_tokens entry lacks content or id");
            String text = t.get("content").asText();
            if (text.isEmpty()) throw new CheckpointException(file + ": an added token is empty");
            added.put(text, t.get("id").asInt());
            specials.put(text, t.path("special").asBoolean(false));
        }
        return new Tokenizer(vocab, merges, added, specials, cleanUp, file.toString());
    }

    /**
     * The tokenizer a GGUF file carries ({@code tokenizer.ggml.*}: model "gpt2", tokens, token
     * types, merges). Normal tokens form the byte-level vocabulary; control tokens (type 3) are
     * special added tokens, user-defined ones (type 4) plain added tokens, both stored as their
     * text, as llama.cpp's converter writes them; unused ones (type 5, padding) are left out.
     *
     * @param file a {@code .gguf} file
     * @return the tokenizer
     * @throws dev.flashcl.FlashClException naming the file and the key at fault
     */
    public static Tokenizer fromGguf(Path file) {
        var g = dev.flashcl.internal.checkpoint.GgufFile.read(file);
        String model = g.string("tokenizer.ggml.model", null);
        if (model == null) throw new CheckpointException(file + ": metadata tokenizer.ggml.model is missing (the file carries no tokenizer)");
        if (!model.equals("gpt2")) throw new CheckpointException(file + ": tokenizer.ggml.model is \"" + model + "\"; flashcl reads GPT-2 style byte-level BPE (\"gpt2\")");
        List<?> tokens = g.array("tokenizer.ggml.tokens"), types = g.array("tokenizer.ggml.token_type"), mergeList = g.array("tokenizer.ggml.merges");
        if (tokens == null) throw new CheckpointException(file + ": metadata tokenizer.ggml.tokens is missing");
        if (mergeList == null) throw new CheckpointException(file + ": metadata tokenizer.ggml.merges is missing");
        if (types != null && types.size() != tokens.size()) {
            throw new CheckpointException(file + ": tokenizer.ggml.token_type has " + types.size() + " entries for " + tokens.size() + " tokens");
        }
        Map<String, Integer> vocab = new HashMap<>(), added = new HashMap<>();
        Map<String, Boolean> specials = new HashMap<>();
        for (int id = 0; id < tokens.size(); id++) {
            if (!(tokens.get(id) instanceof String text)) throw new CheckpointException(file + ": tokenizer.ggml.tokens[" + id + "] is not a string");
            long type = types == null ? 1 : types.get(id) instanceof Long l ? l : -1;
            if (type == 5) continue;
            if (type == 3 || type == 4) {
                if (text.isEmpty()) throw new CheckpointException(file + ": tokenizer.ggml.tokens[" + id + "] is an empty added token");
                added.put(text, id);
                specials.put(text, type == 3);
            } else if (type >= 1 && type <= 6) {
                if (vocab.putIfAbsent(text, id) != null) throw new CheckpointException(file + ": token '" + text + "' appears twice in tokenizer.ggml.tokens");
            } else {
                throw new CheckpointException(file + ": tokenizer.ggml.token_type[" + id + "] is " + types.get(id) + "; GGUF token types are 1..6");
            }
        }
        List<String[]> merges = new ArrayList<>();
        for (Object m : mergeList) {
            if (!(m instanceof String line)) throw new CheckpointException(file + ": tokenizer.ggml.merges[" + merges.size() + "] is not a string");
            merges.add(splitMerge(line, file, merges.size()));
        }
        return new Tokenizer(vocab, merges, added, specials, g.bool("tokenizer.ggml.clean_spaces", true), file.toString());
    }

    /**
     * @param vocabFile    {@code vocab.json}: token to id
     * @param mergesFile   {@code merges.txt}: one merge a line, by rank
     * @param addedFile    {@code added_tokens.json} (may be absent)
     * @param specialsFile {@code special_tokens_map.json} (may be absent)
     * @param cleanUp      what {@link #cleanUpByDefault()} reports
     * @return the tokenizer
     */
    public static Tokenizer fromVocabMerges(Path vocabFile, Path mergesFile, Path addedFile, Path specialsFile, boolean cleanUp) {
        Map<String, Integer> vocab = vocabFrom(readJson(vocabFile), vocabFile);
        List<String[]> merges = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(mergesFile, StandardCharsets.UTF_8)) {
                if (line.startsWith("#version") || line.isEmpty()) continue;
                merges.add(splitMerge(line, mergesFile, merges.size()));
            }
        } catch (IOException e) {
            throw new CheckpointException(mergesFile + ": cannot read: " + e.getMessage(), e);
        }
        Map<String, Integer> added = new HashMap<>();
        Map<String, Boolean> specials = new HashMap<>();
        if (Files.isRegularFile(addedFile)) {
            for (var it = readJson(addedFile).fields(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getValue().canConvertToInt() || e.getKey().isEmpty()) throw new CheckpointException(addedFile + ": entry '" + e.getKey() + "' is not text -> id");
                added.put(e.getKey(), e.getValue().asInt());
            }
        }
        // <|endoftext|> and the other tokens of special_tokens_map.json are special, split before BPE as added tokens are.
        List<String> specialTexts = new ArrayList<>(List.of("<|endoftext|>"));
        if (Files.isRegularFile(specialsFile)) {
            for (JsonNode v : readJson(specialsFile)) {
                if (v.isTextual()) specialTexts.add(v.asText());
                else if (v.path("content").isTextual()) specialTexts.add(v.get("content").asText());
            }
        }
        for (String s : specialTexts) {
            Integer id = added.containsKey(s) ? added.get(s) : vocab.get(s);
            if (id != null) {
                added.put(s, id);
                specials.put(s, true);
            }
        }
        return new Tokenizer(vocab, merges, added, specials, cleanUp, vocabFile.getParent().toString());
    }

    private static Map<String, Integer> vocabFrom(JsonNode v, Path file) {
        if (!v.isObject()) throw new CheckpointException(file + ": vocabulary is not a JSON object of token -> id");
        Map<String, Integer> vocab = new HashMap<>(v.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().canConvertToInt() || !e.getValue().isIntegralNumber()) throw new CheckpointException(file + ": token '" + e.getKey() + "' has no integer id");
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        return vocab;
    }

    private static String[] splitMerge(String line, Path file, int index) {
        int sp = line.indexOf(' ');
        if (sp <= 0 || sp == line.length() - 1 || line.indexOf(' ', sp + 1) >= 0) {
            throw new CheckpointException(file + ": merge " + (index + 1) + " (\"" + line + "\") is not two tokens separated by one space");
        }
        return new String[] {line.substring(0, sp), line.substring(sp + 1)};
    }

    /** @return the number of ids (the largest id + 1) */
    public int size() {
        return idToToken.length;
    }

    /**
     * @param id a token id
     * @return whether it is a special token (such as {@code <|endoftext|>})
     */
    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    /**
     * Refuses a tokenizer with ids the model has no embedding row for.
     *
     * @param modelVocab the model's {@code vocab_size}
     * @param where      the model directory, for the message
     */
    public void checkAgainst(int modelVocab, Path where) {
        if (size() > modelVocab) {
            throw new CheckpointException(where + ": the tokenizer (" + source + ") has ids up to " + (size() - 1) + " but the model's vocab_size is "
                    + modelVocab + "; they do not belong together");
        }
    }

    /** @return whether tokenizer_config.json asks for transformers' clean-up of tokenization spaces (decoding applies it only when told) */
    public boolean cleanUpByDefault() {
        return cleanUpDefault;
    }

    /**
     * Token ids of {@code text}, no BOS or EOS added. A lone surrogate in the string is encoded as
     * U+FFFD, the replacement character, as Java's and Python's UTF-8 encoders with replacement do.
     *
     * @param text any string
     * @return its token ids
     */
    public int[] encode(String text) {
        text = replaceLoneSurrogates(text);
        IntList out = new IntList(text.length() / 3 + 4);
        int pos = 0;
        while (pos < text.length()) {
            long m = added.find(text, pos);
            int start = m < 0 ? text.length() : (int) (m >>> 32);
            if (start > pos) encodePiece(text, pos, start, out);
            if (m < 0) break;
            int len = (int) m & 0x7fffffff;
            out.add(added.idAt(text, start, len));
            pos = start + len;
        }
        return out.toArray();
    }

    private final ThreadLocal<HashMap<String, int[]>> cache = ThreadLocal.withInitial(HashMap::new);

    private void encodePiece(String text, int from, int to, IntList out) {
        Matcher m = PRE_TOKENIZER.matcher(text).region(from, to);
        HashMap<String, int[]> words = cache.get();
        if (words.size() > 100_000) words.clear();
        while (m.find()) {
            String word = text.substring(m.start(), m.end());
            int[] ids = words.get(word);
            if (ids == null) {
                ids = bpe(word.getBytes(StandardCharsets.UTF_8));
                words.put(word, ids);
            }
            out.addAll(ids);
        }
    }

    /** Byte-level BPE of one pre-token: repeatedly merge the adjacent pair of lowest rank (leftmost first). */
    int[] bpe(byte[] bytes) {
        int n = bytes.length;
        int[] sym = new int[n];
        for (int i = 0; i < n; i++) sym[i] = byteToId[bytes[i] & 0xff];
        while (n > 1) {
            int best = Integer.MAX_VALUE, at = -1;
            for (int i = 0; i + 1 < n; i++) {
                int rank = merges.rank(sym[i], sym[i + 1]);
                if (rank < best) {
                    best = rank;
                    at = i;
                }
            }
            if (at < 0) break;
            int a = sym[at], b = sym[at + 1], merged = merges.merged(a, b);
            int w = 0;
            for (int i = 0; i < n; i++) {   // merge every occurrence of (a, b), left to right
                if (i + 1 < n && sym[i] == a && sym[i + 1] == b) {
                    sym[w++] = merged;
                    i++;
                } else {
                    sym[w++] = sym[i];
                }
            }
            n = w;
        }
        return Arrays.copyOf(sym, n);
    }

    static String replaceLoneSurrogates(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean lone = Character.isHighSurrogate(c) ? !(i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1)))
                    : Character.isLowSurrogate(c) && !(i > 0 && Character.isHighSurrogate(s.charAt(i - 1)));
            if (lone) {
                if (sb == null) sb = new StringBuilder(s);
                sb.setCharAt(i, '\uFFFD');
            } else if (Character.isHighSurrogate(c)) {
                i++;
            }
        }
        return sb == null ? s : sb.toString();
    }

    /**
     * @param ids token ids
     * @return their text, without transformers' clean-up of tokenization spaces (which corrupts code; transformers 5 skips it here too)
     */
    public String decode(int[] ids) {
        return decode(ids, false, false);
    }

    /**
     * Text of {@code ids}: the bytes of every token joined, then decoded as UTF-8 with U+FFFD for
     * malformed sequences; with {@code cleanUp}, transformers' clean-up of tokenization spaces.
     * An id the tokenizer has no token for (Phi-2's embedding has 51,200 rows for 50,295 ids, and
     * sampling may pick one of the rest) decodes to nothing, as transformers decodes it; a
     * negative id throws.
     *
     * @param ids         token ids
     * @param cleanUp     apply the clean-up of tokenization spaces
     * @param skipSpecial leave special tokens out
     * @return the text
     */
    public String decode(int[] ids, boolean cleanUp, boolean skipSpecial) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            if (skipSpecial && isSpecial(id)) continue;
            bytes.writeBytes(bytesOf(id));
        }
        String s = utf8(bytes.toByteArray(), 0, bytes.size());
        return cleanUp ? cleanUp(s) : s;
    }

    byte[] bytesOf(int id) {
        if (id < 0) throw new IllegalArgumentException("token id " + id + " is negative");
        if (id >= idToBytes.length || idToToken[id] == null) return new byte[0];
        byte[] b = idToBytes[id];
        return b != null ? b : idToToken[id].getBytes(StandardCharsets.UTF_8);
    }

    static String utf8(byte[] b, int off, int len) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            CharBuffer c = d.decode(ByteBuffer.wrap(b, off, len));
            return c.toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException(e);   // REPLACE never throws
        }
    }

    /**
     * transformers' clean_up_tokenization: drops the space before . ? ! , and in contractions.
     *
     * @param s decoded text
     * @return the text cleaned up
     */
    public static String cleanUp(String s) {
        for (String[] r : CLEANUP) s = s.replace(r[0], r[1]);
        return s;
    }

    /**
     * @param cleanUp apply the clean-up of tokenization spaces
     * @return a decoder that turns ids into text as they come, never splitting a UTF-8 character
     */
    public StreamDecoder streamDecoder(boolean cleanUp) {
        return new StreamDecoder(this, cleanUp);
    }

    @Override
    public String toString() {
        return "Tokenizer[" + idToToken.length + " ids, " + added.size() + " added tokens, from " + source + "]";
    }

    /** Added tokens in a character trie, matched leftmost-longest: at the first position where any starts, the longest one there. */
    private static final class AddedTokens {
        private final int count;
        private final Node root = new Node();

        private static final class Node {
            final HashMap<Character, Node> next = new HashMap<>(4);
            int id = -1;
        }

        AddedTokens(Map<String, Integer> ids) {
            count = ids.size();
            for (var e : ids.entrySet()) {
                Node n = root;
                for (int i = 0; i < e.getKey().length(); i++) n = n.next.computeIfAbsent(e.getKey().charAt(i), c -> new Node());
                n.id = e.getValue();
            }
        }

        int size() {
            return count;
        }

        /** (start << 32 | length) of the leftmost-longest added token at or after {@code from}, or -1. */
        long find(String text, int from) {
            for (int i = from; i < text.length(); i++) {
                Node n = root.next.get(text.charAt(i));
                if (n == null) continue;
                int best = n.id >= 0 ? 1 : 0;
                for (int j = i + 1; j < text.length(); j++) {
                    n = n.next.get(text.charAt(j));
                    if (n == null) break;
                    if (n.id >= 0) best = j - i + 1;
                }
                if (best > 0) return ((long) i << 32) | best;
            }
            return -1;
        }

        int idAt(String text, int start, int len) {
            Node n = root;
            for (int i = start; i < start + len; i++) n = n.next.get(text.charAt(i));
            return n.id;
        }
    }

    /** (a, b) -> (rank, merged id), open addressing on a long key. */
    private static final class PairMap {
        private final long[] keys;
        private final int[] ranks;
        private final int[] mergedIds;
        private final int mask;

        PairMap(int expected) {
            int cap = Integer.highestOneBit(Math.max(16, expected * 2) - 1) << 1;
            keys = new long[cap];
            Arrays.fill(keys, -1L);
            ranks = new int[cap];
            mergedIds = new int[cap];
            mask = cap - 1;
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            int i = (int) (h >>> 40) & mask;
            while (keys[i] != -1L && keys[i] != key) i = (i + 1) & mask;
            return i;
        }

        void putIfAbsent(int a, int b, int rank, int merged) {
            long key = ((long) a << 32) | (b & 0xffffffffL);
            int i = slot(key);
            if (keys[i] == key) return;
            keys[i] = key;
            ranks[i] = rank;
            mergedIds[i] = merged;
        }

        int rank(int a, int b) {
            long key = ((long) a << 32) | (b & 0xffffffffL);
            int i = slot(key);
            return keys[i] == key ? ranks[i] : Integer.MAX_VALUE;
        }

        int merged(int a, int b) {
            return mergedIds[slot(((long) a << 32) | (b & 0xffffffffL))];
        }
    }

    private static final class IntList {
        int[] a;
        int n;

        IntList(int cap) {
            a = new int[Math.max(4, cap)];
        }

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        void addAll(int[] v) {
            if (n + v.length > a.length) a = Arrays.copyOf(a, Math.max(n * 2, n + v.length));
            System.arraycopy(v, 0, a, n, v.length);
            n += v.length;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
