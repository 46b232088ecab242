package dev.flashcl.internal.check;

import dev.flashcl.internal.cl.DeviceInfo;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The correctness suite as {@code flashcl check} runs it: the cases of the chosen families, each
 * run on one rig and turned into a {@link Result} (a failure or an error in one case is that
 * case's result; the next case runs).
 */
public final class CheckSuite {
    /** The families, in the order they run: kernels first, then the model built from them. */
    public static final List<String> FAMILIES = List.of("attention", "phi", "quant", "model");

    public enum Status { PASS, FAIL, SKIP }

    /**
     * One case's outcome. error and bound: the worst element's (null where the case measured none
     * or a value was not finite); where: that element; message: the failure or the reason for a skip.
     */
    public record Result(String family, String name, Status status, Double error, Double bound, Double ratio, String where, String message, double millis) {}

    private CheckSuite() {}

    /** The cases of these families (each one of {@link #FAMILIES}); quick: fewer shapes per kernel. */
    public static List<CheckCase> cases(DeviceInfo d, Collection<String> families, boolean quick) {
        List<CheckCase> out = new ArrayList<>();
        for (String f : FAMILIES) {
            if (!families.contains(f)) continue;
            switch (f) {
                case "attention" -> out.addAll(AttentionCases.cases(d, quick));
                case "phi" -> out.addAll(PhiCases.cases(d, quick));
                case "quant" -> out.addAll(PhiCases.quantCases(quick));
                case "model" -> out.addAll(ModelCases.cases(quick));
                default -> throw new IllegalStateException(f);
            }
        }
        return out;
    }

    /** Runs one case; its buffers are released when it ends. */
    public static Result run(CheckCase c, CheckRig rig) {
        long t0 = System.nanoTime();
        Status status;
        Measure m = null;
        String message = null;
        try {
            m = c.run(rig);
            status = Status.PASS;
        } catch (CheckFailure e) {
            status = Status.FAIL;
            m = e.measure();
            message = e.getMessage();
        } catch (Skipped e) {
            status = Status.SKIP;
            message = e.getMessage();
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            status = Status.FAIL;
            message = "error: " + (e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString()));
        } finally {
            rig.releaseBuffers();
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        return new Result(c.family(), c.name(), status, m == null ? null : finite(m.error()), m == null ? null : finite(m.bound()),
                m == null ? null : finite(m.ratio()), m == null || m.where().isEmpty() ? null : m.where(), message, ms);
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
