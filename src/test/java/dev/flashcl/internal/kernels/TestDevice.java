package dev.flashcl.internal.kernels;

import dev.flashcl.internal.cl.ClContext;

/**
 * The device the kernel tests run on, opened once per JVM so that each program is built once:
 * the default choice (first GPU, else first device) unless -Dflashcl.device or FLASHCL_DEVICE
 * names another.
 */
public final class TestDevice {
    private static ClContext context;

    private TestDevice() {}

    public static synchronized ClContext context() {
        if (context == null) context = ClContext.open(null);
        return context;
    }
}
