package dev.flashcl.bench;

import dev.flashcl.internal.cl.Bytes;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** {@code flashcl bench tokenizer}: encoding speed on one thread over the .py files under a directory (median of passes, each with a cold word cache). */
public final class TokenizerBench {
    private TokenizerBench() {}

    /** Encodes every .py file under {@code source} (null: the newest /usr/lib/python3.*) {@code repeat} times and prints each pass and the median. */
    public static void run(java.nio.file.Path tokenizerDir, java.nio.file.Path source, int repeat, PrintStream print) throws java.io.IOException {
        var tok = dev.flashcl.tokenizer.Tokenizer.load(tokenizerDir);
        java.nio.file.Path dir = source != null ? source : defaultSource();
        List<String> texts;
        try (var files = java.nio.file.Files.walk(dir)) {
            texts = files.filter(p -> p.toString().endsWith(".py")).sorted().map(p -> {
                try {
                    return java.nio.file.Files.readString(p);
                } catch (java.io.IOException | java.io.UncheckedIOException e) {
                    return null;
                }
            }).filter(java.util.Objects::nonNull).toList();
        }
        long bytes = texts.stream().mapToLong(t -> t.getBytes(java.nio.charset.StandardCharsets.UTF_8).length).sum();
        if (bytes == 0) throw new IllegalArgumentException("no .py files under " + dir);
        print.printf(Locale.ROOT, "tokenizer encode, one thread: %d files, %s of Python source from %s%n", texts.size(), Bytes.format(bytes), dir);
        double[] mbps = new double[repeat];
        long tokens = 0;
        for (int r = 0; r < repeat; r++) {   // first pass warms the JIT and the word cache is per thread: clear it each pass
            var fresh = dev.flashcl.tokenizer.Tokenizer.load(tokenizerDir);
            long t0 = System.nanoTime();
            tokens = 0;
            for (String t : texts) tokens += fresh.encode(t).length;
            mbps[r] = bytes / 1e6 / ((System.nanoTime() - t0) / 1e9);
            print.printf(Locale.ROOT, "  pass %d: %.1f MB/s (%d tokens)%n", r + 1, mbps[r], tokens);
        }
        double[] sorted = mbps.clone();
        java.util.Arrays.sort(sorted);
        print.printf(Locale.ROOT, "median %.1f MB/s, %.2f bytes/token, %s, %s%n", sorted[repeat / 2], (double) bytes / tokens,
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), java.time.LocalDate.now());
    }

    private static java.nio.file.Path defaultSource() throws java.io.IOException {
        try (var s = java.nio.file.Files.list(java.nio.file.Path.of("/usr/lib"))) {
            return s.filter(p -> p.getFileName().toString().matches("python3\\.\\d+")).max(java.util.Comparator.naturalOrder())
                    .orElseThrow(() -> new IllegalArgumentException("no /usr/lib/python3.* here: give --source DIR"));
        }
    }
}
