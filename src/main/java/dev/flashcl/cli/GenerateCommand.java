package dev.flashcl.cli;

import dev.flashcl.FlashCl;
import dev.flashcl.GenerationRequest;
import dev.flashcl.GenerationResult;
import dev.flashcl.LanguageModel;
import dev.flashcl.LoadOptions;
import dev.flashcl.Precision;
import dev.flashcl.Sampling;
import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.PhiConfig;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.generate.Generator;
import dev.flashcl.internal.phi.PhiModel;
import dev.flashcl.tokenizer.Tokenizer;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code flashcl generate}: text from a prompt, streamed to stdout; statistics on stderr. Every
 * option, the prompt, the tokenizer and the checkpoint's tensors are checked before the device
 * is opened, so a mistake costs no weight loading.
 */
@Command(name = "generate", description = "Generate text: load the model, tokenize the prompt, generate, stream the response (without the prompt).")
final class GenerateCommand implements Callable<Integer> {
    static final String SEED_PROMPT = "def factorial(n):\n    \"\"\"\n    Calculate the factorial of a number n\n    \"\"\"\n";

    @Mixin ModelOptions model;
    @picocli.CommandLine.Mixin DeviceOption device;
    @Option(names = "--prompt", description = "The prompt text; '-' reads it from stdin. Default: the factorial docstring prompt.")
    String prompt;
    @Option(names = "--prompt-file", description = "Read the prompt from this file (UTF-8).")
    Path promptFile;
    @Option(names = "--max-new-tokens", defaultValue = "200", description = "The most new tokens (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;
    @Option(names = "--temperature", defaultValue = "0", description = "0 (default): greedy. Above 0: sample at this temperature.")
    double temperature;
    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely (default 0: all).")
    int topK;
    @Option(names = "--top-p", defaultValue = "1", description = "Sample within the smallest set whose probability reaches p, 0 < p <= 1 (default 1: all).")
    double topP;
    @Option(names = "--seed", description = "Sampling seed: the same seed gives the same text (default: a random seed, printed).")
    Long seed;
    @Option(names = "--stop", description = "Stop when this text appears (repeatable, not empty); the model's eos token always stops.")
    List<String> stops = new ArrayList<>();
    @Option(names = "--context", description = "KV cache positions (default: the model's max_position_embeddings).")
    Integer context;
    @Option(names = "--storage", defaultValue = "f16", description = "Weights and KV cache on the device: f16 (default) or f32.")
    String storage;
    @Option(names = "--prefill-chunk", defaultValue = "2048", description = "Prompt tokens per prefill pass (default: ${DEFAULT-VALUE}).")
    int chunk;
    @Option(names = "--weights", defaultValue = "stored", description = WEIGHTS_HELP)
    String weights;
    @Option(names = "--clean-up-spaces", description = "Apply transformers' clean-up of tokenization spaces when decoding (off by default: it corrupts code).")
    boolean cleanUp;

    @Override
    public Integer call() throws Exception {
        LoadOptions.Builder load = LoadOptions.builder();
        Cli.option("--storage", () -> load.precision(parsePrecision(storage)));
        Cli.option("--prefill-chunk", () -> load.prefillChunk(chunk));
        Cli.option("--weights", () -> load.weights(parseWeights(weights)));
        if (context != null) Cli.option("--context", () -> load.contextLength(context));
        GenerationRequest.Builder req = GenerationRequest.builder();
        Cli.option("--max-new-tokens", () -> req.maxNewTokens(maxNewTokens));
        Cli.option("--stop", () -> req.stopStrings(stops));
        req.cleanUpSpaces(cleanUp);
        Sampling sampling = sampling();
        req.sampling(sampling);
        String text = readPrompt();
        Cli.option(promptFile != null ? "--prompt-file" : "--prompt", () -> req.prompt(text));

        // The model's files, tokenizer and prompt length, before the device
        Path dir = model.resolve();
        dev.flashcl.internal.phi.ModelFiles files = dev.flashcl.internal.phi.ModelFiles.open(dir);
        PhiConfig cfg = files.config();
        Checkpoint ck = files.checkpoint();
        Tokenizer tok = files.requireTokenizer();
        tok.checkAgainst(cfg.vocabSize(), dir);
        int[] ids = tok.encode(text);
        int ctxLen = context != null ? context : cfg.maxPositions();
        if (ctxLen > cfg.maxPositions()) {
            throw new IllegalArgumentException("--context " + ctxLen + " is over the model's max_position_embeddings of " + cfg.maxPositions());
        }
        Generator.checkFits(ids.length, maxNewTokens, ctxLen);
        req.promptTokens(ids);

        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        req.onText(s -> {
            out.print(s);
            out.flush();
        });
        GenerationRequest request = req.build();
        try (FlashCl engine = FlashCl.open(device.spec)) {
            Cli.note("device " + engine.device() + ": " + engine.selectionReason());
            LanguageModel m;
            try (Cli.Progress bar = Cli.progress("loading", ck.bytes())) {
                m = engine.load(dir, load.onProgress((done, total) -> bar.set(done)).build());
            }
            Cli.cancelOnSignal(m::cancel, () -> {
                GenerationResult r = m.generate(request);
                out.println();
                if (r.seed().isPresent() && sampling.seed().isEmpty()) Cli.note("seed " + r.seed().getAsLong() + " (repeat this run with --seed " + r.seed().getAsLong() + ")");
                Cli.stats(String.format(Locale.ROOT, "%d prompt tokens, %d new tokens (%s); prefill %.1f tokens/s, decode %.1f tokens/s%s; device %s, %s in use",
                        r.promptTokenCount(), r.tokenCount(), r.stopReason().name().toLowerCase(Locale.ROOT), r.prefillTokensPerSecond(),
                        r.decodeTokensPerSecond(), r.buildNanos() > 50_000_000 ? String.format(Locale.ROOT, " (kernel builds %.1f s apart)", r.buildNanos() / 1e9) : "",
                        engine.device().name(), Bytes.format(m.info().deviceBytes())));
            });
        }
        return 0;
    }

    private Sampling sampling() {
        if (!Double.isFinite(temperature) || temperature < 0) {
            throw new IllegalArgumentException("--temperature must be 0 (greedy) or a finite number above 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be above 0 and at most 1, got " + topP);
        if (topK < 0) throw new IllegalArgumentException("--top-k must be 0 (all) or more, got " + topK);
        if (temperature == 0) return Sampling.greedy();
        Sampling s = Sampling.temperature(temperature).topK(topK).topP(topP);
        return seed != null ? s.seed(seed) : s;
    }

    private String readPrompt() throws IOException {
        if (prompt != null && promptFile != null) throw new IllegalArgumentException("give --prompt or --prompt-file, not both");
        if (promptFile != null) {
            if (!Files.isRegularFile(promptFile)) throw new IllegalArgumentException("--prompt-file " + promptFile + ": no such file");
            return utf8(Files.readAllBytes(promptFile), "--prompt-file " + promptFile);
        }
        if ("-".equals(prompt)) return utf8(System.in.readAllBytes(), "--prompt - (stdin)");
        if (prompt != null) return prompt;
        Cli.note("no --prompt given: completing the factorial docstring prompt");
        return SEED_PROMPT;
    }

    /** Strict UTF-8: a prompt with malformed bytes is refused, naming where, not silently changed. */
    static String utf8(byte[] bytes, String what) {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer chars = CharBuffer.allocate(bytes.length + 1);
        CoderResult r = decoder.decode(in, chars, true);
        if (!r.isError()) r = decoder.flush(chars);
        if (r.isError()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s is not valid UTF-8 (byte 0x%02x at offset %d)", what,
                    bytes[Math.min(in.position(), bytes.length - 1)] & 0xff, in.position()));
        }
        return chars.flip().toString();
    }

