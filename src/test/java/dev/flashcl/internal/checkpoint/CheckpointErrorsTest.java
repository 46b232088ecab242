package dev.flashcl.internal.checkpoint;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed checkpoints are refused with a message naming the file and the tensor; good ones read as written. */
class CheckpointErrorsTest {
    @TempDir Path dir;

    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    String refused(Path p) {
        return assertThrows(CheckpointException.class, () -> SafetensorsFile.read(p)).getMessage();
    }

    @Test
    void readsWhatItsHeaderSays() throws IOException {
        Path p = write("ok.safetensors", file("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[12,16]}}", 16));
        Map<String, TensorInfo> t = SafetensorsFile.read(p);
        assertEquals(2, t.size());
        assertEquals(6, t.get("a").elements());
        assertEquals(1, t.get("b").elements());
        assertEquals(8 + Files.size(p) - 16 - 8 + 12, t.get("b").offset(), "offset from the start of the file");
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        byte[] b = file("{}", 0);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        String m = refused(write("long.safetensors", b));
        assertTrue(m.contains("long.safetensors") && m.contains("header length"), m);
        assertTrue(refused(write("short.safetensors", new byte[] {1, 2, 3})).contains("shorter than"), "a file under 8 bytes");
    }

    @Test
    void headerNotJson() throws IOException {
        String m = refused(write("nojson.safetensors", file("{not json", 0)));
        assertTrue(m.contains("nojson.safetensors") && m.contains("not JSON"), m);
        assertTrue(refused(write("array.safetensors", file("[1,2]", 0))).contains("not a JSON object"));
    }

    @Test
    void offsetsOutsideTheData() throws IOException {
        String m = refused(write("out.safetensors", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8)));
        assertTrue(m.contains("'w'") && m.contains("outside the data section"), m);
        assertTrue(refused(write("neg.safetensors", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8))).contains("outside"));
    }

    @Test
    void overlappingTensors() throws IOException {
        String m = refused(write("overlap.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)));
        assertTrue(m.contains("'a'") && m.contains("'b'") && m.contains("overlap"), m);
    }

    @Test
    void shapeTimesDtypeNotTheByteRange() throws IOException {
        String m = refused(write("size.safetensors", file("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)));
        assertTrue(m.contains("'w'") && m.contains("6 bytes") && m.contains("8"), m);
        String o = refused(write("overflow.safetensors", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8)));
        assertTrue(o.contains("overflow"), o);
    }

    @Test
    void unsupportedDtypeByName() throws IOException {
        String m = refused(write("i8.safetensors", file("{\"w\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8)));
        assertTrue(m.contains("'w'") && m.contains("I8") && m.contains("F16, BF16 and F32"), m);
    }

    @Test
    void indexPointingToAMissingShard() throws IOException {
        write("model-00001-of-00002.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        write(Checkpoint.INDEX, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}}"
                .getBytes(StandardCharsets.UTF_8));
        String m = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertTrue(m.contains("model-00002-of-00002.safetensors") && m.contains("missing"), m);
    }

    @Test
    void indexPlacingATensorInTheWrongShard() throws IOException {
        write("s1.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        write(Checkpoint.INDEX, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}".getBytes(StandardCharsets.UTF_8));
        String m = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertTrue(m.contains("'b'") && m.contains("s1.safetensors"), m);
        write(Checkpoint.INDEX, "{\"weight_map\":{\"a\":\"../s1.safetensors\"}}".getBytes(StandardCharsets.UTF_8));
        assertTrue(assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage().contains("outside the model directory"));
    }

    @Test
    void noCheckpointInTheDirectory() {
        String m = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertTrue(m.contains("model.safetensors") && m.contains(dir.toString()), m);
    }
}
