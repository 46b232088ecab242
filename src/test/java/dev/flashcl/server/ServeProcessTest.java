package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.TestJvm;
import dev.flashcl.cli.Main;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * flashcl serve as a process: it prints where it serves, answers, and on SIGTERM (in the middle
 * of a streamed request) cancels what runs, ends the stream and exits 0.
 */
class ServeProcessTest {
    @Test
    void sigtermEndsInFlightRequestsAndTheProcess() throws Exception {
        ProcessBuilder pb = TestJvm.java(Main.class, "serve", "--port", "0", "--context", "512");
        Process p = pb.start();
        try {
            BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
            String url = null;
            long deadline = System.nanoTime() + 120_000_000_000L;
            for (String line; url == null && System.nanoTime() < deadline && (line = err.readLine()) != null; ) {
                Matcher m = Pattern.compile("serving '.*' on (http://\\S+)/v1").matcher(line);
                if (m.find()) url = m.group(1);
            }
            assertNotNull(url, "the server said where it serves");
            HttpURLConnection c = (HttpURLConnection) URI.create(url + "/v1/completions").toURL().openConnection();
            c.setRequestMethod("POST");
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", "application/json");
            try (OutputStream o = c.getOutputStream()) {
                o.write("{\"prompt\": \"def f():\\n\", \"max_tokens\": 400, \"temperature\": 0, \"stream\": true, \"ignore_eos\": true}".getBytes(StandardCharsets.UTF_8));
            }
            assertEquals(200, c.getResponseCode());
            InputStream in = c.getInputStream();
            BufferedReader events = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            assertTrue(events.readLine().startsWith("data: "), "the stream started");
            p.destroy();   // SIGTERM, mid-stream
            StringBuilder rest = new StringBuilder();
            for (String line; (line = events.readLine()) != null; ) rest.append(line).append('\n');
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the server exits after SIGTERM");
            assertTrue(rest.toString().contains("shutting down") || rest.toString().contains("[DONE]"), "the stream ended cleanly: " + rest);
            assertTrue(rest.length() < 400 * 200, "cancelled, not run to the end");
        } finally {
            p.destroyForcibly();
        }
    }
}
