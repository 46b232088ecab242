package dev.flashcl.internal.check;

/**
 * A case's worst element: its error and the bound it had to meet (the element whose error is the
 * largest fraction of its own bound). {@code error} NaN where a result was not finite; an exact
 * check has bound 0.
 */
public record Measure(double error, double bound, String where) {
    public static final Measure EXACT = new Measure(0, 0, "");

    public double ratio() {
        return bound == 0 ? (error == 0 ? 0 : Double.POSITIVE_INFINITY) : error / bound;
    }

    /** The worse of two, by ratio. */
    public Measure max(Measure o) {
        return o == null || ratio() >= o.ratio() ? this : o;
    }
}
