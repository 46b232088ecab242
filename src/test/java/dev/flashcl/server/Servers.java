package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.TestJvm;
import dev.flashcl.cli.Main;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the server tests share: {@code flashcl serve} as a child process, and a metric read from /metrics. */
final class Servers {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private Servers() {}

    /** A {@code flashcl serve} process, the base URL it said it serves on, and what it printed up to then. */
    record Serve(Process process, String url, List<String> log) {}

    /** Starts {@code flashcl serve ARGS} in a child JVM and waits (up to 2 minutes) until it says where it serves; its stderr is drained after that. */
    static Serve serve(String... args) throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = "serve";
        System.arraycopy(args, 0, all, 1, args.length);
        return start(Map.of(), all);
    }

    /** Starts {@code flashcl ARGS} (a command that serves) in a child JVM with {@code env} added to its environment. */
    static Serve start(Map<String, String> env, String... args) throws Exception {
        ProcessBuilder pb = TestJvm.java(Main.class, args);
        pb.environment().putAll(env);
        Process p = pb.start();
        BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
        String url = null;
        List<String> log = new ArrayList<>();
        long deadline = System.nanoTime() + 120_000_000_000L;
        for (String line; url == null && System.nanoTime() < deadline && (line = err.readLine()) != null; ) {
            log.add(line);
            Matcher m = Pattern.compile("serving '.*' on (http://\\S+)/v1").matcher(line);
            if (m.find()) url = m.group(1);
        }
        Thread drain = new Thread(() -> err.lines().forEach(l -> {}));   // a full pipe would stall the server
        drain.setDaemon(true);
        drain.start();
        assertNotNull(url, "the server said where it serves: " + String.join("\n", log));
        return new Serve(p, url, List.copyOf(log));
    }

    /** A sample's value on {@code url}/metrics (the first series of that name). */
    static double metric(String url, String name) throws Exception {
        String body = HTTP.send(HttpRequest.newBuilder(URI.create(url + "/metrics")).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^" + name + "(\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(body);
        assertTrue(m.find(), name + " in " + url + "/metrics");
        return Double.parseDouble(m.group(2));
    }
}
