package dev.flashcl.cli;

import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.Generator;
import dev.flashcl.internal.phi.PhiModel;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code flashcl generate}: greedy (or sampled) text from a prompt, streamed to stdout; statistics on stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text: load the model, tokenize the prompt, generate, stream the response (without the prompt).")
final class GenerateCommand implements Callable<Integer> {
    static final String SEED_PROMPT = "def factorial(n):\n    \"\"\"\n    Calculate the factorial of a number n\n    \"\"\"\n";

    @Mixin ModelOptions model;
    @Option(names = "--device", description = "OpenCL device: index, gpu/cpu/accelerator, or a name substring (default: the first GPU, else the first device).")
    String device;
    @Option(names = "--prompt", description = "The prompt text; '-' reads it from stdin. Default: the factorial docstring prompt.")
    String prompt;
    @Option(names = "--prompt-file", description = "Read the prompt from this file (UTF-8).")
    Path promptFile;
    @Option(names = "--max-new-tokens", defaultValue = "200", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;
    @Option(names = "--temperature", defaultValue = "0", description = "0 (default): greedy. Above 0: sample.")
    double temperature;
    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely (0: all).")
    int topK;
    @Option(names = "--top-p", defaultValue = "1", description = "Sample within the smallest set whose probability reaches p.")
    double topP;
    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed: the same seed gives the same text.")
    long seed;
    @Option(names = "--stop", description = "Stop when this text appears (repeatable); the model's eos token always stops.")
    List<String> stops = new ArrayList<>();
    @Option(names = "--context", defaultValue = "0", description = "KV cache positions (default: the model's max_position_embeddings).")
    int context;
    @Option(names = "--storage", defaultValue = "f16", description = "Weights and KV cache on the device: f16 (default) or f32.")
    String storage;
    @Option(names = "--prefill-chunk", defaultValue = "2048", description = "Prompt tokens per prefill pass (default: ${DEFAULT-VALUE}).")
    int chunk;
    @Option(names = "--no-clean-up-spaces", description = "Do not apply transformers' clean-up of tokenization spaces when decoding.")
    boolean noCleanUp;

    @Override
    public Integer call() throws Exception {
        String text = readPrompt();
        Path dir = model.resolve();
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        try (ClContext ctx = ClContext.open(device)) {
            PhiModel.Options opts = PhiModel.Options.defaults().withStorage(parseStorage(storage)).withContext(context).withChunk(chunk);
            PhiModel m;
            long total = dev.flashcl.internal.checkpoint.Checkpoint.open(dir).bytes();
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("loading").setInitialMax(total).setUnit(" MB", 1 << 20)
                    .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                    .showSpeed().build()) {
                m = PhiModel.load(ctx, dir, opts, bar::stepBy);
            }
            try (m) {
                Generator.Options g = new Generator.Options(maxNewTokens, temperature, topK, topP, seed, null, stops, noCleanUp ? Boolean.FALSE : null);
                Generator gen = new Generator(m);
                // Ctrl-C: stop after the current token, print the statistics, release the device
                java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
                Thread hook = new Thread(() -> {
                    gen.cancel();
                    try {
                        done.await(5, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                Runtime.getRuntime().addShutdownHook(hook);
                try {
                    Generator.Result r = gen.generate(text, g, s -> {
                        out.print(s);
                        out.flush();
                    });
                    out.println();
                    System.err.printf(Locale.ROOT, "%d prompt tokens, %d new tokens (%s); prefill %.1f tokens/s, decode %.1f tokens/s; device %s, %s in use%n",
                            r.promptIds().length, r.newIds().length, r.stopReason(), r.prefillTokensPerSecond(), r.decodeTokensPerSecond(),
                            ctx.device().name(), Bytes.format(ctx.bytesInUse()));
                } finally {
                    done.countDown();   // the hook (Ctrl-C) waits for the statistics
                }
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // Ctrl-C arrived: the hook is running and waits for this block to end
                }
            }
        }
        return 0;
    }

    private String readPrompt() throws java.io.IOException {
        if (prompt != null && promptFile != null) throw new IllegalArgumentException("give --prompt or --prompt-file, not both");
        if (promptFile != null) {
            if (!Files.isRegularFile(promptFile)) throw new IllegalArgumentException("--prompt-file " + promptFile + ": no such file");
            return Files.readString(promptFile, StandardCharsets.UTF_8);
        }
        if ("-".equals(prompt)) return new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        if (prompt != null) return prompt;
        System.err.println("flashcl: no --prompt given: completing the factorial docstring prompt");
        return SEED_PROMPT;
    }

    static Storage parseStorage(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f16", "fp16" -> Storage.F16;
            case "f32", "fp32" -> Storage.F32;
            default -> throw new IllegalArgumentException("--storage must be f16 or f32, got " + s);
        };
    }
}
