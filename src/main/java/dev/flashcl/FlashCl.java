package dev.flashcl;

import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.cl.Devices;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.EmbeddedModel;
import dev.flashcl.internal.phi.PhiModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * flashcl's front door: an OpenCL device opened for running models on.
 *
 * <pre>{@code
 * try (FlashCl engine = FlashCl.open();                       // the first GPU, else the first device
 *      LanguageModel model = engine.loadEmbedded()) {           // or engine.load(Path.of("phi-2"))
 *     GenerationResult r = model.generate(GenerationRequest.builder()
 *             .prompt("def fib(n):").maxNewTokens(64).onText(System.out::print).build());
 *     System.out.println(r.stopReason() + ", " + r.decodeTokensPerSecond() + " tokens/s");
 * }
 * }</pre>
 *
 * A device is chosen by a spec: its index in {@link #devices()}, a type ({@code gpu}, {@code cpu},
 * {@code accelerator}) or a substring of its name or platform; without one, the system property
 * {@code flashcl.device}, then the environment variable {@code FLASHCL_DEVICE}, then the first
 * GPU, then the first device. Closing the engine closes the models loaded through it.
 */
public final class FlashCl implements AutoCloseable {
    private final ClContext ctx;
    private final String reason;
    private final List<LanguageModel> models = new ArrayList<>();

    private FlashCl(ClContext ctx, String reason) {
        this.ctx = ctx;
        this.reason = reason;
    }

    /**
     * @return every OpenCL device of every platform that lists its devices (a platform that fails
     *         to is skipped with a warning)
     * @throws FlashClException when no OpenCL driver is installed or none lists a device
     */
    public static List<Device> devices() {
        return Devices.list().stream().map(FlashCl::device).toList();
    }

    /** @return the engine on the default device (see the class comment) */
    public static FlashCl open() {
        return open((String) null);
    }

    /**
     * @param spec an index in {@link #devices()}, {@code gpu}/{@code cpu}/{@code accelerator}, or a
     *             substring of the device or platform name; null or blank for the default
     * @return the engine on that device
     */
    public static FlashCl open(String spec) {
        Devices.Selection s = Devices.select(spec);
        return new FlashCl(ClContext.create(s.device()), s.reason());
    }

    /**
     * @param device one of {@link #devices()}
     * @return the engine on that device
     */
    public static FlashCl open(Device device) {
        return open(Integer.toString(device.index()));
    }

    /** @return the device this engine runs on */
    public Device device() {
        return device(ctx.device());
    }

    /** @return in words, why this device was chosen */
    public String selectionReason() {
        return reason;
    }

    /**
     * Loads a Phi model directory as Hugging Face writes it (config.json, model.safetensors or
     * its shards, the tokenizer files), or a GGUF file of llama.cpp's phi2 architecture (or a
     * directory holding one), onto the device. Every file, tensor and the device memory
     * needed are checked before anything is allocated; on failure nothing stays on the device.
     * Loading ends with a one-token warm-up pass, so kernel compilation (at build, or a driver's
     * on first launch) is counted in the load, not in the first generation's speed.
     *
     * @param modelDir the model directory or {@code .gguf} file
     * @param options  context length, precision, prefill chunk, progress
     * @return the model, ready to generate
     * @throws FlashClException naming the file, tensor or field at fault, or the memory short
     */
    public LanguageModel load(Path modelDir, LoadOptions options) {
        PhiModel.Options o = PhiModel.Options.defaults().withContext(options.contextLength()).withChunk(options.prefillChunk())
                .withStorage(options.precision() == Precision.F32 ? Storage.F32 : Storage.F16)
                .withWeights(options.weights() == WeightFormat.AS_STORED ? null : dev.flashcl.internal.checkpoint.DType.valueOf(options.weights().name()));
        dev.flashcl.internal.phi.ModelFiles files = dev.flashcl.internal.phi.ModelFiles.open(modelDir);
        long total = files.checkpoint().bytes();
        long[] done = {0};
        long t0 = System.nanoTime(), builds0 = ctx.programBuildNanos();
        PhiModel m = PhiModel.load(ctx, files, o, n -> options.progress().loaded(done[0] += n, total));
        m.warmUp();
        LanguageModel model = new LanguageModel(m, modelDir, System.nanoTime() - t0, ctx.programBuildNanos() - builds0);
        synchronized (models) {
            models.add(model);
        }
        return model;
    }

    /**
     * @param modelDir the model directory
     * @return the model with {@link LoadOptions#defaults()}
     */
    public LanguageModel load(Path modelDir) {
        return load(modelDir, LoadOptions.defaults());
    }

    /**
     * @param options context length, precision, prefill chunk, progress
     * @return the embedded model (a 10M-parameter Phi trained on Python), unpacked on first use
     */
    public LanguageModel loadEmbedded(LoadOptions options) {
        return load(embeddedModelDirectory(), options);
    }

    /** @return the embedded model with {@link LoadOptions#defaults()} */
    public LanguageModel loadEmbedded() {
        return loadEmbedded(LoadOptions.defaults());
    }

    /**
     * @return the directory the embedded model is unpacked to (checked file by file against the
     *         jar's digests, and unpacked again where damaged)
     */
    public static Path embeddedModelDirectory() {
        return EmbeddedModel.directory();
    }

    /** Closes the models loaded through this engine, then releases the device. */
    @Override
    public void close() {
        synchronized (models) {
            for (LanguageModel m : models) m.close();
            models.clear();
        }
        ctx.close();
    }

    static Device device(DeviceInfo d) {
        return new Device(d.index(), d.name(), d.platformName(), d.vendor(), d.driverVersion(), Device.Type.valueOf(d.type().name()),
                d.globalMemBytes(), d.localMemBytes(), d.computeUnits(), d.hasExtension("cl_khr_fp16"));
    }
}
