package dev.flashcl.internal.phi;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.GenerationRequest;
import dev.flashcl.Sampling;
import dev.flashcl.StopReason;
import dev.flashcl.internal.generate.Generator;
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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Non-finite logits named at their source, cancellation, two threads on one model, and nothing leaked over 50 load/generate/close cycles. */
class ReliabilityTest {
    static final Path TINY = Path.of("testdata/tiny-phi/f32");
    /** 20 greedy tokens after {@code ids}, eos not stopping them. */
    static GenerationRequest greedy20(int... ids) {
        return GenerationRequest.builder().promptTokens(ids).maxNewTokens(20).stopAtEos(false).build();
    }
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
                var e = assertThrows(NumericalException.class, () -> new Generator(m).generate(greedy20(new int[] {1, 2, 3})));
                assertTrue(e.getMessage().contains("layer 1 "), s + ": " + e.getMessage());
            }
        }
        Path inf = MicroModel.write(tmp.resolve("inf"), 40, 80, 1, 96, 3, 32, 9);
        poison(inf.resolve("model.safetensors"), "lm_head.bias", Float.POSITIVE_INFINITY);
        try (PhiModel m = PhiModel.load(ctx, inf, PhiModel.Options.defaults().withStorage(Storage.F32), null)) {
            var e = assertThrows(NumericalException.class, () -> new Generator(m).generate(greedy20(new int[] {1, 2, 3})));
            assertTrue(e.getMessage().contains("lm_head"), e.getMessage());
        }
    }

    @Test
    void cancelStopsAfterTheCurrentTokenAndTheModelStaysUsable() {
        try (PhiModel m = PhiModel.load(TestDevice.context(), Path.of("testdata/embedded"), PhiModel.Options.defaults(), null)) {
            String prompt = "def factorial(n):\n";
            var all = GenerationRequest.builder().prompt(prompt).maxNewTokens(60).stopAtEos(false).build();
            int[] full = new Generator(m).generate(all).tokens();
            Generator g = new Generator(m);
            AtomicInteger pieces = new AtomicInteger();
            // cancelled from the streaming callback (as a UI's stop button would, on another thread, the same way)
            var r = g.generate(GenerationRequest.builder().prompt(prompt).maxNewTokens(60).stopAtEos(false).onText(text -> {
                if (pieces.incrementAndGet() == 3) g.cancel();
            }).build());
            assertEquals(StopReason.CANCELLED, r.stopReason());
            assertTrue(r.tokens().length < full.length, "stopped early: " + r.tokens().length + " of " + full.length);
            for (int i = 0; i < r.tokens().length; i++) assertEquals(full[i], r.tokens()[i], "tokens before the cancel");
            assertArrayEquals(full, g.generate(all).tokens(), "the model generates as before after a cancel");
            Thread.currentThread().interrupt();   // an interrupt cancels too, and the flag is left for the caller
            var interrupted = g.generate(all);
            assertTrue(Thread.interrupted());
            assertEquals(StopReason.CANCELLED, interrupted.stopReason());
        }
    }

    @Test
    void twoThreadsOnOneModelAreSerialized() throws Exception {
        try (PhiModel m = PhiModel.load(TestDevice.context(), TINY, PhiModel.Options.defaults().withStorage(Storage.F32), null)) {
            int[] a = {1, 2, 3}, b = {9, 8, 7, 6};
            int[] wantA = new Generator(m).generate(greedy20(a)).tokens();
            int[] wantB = new Generator(m).generate(greedy20(b)).tokens();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] threads = new Thread[4];
            for (int t = 0; t < threads.length; t++) {
                final int[] prompt = t % 2 == 0 ? a : b, want = t % 2 == 0 ? wantA : wantB;
                threads[t] = new Thread(() -> {
                    try {
                        for (int i = 0; i < 3; i++) assertArrayEquals(want, new Generator(m).generate(greedy20(prompt)).tokens());
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
            new Generator(m).generate(greedy20(new int[] {1, 2}));
        }
        long bytes = ctx.bytesInUse();
        int buffers = ctx.openBuffers(), kernels = ClKernel.live(), programs = ctx.programCount();
        for (int i = 0; i < 50; i++) {
            try (PhiModel m = PhiModel.load(ctx, TINY, PhiModel.Options.defaults().withContext(64 + i), null)) {
                new Generator(m).generate(GenerationRequest.builder().promptTokens(1 + i % 7, 2).maxNewTokens(8).stopAtEos(false)
                        .sampling(i % 2 == 0 ? Sampling.greedy() : Sampling.temperature(0.9).topK(20).topP(0.9).seed(i)).build());
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