    static Precision parsePrecision(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f16", "fp16" -> Precision.F16;
            case "f32", "fp32" -> Precision.F32;
            default -> throw new IllegalArgumentException("must be f16 or f32, got " + s);
        };
    }

    static dev.flashcl.WeightFormat parseWeights(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "stored", "as-stored" -> dev.flashcl.WeightFormat.AS_STORED;
            case "q8_0", "q8" -> dev.flashcl.WeightFormat.Q8_0;
            case "q4_0", "q4" -> dev.flashcl.WeightFormat.Q4_0;
            default -> throw new IllegalArgumentException("must be stored, q8_0 or q4_0, got " + s);
        };
    }

    /** --weights for the internal loaders: null for as stored. */
    static dev.flashcl.internal.checkpoint.DType weightsType(String s) {
        var w = Cli.option("--weights", () -> parseWeights(s));
        return w == dev.flashcl.WeightFormat.AS_STORED ? null : dev.flashcl.internal.checkpoint.DType.valueOf(w.name());
    }

    static final String WEIGHTS_HELP = "Weight matrices on the device: stored (as the file holds them: fp16, or a GGUF file's Q8_0/Q4_0 blocks), "
            + "q8_0 or q4_0 (quantized at load, ggml's blocks; fewer bytes a token).";

    static dev.flashcl.internal.kernels.Storage parseStorage(String s) {
        return Cli.option("--storage", () -> parsePrecision(s)) == Precision.F32 ? dev.flashcl.internal.kernels.Storage.F32 : dev.flashcl.internal.kernels.Storage.F16;
    }
}
