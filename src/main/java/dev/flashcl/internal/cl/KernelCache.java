package dev.flashcl.internal.cl;

import static org.jocl.CL.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_program;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Program binaries on disk, keyed by a hash of (device, driver, platform version, options,
 * source): a kernel that takes NVIDIA's compiler 20 seconds loads in milliseconds the next time.
 * The directory is {@code $FLASHCL_KERNEL_CACHE} (or {@code -Dflashcl.kernelCache}), else
 * {@code ~/.cache/flashcl/kernels}; {@code off} disables it. A binary the driver refuses is
 * rebuilt from source; a cache that cannot be written is skipped with a debug line.
 */
public final class KernelCache {
    private static final Logger log = LoggerFactory.getLogger(KernelCache.class);
    private final Path file;   // null: caching off

    private KernelCache(Path file) {
        this.file = file;
    }

    static KernelCache forDevice(DeviceInfo device, String source, String options) {
        Path dir = directory();
        if (dir == null) return new KernelCache(null);
        String key = sha256(String.join("\n", device.name(), device.driverVersion(), device.platformName(),
                device.platformVersion(), options, source));
        return new KernelCache(dir.resolve(key + ".bin"));
    }

    /** flashcl's cache directory (models, tuning results): {@code -Dflashcl.cache}, else {@code FLASHCL_CACHE}, else {@code ~/.cache/flashcl}. */
    public static Path cacheRoot() {
        String prop = System.getProperty("flashcl.cache");
        if (prop != null && !prop.isEmpty()) return Path.of(prop);
        String env = System.getenv("FLASHCL_CACHE");
        return env != null && !env.isEmpty() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "flashcl");
    }

    static Path directory() {
        String configured = System.getProperty("flashcl.kernelCache", System.getenv("FLASHCL_KERNEL_CACHE"));
        if ("off".equalsIgnoreCase(configured)) return null;
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        String home = System.getProperty("user.home");
        return home == null ? null : Path.of(home, ".cache", "flashcl", "kernels");
    }

    /** A built program from the cached binary, or null when there is none or the driver refuses it. */
    cl_program load(cl_context context, cl_device_id device, String options) {
        if (file == null || !Files.isRegularFile(file)) return null;
        byte[] binary;
        try {
            binary = Files.readAllBytes(file);
        } catch (IOException e) {
            return null;
        }
        int[] err = new int[1];
        int[] status = new int[1];
        cl_program p = clCreateProgramWithBinary(context, 1, new cl_device_id[] {device}, new long[] {binary.length},
                new byte[][] {binary}, status, err);
        if (err[0] != CL_SUCCESS || status[0] != CL_SUCCESS) {
            if (p != null && err[0] == CL_SUCCESS) clReleaseProgram(p);
            log.debug("cached kernel binary {} refused ({}), rebuilding", file, err[0]);
            return null;
        }
        if (clBuildProgram(p, 1, new cl_device_id[] {device}, options, null, null) != CL_SUCCESS) {
            clReleaseProgram(p);
            return null;
        }
        return p;
    }

    void store(cl_program program, cl_device_id device) {
        if (file == null) return;
        try {
            long[] size = new long[1];
            ClException.check(clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, Sizeof.size_t, Pointer.to(size), null), "clGetProgramInfo");
            if (size[0] <= 0) return;
            byte[] binary = new byte[Math.toIntExact(size[0])];
            ClException.check(clGetProgramInfo(program, CL_PROGRAM_BINARIES, Sizeof.POINTER,
                    Pointer.to(new Pointer[] {Pointer.to(binary)}), null), "clGetProgramInfo");
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), "kernel", ".tmp");
            Files.write(tmp, binary);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | ClException | ArithmeticException e) {
            log.debug("kernel cache not written ({}): {}", file, e.getMessage());
        }
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
