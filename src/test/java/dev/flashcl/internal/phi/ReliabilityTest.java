package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.internal.checkpoint.SafetensorsFile;
import dev.flashcl.internal.checkpoint.TensorInfo;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.kernels.TestDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Non-finite logits named at their source, cancellation, two threads on one model, and nothing leaked over 50 load/generate/close cycles. */
class ReliabilityTest {
    static final Path TINY = Path.of("testdata/tiny-phi/f32");
    static final Generator.Options GREEDY_20 = new Generator.Options(20, 0, 0, 1, 0, new int[0], List.of(), false);
    @TempDir Path tmp;

    /** Overwrites element 0 of a tensor in a safetensors file with {@code value}. */
    static void poison(Path file, String tensor, float value) throws IOException {
        TensorInfo t = SafetensorsFile.read(file).get(tensor);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, value), t.offset());
        }
    }

    @Test
    void nonFiniteLogitsNameTheLayerWhereTheyStarted() throws IOException {
        Path dir = MicroModel.write(tmp.resolve("nan"), 40, 80, 1, 96, 3, 32, 9);
        poison(dir.resolve("model.safetensors"), "model.layers.1.mlp.fc2.bias", Float.NaN);
        ClContext ctx = TestDevice.context();
        for (Storage s : Storage.values()) {
            try (PhiModel m = PhiModel.load(ctx, dir, PhiModel.Options.defaults().withStorage(s), null)) {
                var e = assertThrows(NumericalException.class, () -> new Generator(m).generate(new int[] {1, 2, 3}, GREEDY_20, null));
                assertTrue(e.getMessage().contains("layer 1 "), s + ": " + e.getMessage());
            }
        }
        Path inf = MicroModel.write(tmp.resolve("inf"), 40, 80, 1, 96, 3, 32, 9);
        poison(inf.resolve("model.safetensors"), "lm_head.bias", Float.POSITIVE_INFINITY);
        try (PhiModel m = PhiModel.load(ctx, inf, PhiModel.Options.defaults().withStorage(Storage.F32), null)) {
            var e = assertThrows(NumericalException.class, () -> new Generator(m).generate(new int[] {1, 2, 3}, GREEDY_20, null));
            assertTrue(e.getMessage().contains("lm_head"), e.getMessage());
        }
    }

    @Test
    void cancelStopsAfterTheCurrentTokenAndTheModelStaysUsable() {
        try (PhiModel m = PhiModel.load(TestDevice.context(), Path.of("testdata/embedded"), PhiModel.Options.defaults(), null)) {
            String prompt = "def factorial(n):\n";
            var all = new Generator.Options(60, 0, 0, 1, 0, new int[0], List.of(), false);
            int[] full = new Generator(m).generate(prompt, all, null).newIds();
            Generator g = new Generator(m);
            AtomicInteger pieces = new AtomicInteger();
            // cancelled from the streaming callback (as a UI's stop button would, on another thread, the same way)
            var r = g.generate(prompt, all, text -> {
                if (pieces.incrementAndGet() == 3) g.cancel();
            });
            assertEquals("cancelled", r.stopReason());
            assertTrue(r.newIds().length < full.length, "stopped early: " + r.newIds().length + " of " + full.length);
            for (int i = 0; i < r.newIds().length; i++) assertEquals(full[i], r.newIds()[i], "tokens before the cancel");
            assertArrayEquals(full, g.generate(prompt, all, null).newIds(), "the model generates as before after a cancel");
            Thread.currentThread().interrupt();   // an interrupt cancels too, and the flag is left for the caller
            var interrupted = g.generate(prompt, all, null);
            assertTrue(Thread.interrupted());
            assertEquals("cancelled", interrupted.stopReason());
        }
    }

    @Test
    void twoThreadsOnOneModelAreSerialized() throws Exception {
        try (PhiModel m = PhiModel.load(TestDevice.context(), TINY, PhiModel.Options.defaults().withStorage(Storage.F32), null)) {
            int[] a = {1, 2, 3}, b = {9, 8, 7, 6};
            int[] wantA = new Generator(m).generate(a, GREEDY_20, null).newIds();
            int[] wantB = new Generator(m).generate(b, GREEDY_20, null).newIds();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] threads = new Thread[4];
            for (int t = 0; t < threads.length; t++) {
                final int[] prompt = t % 2 == 0 ? a : b, want = t % 2 == 0 ? wantA : wantB;
                threads[t] = new Thread(() -> {
                    try {
                        for (int i = 0; i < 3; i++) assertArrayEquals(want, new Generator(m).generate(prompt, GREEDY_20, null).newIds());
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                });
                threads[t].start();
            }
            for (Thread t : threads) t.join();
            if (failure.get() != null) throw new AssertionError("a thread got other tokens", failure.get());
        }
    }

    @Test
    void fiftyLoadGenerateCloseCyclesLeaveNothingBehind() {
        ClContext ctx = TestDevice.context();
        // one cycle first: programs are built once per context and stay cached, by design
        try (PhiModel m = PhiModel.load(ctx, TINY, PhiModel.Options.defaults(), null)) {
            new Generator(m).generate(new int[] {1, 2}, GREEDY_20, null);
        }
        long bytes = ctx.bytesInUse();
        int buffers = ctx.openBuffers(), kernels = ClKernel.live(), programs = ctx.programCount();
        for (int i = 0; i < 50; i++) {
            try (PhiModel m = PhiModel.load(ctx, TINY, PhiModel.Options.defaults().withContext(64 + i), null)) {
                new Generator(m).generate(new int[] {1 + i % 7, 2}, new Generator.Options(8, i % 2 == 0 ? 0 : 0.9, 20, 0.9, i, new int[0], List.of(), false), null);
            }
            if (i % 10 == 9) {
                // a failed load on the way releases everything too
                assertThrows(IllegalArgumentException.class, () -> PhiModel.load(ctx, TINY, PhiModel.Options.defaults().withContext(100_000), null));
            }
        }
        assertEquals(bytes, ctx.bytesInUse(), "device bytes");
        assertEquals(buffers, ctx.openBuffers(), "open buffers");
        assertEquals(kernels, ClKernel.live(), "kernel objects");
        assertEquals(programs, ctx.programCount(), "programs");
    }
}
