package dev.flashcl.internal.check;

import java.util.Locale;

/**
 * Elementwise comparisons of one case against its reference: keeps the worst element (largest
 * error as a fraction of its bound) and fails, at {@link #done}, with that element.
 */
public final class Tally {
    private final String what;
    private double error = 0, bound = 0, ratio = -1;
    private String where = "", detail = "";

    public Tally(String what) {
        this.what = what;
    }

    /** |want - got| must be within tol; a non-finite got fails. */
    public void close(String at, double want, double got, double tol) {
        double err = Math.abs(want - got);
        double r = Double.isFinite(got) ? (tol == 0 ? (err == 0 ? 0 : Double.POSITIVE_INFINITY) : err / tol) : Double.POSITIVE_INFINITY;
        if (r > ratio) {
            ratio = r;
            error = Double.isFinite(got) ? err : Double.NaN;
            bound = tol;
            where = at;
            detail = String.format(Locale.ROOT, "got %.8g, want %.8g, |diff| %.3g, bound %.3g", got, want, err, tol);
        }
    }

    /** An exact comparison (ids, indices, guard patterns): fails at once. */
    public static void exact(String what, long want, long got) {
        if (want != got) throw new CheckFailure(what + ": got " + got + ", want " + want, new Measure(Math.abs(want - got), 0, what));
    }

    /** The worst element; throws {@link CheckFailure} naming it when it is over its bound. */
    public Measure done() {
        Measure m = new Measure(error, bound, where);
        if (ratio > 1) throw new CheckFailure(what + ": worst element " + where + ": " + detail, m);
        return m;
    }
}
