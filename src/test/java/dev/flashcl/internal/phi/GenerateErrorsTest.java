package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.GenerationRequest;
import dev.flashcl.internal.generate.Generator;
import dev.flashcl.internal.checkpoint.CheckpointException;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceMemoryException;
import dev.flashcl.cli.Main;
import dev.flashcl.internal.kernels.TestDevice;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input to loading and generation: a clear message, a non-zero exit, nothing left on the device. */
class GenerateErrorsTest {
    static final Path TINY = Path.of("testdata/tiny-phi/f32");
    @TempDir Path tmp;

    Path copyOfTiny() throws IOException {
        Path d = tmp.resolve("model");
        Files.createDirectories(d);
        try (var s = Files.list(TINY)) {
            for (Path p : s.toList()) Files.copy(p, d.resolve(p.getFileName()));
        }
        return d;
    }

    String loadRefused(Path dir) {
        ClContext ctx = TestDevice.context();
        long before = ctx.bytesInUse();
        RuntimeException e = assertThrows(RuntimeException.class, () -> PhiModel.load(ctx, dir, PhiModel.Options.defaults(), null).close());
        assertEquals(before, ctx.bytesInUse(), "nothing half-loaded stays on the device");
        return e.getMessage();
    }

    @Test
    void missingFiles() throws IOException {
        Path d = copyOfTiny();
        Files.delete(d.resolve("model.safetensors"));
        assertTrue(loadRefused(d).contains("no model.safetensors"));
        Files.delete(d.resolve("config.json"));
        assertTrue(loadRefused(d).contains("no config.json"));
    }

    @Test
    void configTheEngineCannotRun() throws IOException {
        Path d = copyOfTiny();
        String cfg = Files.readString(d.resolve("config.json")).replace("\"gelu_new\"", "\"gelu\"");
        Files.writeString(d.resolve("config.json"), cfg);
        assertTrue(loadRefused(d).contains("hidden_act"));
    }

    @Test
    void tensorShapeDisagreesWithConfig() throws IOException {
        Path d = copyOfTiny();
        Files.writeString(d.resolve("config.json"), Files.readString(d.resolve("config.json")).replace("\"intermediate_size\": 384", "\"intermediate_size\": 512"));
        String m = loadRefused(d);
        assertTrue(m.contains("model.layers.0.mlp.fc1.weight") && m.contains("[384, 160]") && m.contains("[512, 160]"), m);
        Files.writeString(d.resolve("config.json"), Files.readString(d.resolve("config.json")).replace("\"intermediate_size\": 512", "\"intermediate_size\": 384")
                .replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 4"));
        String missing = loadRefused(d);
        assertTrue(missing.contains("model.layers.3.") && missing.contains("missing"), missing);
    }

    @Test
    void deviceWithoutTheMemory() throws IOException {
        Path d = copyOfTiny();
        // a model whose KV cache alone is beyond any device: the check happens before loading
        Files.writeString(d.resolve("config.json"), Files.readString(d.resolve("config.json")).replace("\"max_position_embeddings\": 256",
                "\"max_position_embeddings\": 2000000000"));
        ClContext ctx = TestDevice.context();
        long before = ctx.bytesInUse();
        var e = assertThrows(DeviceMemoryException.class, () -> PhiModel.load(ctx, d, PhiModel.Options.defaults(), null));
        assertTrue(e.getMessage().contains("needs about") && e.getMessage().contains("free") && e.getMessage().contains("--context"), e.getMessage());
        assertEquals(before, ctx.bytesInUse());
    }

    @Test
    void promptsTheContextCannotHold() throws IOException {
        try (PhiModel m = PhiModel.load(TestDevice.context(), TINY, PhiModel.Options.defaults().withStorage(dev.flashcl.internal.kernels.Storage.F32).withContext(64), null)) {
            Generator g = new Generator(m);
            var greedy = GenerationRequest.builder().maxNewTokens(10);
            String over = assertThrows(IllegalArgumentException.class, () -> g.generate(greedy.promptTokens(new int[60]).build())).getMessage();
            assertTrue(over.contains("60 tokens") && over.contains("10") && over.contains("64"), over);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> greedy.promptTokens(new int[0])).getMessage().contains("empty"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> g.generate(greedy.promptTokens(1, 9999).build())).getMessage().contains("9999"));
            // the model stays usable after refused requests
            assertEquals(10, g.generate(greedy.promptTokens(1, 2, 3).stopAtEos(false).build()).tokens().length);
        }
    }

    @Test
    void cliExitsNonZeroWithTheMessage() throws IOException {
        Path d = copyOfTiny();
        Files.delete(d.resolve("model.safetensors"));
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setErr(new PrintStream(buf, true));
            rc = Main.run("generate", "--model", d.toString(), "--prompt", "x");
        } finally {
            System.setErr(err);
        }
        assertNotEquals(0, rc);
        // picocli prints to its own err writer; the message names the directory either way
        assertEquals(1, rc, "exit code");
        assertThrows(CheckpointException.class, () -> dev.flashcl.internal.checkpoint.Checkpoint.open(d));
    }
}
