package dev.flashcl.internal.cl;

/** Adds up device time of timed launches (from OpenCL profiling events). */
public final class KernelTimer {
    private long nanos;
    private int launches;

    void add(long ns) {
        nanos += ns;
        launches++;
    }

    public long nanos() {
        return nanos;
    }

    public int launches() {
        return launches;
    }

    public void reset() {
        nanos = 0;
        launches = 0;
    }
}
