package dev.flashcl.internal.check;

/**
 * One case of the correctness suite: a kernel family ({@code attention}, {@code phi},
 * {@code quant}, {@code model}), a name that says the shape, and the body that runs it on a rig
 * against its fp64 (or transformers') reference. The body returns the worst element, throws
 * {@link CheckFailure} when it is over its bound, {@link Skipped} when the device cannot run it.
 */
public record CheckCase(String family, String name, Body body) {
    public interface Body {
        Measure run(CheckRig rig);
    }

    public Measure run(CheckRig rig) {
        return body.run(rig);
    }

    @Override
    public String toString() {
        return name;
    }
}
