package dev.flashcl.cli;

import dev.flashcl.internal.cl.ClException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code flashcl COMMAND}: the one command-line entry point. */
@Command(name = "flashcl", mixinStandardHelpOptions = true, version = "flashcl 0.1.0",
        description = "Phi-2 and FlashAttention on any OpenCL device.",
        subcommands = {GenerateCommand.class, InspectCommand.class, VerifyCommand.class, TuneCommand.class, DevicesCommand.class, BenchCommand.class, BuildKernelsCommand.class, PlotCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line; errors the user can act on print as one message, not a stack trace. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ClException || e instanceof dev.flashcl.internal.checkpoint.CheckpointException || e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
                cmd.getErr().println("flashcl: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }
}
