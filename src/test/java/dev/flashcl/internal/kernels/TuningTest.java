package dev.flashcl.internal.kernels;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.phi.PhiKernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tuning results: stored per device, driver and shape; read back by FlashAttention and PhiKernels; ignored when they no longer fit or when turned off. */
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
        // the decode GEMVs' shape, per storage, taken by PhiKernels unless a -D property forces one
        var shapes = PhiKernels.Gemv.candidates(d);
        var other = shapes.stream().filter(g -> !g.equals(PhiKernels.Gemv.DEFAULT)).findFirst().orElseThrow();
        assertTrue(PhiKernels.Gemv.tuned(d, Storage.F16).isEmpty());
        assertEquals(PhiKernels.Gemv.DEFAULT, PhiKernels.Gemv.forDevice(d, Storage.F16), "untuned: the default");
        other.store(d, Storage.F16, Map.of("note", "test"));
        assertEquals(other, PhiKernels.Gemv.tuned(d, Storage.F16).orElseThrow());
        assertTrue(PhiKernels.Gemv.tuned(d, Storage.F32).isEmpty(), "another storage");
        assertEquals(other, new PhiKernels(TestDevice.context(), Storage.F16).gemv(), "PhiKernels takes the tuned shape");
        assertTrue(Files.readString(dir.resolve("tuning.json")).contains("\"prefill_tile\" : \"4096x4096\""), "storing the GEMV shape keeps the attention results");
        System.setProperty("flashcl.gemvRows", "1");
        try {
            assertEquals(new PhiKernels.Gemv(other.wg(), 1), PhiKernels.Gemv.forDevice(d, Storage.F16), "-Dflashcl.gemvRows wins");
        } finally {
            System.clearProperty("flashcl.gemvRows");
        }
        Files.writeString(dir.resolve("tuning.json"), Files.readString(dir.resolve("tuning.json")).replace("\"wg\" : " + other.wg(), "\"wg\" : 3"));
        assertTrue(PhiKernels.Gemv.tuned(d, Storage.F16).isEmpty(), "a shape the device cannot take is ignored");
        Files.writeString(dir.resolve("tuning.json"), "not json");
        assertTrue(Tuning.prefillTiles(d, 80, Storage.F16).isEmpty(), "an unreadable file is ignored");
    }
}
