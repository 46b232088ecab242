package dev.flashcl.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The command line as a new user meets it: every failure one line naming the option, file or
 * field at fault, exit 1 (2 for a command line that does not parse), options and prompt checked
 * before the device is opened, every command with --help, every option described.
 */
class CliTest {
    static final Path EMBEDDED = Path.of("testdata/embedded");
    static final Path TINY = Path.of("testdata/tiny-phi/f32");
    /** A device spec no device matches: a check that runs before the device is opened fails first, and names its own cause. */
    static final String NO_DEVICE = "no-such-device-anywhere";
    @TempDir Path tmp;

    record Run(int rc, String err) {
        /** The message printed, checked to be a single line without a stack trace. */
        String line() {
            assertFalse(err.contains("\tat ") || err.contains("Exception in"), "no stack trace: " + err);
            List<String> lines = err.lines().filter(l -> l.startsWith("flashcl: ") && !l.startsWith("flashcl: no --model")).toList();
            assertEquals(1, lines.size(), "one message line: " + err);
            return lines.get(0);
        }
    }

    static Run cli(String... args) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Main.run(args);
        } finally {
            System.setErr(err);
        }
        return new Run(rc, buf.toString(StandardCharsets.UTF_8));
    }

    static Run generate(String... extra) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", EMBEDDED.toString(), "--device", NO_DEVICE));
        args.addAll(List.of(extra));
        return cli(args.toArray(String[]::new));
    }

    static Stream<String[]> badOptions() {
        return Stream.of(
                new String[] {"--max-new-tokens", "0", "--max-new-tokens"},
                new String[] {"--max-new-tokens", "-5", "--max-new-tokens"},
                new String[] {"--temperature", "-1", "--temperature"},
                new String[] {"--temperature", "NaN", "--temperature"},
                new String[] {"--temperature", "Infinity", "--temperature"},
                new String[] {"--top-p", "0", "--top-p"},
                new String[] {"--top-p", "1.5", "--top-p"},
                new String[] {"--top-p", "NaN", "--top-p"},
                new String[] {"--top-k", "-3", "--top-k"},
                new String[] {"--stop", "", "--stop"},
                new String[] {"--prompt", "", "prompt is empty"},
                new String[] {"--storage", "f8", "--storage"},
                new String[] {"--weights", "q5_0", "--weights"},
                new String[] {"--prefill-chunk", "0", "--prefill-chunk"},
                new String[] {"--context", "0", "--context"},
                new String[] {"--context", "999999", "--context"});
    }

    /** Each refused with its option named, before the device is opened (the unknown device would fail otherwise) and so before any weight is loaded. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("badOptions")
    void optionsAreCheckedBeforeTheDevice(String option, String value, String named) {
        Run r = option.equals("--prompt") ? generate(option, value) : generate("--prompt", "def f():", option, value);
        assertEquals(1, r.rc(), r.err());
        String line = r.line();
        assertTrue(line.contains(named), line);
        assertFalse(line.contains(NO_DEVICE), "checked before the device: " + line);
    }

    @Test
    void aPromptLongerThanTheContextIsRefusedBeforeTheDevice() {
        Run r = generate("--prompt", "x = 1\n".repeat(40), "--context", "32", "--max-new-tokens", "4");
        assertEquals(1, r.rc());
        String line = r.line();
        assertTrue(line.contains("over the context of 32 positions") && line.contains("prompt ("), line);
    }

    @Test
    void aModelWithoutTokenizerFilesIsRefusedBeforeTheDevice() {
        Run r = cli("generate", "--model", TINY.toString(), "--device", NO_DEVICE, "--prompt", "x");
        assertEquals(1, r.rc());
        assertTrue(r.line().contains("no tokenizer.json"), r.err());
    }

    @Test
    void aPromptFileThatIsNotUtf8IsNamedWithTheOffset() throws IOException {
        Path p = tmp.resolve("p.txt");
        Files.write(p, new byte[] {'d', 'e', 'f', (byte) 0xff, 'x'});
        Run r = generate("--prompt-file", p.toString());
        assertEquals(1, r.rc());
        String line = r.line();
        assertTrue(line.contains(p.toString()) && line.contains("not valid UTF-8") && line.contains("0xff at offset 3"), line);
        Run missing = generate("--prompt-file", tmp.resolve("absent.txt").toString());
        assertTrue(missing.line().contains("absent.txt") && missing.line().contains("no such file"), missing.err());
    }

    Path tinyWith(String from, String to) throws IOException {
        Path d = Files.createTempDirectory(tmp, "model");
        try (var s = Files.list(TINY)) {
            for (Path f : s.toList()) Files.copy(f, d.resolve(f.getFileName()));
        }
        String cfg = Files.readString(d.resolve("config.json"));
        assertTrue(cfg.contains(from), from);
        Files.writeString(d.resolve("config.json"), cfg.replace(from, to));
        return d;
    }

    static Stream<String[]> badConfigs() {
        return Stream.of(
                new String[] {"\"partial_rotary_factor\": 0.4,", "\"partial_rotary_factor\": -0.4,", "partial_rotary_factor"},
                new String[] {"\"partial_rotary_factor\": 0.4,", "\"partial_rotary_factor\": 1.5,", "partial_rotary_factor"},
                new String[] {"\"layer_norm_eps\": 1e-05", "\"layer_norm_eps\": 0", "layer_norm_eps"},
                new String[] {"\"layer_norm_eps\": 1e-05", "\"layer_norm_eps\": -1e-05", "layer_norm_eps"},
                new String[] {"\"rope_theta\": 10000.0", "\"rope_theta\": -1", "rope_theta"},
                new String[] {"\"tie_word_embeddings\": false", "\"tie_word_embeddings\": \"yes\"", "tie_word_embeddings"},
                new String[] {"\"qk_layernorm\": false", "\"qk_layernorm\": 0", "qk_layernorm"},
                new String[] {"\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2", "beyond config.json's num_hidden_layers of 2"},
                new String[] {"\"num_hidden_layers\": 3", "\"num_hidden_layers\": 1000", "model.layers.3."},
                new String[] {"\"vocab_size\": 512", "\"vocab_size\": 60000", "model.embed_tokens.weight"},
                new String[] {"\"intermediate_size\": 384", "\"intermediate_size\": 512", "mlp.fc1.weight"});
    }

    /** inspect runs every check loading runs: each of these fails it (exit 1) with the field or tensor named; generate refuses them the same way. */
    @ParameterizedTest(name = "{1}")
    @MethodSource("badConfigs")
    void inspectAndGenerateRefuseBrokenModels(String from, String to, String named) throws IOException {
        Path d = tinyWith(from, to);
        Run inspect = cli("inspect", "--model", d.toString());
        assertEquals(1, inspect.rc(), inspect.err());
        assertTrue(inspect.line().contains(named), inspect.err());
        Run gen = cli("generate", "--model", d.toString(), "--device", NO_DEVICE, "--prompt", "x");
        assertEquals(1, gen.rc(), gen.err());
        assertTrue(gen.line().contains(named) || gen.line().contains("tokenizer"), gen.err());
    }

    @Test
    void eosMayBeAList() throws IOException {
        Path d = tinyWith("\"eos_token_id\": 0,", "\"eos_token_id\": [0, 7],");
        assertEquals(List.of(0, 7), dev.flashcl.internal.checkpoint.PhiConfig.read(d).eosTokenIds());
    }

    /** Embedded's tokenizer beside a model: truncated, or with more ids than the model has rows. */
    @Test
    void inspectChecksTheTokenizer() throws IOException {
        Path d = Files.createTempDirectory(tmp, "tok");
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer_config.json"}) Files.createSymbolicLink(d.resolve(f), EMBEDDED.toAbsolutePath().resolve(f));
        byte[] tok = Files.readAllBytes(EMBEDDED.resolve("tokenizer.json"));
        Files.write(d.resolve("tokenizer.json"), java.util.Arrays.copyOf(tok, tok.length / 2));
        Run truncated = cli("inspect", "--model", d.toString());
        assertEquals(1, truncated.rc());
        assertTrue(truncated.line().contains("tokenizer.json") && truncated.line().contains("not JSON"), truncated.err());

        Path t = Files.createTempDirectory(tmp, "tiny");
        try (var s = Files.list(TINY)) {
            for (Path f : s.toList()) Files.copy(f, t.resolve(f.getFileName()));
        }
        Files.copy(EMBEDDED.resolve("tokenizer.json"), t.resolve("tokenizer.json"));
        Run mismatch = cli("inspect", "--model", t.toString());
        assertEquals(1, mismatch.rc());
        assertTrue(mismatch.line().contains("vocab_size is 512"), mismatch.err());

        Run ok = cli("inspect", "--model", EMBEDDED.toString());
        assertEquals(0, ok.rc(), ok.err());
    }

    @Test
    void verifyWithAMissingReferenceSaysWhich() {
        Run r = cli("verify", "--model", TINY.toString(), "--reference", tmp.toString());
        assertEquals(1, r.rc());
        assertTrue(r.line().contains("reference.json"), r.err());
    }

    @Test
    void usageErrorsExitTwo() {
        assertEquals(2, cli("generate", "--no-such-option").rc());
        assertEquals(2, cli("generate", "--max-new-tokens", "many").rc());
    }

    static Stream<String> commands() {
        List<String> out = new ArrayList<>();
        collect(Main.command(), new ArrayList<>(), out);
        return out.stream();
    }

    private static void collect(CommandLine c, List<String> path, List<String> out) {
        out.add(String.join(" ", path));
        for (var e : c.getSubcommands().entrySet()) {
            if (e.getValue().getCommand() instanceof CommandLine.HelpCommand) continue;
            List<String> p = new ArrayList<>(path);
            p.add(e.getKey());
            collect(e.getValue(), p, out);
        }
    }

    /** devices, bench and plot took no --help once; every command takes it, prints its usage and installs or opens nothing. */
    @ParameterizedTest(name = "flashcl {0} --help")
    @MethodSource("commands")
    void everyCommandTakesHelpAndDescribesEveryOption(String command) {
        String[] path = command.isEmpty() ? new String[0] : command.split(" ");
        List<String> args = new ArrayList<>(List.of(path));
        args.add("--help");
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Main.run(args.toArray(String[]::new));
        } finally {
            System.setOut(out);
        }
        assertEquals(0, rc, String.join(" ", args));
        assertTrue(buf.toString(StandardCharsets.UTF_8).contains("Usage:"), buf.toString(StandardCharsets.UTF_8));
        CommandLine c = Main.command();
        for (String p : path) c = c.getSubcommands().get(p);
        for (OptionSpec o : c.getCommandSpec().options()) {
            assertTrue(o.description().length > 0 && !o.description()[0].isBlank(), String.join(" ", path) + " " + o.longestName() + " has no help text");
        }
    }

    /**
     * In a real process (logging is set up once, at start): no INFO lines unless -v, no progress
     * bar off a terminal, a drawn seed printed so the run can be repeated, and with -q nothing on
     * stderr at all.
     */
    @Test
    void stderrSaysWhatMattersAndQuietSaysNothing() throws Exception {
        String[] run = {"generate", "--model", EMBEDDED.toString(), "--prompt", "def f():", "--max-new-tokens", "3", "--temperature", "0.8"};
        var plain = dev.flashcl.TestJvm.run(dev.flashcl.TestJvm.java(Main.class, run), 120, true).noStackTrace();
        assertEquals(0, plain.exit(), plain.output());
        assertFalse(plain.output().contains("INFO"), "INFO logging is off without -v: " + plain.output());
        assertFalse(plain.output().contains("loading"), "no progress bar off a terminal: " + plain.output());
        java.util.regex.Matcher seed = java.util.regex.Pattern.compile("seed (-?\\d+) \\(repeat this run with --seed \\1\\)").matcher(plain.output());
        assertTrue(seed.find(), "the drawn seed is printed: " + plain.output());
        assertTrue(plain.output().contains("3 new tokens") && plain.output().contains("device "), plain.output());

        List<String> quietRun = new ArrayList<>(List.of(run));
        quietRun.add("-q");
        var quiet = dev.flashcl.TestJvm.run(dev.flashcl.TestJvm.java(Main.class, quietRun.toArray(String[]::new)), 120, true);
        assertEquals(0, quiet.exit(), quiet.output());
        assertEquals("", quiet.output(), "-q prints only the output");

        List<String> verboseRun = new ArrayList<>(List.of(run));
        verboseRun.add("-v");
        var verbose = dev.flashcl.TestJvm.run(dev.flashcl.TestJvm.java(Main.class, verboseRun.toArray(String[]::new)), 120, true);
        assertTrue(verbose.output().contains("INFO"), "-v logs the engine: " + verbose.output());
    }
}
