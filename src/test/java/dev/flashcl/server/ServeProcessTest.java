package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * flashcl serve as a process: it prints where it serves, answers, and on SIGTERM (in the middle
 * of a streamed request) cancels what runs, ends the stream and exits 0.
 */
class ServeProcessTest {
    @Test
    void sigtermEndsInFlightRequestsAndTheProcess() throws Exception {
        Servers.Serve s = Servers.serve("--port", "0", "--context", "512");
        Process p = s.process();
        try {
            String url = s.url();
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
