package dev.flashcl.internal.cl;

import static org.jocl.CL.*;

import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_mem;

/** A device buffer owned by whoever allocated it; closing releases it (once). Transfers block. */
public final class ClBuffer implements AutoCloseable {
    private final ClContext ctx;
    private final cl_mem mem;
    private final long bytes;
    private final String name;
    private boolean released;

    ClBuffer(ClContext ctx, cl_mem mem, long bytes, String name) {
        this.ctx = ctx;
        this.mem = mem;
        this.bytes = bytes;
        this.name = name;
    }

    public long bytes() {
        return bytes;
    }

    public String name() {
        return name;
    }

    cl_mem mem() {
        if (released) throw new IllegalStateException("buffer '" + name + "' was released");
        return mem;
    }

    public void write(float[] data) {
        write(Pointer.to(data), (long) data.length * Sizeof.cl_float);
    }

    public void write(short[] data) {
        write(Pointer.to(data), (long) data.length * Sizeof.cl_short);
    }

    public void write(int[] data) {
        write(Pointer.to(data), (long) data.length * Sizeof.cl_int);
    }

    public void read(float[] out) {
        read(Pointer.to(out), (long) out.length * Sizeof.cl_float);
    }

    public void read(short[] out) {
        read(Pointer.to(out), (long) out.length * Sizeof.cl_short);
    }

    public void read(int[] out) {
        read(Pointer.to(out), (long) out.length * Sizeof.cl_int);
    }

    /** Writes {@code data} (a direct buffer, position to limit) at {@code offsetBytes}. Blocks until copied. */
    public void write(long offsetBytes, java.nio.ByteBuffer data) {
        long size = data.remaining();
        if (offsetBytes < 0 || offsetBytes + size > bytes) {
            throw new IllegalArgumentException("cannot write " + size + " bytes at " + offsetBytes + ": buffer '" + name + "' holds " + bytes);
        }
        ClException.check(clEnqueueWriteBuffer(ctx.queue(), mem(), CL_TRUE, offsetBytes, size, Pointer.to(data), 0, null, null),
                "clEnqueueWriteBuffer to '" + name + "'");
    }

    /** Reads {@code out.length} floats starting at float index {@code offset}. */
    public void read(float[] out, long offset) {
        long size = (long) out.length * Sizeof.cl_float;
        if (offset < 0 || offset * Sizeof.cl_float + size > bytes) {
            throw new IllegalArgumentException("cannot read " + out.length + " floats at " + offset + ": buffer '" + name + "' holds " + bytes + " bytes");
        }
        ClException.check(clEnqueueReadBuffer(ctx.queue(), mem(), CL_TRUE, offset * Sizeof.cl_float, size, Pointer.to(out), 0, null, null),
                "clEnqueueReadBuffer from '" + name + "'");
    }

    private void write(Pointer p, long size) {
        checkSize(size, "write");
        ClException.check(clEnqueueWriteBuffer(ctx.queue(), mem(), CL_TRUE, 0, size, p, 0, null, null), "clEnqueueWriteBuffer to '" + name + "'");
    }

    private void read(Pointer p, long size) {
        checkSize(size, "read");
        ClException.check(clEnqueueReadBuffer(ctx.queue(), mem(), CL_TRUE, 0, size, p, 0, null, null), "clEnqueueReadBuffer from '" + name + "'");
    }

    /** Fills the whole buffer with a repeated 4-byte pattern (poison before a test, zeros before use). */
    public void fill(int pattern) {
        if (bytes % 4 != 0) throw new IllegalArgumentException("buffer '" + name + "' is not a whole number of 4-byte words");
        ClException.check(clEnqueueFillBuffer(ctx.queue(), mem(), Pointer.to(new int[] {pattern}), Sizeof.cl_int, 0, bytes, 0, null, null),
                "clEnqueueFillBuffer on '" + name + "'");
    }

    private void checkSize(long size, String what) {
        if (size > bytes) throw new IllegalArgumentException("cannot " + what + " " + size + " bytes: buffer '" + name + "' holds " + bytes);
    }

    @Override
    public void close() {
        if (released) return;
        released = true;
        clReleaseMemObject(mem);
        ctx.released(this);
    }
}
