package dev.flashcl.internal.cl;

import static org.jocl.CL.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.jocl.Pointer;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_program;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One device, its context and one in-order command queue with profiling on. Owns the programs it
 * built (cached by source and sorted defines) and counts the bytes of the buffers it allocated,
 * so that allocation failures can say how much is in use. Closing it releases the programs, the
 * queue, the context and any buffer still open.
 */
public final class ClContext implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClContext.class);

    private final DeviceInfo device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final Map<String, ClProgram> programs = new ConcurrentHashMap<>();
    private final Map<ClBuffer, Boolean> buffers = new ConcurrentHashMap<>();
    private long bytesInUse;
    private long peakBytes;
    private boolean closed;

    private ClContext(DeviceInfo device) {
        this.device = device;
        int[] err = new int[1];
        context = clCreateContext(null, 1, new cl_device_id[] {device.device()}, null, null, err);
        ClException.check(err[0], "clCreateContext on " + device.summary());
        @SuppressWarnings("deprecation") // clCreateCommandQueue is the call every OpenCL 1.2 driver has
        cl_command_queue q = clCreateCommandQueue(context, device.device(), CL_QUEUE_PROFILING_ENABLE, err);
        if (err[0] != CL_SUCCESS) {
            clReleaseContext(context);
            ClException.check(err[0], "clCreateCommandQueue on " + device.summary());
        }
        queue = q;
    }

    /** A context on the given device. */
    public static ClContext create(DeviceInfo device) {
        return new ClContext(device);
    }

    /** Selects a device by {@code spec} (see {@link Devices}) and logs which one and why. */
    public static ClContext open(String spec) {
        Devices.Selection s = Devices.select(spec);
        log.info("OpenCL device {}: {}", s.device().summary(), s.reason());
        return new ClContext(s.device());
    }

    public DeviceInfo device() {
        return device;
    }

    cl_context context() {
        return context;
    }

    cl_command_queue queue() {
        return queue;
    }

    /**
     * A device buffer of {@code bytes}. Refuses, naming the buffer and the numbers, one larger
     * than the device allows in one allocation or than the memory it has left.
     */
    public ClBuffer allocate(String name, long bytes) {
        ensureOpen();
        if (bytes <= 0) throw new IllegalArgumentException("buffer '" + name + "': size must be positive, got " + bytes);
        if (bytes > device.maxAllocBytes()) {
            throw new DeviceMemoryException(String.format(
                    "buffer '%s' needs %s but %s allows at most %s in one allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE); use smaller sizes",
                    name, Bytes.format(bytes), device.name(), Bytes.format(device.maxAllocBytes())));
        }
        synchronized (this) {
            if (bytesInUse + bytes > device.globalMemBytes()) {
                throw new DeviceMemoryException(String.format(
                        "buffer '%s' needs %s but only %s of %s's %s are free (%s held by flashcl); free buffers or use smaller sizes",
                        name, Bytes.format(bytes), Bytes.format(device.globalMemBytes() - bytesInUse), device.name(),
                        Bytes.format(device.globalMemBytes()), Bytes.format(bytesInUse)));
            }
        }
        int[] err = new int[1];
        var mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, err);
        try {
            ClException.check(err[0], "clCreateBuffer for '" + name + "' (" + Bytes.format(bytes) + ")");
        } catch (DeviceMemoryException e) {
            throw new DeviceMemoryException(String.format("%s; flashcl holds %s of %s's %s", e.getMessage(),
                    Bytes.format(bytesInUse()), device.name(), Bytes.format(device.globalMemBytes())), e.code());
        }
        ClBuffer b = new ClBuffer(this, mem, bytes, name);
        synchronized (this) {
            bytesInUse += bytes;
            peakBytes = Math.max(peakBytes, bytesInUse);
        }
        buffers.put(b, Boolean.TRUE);
        return b;
    }

    synchronized void released(ClBuffer b) {
        if (buffers.remove(b) != null) bytesInUse -= b.bytes();
    }

    /** Bytes held in this context's open buffers. */
    public synchronized long bytesInUse() {
        return bytesInUse;
    }

    /** One kernel execution of a trace: device timestamps in nanoseconds. */
    public record TraceEntry(String kernel, long start, long end) {}

    private volatile java.util.List<Object[]> trace;

    /** Starts recording every kernel launch (its profiling event) until {@link #stopTrace}. */
    public void startTrace() {
        trace = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    }

    boolean tracing() {
        return trace != null;
    }

    void traced(String kernel, org.jocl.cl_event ev) {
        trace.add(new Object[] {kernel, ev});
    }

    /** Waits for the traced launches and returns them in order with their device start and end times. */
    public java.util.List<TraceEntry> stopTrace() {
        finish();
        java.util.List<Object[]> t = trace;
        trace = null;
        java.util.List<TraceEntry> out = new java.util.ArrayList<>();
        for (Object[] e : t) {
            org.jocl.cl_event ev = (org.jocl.cl_event) e[1];
            long[] start = new long[1], end = new long[1];
            ClException.check(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, org.jocl.Sizeof.cl_ulong, Pointer.to(start), null), "profiling");
            ClException.check(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, org.jocl.Sizeof.cl_ulong, Pointer.to(end), null), "profiling");
            clReleaseEvent(ev);
            out.add(new TraceEntry((String) e[0], start[0], end[0]));
        }
        return out;
    }

    /** Buffers of this context not yet released. */
    public int openBuffers() {
        return buffers.size();
    }

    /** Programs this context built and holds (cached until it closes). */
    public int programCount() {
        return programs.size();
    }

    /** The most bytes held at once since the last {@link #resetPeak()}. */
    public synchronized long peakBytes() {
        return peakBytes;
    }

    public synchronized void resetPeak() {
        peakBytes = bytesInUse;
    }

    /**
     * Tests only (package-private): when set, every program of flash_attn.cl built afterwards
     * stores this output column 1% off, a wrong kernel that the correctness suite must catch.
     */
    static volatile Integer attentionFault;

    /**
     * The program built from {@code kernels/<file>} with {@code -D} defines, built once per
     * (source, sorted defines) in this context, and its binary kept in the {@link KernelCache} so
     * that the next process on this device and driver skips the compiler. A build failure throws
     * with the build log.
     */
    public ClProgram program(String file, Map<String, ?> defines) {
        ensureOpen();
        Integer fault = attentionFault;
        if (fault != null && file.equals("flash_attn.cl")) {
            Map<String, Object> d = new TreeMap<>(defines);
            d.put("FLASHCL_FAULT", fault);
            defines = d;
        }
        String options = options(defines);
        return programs.computeIfAbsent(file + "|" + options, key -> {
            long t0 = System.nanoTime();
            try {
                return loadOrBuild(file, options);
            } finally {
                buildNanos.addAndGet(System.nanoTime() - t0);
            }
        });
    }

    private final java.util.concurrent.atomic.AtomicLong buildNanos = new java.util.concurrent.atomic.AtomicLong();

    /** Time this context has spent building programs or loading them from the kernel cache. */
    public long programBuildNanos() {
        return buildNanos.get();
    }

    private ClProgram loadOrBuild(String file, String options) {
        String source = loadSource(file);
        KernelCache cache = KernelCache.forDevice(device, source, options);
        cl_program cached = cache.load(context, device.device(), options);
        if (cached != null) return new ClProgram(cached, file, options, KernelSignatures.parse(source));
        ClProgram built = build(file, source, options);
        cache.store(built.handle(), device.device());
        return built;
    }

    /**
     * {@link #program}, or empty when it does not build: for optional variants (the tensor-core
     * kernels) whose caller then builds its portable program. The failure, with the build log,
     * is logged as a warning naming {@code what}.
     */
    public java.util.Optional<ClProgram> tryProgram(String file, Map<String, ?> defines, String what) {
        try {
            return java.util.Optional.of(program(file, defines));
        } catch (ClException e) {
            log.warn("{} did not build on {}; using the portable kernels. {}", what, device.name(), e.getMessage());
            return java.util.Optional.empty();
        }
    }

    /** Builds from source text (tests and probes); not cached. */
    public ClProgram build(String name, String source, String options) {
        int[] err = new int[1];
        cl_program p = clCreateProgramWithSource(context, 1, new String[] {source}, null, err);
        ClException.check(err[0], "clCreateProgramWithSource for " + name);
        long t0 = System.nanoTime();
        int rc = clBuildProgram(p, 1, new cl_device_id[] {device.device()}, options, null, null);
        if (rc != CL_SUCCESS) {
            String buildLog = ClProgram.buildLog(p, device.device());
            clReleaseProgram(p);
            throw new ClException("kernel program " + name + " failed to build on " + device.name()
                    + " with options [" + options + "]: " + ClException.name(rc) + "\n--- build log ---\n" + buildLog, rc);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (ms > 2000) log.info("built {} [{}] in {} ms", name, options, ms);
        else log.debug("built {} [{}] in {} ms", name, options, ms);
        return new ClProgram(p, name, options, KernelSignatures.parse(source));
    }

    /**
     * Whether this device's compiler takes NVIDIA inline PTX: builds a kernel with one
     * {@code asm} statement. False on every non-NVIDIA device without trying.
     */
    public boolean probeInlinePtx() {
        if (!device.mayHaveInlinePtx()) return false;
        String src = "__kernel void probe(__global int* o) { int r; asm(\"mov.b32 %0, 7;\" : \"=r\"(r)); o[0] = r; }";
        try (ClProgram p = build("inline-ptx probe", src, "")) {
            return true;
        } catch (ClException e) {
            return false;
        }
    }

    private Boolean tensorCores;

    /**
     * Whether kernels may use tensor cores here through inline PTX ({@code mma.sync}): the device's
     * compiler takes inline PTX (probed once) and {@code -Dflashcl.tensorCores} (or
     * {@code FLASHCL_TENSOR_CORES}) is not {@code off}. A kernel family that then fails to build
     * its tensor-core kernels logs why and keeps its portable ones.
     */
    public synchronized boolean tensorCores() {
        if (tensorCores == null) tensorCores = tensorCoresAllowed() && probeInlinePtx();
        return tensorCores;
    }

    /** False when {@code -Dflashcl.tensorCores} or {@code FLASHCL_TENSOR_CORES} is {@code off} (or 0, false, no). */
    public static boolean tensorCoresAllowed() {
        String v = System.getProperty("flashcl.tensorCores", System.getenv("FLASHCL_TENSOR_CORES"));
        return v == null || !v.trim().toLowerCase(java.util.Locale.ROOT).matches("off|0|false|no");
    }

    static String options(Map<String, ?> defines) {
        StringBuilder sb = new StringBuilder();
        new TreeMap<>(defines).forEach((k, v) -> sb.append(sb.isEmpty() ? "" : " ").append("-D").append(k).append('=').append(v));
        return sb.toString();
    }

    /**
     * The source of {@code kernels/<file>} from the classpath, each {@code #include "other.cl"}
     * line replaced by that file's source (once per file): the kernels ship inside the jar, where
     * the OpenCL compiler's {@code -I} cannot reach them.
     */
    static String loadSource(String file) {
        return loadSource(file, new java.util.HashSet<>());
    }

    private static String loadSource(String file, java.util.Set<String> included) {
        included.add(file);
        String text;
        try (InputStream in = ClContext.class.getResourceAsStream("/kernels/" + file)) {
            if (in == null) throw new ClException("kernel source kernels/" + file + " is not on the classpath (is the jar complete?)");
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ClException("cannot read kernel source kernels/" + file + ": " + e.getMessage());
        }
        java.util.regex.Matcher m = INCLUDE.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String other = m.group(1);
            m.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(included.contains(other) ? "" : loadSource(other, included)));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static final java.util.regex.Pattern INCLUDE = java.util.regex.Pattern.compile("(?m)^[ \\t]*#[ \\t]*include[ \\t]+\"([\\w.-]+)\"[ \\t]*$");

    /** Waits for every enqueued command. */
    public void finish() {
        ClException.check(clFinish(queue), "clFinish");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("this ClContext is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        clFinish(queue);
        for (ClBuffer b : buffers.keySet().toArray(new ClBuffer[0])) b.close();
        for (ClProgram p : programs.values()) p.close();
        programs.clear();
        clReleaseCommandQueue(queue);
        clReleaseContext(context);
    }
}
