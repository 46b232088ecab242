package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.flashcl.TestJvm;
import dev.flashcl.cli.Main;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What deployment rests on, short of a container engine and a cluster (CI has neither): the
 * Dockerfile's command and environment run as the image would run them, healthy on its
 * HEALTHCHECK's path; the Kubernetes manifests probe, scrape and route to what that server
 * serves, and name only variables serve reads; the gateway's metric names are the server's own;
 * and one replica runs per OpenCL device on whatever devices this machine has (PoCL and, with
 * Mesa installed, rusticl's llvmpipe), each on the device its {@code --device} names.
 */
class DeployTest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The Dockerfile's last stage: ENV as a map, ENTRYPOINT and CMD (JSON form), the HEALTHCHECK command. */
    record Image(Map<String, String> env, List<String> entrypoint, List<String> cmd, String healthcheck) {
        static Image read(Path dockerfile) throws Exception {
            String text = Files.readString(dockerfile).replaceAll("\\\\\\n\\s*", " ");
            String last = text.substring(text.lastIndexOf("\nFROM "));
            Map<String, String> env = new LinkedHashMap<>();
            List<String> entry = List.of(), cmd = List.of();
            String health = null;
            for (String line : last.split("\n")) {
                line = line.strip();
                if (line.startsWith("ENV ")) {
                    Matcher m = Pattern.compile("(\\w+)=(\"[^\"]*\"|\\S+)").matcher(line.substring(4));
                    while (m.find()) env.put(m.group(1), m.group(2).replace("\"", ""));
                } else if (line.startsWith("ENTRYPOINT ")) {
                    entry = strings(line.substring(11));
                } else if (line.startsWith("CMD ")) {
                    cmd = strings(line.substring(4));
                } else if (line.startsWith("HEALTHCHECK ")) {
                    health = line.substring(line.indexOf(" CMD ") + 5);
                }
            }
            return new Image(env, entry, cmd, health);
        }

        private static List<String> strings(String json) throws Exception {
            List<String> out = new ArrayList<>();
            for (JsonNode n : JSON.readTree(json)) out.add(n.asText());
            return out;
        }
    }

    static List<JsonNode> yaml(Path file) throws Exception {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = new ObjectMapper(new YAMLFactory()).readerFor(JsonNode.class).readValues(file.toFile())) {
            while (it.hasNext()) docs.add(it.next());
        }
        return docs;
    }

    static JsonNode kind(List<JsonNode> docs, String kind) {
        return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).findFirst().orElseThrow(() -> new AssertionError("no " + kind));
    }

    static HttpResponse<String> get(String url) throws Exception {
        return Servers.HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The environment variables serve reads: one for each of its options. */
    static Set<String> serveVariables() {
        Set<String> out = new TreeSet<>();
        var serve = new picocli.CommandLine(Main.class).getSubcommands().get("serve");
        for (var o : serve.getCommandSpec().options()) {
            String name = o.longestName();
            if (Set.of("--help", "--version", "--verbose", "--quiet").contains(name)) continue;
            out.add(Main.serveVariable(name));
        }
        return out;
    }

    @Test
    void theImageServesAndTheManifestsAgreeWithIt() throws Exception {
        Image image = Image.read(Path.of("Dockerfile"));
        assertEquals(List.of("java", "-jar", "/opt/flashcl/flashcl.jar"), image.entrypoint(), "the image runs the runnable jar");
        assertEquals("serve", image.cmd().get(0));
        for (String v : image.env().keySet()) if (v.startsWith("FLASHCL_")) assertTrue(serveVariables().contains(v), v + " is read by serve: " + serveVariables());
        Map<String, String> env = new HashMap<>(image.env());
        env.keySet().removeIf(k -> !k.startsWith("FLASHCL_"));
        String imagePort = env.get("FLASHCL_PORT");
        env.put("FLASHCL_PORT", "0");   // the image's 8080 may be taken on a CI machine: any free port
        env.put("FLASHCL_CONTEXT", "256");
        Servers.Serve s = Servers.start(env, image.cmd().toArray(String[]::new));
        try {
            assertTrue(s.url().startsWith("http://" + image.env().get("FLASHCL_HOST") + ":"), "binds where FLASHCL_HOST says: " + s.url());
            String url = s.url().replace("0.0.0.0", "127.0.0.1");
            Matcher hc = Pattern.compile("http://127\\.0\\.0\\.1:\\$\\{FLASHCL_PORT}(/\\S*)\"").matcher(image.healthcheck());
            assertTrue(hc.find(), "HEALTHCHECK asks the server's own port: " + image.healthcheck());
            assertEquals(200, get(url + hc.group(1)).statusCode(), "healthy on the HEALTHCHECK's path " + hc.group(1));
            String metrics = get(url + "/metrics").body();

            // Kubernetes: probes, scraping and the Service point at what the server serves
            List<JsonNode> k8s = yaml(Path.of("deploy/kubernetes/flashcl.yaml"));
            JsonNode pod = kind(k8s, "Deployment").at("/spec/template"), c = pod.at("/spec/containers/0");
            Map<String, String> podEnv = new HashMap<>();
            for (JsonNode e : c.get("env")) {
                assertTrue(serveVariables().contains(e.get("name").asText()), e.get("name").asText() + " is read by serve");
                if (e.has("value")) podEnv.put(e.get("name").asText(), e.get("value").asText());
            }
            int containerPort = c.at("/ports/0/containerPort").asInt();
            assertEquals(Integer.parseInt(podEnv.getOrDefault("FLASHCL_PORT", imagePort)), containerPort, "the container port is the one serve listens on");
            assertEquals(imagePort, Integer.toString(containerPort));
            for (String probe : new String[] {"startupProbe", "readinessProbe", "livenessProbe"}) {
                assertEquals(hc.group(1), c.at("/" + probe + "/httpGet/path").asText(), probe);
                assertEquals(c.at("/ports/0/name").asText(), c.at("/" + probe + "/httpGet/port").asText(), probe + " on the named port");
            }
            assertEquals(1, c.at("/resources/limits").get("nvidia.com/gpu").asInt(), "one GPU a replica");
            JsonNode ann = pod.at("/metadata/annotations");
            assertEquals("true", ann.get("prometheus.io/scrape").asText());
            assertEquals(containerPort, ann.get("prometheus.io/port").asInt());
            assertTrue(get(url + ann.get("prometheus.io/path").asText()).body().contains("flashcl_num_requests_waiting"), "the scraped path is /metrics");
            assertEquals(kind(k8s, "Deployment").at("/spec/selector/matchLabels"), pod.at("/metadata/labels"));
            assertEquals(pod.at("/metadata/labels"), kind(k8s, "Service").at("/spec/selector"));
            assertEquals(c.at("/ports/0/name").asText(), kind(k8s, "Service").at("/spec/ports/0/targetPort").asText());

            // the Gateway API Inference Extension: the pool selects these pods on this port, and the
            // endpoint picker's metric names (in the file's install notes) are gauges the server exports
            Path gw = Path.of("deploy/kubernetes/gateway/inferencepool.yaml");
            JsonNode pool = kind(yaml(gw), "InferencePool");
            assertEquals(pod.at("/metadata/labels"), pool.at("/spec/selector/matchLabels"));
            assertEquals(containerPort, pool.at("/spec/targetPorts/0/number").asInt());
            assertEquals("InferencePool", kind(yaml(gw), "HTTPRoute").at("/spec/rules/0/backendRefs/0/kind").asText());
            Matcher flags = Pattern.compile("(total-queued-requests-metric|total-running-requests-metric|kv-cache-usage-percentage-metric)=(\\S+)")
                    .matcher(Files.readString(gw));
            int n = 0;
            for (; flags.find(); n++) {
                assertTrue(metrics.contains("# TYPE " + flags.group(2) + " gauge"), flags.group(1) + ": " + flags.group(2) + " is a gauge on /metrics");
            }
            assertEquals(3, n, "queue, running and KV-cache metrics named for the endpoint picker");
        } finally {
            s.process().destroy();
            s.process().waitFor();
        }
    }

    /** One replica per OpenCL device, as on a machine with several GPUs: each serves from the device its --device names. */
    @Test
    void oneReplicaPerDevice() throws Exception {
        Map<String, String> env = Map.of("RUSTICL_ENABLE", "llvmpipe");   // Mesa's CPU device, where Mesa is installed: a second device
        ProcessBuilder pb = TestJvm.java(Main.class, "devices");
        pb.environment().putAll(env);
        TestJvm.Run devices = TestJvm.run(pb, 60, false);
        assertEquals(0, devices.exit(), devices.output());
        Map<String, String> names = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^\\s+\\*? ?#(\\d+) \\w+: (.+)$").matcher(devices.output());
        while (m.find()) names.put(m.group(1), m.group(2).strip());
        assertFalse(names.isEmpty(), devices.output());
        List<Servers.Serve> replicas = new ArrayList<>();
        try {
            for (String index : names.keySet()) replicas.add(Servers.start(env, "serve", "--device", index, "--port", "0", "--context", "128"));
            String body = "{\"prompt\": \"def add(a, b):\\n\", \"max_tokens\": 8, \"temperature\": 0}";
            String first = null;
            int i = 0;
            for (String index : names.keySet()) {
                Servers.Serve r = replicas.get(i++);
                String log = String.join("\n", r.log());
                assertTrue(log.contains("device #" + index + " ") && log.contains(names.get(index)), "replica " + index + " on its device: " + log);
                HttpResponse<String> got = Servers.HTTP.send(HttpRequest.newBuilder(URI.create(r.url() + "/v1/completions")).timeout(Duration.ofSeconds(120))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, got.statusCode(), got.body());
                String text = JSON.readTree(got.body()).at("/choices/0/text").asText();
                if (first == null) first = text;
                else assertEquals(first, text, "the same greedy text on every device");
            }
        } finally {
            for (Servers.Serve r : replicas) r.process().destroy();
            for (Servers.Serve r : replicas) r.process().waitFor();
        }
    }
}
