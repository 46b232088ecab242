package dev.flashcl.kernels;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.cl.DeviceInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tuning results: stored per device, driver and shape; read back by FlashAttention; ignored when they no longer fit or when turned off. */
class TuningTest {
    @TempDir Path dir;

    @AfterEach
    void clear() {
        System.clearProperty("flashcl.tuningFile");
        System.clearProperty("flashcl.tuning");
    }

    @Test
    void storedResultsAreUsedForThatDeviceAndShapeOnly() throws Exception {
        System.setProperty("flashcl.tuningFile", dir.resolve("tuning.json").toString());
        DeviceInfo d = TestDevice.context().device();
        var fits = PrefillTiles.candidates(d, 80);
        PrefillTiles notDefault = fits.get(fits.size() - 1);
        assertTrue(Tuning.prefillTiles(d, 80, Storage.F16).isEmpty(), "nothing tuned yet");
        Tuning.store(d, 80, Storage.F16, notDefault, 32, Map.of("note", "test"));
        assertEquals(notDefault, Tuning.prefillTiles(d, 80, Storage.F16).orElseThrow());
        assertEquals(32, Tuning.decodeWg(d, 80, Storage.F16).orElseThrow());
        assertTrue(Tuning.prefillTiles(d, 80, Storage.F32).isEmpty(), "another storage is another shape");
        assertTrue(Tuning.prefillTiles(d, 64, Storage.F16).isEmpty(), "another head_dim is another shape");
        try (FlashAttention fa = new FlashAttention(TestDevice.context(), Storage.F16, 80)) {
            assertEquals(notDefault, fa.tiles(), "FlashAttention takes the tuned tile");
        }
        System.setProperty("flashcl.tuning", "off");
        assertTrue(Tuning.prefillTiles(d, 80, Storage.F16).isEmpty(), "-Dflashcl.tuning=off");
        System.clearProperty("flashcl.tuning");
        // a tile the device cannot take (an edited file, another driver's limits) is ignored
        Files.writeString(dir.resolve("tuning.json"), Files.readString(dir.resolve("tuning.json")).replace(notDefault.toString(), "4096x4096"));
        assertTrue(Tuning.prefillTiles(d, 80, Storage.F16).isEmpty());
        Files.writeString(dir.resolve("tuning.json"), "not json");
        assertTrue(Tuning.prefillTiles(d, 80, Storage.F16).isEmpty(), "an unreadable file is ignored");
    }
}
