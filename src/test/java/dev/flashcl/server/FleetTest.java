package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.internal.kernels.TestDevice;
import java.io.File;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet on existing machinery: two {@code flashcl serve} replicas (the embedded model, each its
 * own process) behind nginx (Debian's package, started here on loopback ports with a generated
 * config) as the load balancer. Eight concurrent clients get complete responses from both
 * replicas, each the text its request gets sent alone to a replica (the replicas taking turns:
 * ServerTest holds that text to the library's); one replica is killed (SIGKILL) mid-run and the
 * clients' retries succeed through the other; afterwards nothing is left running.
 *
 * <p>Where nginx is missing the test is skipped, unless {@code FLASHCL_NGINX=required}
 * ({@code ./flashcl test} installs nginx and sets it), when it fails.
 */
class FleetTest {
    static final int CLIENTS = 8, PER_CLIENT = 4, TOKENS = 24;
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    @TempDir Path tmp;

    static Servers.Serve replica(String device) throws Exception {
        return Servers.serve("--port", "0", "--context", "256", "--device", device, "--model-name", "phi");
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static double tokens(Servers.Serve r) throws Exception {
        return Servers.metric(r.url(), "flashcl_generation_tokens_total");
    }

    static String complete(String url, String prompt) throws Exception {
        String body = new ObjectMapper().createObjectNode().put("prompt", prompt).put("max_tokens", TOKENS).put("temperature", 0).toString();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/completions")).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return new ObjectMapper().readTree(r.body()).get("choices").get(0).get("text").asText();
    }

    static String prompt(int client, int i) {
        return "def f" + client + "_" + i + "(x):\n";
    }

    @Test
    void twoReplicasBehindNginxServeAndSurviveOneKilled() throws Exception {
        File nginx = new File("/usr/sbin/nginx");
        if (!nginx.canExecute()) {
            String why = "no /usr/sbin/nginx (Debian: apt-get install nginx; ./flashcl test installs it)";
            if ("required".equals(System.getenv("FLASHCL_NGINX"))) fail(why);
            Assumptions.abort(why);
        }
        String device = Integer.toString(TestDevice.context().device().index());
        List<Process> all = new ArrayList<>();
        try {
            Servers.Serve a = replica(device), b = replica(device);
            all.add(a.process());
            all.add(b.process());
            java.util.Map<String, String> alone = new java.util.HashMap<>();
            for (int c = 0; c < CLIENTS; c++) for (int i = 0; i < PER_CLIENT; i++) alone.put(prompt(c, i), complete((c + i) % 2 == 0 ? a.url() : b.url(), prompt(c, i)));
            int port = freePort();
            Files.createDirectories(tmp.resolve("logs"));
            String upstream = "server " + URI.create(a.url()).getAuthority() + " max_fails=1 fail_timeout=30s;\n    server " + URI.create(b.url()).getAuthority()
                    + " max_fails=1 fail_timeout=30s;";
            Files.writeString(tmp.resolve("nginx.conf"), """
                    daemon off;
                    worker_processes 1;
                    pid %1$s/nginx.pid;
                    error_log %1$s/logs/error.log;
                    events { worker_connections 256; }
                    http {
                      access_log off;
                      client_body_temp_path %1$s/body; proxy_temp_path %1$s/proxy; fastcgi_temp_path %1$s/fastcgi;
                      uwsgi_temp_path %1$s/uwsgi; scgi_temp_path %1$s/scgi;
                      upstream flashcl {
                        %2$s
                      }
                      server {
                        listen 127.0.0.1:%3$d;
                        location / {
                          proxy_pass http://flashcl;
                          proxy_http_version 1.1;
                          proxy_set_header Connection "";
                          proxy_buffering off;
                          proxy_read_timeout 120s;
                          proxy_next_upstream error timeout http_502 http_503;
                        }
                      }
                    }
                    """.formatted(tmp, upstream, port));
            Process lb = new ProcessBuilder(nginx.getPath(), "-p", tmp.toString(), "-e", tmp.resolve("logs/error.log").toString(), "-c", tmp.resolve("nginx.conf").toString())
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("logs/nginx.out").toFile()).start();
            all.add(lb);
            long deadline = System.nanoTime() + 20_000_000_000L;
            for (boolean up = false; !up; Thread.sleep(50)) {
                assertTrue(lb.isAlive(), "nginx runs: " + Files.readString(tmp.resolve("logs/nginx.out")));
                assertTrue(System.nanoTime() < deadline, "nginx listens on " + port);
                try (Socket s = new Socket("127.0.0.1", port)) {
                    up = true;
                } catch (java.io.IOException e) {
                    // not yet
                }
            }
            String base = "http://127.0.0.1:" + port;

            AtomicInteger done = new AtomicInteger(), retries = new AtomicInteger();
            ObjectMapper json = new ObjectMapper();
            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            List<Future<List<String[]>>> clients = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                clients.add(pool.submit(() -> {
                    List<String[]> got = new ArrayList<>();
                    for (int i = 0; i < PER_CLIENT; i++) {
                        String body = json.createObjectNode().put("prompt", prompt(client, i)).put("max_tokens", TOKENS).put("temperature", 0).toString();
                        for (int attempt = 1; ; attempt++) {   // a client's retry policy: a failed connection or a gateway error, again
                            try {
                                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions")).timeout(Duration.ofSeconds(120))
                                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                                if (r.statusCode() == 200) {
                                    JsonNode j = json.readTree(r.body());
                                    got.add(new String[] {prompt(client, i), j.get("choices").get(0).get("text").asText(), j.get("choices").get(0).get("finish_reason").asText()});
                                    break;
                                }
                                if (r.statusCode() < 502 || attempt == 5) throw new AssertionError("status " + r.statusCode() + " after " + attempt + " attempts: " + r.body());
                            } catch (java.io.IOException e) {
                                if (attempt == 5) throw e;
                            }
                            retries.incrementAndGet();
                            Thread.sleep(200);
                        }
                        done.incrementAndGet();
                    }
                    return got;
                }));
            }
            long killBy = System.nanoTime() + 120_000_000_000L;
            while (done.get() < CLIENTS && System.nanoTime() < killBy) Thread.sleep(20);
            double aBefore = tokens(a), bBefore = tokens(b);
            assertTrue(aBefore > 0 && bBefore > 0, "both replicas served before one was killed: " + aBefore + ", " + bBefore + " tokens");
            a.process().destroyForcibly();   // SIGKILL, mid-run
            assertTrue(a.process().waitFor(10, TimeUnit.SECONDS));
            int before = done.get();
            List<String[]> results = new ArrayList<>();
            for (Future<List<String[]>> f : clients) results.addAll(f.get(300, TimeUnit.SECONDS));
            pool.shutdown();
            assertEquals(CLIENTS * PER_CLIENT, results.size());
            assertTrue(before < CLIENTS * PER_CLIENT, "requests were still to come when the replica died");
            assertTrue(tokens(b) > bBefore, "the survivor served the rest");
            for (String[] r : results) {
                assertEquals(alone.get(r[0]), r[1], "the completion of " + r[0].strip() + " through nginx, under load");
                assertEquals("length", r[2], "complete: all " + TOKENS + " tokens");
            }
            System.out.printf("fleet: %d requests, %d done before the kill, %d retries%n", results.size(), before, retries.get());
        } finally {
            for (Process p : all) p.destroyForcibly();
            for (Process p : all) assertTrue(p.waitFor(15, TimeUnit.SECONDS), "nothing left running");
        }
        for (Process p : all) assertFalse(p.isAlive());
    }
}
