package dev.flashcl;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Starts a second JVM on the test's own classes and dependencies. java.class.path alone is not
 * enough: under the JUnit console launcher it names only the launcher, the classes come through
 * its class loader; so the code sources of the classes the child needs are added.
 */
public final class TestJvm {
    private TestJvm() {}

    public static ProcessBuilder java(Class<?> main, String... args) {
        Set<String> path = new LinkedHashSet<>();
        for (String p : System.getProperty("java.class.path").split(File.pathSeparator)) if (!p.isBlank()) path.add(p);
        // The launcher's own class loader, where it is a URLClassLoader, knows every entry.
        if (Thread.currentThread().getContextClassLoader() instanceof java.net.URLClassLoader loader) {
            for (java.net.URL url : loader.getURLs()) {
                try {
                    path.add(Path.of(url.toURI()).toString());
                } catch (URISyntaxException | IllegalArgumentException e) {
                    // not a file: nothing a child JVM could use
                }
            }
        }
        for (Class<?> c : new Class<?>[] {main, TestJvm.class, org.jocl.CL.class, picocli.CommandLine.class,
                org.slf4j.LoggerFactory.class, org.slf4j.simple.SimpleLogger.class, com.fasterxml.jackson.databind.ObjectMapper.class,
                com.fasterxml.jackson.core.JsonFactory.class, com.fasterxml.jackson.annotation.JsonProperty.class,
                org.knowm.xchart.XYChart.class,
                org.junit.jupiter.api.Assertions.class, org.opentest4j.AssertionFailedError.class}) {
            try {
                path.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
            } catch (URISyntaxException | NullPointerException e) {
                // a class without a code source (the JDK's own) needs no entry
            }
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String[] cmd = new String[4 + args.length];
        cmd[0] = java;
        cmd[1] = "-cp";
        cmd[2] = String.join(File.pathSeparator, path);
        cmd[3] = main.getName();
        System.arraycopy(args, 0, cmd, 4, args.length);
        return new ProcessBuilder(cmd);
    }

    /** What a child JVM printed (stdout and stderr, or stderr alone) and its exit status. */
    public record Run(int exit, String output) {
        /** Fails when a stack trace was printed. */
        public Run noStackTrace() {
            if (output.contains("\tat ") || output.contains("Exception in thread")) throw new AssertionError("a stack trace reached the user: " + output);
            return this;
        }
    }

    /** Starts {@code pb}, waits up to {@code seconds}, and returns its exit status with stdout and stderr merged (or, with {@code stderrOnly}, stderr). */
    public static Run run(ProcessBuilder pb, int seconds, boolean stderrOnly) throws java.io.IOException, InterruptedException {
        if (stderrOnly) pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        else pb.redirectErrorStream(true);
        Process p = pb.start();
        byte[] out = (stderrOnly ? p.getErrorStream() : p.getInputStream()).readAllBytes();
        if (!p.waitFor(seconds, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the child JVM ran past " + seconds + " s: " + new String(out));
        }
        return new Run(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
    }
}
