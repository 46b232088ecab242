package dev.flashcl.internal.cl;

import static org.jocl.CL.*;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_event;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * A kernel with its arguments, set by the names the kernel's source declares (read by
 * {@link KernelSignatures}; the count is checked against the compiled kernel's). Arguments stay
 * bound between launches, so a caller sets what changes and launches again.
 * {@link #launchTimed} returns the device time from profiling events.
 */
public final class ClKernel implements AutoCloseable {
    private final cl_kernel kernel;
    private final String name;
    private final Map<String, Integer> index = new HashMap<>();
    private final List<String> argNames;
    private boolean released;

    private static final java.util.concurrent.atomic.AtomicInteger LIVE = new java.util.concurrent.atomic.AtomicInteger();

    ClKernel(cl_kernel kernel, String name, List<String> argNames) {
        this.kernel = kernel;
        this.name = name;
        this.argNames = argNames;
        LIVE.incrementAndGet();
        int[] count = new int[1];
        int err = clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, Sizeof.cl_uint, Pointer.to(count), null);
        if (err != CL_SUCCESS || count[0] != argNames.size()) {
            close();
            ClException.check(err, "clGetKernelInfo of " + name);
            throw new ClException("kernel " + name + " takes " + count[0] + " arguments but its source was read as " + argNames.size() + " " + argNames);
        }
        for (int i = 0; i < argNames.size(); i++) index.put(argNames.get(i), i);
    }

    /** Kernel objects created and not yet released, in this process (leak checks). */
    public static int live() {
        return LIVE.get();
    }

    public String name() {
        return name;
    }

    /** The argument names, in the kernel's order. */
    public List<String> argNames() {
        return argNames;
    }

    /** A buffer argument. */
    public ClKernel arg(String arg, ClBuffer buffer) {
        return set(arg, Sizeof.cl_mem, Pointer.to(buffer.mem()));
    }

    /** A null global pointer: the kernel tests for it (optional outputs). */
    public ClKernel argNull(String arg) {
        return set(arg, Sizeof.cl_mem, null);
    }

    /** A buffer, or a null pointer where {@code buffer} is null (an optional output). */
    public ClKernel argOrNull(String arg, ClBuffer buffer) {
        return buffer == null ? argNull(arg) : arg(arg, buffer);
    }

    /** An {@code int} argument. */
    public ClKernel arg(String arg, int value) {
        return set(arg, Sizeof.cl_int, Pointer.to(new int[] {value}));
    }

    /** A {@code float} argument. */
    public ClKernel arg(String arg, float value) {
        return set(arg, Sizeof.cl_float, Pointer.to(new float[] {value}));
    }

    /** An {@code int4} argument. */
    public ClKernel arg4(String arg, int x, int y, int z, int w) {
        return set(arg, Sizeof.cl_int4, Pointer.to(new int[] {x, y, z, w}));
    }

    private ClKernel set(String arg, long size, Pointer value) {
        Integer i = index.get(arg);
        if (i == null) throw new IllegalArgumentException("kernel " + name + " has no argument '" + arg + "'; it takes " + argNames);
        int err = clSetKernelArg(kernel, i, size, value);
        if (err != CL_SUCCESS) ClException.check(err, "clSetKernelArg " + arg + " of " + name);   // the message only on failure: decode sets arguments every step
        return this;
    }

    /** Enqueues over {@code global} work-items in groups of {@code local} (null: the driver picks). */
    public void launch(ClContext ctx, long[] global, long[] local) {
        enqueue(ctx, global, local, null);
    }

    /** Enqueues; with a timer, also waits and adds the kernel's device time to it. */
    public void launch(ClContext ctx, long[] global, long[] local, KernelTimer timer) {
        if (timer == null) launch(ctx, global, local);
        else timer.add(launchTimed(ctx, global, local));
    }

    /** Launches, waits, and returns the kernel's device time in nanoseconds from its profiling event. */
    public long launchTimed(ClContext ctx, long[] global, long[] local) {
        cl_event ev = new cl_event();
        enqueue(ctx, global, local, ev);
        try {
            ClException.check(clWaitForEvents(1, new cl_event[] {ev}), "clWaitForEvents for " + name);
            long[] start = new long[1];
            long[] end = new long[1];
            ClException.check(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, Sizeof.cl_ulong, Pointer.to(start), null), "profiling " + name);
            ClException.check(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, Sizeof.cl_ulong, Pointer.to(end), null), "profiling " + name);
            return end[0] - start[0];
        } finally {
            clReleaseEvent(ev);
        }
    }

    private void enqueue(ClContext ctx, long[] global, long[] local, cl_event ev) {
        if (ev == null && ctx.tracing()) {   // a traced run: every launch keeps its event for ClContext.stopTrace
            cl_event traced = new cl_event();
            enqueue(ctx, global, local, traced);
            ctx.traced(name, traced);
            return;
        }
        int err = clEnqueueNDRangeKernel(ctx.queue(), kernel, global.length, null, global, local, 0, null, ev);
        if (err != CL_SUCCESS) {   // the message only on failure: a decode step enqueues 164 kernels
            ClException.check(err, "clEnqueueNDRangeKernel " + name + " (global " + java.util.Arrays.toString(global) + ", local " + java.util.Arrays.toString(local) + ")");
        }
    }

    @Override
    public void close() {
        if (released) return;
        released = true;
        clReleaseKernel(kernel);
        LIVE.decrementAndGet();
    }
}
