package dev.flashcl.internal.check;

/** A case this device cannot run (no tensor-core kernels, say): neither a pass nor a failure. */
public final class Skipped extends RuntimeException {
    public Skipped(String reason) {
        super(reason, null, false, false);
    }
}
