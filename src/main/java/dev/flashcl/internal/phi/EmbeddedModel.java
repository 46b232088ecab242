package dev.flashcl.internal.phi;

import dev.flashcl.internal.checkpoint.CheckpointException;
import dev.flashcl.internal.cl.KernelCache;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The small Phi model inside the jar ({@code testdata/embedded}), unpacked to
 * {@code <cache>/models/embedded-<digest>/} on first use. The jar carries a SHA-256 list of its
 * files; an unpacked file whose size or digest differs (a run killed while unpacking, a disk
 * error) is unpacked again, so a damaged cache never fails later runs.
 */
public final class EmbeddedModel {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedModel.class);
    private static final String ROOT = "/models/embedded/";

    private EmbeddedModel() {}

    /** The unpacked directory, checked file by file against the jar's digests and repaired where needed. */
    public static synchronized Path directory() {
        Map<String, String> sums = sums();
        String key = digest(String.join("\n", sums.values()).getBytes(StandardCharsets.UTF_8)).substring(0, 12);
        Path dir = KernelCache.cacheRoot().resolve("models/embedded-" + key);
        try {
            Files.createDirectories(dir);
            for (var e : sums.entrySet()) {
                Path f = dir.resolve(e.getKey());
                if (Files.isRegularFile(f) && digest(Files.readAllBytes(f)).equals(e.getValue())) continue;
                if (Files.exists(f)) log.warn("the unpacked embedded model's {} is damaged; unpacking it again", f);
                try (InputStream in = resource(e.getKey())) {
                    Path tmp = dir.resolve(e.getKey() + ".part");
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    if (!digest(Files.readAllBytes(tmp)).equals(e.getValue())) {
                        throw new CheckpointException("the embedded model's " + e.getKey() + " in this jar does not match its SHA-256; the jar is damaged");
                    }
                    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                }
            }
        } catch (IOException e) {
            throw new CheckpointException("cannot unpack the embedded model to " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }

    /** File name to SHA-256 (hex), from the jar's SHA256SUMS. */
    static Map<String, String> sums() {
        Map<String, String> out = new LinkedHashMap<>();
        try (InputStream in = resource("SHA256SUMS")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank()) continue;
                String[] parts = line.trim().split("\\s+", 2);
                out.put(parts[1], parts[0]);
            }
        } catch (IOException e) {
            throw new CheckpointException("cannot read the embedded model's SHA256SUMS from the jar: " + e.getMessage(), e);
        }
        return out;
    }

    private static InputStream resource(String name) {
        InputStream in = EmbeddedModel.class.getResourceAsStream(ROOT + name);
        if (in == null) throw new CheckpointException("the embedded model's " + name + " is not in this jar; give a model directory");
        return in;
    }

    static String digest(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
