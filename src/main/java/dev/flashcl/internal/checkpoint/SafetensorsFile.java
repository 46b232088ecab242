package dev.flashcl.internal.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the header of a safetensors file: 8 bytes little-endian header length N, N bytes of JSON
 * mapping names to {dtype, shape, data_offsets: [begin, end)} relative to the data section that
 * follows, and an optional {@code __metadata__}. Every tensor is checked against the file before
 * anything is read: offsets inside the data section, no overlaps, shape x dtype = byte range.
 */
public final class SafetensorsFile {
    /** The safetensors format's own limit on the header (100 MB): a larger length field is a lie. */
    static final long MAX_HEADER = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsFile() {}

    public static Map<String, TensorInfo> read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(file, "is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long n = len.flip().getLong();
            if (n < 2 || n > size - 8) {
                throw bad(file, "header length field says " + Long.toUnsignedString(n) + " bytes but the file has " + (size - 8) + " after it");
            }
            if (n > MAX_HEADER) throw bad(file, "header length " + n + " is over the format's 100 MB limit");
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8);
            return parse(file, new String(header.array(), StandardCharsets.UTF_8), 8 + n, size);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) throw new IOException("unexpected end of file");
        }
    }

    static Map<String, TensorInfo> parse(Path file, String headerJson, long dataStart, long fileSize) {
        JsonNode root;
        try {
            root = JSON.readTree(headerJson);
        } catch (JsonProcessingException e) {
            throw bad(file, "header is not JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw bad(file, "header is not a JSON object");
        long dataSize = fileSize - dataStart;
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode t = e.getValue();
            String where = file + ": tensor '" + name + "'";
            if (!t.isObject()) throw new CheckpointException(where + ": entry is not an object");
            JsonNode dt = t.get("dtype");
            JsonNode sh = t.get("shape");
            JsonNode off = t.get("data_offsets");
            if (dt == null || !dt.isTextual()) throw new CheckpointException(where + ": no dtype");
            if (sh == null || !sh.isArray()) throw new CheckpointException(where + ": no shape");
            if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()
                    || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()) {
                throw new CheckpointException(where + ": data_offsets must be two integers [begin, end]");
            }
            DType dtype = DType.parse(dt.asText(), where);
            long[] shape = new long[sh.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                    throw new CheckpointException(where + ": shape " + sh + " has a dimension that is not a non-negative integer");
                }
                shape[i] = d.asLong();
                elements = multiply(elements, shape[i], where);
            }
            long begin = off.get(0).asLong();
            long end = off.get(1).asLong();
            if (begin < 0 || end < begin || end > dataSize) {
                throw new CheckpointException(where + ": data_offsets [" + begin + ", " + end + ") lie outside the data section of "
                        + dataSize + " bytes");
            }
            long want = multiply(elements, dtype.bytes, where);
            if (end - begin != want) {
                throw new CheckpointException(where + ": shape " + sh + " x " + dtype + " is " + want + " bytes but data_offsets hold "
                        + (end - begin));
            }
            out.put(name, new TensorInfo(name, dtype, shape, file, dataStart + begin, end - begin));
        }
        List<TensorInfo> byOffset = new ArrayList<>(out.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo a = byOffset.get(i - 1);
            TensorInfo b = byOffset.get(i);
            if (a.bytes() > 0 && b.bytes() > 0 && b.offset() < a.offset() + a.bytes()) {
                throw new CheckpointException(file + ": tensors '" + a.name() + "' and '" + b.name() + "' overlap in the data section");
            }
        }
        return out;
    }

    private static long multiply(long a, long b, String where) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new CheckpointException(where + ": size overflows 64 bits");
        }
    }

    private static CheckpointException bad(Path file, String what) {
        return new CheckpointException(file + ": not a safetensors file: " + what);
    }
}
