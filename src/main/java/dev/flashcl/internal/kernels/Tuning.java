package dev.flashcl.internal.kernels;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flashcl.internal.cl.DeviceInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code flashcl tune} measured fastest on a device: the prefill tile and the decode
 * work-group per (head_dim, storage), and entries that model code names (the Phi decode GEMVs' shape), kept in {@code ~/.cache/flashcl/tuning.json}
 * ({@code FLASHCL_CACHE} moves it) under the device's name and driver version, so a new driver
 * is tuned afresh. Devices never tuned get the defaults ({@link PrefillTiles#defaultFor},
 * {@link FlashAttention#defaultDecodeWg}); {@code -Dflashcl.tuning=off} ignores the file,
 * {@code -Dflashcl.tuningFile=PATH} uses another.
 */
public final class Tuning {
    private static final Logger log = LoggerFactory.getLogger(Tuning.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Tuning() {}

    public static Path file() {
        String forced = System.getProperty("flashcl.tuningFile");
        if (forced != null) return Path.of(forced);
        return dev.flashcl.internal.cl.KernelCache.cacheRoot().resolve("tuning.json");
    }

    static String deviceKey(DeviceInfo d) {
        return d.name() + " | " + d.driverVersion();
    }

    static String shapeKey(int headDim, Storage s) {
        return "head_dim " + headDim + " " + s.suffix;
    }

    private static ObjectNode read() {
        if ("off".equals(System.getProperty("flashcl.tuning"))) return JSON.createObjectNode();
        Path f = file();
        if (!Files.isRegularFile(f)) return JSON.createObjectNode();
        try {
            var n = JSON.readTree(f.toFile());
            return n instanceof ObjectNode o ? o : JSON.createObjectNode();
        } catch (IOException e) {
            log.warn("ignoring unreadable tuning file {}: {}", f, e.getMessage());
            return JSON.createObjectNode();
        }
    }

    /** The tuned prefill tile, if this device and driver were tuned at this shape and the tile still fits. */
    public static Optional<PrefillTiles> prefillTiles(DeviceInfo d, int headDim, Storage s) {
        String t = read().path(deviceKey(d)).path(shapeKey(headDim, s)).path("prefill_tile").asText("");
        return PrefillTiles.candidates(d, headDim).stream().filter(c -> c.toString().equals(t)).findFirst();
    }

    /** The tuned decode work-group size, if any and it still fits. */
    public static OptionalInt decodeWg(DeviceInfo d, int headDim, Storage s) {
        int wg = read().path(deviceKey(d)).path(shapeKey(headDim, s)).path("decode_wg").asInt(0);
        return wg > 0 && FlashAttention.decodeFits(d, headDim, wg) ? OptionalInt.of(wg) : OptionalInt.empty();
    }

    /** The entry {@code key} stored for this device and driver (a missing node when none): model code keeps its own shapes here. */
    public static com.fasterxml.jackson.databind.JsonNode entry(DeviceInfo d, String key) {
        return read().path(deviceKey(d)).path(key);
    }

    /** Records a tuning result (with what was measured, for the record) and returns the file written. */
    public static synchronized Path store(DeviceInfo d, int headDim, Storage s, PrefillTiles tile, int decodeWg, Map<String, Object> measured)
            throws IOException {
        ObjectNode all = read();
        ObjectNode shape = device(all, d).putObject(shapeKey(headDim, s));
        shape.put("prefill_tile", tile.toString());
        shape.put("decode_wg", decodeWg);
        shape.set("measured", JSON.valueToTree(measured));
        return write(all);
    }

    /** Records {@code fields} (with what was measured, for the record) as the entry {@code key} of this device; other entries stay. */
    public static synchronized Path storeEntry(DeviceInfo d, String key, Map<String, Object> fields, Map<String, Object> measured) throws IOException {
        ObjectNode all = read();
        ObjectNode entry = device(all, d).putObject(key);
        fields.forEach((k, v) -> entry.set(k, JSON.valueToTree(v)));
        entry.set("measured", JSON.valueToTree(measured));
        return write(all);
    }

    private static ObjectNode device(ObjectNode all, DeviceInfo d) {
        return all.has(deviceKey(d)) && all.get(deviceKey(d)) instanceof ObjectNode o ? o : all.putObject(deviceKey(d));
    }

    private static Path write(ObjectNode all) throws IOException {
        Path f = file();
        Files.createDirectories(f.getParent());
        Path tmp = f.resolveSibling("tuning.json.part");
        JSON.writeValue(tmp.toFile(), all);
        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return f;
    }
}
