package dev.flashcl.internal.checkpoint;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile and broken GGUF files: each refused with one line naming the file and what is wrong. */
class GgufErrorsTest {
    @TempDir Path dir;

    /** A GGUF v3 file: metadata (one string key), one tensor info, then data. */
    private static final class File {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        int version = 3;
        long tensorCount = 1, kvCount = 1;

        File put(ByteBuffer b) {
            out.write(b.array(), 0, b.position());
            return this;
        }

        static ByteBuffer str(String s) {
            byte[] v = s.getBytes(StandardCharsets.UTF_8);
            return GgufWriter.le(8 + v.length).putLong(v.length).put(v);
        }

        byte[] bytes(ByteBuffer kv, ByteBuffer tensorInfo, int dataBytes) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            ByteBuffer head = GgufWriter.le(24).putInt(GgufFile.MAGIC).putInt(version).putLong(tensorCount).putLong(kvCount);
            all.write(head.array(), 0, 24);
            all.write(kv.array(), 0, kv.position());
            all.write(tensorInfo.array(), 0, tensorInfo.position());
            while (all.size() % 32 != 0) all.write(0);
            all.write(new byte[dataBytes], 0, dataBytes);
            return all.toByteArray();
        }
    }

    private static ByteBuffer kv(String key, String value) {
        ByteBuffer k = File.str(key), v = File.str(value);
        return GgufWriter.le(k.capacity() + 4 + v.capacity()).put(k.array()).putInt(8).put(v.array());
    }

    private static ByteBuffer tensor(String name, long[] ne, int type, long offset) {
        ByteBuffer n = File.str(name);
        ByteBuffer b = GgufWriter.le(n.capacity() + 4 + 8 * ne.length + 12).put(n.array()).putInt(ne.length);
        for (long d : ne) b.putLong(d);
        return b.putInt(type).putLong(offset);
    }

    private String error(byte[] data) throws Exception {
        Path f = Files.write(dir.resolve("model.gguf"), data);
        String m = assertThrows(CheckpointException.class, () -> GgufFile.read(f)).getMessage();
        assertTrue(m.startsWith(f.toString()), m);
        assertFalse(m.contains("\n"), m);
        return m;
    }

    private byte[] valid(File f, long[] ne, int type, long offset, int data) {
        return f.bytes(kv("general.architecture", "phi2"), tensor("blk.0.ffn_up.weight", ne, type, offset), data);
    }

    @Test
    void aValidFileReads() throws Exception {
        Path f = Files.write(dir.resolve("ok.gguf"), valid(new File(), new long[] {32, 2}, 8, 0, 68));
        GgufFile g = GgufFile.read(f);
        assertEquals("phi2", g.string("general.architecture", null));
        GgufFile.Tensor t = g.tensors().get("blk.0.ffn_up.weight");
        assertEquals(DType.Q8_0, t.type());
        assertEquals(68, t.bytes());
        assertArrayEquals(new long[] {2, 32}, t.shape());
        assertEquals("model.layers.0.mlp.fc1.weight", Checkpoint.gguf(g).tensors().keySet().iterator().next());
    }

    @Test
    void brokenFilesAreRefusedByName() throws Exception {
        assertTrue(error(new byte[10]).contains("shorter than a GGUF header"));
        byte[] notGguf = valid(new File(), new long[] {32}, 0, 0, 128);
        notGguf[0] = 'X';
        assertTrue(error(notGguf).contains("does not start with \"GGUF\""));
        File v1 = new File();
        v1.version = 1;
        assertTrue(error(valid(v1, new long[] {32}, 0, 0, 128)).contains("GGUF version 1"));
        File be = new File();
        be.version = Integer.reverseBytes(3);
        assertTrue(error(valid(be, new long[] {32}, 0, 0, 128)).contains("big-endian"));
        byte[] cut = valid(new File(), new long[] {32, 2}, 8, 0, 68);
        assertTrue(error(java.util.Arrays.copyOf(cut, cut.length - 10)).contains("runs past the end of the file"));
        File lying = new File();
        lying.kvCount = 1L << 40;
        assertTrue(error(valid(lying, new long[] {32}, 0, 0, 128)).contains("metadata count"));
        ByteBuffer hugeString = GgufWriter.le(64).put(File.str("general.name").array()).putInt(8).putLong(1L << 50);
        assertTrue(error(new File().bytes(hugeString, tensor("x", new long[] {1}, 0, 0), 0)).contains("over flashcl's limit"));
        assertTrue(error(valid(new File(), new long[] {32, 2}, 6, 0, 64)).contains("Q5_0 is not supported"));
        assertTrue(error(valid(new File(), new long[] {32, 2}, 99, 0, 64)).contains("with id 99"));
        assertTrue(error(valid(new File(), new long[] {30, 2}, 8, 0, 64)).contains("not a multiple of its block of 32"));
        assertTrue(error(valid(new File(), new long[] {32, 2}, 8, 8, 128)).contains("not a multiple of the alignment 32"));
        assertTrue(error(valid(new File(), new long[] {32, 0}, 8, 0, 64)).contains("each must be positive"));
        assertTrue(error(valid(new File(), new long[] {1L << 40, 1L << 40}, 0, 0, 64)).contains("too many elements"));
        assertTrue(error(valid(new File(), new long[] {32, 2, 1, 1, 1}, 8, 0, 128)).contains("5 dimensions"));
        File two = new File();
        two.tensorCount = 2;
        ByteBuffer both = GgufWriter.le(256);
        both.put(tensor("a", new long[] {32}, 0, 0).array()).put(tensor("b", new long[] {32}, 0, 64).array());
        assertTrue(error(two.bytes(kv("k", "v"), both, 256)).contains("overlap"));
        File dup = new File();
        dup.kvCount = 2;
        ByteBuffer twice = GgufWriter.le(256).put(kv("k", "v").array()).put(kv("k", "w").array());
        assertTrue(error(dup.bytes(twice, tensor("x", new long[] {32}, 0, 0), 128)).contains("appears twice"));
    }

    @Test
    void configRefusesOtherArchitecturesAndMissingKeys() throws Exception {
        Path f = Files.write(dir.resolve("llama.gguf"), new File().bytes(kv("general.architecture", "llama"), tensor("x", new long[] {32}, 0, 0), 128));
        String m = assertThrows(CheckpointException.class, () -> PhiConfig.fromGguf(GgufFile.read(f))).getMessage();
        assertTrue(m.contains("architecture \"llama\""), m);
        Path g = Files.write(dir.resolve("phi.gguf"), valid(new File(), new long[] {32}, 0, 0, 128));
        m = assertThrows(CheckpointException.class, () -> PhiConfig.fromGguf(GgufFile.read(g))).getMessage();
        assertTrue(m.contains("metadata phi2.embedding_length is missing"), m);
    }
}
