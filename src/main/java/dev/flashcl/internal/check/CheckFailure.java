package dev.flashcl.internal.check;

/**
 * A kernel's result outside its bound, with the worst element in the message. An
 * {@link AssertionError}, so that JUnit reports it as a failed test and {@code flashcl check} as a
 * failed case.
 */
public final class CheckFailure extends AssertionError {
    private final Measure measure;

    public CheckFailure(String message) {
        this(message, null);
    }

    public CheckFailure(String message, Measure measure) {
        super(message);
        this.measure = measure;
    }

    /** The worst element's error and bound, where the check measured one. */
    public Measure measure() {
        return measure;
    }
}
