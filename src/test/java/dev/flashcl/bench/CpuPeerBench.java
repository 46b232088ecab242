package dev.flashcl.bench;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.ModelParameters;
import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.GgufWriter;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.phi.PhiModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * flashcl (OpenCL, here PoCL on the CPU) beside llama.cpp (de.kherud:llama's CPU build) on the same
 * GGUF files of the embedded model (F16, Q8_0, Q4_0), alternating in one process: prefill and
 * decode tokens/s of a 200-token greedy completion of expected.json's prompt, each figure the
 * median of REPEAT runs, all wall time in this process: flashcl around its prefill and its decode
 * loop; llama.cpp around a one-token completion (its prefill) and a 200-token one, whose difference
 * is its decode. Test scope, since llama.cpp is; run by scripts/cpu-peer.sh.
 */
public final class CpuPeerBench {
    static final int NEW = 200, REPEAT = 3;

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("flashcl-peer");
        Path embedded = Path.of("testdata/embedded");
        String prompt = new com.fasterxml.jackson.databind.ObjectMapper().readTree(embedded.resolve("expected.json").toFile()).get("prompt").asText();
        Map<String, DType> types = new LinkedHashMap<>();
        types.put("F16", DType.F16);
        types.put("Q8_0", DType.Q8_0);
        types.put("Q4_0", DType.Q4_0);
        int threads = Runtime.getRuntime().availableProcessors();
        List<String[]> rows = new ArrayList<>();
        try (ClContext ctx = ClContext.open(args.length > 0 ? args[0] : null)) {
            System.out.printf(Locale.ROOT, "device %s (%s), %s, %d CPU threads for llama.cpp, %d new tokens, median of %d%n", ctx.device().name(),
                    ctx.device().driverVersion(), java.time.LocalDate.now(), threads, NEW, REPEAT);
            for (var e : types.entrySet()) {
                DType t = e.getValue();
                Path f = GgufWriter.write(embedded, dir.resolve("embedded-" + e.getKey() + ".gguf"), false, n -> n.startsWith("token_embd") ? DType.F16 : t);
                double[] fl = new double[2 * REPEAT], ll = new double[2 * REPEAT];
                try (PhiModel m = PhiModel.load(ctx, f, PhiModel.Options.defaults().withContext(512), null);
                     LlamaModel lm = new LlamaModel(new ModelParameters().setModel(f.toString()).setGpuLayers(0).setCtxSize(512).setThreads(threads))) {
                    int[] ids = m.tokenizer().encode(prompt);
                    for (int r = -1; r < REPEAT; r++) {   // r = -1 warms both up
                        m.reset();
                        long t0 = System.nanoTime();
                        m.prefill(ids, null);
                        long t1 = System.nanoTime();
                        for (int s = 0; s < NEW - 1; s++) m.decode(null);
                        long t2 = System.nanoTime();
                        long t3 = System.nanoTime();
                        lm.complete(new InferenceParameters(prompt).setNPredict(1).setTemperature(0).setTopK(1).setCachePrompt(false));
                        long t4 = System.nanoTime();
                        lm.complete(new InferenceParameters(prompt).setNPredict(NEW).setTemperature(0).setTopK(1).setCachePrompt(false).setIgnoreEos(true));
                        long t5 = System.nanoTime();
                        if (r < 0) continue;
                        fl[r] = ids.length / ((t1 - t0) / 1e9);
                        fl[REPEAT + r] = (NEW - 1) / ((t2 - t1) / 1e9);
                        ll[r] = ids.length / ((t4 - t3) / 1e9);   // the prompt and its first token, as flashcl's prefill
                        ll[REPEAT + r] = (NEW - 1) / (((t5 - t4) - (t4 - t3)) / 1e9);
                    }
                }
                rows.add(new String[] {e.getKey(), fmt(median(fl, 0)), fmt(median(ll, 0)), fmt(median(fl, REPEAT)), fmt(median(ll, REPEAT)),
                        String.format(Locale.ROOT, "%.2fx", median(fl, REPEAT) / median(ll, REPEAT)), String.format(Locale.ROOT, "%.1f MB", Files.size(f) / 1e6)});
            }
        }
        System.out.println("| GGUF | flashcl prefill tok/s | llama.cpp prefill tok/s | flashcl decode tok/s | llama.cpp decode tok/s | decode ratio | file |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        for (String[] r : rows) System.out.println("| " + String.join(" | ", r) + " |");
        System.exit(0);   // llama.cpp's server threads would keep the JVM alive
    }

    static double median(double[] a, int from) {
        double[] b = java.util.Arrays.copyOfRange(a, from, from + REPEAT);
        java.util.Arrays.sort(b);
        return b[REPEAT / 2];
    }

    static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }
}
