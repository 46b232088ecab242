package dev.flashcl.internal.kernels;

import dev.flashcl.internal.check.CheckCase;
import dev.flashcl.internal.check.CheckRig;
import dev.flashcl.internal.check.Measure;
import dev.flashcl.internal.check.Skipped;
import org.junit.jupiter.api.Assumptions;

/** The suite's cases (dev.flashcl.internal.check, which {@code flashcl check} runs too) on the test device: a skip becomes a JUnit assumption. */
public final class CheckCases {
    private static CheckRig rig;

    private CheckCases() {}

    public static synchronized CheckRig rig() {
        if (rig == null) rig = new CheckRig(TestDevice.context());
        return rig;
    }

    public static Measure run(CheckCase c) {
        try {
            return c.run(rig());
        } catch (Skipped s) {
            Assumptions.abort(s.getMessage());
            return null;
        }
    }

    /** Releases the kernels and buffers the cases built (each test class calls it when it ends). */
    public static synchronized void release() {
        if (rig != null) rig.close();
        rig = null;
    }
}
