package dev.flashcl.internal.cl;

/** Wrong kernels on purpose, for tests that prove the correctness suite catches them. */
public final class Faults {
    private Faults() {}

    /** Until closed, flash_attn.cl programs built in new contexts store output column {@code column} 1% off. */
    public static AutoCloseable attention(int column) {
        ClContext.attentionFault = column;
        return () -> ClContext.attentionFault = null;
    }
}
