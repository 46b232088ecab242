package dev.flashcl.cli;

import dev.flashcl.FlashClException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code flashcl COMMAND}: the one command-line entry point. */
@Command(name = "flashcl", mixinStandardHelpOptions = true, version = Main.VERSION,
        description = "Phi-2 and FlashAttention on any OpenCL device.",
        subcommands = {GenerateCommand.class, ServeCommand.class, InspectCommand.class, VerifyCommand.class, CheckCommand.class, TuneCommand.class, DevicesCommand.class, BenchCommand.class,
                BuildKernelsCommand.class, PlotCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    static final String VERSION = "flashcl 0.1.0";
    @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT, description = "Log what the engine does (INFO), and stack traces of failures.")
    boolean verbose;
    @Option(names = {"-q", "--quiet"}, scope = ScopeType.INHERIT, description = "Print only the output: no notes, progress or statistics.")
    boolean quiet;

    /** Exit status of a failure the user can act on (a file, option value or device). */
    static final int FAILED = 1;
    /** Exit status of a command line that does not parse. */
    static final int USAGE = 2;

    public static void main(String[] args) {
        configureLogging(args);
        System.exit(run(args));
    }

    /** Logging off but for warnings, unless -v; set before the first logger exists. */
    static void configureLogging(String[] args) {
        boolean v = false;
        for (String a : args) if (a.equals("-v") || a.equals("--verbose")) v = true;
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", v ? "info" : "warn"));
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
    }

    /** Runs a command line; every failure prints as one line (exit 1), a usage error with its usage help (exit 2). */
    public static int run(String... args) {
        Cli.quiet = false;
        Cli.verbose = false;
        for (String a : args) {
            if (a.equals("-q") || a.equals("--quiet")) Cli.quiet = true;
            if (a.equals("-v") || a.equals("--verbose")) Cli.verbose = true;
        }
        CommandLine cli = command();
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (Cli.verbose) e.printStackTrace(err);
            err.println("flashcl: " + message(e));
            err.flush();
            return FAILED;
        });
        CommandLine.IParameterExceptionHandler usage = cli.getParameterExceptionHandler();
        cli.setParameterExceptionHandler((e, given) -> {
            String env = environmentOf(e.getArgSpec(), given);
            if (env == null) return usage.handleParseException(e, given);
            e.getCommandLine().getErr().println("flashcl: the environment variable " + env + ": " + e.getMessage());
            return USAGE;
        });
        try {
            return cli.execute(args);
        } catch (Error e) {   // an Error escapes picocli's handler: still one line, the trace under -v
            if (Cli.verbose) e.printStackTrace();
            System.err.println("flashcl: " + (e instanceof OutOfMemoryError ? "out of Java heap (" + e.getMessage() + "); give the JVM more with -Xmx"
                    : "internal error (" + e + "); run again with -v for the stack trace, and report it"));
            return FAILED;
        }
    }

    /**
     * The environment variable a bad value came from: serve's options default to FLASHCL_ and the
     * option's name (--max-batch: FLASHCL_MAX_BATCH); null when the command line gave the option.
     */
    private static String environmentOf(CommandLine.Model.ArgSpec spec, String[] given) {
        if (!(spec instanceof CommandLine.Model.OptionSpec o) || !o.command().name().equals("serve")) return null;
        for (String a : given) for (String n : o.names()) if (a.equals(n) || a.startsWith(n + "=")) return null;
        String env = serveVariable(o.longestName());
        return System.getenv(env) != null ? env : null;
    }

    /**
     * @param option a serve option's long name, such as {@code --max-batch}
     * @return the environment variable that sets it: FLASHCL_ and the name, FLASHCL_MAX_BATCH
     */
    public static String serveVariable(String option) {
        return "FLASHCL_" + option.replaceFirst("^--", "").toUpperCase(java.util.Locale.ROOT).replace('-', '_');
    }

    /** The command tree, every command with --help and --version. */
    static CommandLine command() {
        CommandLine cli = new CommandLine(new Main());
        addHelp(cli);
        return cli;
    }

    private static void addHelp(CommandLine c) {
        if (!c.getCommandSpec().mixinStandardHelpOptions() && !(c.getCommand() instanceof CommandLine.HelpCommand)) {
            c.getCommandSpec().mixinStandardHelpOptions(true);
        }
        for (CommandLine sub : c.getSubcommands().values()) addHelp(sub);
    }

    /** One line for a failure: ours carry their message; anything else is named with its type. */
    static String message(Throwable e) {
        if (e instanceof FlashClException || e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof java.io.UncheckedIOException) {
            return oneLine(e.getMessage());
        }
        if (e instanceof java.io.IOException) return oneLine(e.getClass().getSimpleName() + ": " + e.getMessage());
        return "internal error (" + e.getClass().getName() + (e.getMessage() != null ? ": " + oneLine(e.getMessage()) : "")
                + "); run again with -v for the stack trace, and report it";
    }

    private static String oneLine(String s) {
        if (s == null) return "(no message)";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl) + (Cli.verbose ? "" : " (-v shows the rest)");
    }
}
