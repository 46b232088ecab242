package dev.flashcl.internal.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of a GGUF file (llama.cpp's format, versions 2 and 3): metadata key-value pairs and
 * the tensor table. Read through a small buffer, never the whole file; every length, count, offset
 * and alignment is checked against the file before anything is allocated from it, and tensors'
 * byte ranges must lie inside the data section without overlapping.
 *
 * <pre>
 *   "GGUF" | u32 version | u64 tensor count | u64 metadata count
 *   metadata: string key | u32 value type | value     (string: u64 length + UTF-8; array: u32 type, u64 count, values)
 *   tensors:  string name | u32 n_dims | u64 ne[n_dims] (ne[0] varies fastest) | u32 ggml type | u64 offset in the data
 *   padding to general.alignment (32 when absent) | data
 * </pre>
 * Metadata values are Long (every integer type), Double (both float types), Boolean, String or
 * List of those.
 */
public final class GgufFile {
    /** One tensor: ggml's dims (ne[0] first), its type, and its bytes' absolute position in the file. */
    public record Tensor(String name, DType type, long[] ne, long offset, long bytes) {
        public long elements() {
            long n = 1;
            for (long d : ne) n *= d;
            return n;
        }

        /** The dims as a row-major shape (safetensors' order): ne reversed. */
        public long[] shape() {
            long[] s = new long[ne.length];
            for (int i = 0; i < ne.length; i++) s[i] = ne[ne.length - 1 - i];
            return s;
        }
    }

    static final int MAGIC = 0x46554747;   // "GGUF" little-endian
    private static final int MAX_DIMS = 4, MAX_NAME = 1 << 16, MAX_STRING = 1 << 24, MAX_ARRAY = 1 << 21, MAX_COUNT = 1 << 20, MAX_DEPTH = 4;

    private final Path file;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, Tensor> tensors;

    private GgufFile(Path file, int version, Map<String, Object> metadata, Map<String, Tensor> tensors) {
        this.file = file;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    public static GgufFile read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return new Parser(file, ch).parse();
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    public int version() {
        return version;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** A metadata string, or {@code fallback} when absent; another type is an error naming the key. */
    public String string(String key, String fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof String s) return s;
        throw wrongType(key, v, "a string");
    }

    /** A metadata integer, or {@code fallback} when absent. */
    public long integer(String key, long fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof Long l) return l;
        throw wrongType(key, v, "an integer");
    }

    /** A metadata number (float or integer), or {@code fallback} when absent. */
    public double number(String key, double fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof Double d) return d;
        if (v instanceof Long l) return l;
        throw wrongType(key, v, "a number");
    }

    public boolean bool(String key, boolean fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        throw wrongType(key, v, "a boolean");
    }

    /** A metadata array, or null when absent. */
    public List<?> array(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof List<?> l) return l;
        throw wrongType(key, v, "an array");
    }

    /** A required integer, in [lo, hi]. */
    public int required(String key, int lo, int hi) {
        if (!metadata.containsKey(key)) throw new CheckpointException(file + ": metadata " + key + " is missing");
        long v = integer(key, 0);
        if (v < lo || v > hi) throw new CheckpointException(file + ": metadata " + key + " is " + v + ", outside " + lo + ".." + hi);
        return (int) v;
    }

    private CheckpointException wrongType(String key, Object v, String want) {
        String got = v instanceof List<?> ? "an array" : v instanceof String ? "a string" : v.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
        return new CheckpointException(file + ": metadata " + key + " is " + got + ", not " + want);
    }

    /** Reads the header through a 64 KiB window, every read checked against the file's size. */
    private static final class Parser {
        private final Path file;
        private final FileChannel ch;
        private final long size;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long bufStart = 0;   // file position of buf[0]; buf holds [bufStart, bufStart + limit)

        Parser(Path file, FileChannel ch) throws IOException {
            this.file = file;
            this.ch = ch;
            this.size = ch.size();
            buf.limit(0);
        }

        private long pos() {
            return bufStart + buf.position();
        }

        private CheckpointException bad(String what) {
            return new CheckpointException(file + ": " + what);
        }

        /** Makes n (at most the buffer's capacity) bytes available, or fails naming what was being read. */
        private void need(int n, String what) throws IOException {
            if (buf.remaining() >= n) return;
            long at = pos();
            if (at + n > size) throw bad(what + " at byte " + at + " runs past the end of the file (" + size + " bytes): truncated or not GGUF");
            buf.compact();
            bufStart = at;
            while (buf.position() < n) {
                if (ch.read(buf, bufStart + buf.position()) < 0) throw bad("ends early at byte " + (bufStart + buf.position()));
            }
            buf.flip();
        }

        private int u32(String what) throws IOException {
            need(4, what);
            return buf.getInt();
        }

        private long u64(String what) throws IOException {
            need(8, what);
            return buf.getLong();
        }

        /** A u64 count that must be at most {@code max} and fit in the rest of the file at {@code minBytes} each. */
        private int count(String what, long minBytes, int max) throws IOException {
            long n = u64(what);
            long left = size - pos();
            if (n < 0 || n > max) throw bad(what + " is " + Long.toUnsignedString(n) + ", over flashcl's limit of " + max);
            if (n * minBytes > left) throw bad(what + " is " + n + ", more than the " + left + " bytes left can hold");
            return (int) n;
        }

        private String string(String what, int max) throws IOException {
            long n = u64(what + " length");
            if (n < 0 || n > max) throw bad(what + " has length " + Long.toUnsignedString(n) + ", over flashcl's limit of " + max + " bytes");
            if (n > size - pos()) throw bad(what + " has length " + n + ", past the end of the file");
            byte[] b = new byte[(int) n];
            for (int done = 0; done < n; ) {
                int chunk = (int) Math.min(n - done, buf.capacity());
                need(chunk, what);
                buf.get(b, done, chunk);
                done += chunk;
            }
            return new String(b, StandardCharsets.UTF_8);
        }

        private static final int[] SCALAR_BYTES = {1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8};   // by GGUF value type; string/array: their minimum

        private Object value(int type, String key, int depth) throws IOException {
            switch (type) {
                case 0: need(1, key); return (long) (buf.get() & 0xff);
                case 1: need(1, key); return (long) buf.get();
                case 2: need(2, key); return (long) (buf.getShort() & 0xffff);
                case 3: need(2, key); return (long) buf.getShort();
                case 4: need(4, key); return buf.getInt() & 0xffffffffL;
                case 5: need(4, key); return (long) buf.getInt();
                case 6: need(4, key); return (double) buf.getFloat();
                case 7: {
                    need(1, key);
                    byte b = buf.get();
                    if (b != 0 && b != 1) throw bad("metadata " + key + " is a boolean of value " + b + " (must be 0 or 1)");
                    return b == 1;
                }
                case 8: return string("metadata " + key, MAX_STRING);
                case 9: {
                    if (depth >= MAX_DEPTH) throw bad("metadata " + key + " nests arrays deeper than " + MAX_DEPTH);
                    int et = u32("metadata " + key + " element type");
                    if (et < 0 || et >= SCALAR_BYTES.length) throw bad("metadata " + key + " is an array of unknown value type " + et);
                    int n = count("metadata " + key + " element count", SCALAR_BYTES[et], MAX_ARRAY);
                    List<Object> out = new ArrayList<>(Math.min(n, 1 << 16));
                    for (int i = 0; i < n; i++) out.add(value(et, key + "[" + i + "]", depth + 1));
                    return out;
                }
                case 10: case 11: need(8, key); return buf.getLong();
                case 12: need(8, key); return buf.getDouble();
                default: throw bad("metadata " + key + " has unknown value type " + type);
            }
        }

        GgufFile parse() throws IOException {
            if (size < 24) throw bad("is " + size + " bytes, shorter than a GGUF header (24 bytes)");
            if (u32("magic") != MAGIC) throw bad("does not start with \"GGUF\" (not a GGUF file)");
            int version = u32("version");
            if (version == 1) throw bad("is GGUF version 1 (2023), which flashcl does not read; convert the model again with a current llama.cpp");
            if (version != 2 && version != 3) {
                throw bad(Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3 ? "is a big-endian GGUF file; flashcl reads little-endian ones"
                        : "has GGUF version " + Integer.toUnsignedString(version) + "; flashcl reads versions 2 and 3");
            }
            long tensorCountRaw = u64("tensor count");
            int kvCount = count("metadata count", 13, MAX_COUNT);
            Map<String, Object> meta = new LinkedHashMap<>();
            for (int i = 0; i < kvCount; i++) {
                String key = string("metadata key " + i, MAX_NAME);
                int type = u32("metadata " + key + " type");
                Object v = value(type, key, 0);
                if (meta.putIfAbsent(key, v) != null) throw bad("metadata key " + key + " appears twice");
            }
            if (tensorCountRaw < 0 || tensorCountRaw > MAX_COUNT) throw bad("tensor count is " + Long.toUnsignedString(tensorCountRaw) + ", over flashcl's limit of " + MAX_COUNT);
            if (tensorCountRaw * 28 > size - pos()) throw bad("tensor count is " + tensorCountRaw + ", more than the rest of the file can describe");
            long alignment = 32;
            if (meta.containsKey("general.alignment")) {
                if (!(meta.get("general.alignment") instanceof Long a) || a <= 0 || Long.bitCount(a) != 1 || a > 1 << 20) {
                    throw bad("metadata general.alignment is " + meta.get("general.alignment") + "; it must be a power of two up to 1 MiB");
                }
                alignment = a;
            }
            List<String> names = new ArrayList<>();
            List<long[]> dims = new ArrayList<>();
            List<Long> types = new ArrayList<>(), offsets = new ArrayList<>();
            for (int i = 0; i < tensorCountRaw; i++) {
                String name = string("tensor " + i + " name", MAX_NAME);
                int nd = u32("tensor '" + name + "' dimension count");
                if (nd < 1 || nd > MAX_DIMS) throw bad("tensor '" + name + "' has " + Integer.toUnsignedString(nd) + " dimensions; GGUF allows 1.." + MAX_DIMS);
                long[] ne = new long[nd];
                for (int d = 0; d < nd; d++) ne[d] = u64("tensor '" + name + "' dimension " + d);
                names.add(name);
                dims.add(ne);
                types.add(u32("tensor '" + name + "' type") & 0xffffffffL);
                offsets.add(u64("tensor '" + name + "' offset"));
            }
            long dataStart = (pos() + alignment - 1) / alignment * alignment;
            long dataSize = size - dataStart;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i), where = "tensor '" + name + "'";
                long[] ne = dims.get(i);
                DType type = DType.ofGgml(types.get(i), file + ": " + where);
                long elements = 1;
                for (long d : ne) {
                    if (d <= 0) throw bad(where + " has dimensions " + Arrays.toString(ne) + "; each must be positive");
                    if (elements > Long.MAX_VALUE / d) throw bad(where + " has dimensions " + Arrays.toString(ne) + ", too many elements");
                    elements *= d;
                }
                if (ne[0] % type.block != 0) throw bad(where + " is " + type + " with rows of " + ne[0] + " elements, not a multiple of its block of " + type.block);
                long bytes = type.bytesOf(elements), off = offsets.get(i);
                if (off < 0 || off % alignment != 0) throw bad(where + " has offset " + Long.toUnsignedString(off) + ", not a multiple of the alignment " + alignment);
                if (bytes > dataSize || off > dataSize - bytes) {
                    throw bad(where + " (" + type + " " + Arrays.toString(ne) + ", " + bytes + " bytes at data offset " + off + ") runs past the end of the file: "
                            + "the data section holds " + Math.max(0, dataSize) + " bytes");
                }
                if (tensors.put(name, new Tensor(name, type, ne, dataStart + off, bytes)) != null) throw bad("tensor '" + name + "' appears twice");
            }
            List<Tensor> byOffset = new ArrayList<>(tensors.values());
            byOffset.sort(Comparator.comparingLong(Tensor::offset));
            for (int i = 1; i < byOffset.size(); i++) {
                Tensor a = byOffset.get(i - 1), b = byOffset.get(i);
                if (b.offset() < a.offset() + a.bytes()) throw bad("tensors '" + a.name() + "' and '" + b.name() + "' overlap");
            }
            return new GgufFile(file, version, meta, tensors);
        }
    }
}
