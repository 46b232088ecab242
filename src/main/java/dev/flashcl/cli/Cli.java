package dev.flashcl.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What every command shares: the verbosity set by {@code -v} / {@code --quiet}, notes and
 * statistics on stderr, the loading bar (on a terminal only), option checks that name the option,
 * and Ctrl-C handling.
 */
final class Cli {
    static volatile boolean quiet;
    static volatile boolean verbose;

    private Cli() {}

    /** Runs a library check for one option; its complaint comes back naming the option. */
    static <T> T option(String name, Supplier<T> check) {
        try {
            return check.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
    }

    /** A line for the person at the terminal (which device, which model); {@code --quiet} hides it. */
    static void note(String line) {
        if (!quiet) System.err.println("flashcl: " + line);
    }

    /** The run's statistics line; {@code --quiet} hides it. */
    static void stats(String line) {
        if (!quiet) System.err.println(line);
    }

    /** A byte-counting progress bar on stderr when it is a terminal (and not {@code --quiet}); otherwise nothing. */
    static Progress progress(String task, long totalBytes) {
        if (quiet || System.console() == null) return new Progress(null);
        ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(totalBytes).setUnit(" MB", 1_000_000)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err)).showSpeed().build();
        return new Progress(bar);
    }

    /** A progress bar, or nothing where none is shown. */
    static final class Progress implements AutoCloseable {
        private final ProgressBar bar;

        Progress(ProgressBar bar) {
            this.bar = bar;
        }

        void set(long done) {
            if (bar != null) bar.stepTo(done);
        }

        @Override
        public void close() {
            if (bar != null) bar.close();
        }
    }

    /** Work that may throw. */
    interface Body {
        void run() throws Exception;
    }

    /**
     * Runs {@code body}; Ctrl-C meanwhile calls {@code cancel} and waits (up to 5 s) for the body
     * to finish, so the statistics print and the device is released.
     */
    static void cancelOnSignal(Runnable cancel, Body body) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            cancel.run();
            try {
                done.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            body.run();
        } finally {
            done.countDown();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // Ctrl-C arrived: the hook is running and waited for the body
        }
    }
}
