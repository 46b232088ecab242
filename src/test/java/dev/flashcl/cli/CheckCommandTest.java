package dev.flashcl.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.internal.cl.Faults;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flashcl check} on the test device: the quick attention and model families pass, with a
 * report (table and JSON) that agrees with itself; with a deliberately wrong attention kernel
 * (output column 5 stored 1% off) it fails, exit 1, and names that column as the worst element;
 * a family it does not know is a one-line error.
 */
class CheckCommandTest {
    @TempDir Path tmp;

    record Run(int rc, String out, String err) {}

    static Run check(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            rc = Main.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    @Test
    void quickAttentionAndModelPass() throws Exception {
        Path json = tmp.resolve("check.json");
        Run r = check("check", "--quick", "--kernels", "attention,model", "--json", json.toString());
        assertEquals(0, r.rc(), r.out() + r.err());
        JsonNode rep = new ObjectMapper().readTree(json.toFile());
        assertTrue(rep.get("summary").get("passed").asBoolean());
        assertEquals("quick", rep.get("mode").asText());
        assertFalse(rep.get("machine").get("driver").asText().isBlank());
        int cases = rep.get("cases").size(), passed = 0;
        boolean model = false;
        for (JsonNode c : rep.get("cases")) {
            String status = c.get("status").asText();
            assertNotEquals("FAIL", status, c.toString());
            if (status.equals("PASS")) {
                passed++;
                assertTrue(c.get("error").asDouble() <= c.get("bound").asDouble() || c.get("bound").asDouble() == 0, c.toString());
                assertTrue(r.out().lines().anyMatch(l -> l.startsWith("PASS") && l.contains(c.get("name").asText())), "a table row for " + c.get("name"));
            }
            model |= c.get("family").asText().equals("model");
        }
        assertTrue(model, "the model family ran");
        assertTrue(passed > 40, "passed " + passed + " of " + cases);
        String summary = "PASS: " + cases + " cases, " + passed + " passed, 0 failed";
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith(summary)), r.out());
    }

    @Test
    void aWrongKernelFailsWithItsWorstElement() throws Exception {
        Path json = tmp.resolve("fault.json");
        Run r;
        try (AutoCloseable fault = Faults.attention(5)) {
            r = check("check", "--quick", "--kernels", "attention", "--case", "d80", "--json", json.toString());
        }
        assertEquals(1, r.rc(), r.out() + r.err());
        JsonNode rep = new ObjectMapper().readTree(json.toFile());
        assertFalse(rep.get("summary").get("passed").asBoolean());
        int failed = 0;
        for (JsonNode c : rep.get("cases")) {
            if (!c.get("status").asText().equals("FAIL")) continue;
            failed++;
            assertTrue(c.get("where").asText().endsWith("d=5]"), "the worst element is in the broken column: " + c);
            assertTrue(c.get("message").asText().contains("worst element"), c.toString());
            assertTrue(c.get("ratio").isNull() || c.get("ratio").asDouble() > 1, c.toString());
        }
        assertEquals(rep.get("summary").get("failed").asInt(), failed);
        int ran = 0;
        for (JsonNode c : rep.get("cases")) if (!c.get("status").asText().equals("SKIP")) ran++;
        assertTrue(ran >= 10, r.out());
        assertEquals(ran, failed, "every case at head_dim 80, prefill and decode, runs the broken kernel and fails:\n" + r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("FAIL: ")), r.out());
        assertTrue(r.out().contains("d=5]"), "the table names the element: " + r.out());
    }

    @Test
    void anUnknownFamilyIsOneLine() {
        Run r = check("check", "--kernels", "attention,gemm", "--device", CliTest.NO_DEVICE);
        assertEquals(1, r.rc());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("flashcl: ")).count(), r.err());
        assertTrue(r.err().contains("--kernels: unknown family 'gemm'; choose from attention, phi, quant, model"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }
}
