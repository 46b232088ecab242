package dev.flashcl.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.flashcl.internal.check.CheckCase;
import dev.flashcl.internal.check.CheckRig;
import dev.flashcl.internal.check.CheckSuite;
import dev.flashcl.internal.check.CheckSuite.Result;
import dev.flashcl.internal.check.CheckSuite.Status;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceInfo;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code flashcl check}: the kernel correctness suite (the cases the JUnit tests run, from
 * dev.flashcl.internal.check) on the chosen device, as a report to paste into an issue: the device
 * and its driver, one row per case (worst element's error, its bound, their ratio, time), failures
 * with their worst element, a summary line. Exit 0 only when no case fails.
 */
@Command(name = "check", description = "Check flashcl's kernels and the embedded model on a device against fp64 and transformers references.")
final class CheckCommand implements Callable<Integer> {
    @Mixin DeviceOption device;
    @Option(names = "--quick", description = "Fewer shapes per kernel: about a minute on a CPU device (the default).") boolean quick;
    @Option(names = "--full", description = "Every shape: every tile, head_dim, length and storage the tests sweep.") boolean full;
    @Option(names = "--kernels", paramLabel = "FAMILY[,FAMILY...]", split = ",", description = "Families to run: attention, phi, quant, model (default: all).")
    List<String> kernels;
    @Option(names = "--case", paramLabel = "TEXT", description = "Only the cases whose name contains TEXT (to re-run one that failed).") String only;
    @Option(names = "--json", paramLabel = "FILE", description = "Also write the report as JSON to FILE.") File json;

    private static final String ROW = "%-4s  %-9s  %-66s  %9s  %9s  %6s  %9s%n";

    @Override
    public Integer call() throws IOException {
        if (quick && full) throw new IllegalArgumentException("--quick and --full: choose one");
        List<String> families = kernels == null ? CheckSuite.FAMILIES : kernels.stream().map(s -> s.trim().toLowerCase(Locale.ROOT)).toList();
        for (String f : families) {
            if (!CheckSuite.FAMILIES.contains(f)) throw new IllegalArgumentException("--kernels: unknown family '" + f + "'; choose from " + String.join(", ", CheckSuite.FAMILIES));
        }
        String mode = full ? "full" : "quick";
        try (ClContext ctx = ClContext.open(device.spec); CheckRig rig = new CheckRig(ctx)) {
            DeviceInfo d = ctx.device();
            List<CheckCase> cases = CheckSuite.cases(d, families, !full);
            if (only != null) cases = cases.stream().filter(c -> c.name().contains(only)).toList();
            if (cases.isEmpty()) throw new IllegalArgumentException("--case " + only + ": no case of " + String.join(", ", families) + " has that in its name");
            Map<String, Object> header = header(d);
            System.out.printf("%s check --%s (%s, %d cases)%n", Main.VERSION, mode, String.join(", ", families), cases.size());
            header.forEach((k, v) -> System.out.printf("  %-9s %s%n", k, v));
            System.out.println();
            System.out.printf(ROW, "", "family", "case", "max error", "bound", "ratio", "time");
            List<Result> results = new ArrayList<>();
            long t0 = System.nanoTime();
            for (CheckCase c : cases) {
                Result r = CheckSuite.run(c, rig);
                results.add(r);
                boolean exact = r.bound() != null && r.bound() == 0;
                System.out.printf(ROW, r.status(), r.family(), r.name(), num(r.error()), exact ? "exact" : num(r.bound()),
                        r.ratio() == null || exact ? "" : String.format(Locale.ROOT, "%.3f", r.ratio()),
                        String.format(Locale.ROOT, "%.0f ms", r.millis()));
                if (r.status() == Status.FAIL) System.out.println("      " + r.message());
                System.out.flush();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            long failed = results.stream().filter(r -> r.status() == Status.FAIL).count();
            long skipped = results.stream().filter(r -> r.status() == Status.SKIP).count();
            Result worst = results.stream().filter(r -> r.status() == Status.PASS && r.ratio() != null).max((a, b) -> Double.compare(a.ratio(), b.ratio())).orElse(null);
            String summary = String.format(Locale.ROOT, "%s: %d cases, %d passed, %d failed, %d skipped in %.1f s on %s%s", failed == 0 ? "PASS" : "FAIL",
                    results.size(), results.size() - failed - skipped, failed, skipped, seconds, d.name(),
                    worst == null ? "" : String.format(Locale.ROOT, "; closest to its bound: %s (%.3f)", worst.name(), worst.ratio()));
            System.out.println();
            if (skipped > 0) {
                System.out.println("skipped: " + String.join("; ", results.stream().filter(r -> r.status() == Status.SKIP).map(Result::message).distinct().toList()));
            }
            System.out.println(summary);
            if (json != null) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("flashcl", Main.VERSION);
                out.put("mode", mode);
                out.put("families", families);
                out.put("machine", header);
                out.put("summary", Map.of("passed", failed == 0, "cases", results.size(), "failed", failed, "skipped", skipped, "seconds", seconds));
                out.put("cases", results);
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json, out);
                Cli.note("wrote " + json);
            }
            return failed == 0 ? 0 : Main.FAILED;
        }
    }

    /** What a report names about where it ran. */
    private static Map<String, Object> header(DeviceInfo d) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("device", String.format(Locale.ROOT, "%s (%s, %s, %d compute units, %s, local memory %s)", d.name(), d.type(), d.vendor(), d.computeUnits(),
                Bytes.format(d.globalMemBytes()), Bytes.format(d.localMemBytes())));
        h.put("platform", d.platformName() + ", " + d.platformVersion());
        h.put("driver", d.driverVersion() + ", " + d.openclCVersion());
        h.put("fp16", d.hasExtension("cl_khr_fp16") ? "cl_khr_fp16" : "no cl_khr_fp16 (fp16 storage through vload_half/vstore_half)");
        h.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + "), " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        return h;
    }

    private static String num(Double v) {
        return v == null ? "" : String.format(Locale.ROOT, "%.3g", v);
    }
}
