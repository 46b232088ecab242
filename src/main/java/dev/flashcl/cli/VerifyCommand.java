package dev.flashcl.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.SafetensorsFile;
import dev.flashcl.internal.checkpoint.TensorInfo;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.GenerationRequest;
import dev.flashcl.internal.generate.Generator;
import dev.flashcl.internal.phi.PhiModel;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code flashcl verify}: flashcl's logits and greedy tokens against a dump from transformers
 * (scripts/phi2_reference.py writes one): max and mean |diff| of the logits, top-1 agreement per
 * position, and the greedy tokens compared one by one.
 *
 * <p>Where the dump carries transformers' own fp16 logits ({@code logits_fp16}), flashcl is judged
 * as FlashAttention judges itself: its max and mean |diff| against the fp32 reference must each be
 * at most 2x transformers' fp16 error (tol = 2x that max). Without a baseline, tol is
 * {@code --max-rel-diff} x max |ref|. It fails (exit 1) when the logits are over that, or
 * when the greedy tokens part where transformers' top-1 led its top-2 by more than 2 tol. A top-1
 * difference at a prompt position is reported with transformers' lead there but cannot fail on
 * its own: with every logit within tol, a lead of more than 2 tol cannot flip.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Compare logits and greedy tokens with a transformers reference dump (reference.json + reference.safetensors).")
final class VerifyCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @picocli.CommandLine.Mixin DeviceOption device;
    @Option(names = "--reference", required = true, description = "Directory with reference.json (prompt ids, greedy ids) and reference.safetensors (tensor 'logits' [T, V] fp32).")
    Path reference;
    @Option(names = "--storage", defaultValue = "f16", description = "Weights and KV cache on the device: f16 or f32 (default: ${DEFAULT-VALUE}).") String storage;
    @Option(names = "--weights", defaultValue = "stored", description = GenerateCommand.WEIGHTS_HELP) String weights;
    @Option(names = "--max-rel-diff", defaultValue = "0.002", description = "Largest max |diff| of the logits, as a fraction of max |ref| (default: ${DEFAULT-VALUE}; "
            + "Phi-2's size in fp16 on an H200: 0.0008).")
    double maxRelDiff;

    @Override
    public Integer call() throws Exception {
        for (String f : new String[] {"reference.json", "reference.safetensors"}) {
            if (!java.nio.file.Files.isRegularFile(reference.resolve(f))) {
                throw new IllegalArgumentException("--reference " + reference + ": no " + f + " there (scripts/phi2_reference.py writes both)");
            }
        }
        JsonNode ref;
        try {
            ref = new ObjectMapper().readTree(reference.resolve("reference.json").toFile());
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(reference.resolve("reference.json") + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        for (String field : new String[] {"prompt_ids", "greedy_ids"}) {
            if (!ref.path(field).isArray() || ref.path(field).isEmpty()) {
                throw new IllegalArgumentException(reference.resolve("reference.json") + ": " + field + " must be a non-empty array of token ids");
            }
        }
        int[] prompt = ints(ref.get("prompt_ids"));
        int[] greedy = ints(ref.get("greedy_ids"));
        Map<String, TensorInfo> t = SafetensorsFile.read(reference.resolve("reference.safetensors"));
        if (!t.containsKey("logits")) throw new IllegalArgumentException(reference.resolve("reference.safetensors") + ": no tensor 'logits'");
        FloatBuffer want = Checkpoint.map(t.get("logits")).asFloatBuffer();
        try (ClContext ctx = ClContext.open(device.spec);
             PhiModel m = PhiModel.load(ctx, model.resolve(), PhiModel.Options.defaults().withStorage(GenerateCommand.parseStorage(storage)).withWeights(GenerateCommand.weightsType(weights))
                     .withChunk(prompt.length).withAllLogits(true), n -> {})) {
            int v = m.config().vocabSize();
            TensorInfo lt = t.get("logits");
            if (lt.dtype() != dev.flashcl.internal.checkpoint.DType.F32 || lt.elements() != (long) prompt.length * v) {
                throw new IllegalArgumentException(String.format("%s: tensor 'logits' is %s %s; it must be F32 [%d, %d] (prompt positions x the model's vocabulary)",
                        reference.resolve("reference.safetensors"), lt.dtype(), lt.shapeString(), prompt.length, v));
            }
            long t0 = System.nanoTime();
            m.prefill(prompt, null);
            double ms = (System.nanoTime() - t0) / 1e6;
            float[] got = m.logits(prompt.length);
            double maxDiff = 0, sumDiff = 0, maxRef = 0;
            int agree = 0;
            List<double[]> flips = new java.util.ArrayList<>();   // {position, transformers' gap between its top-1 and flashcl's}
            for (int r = 0; r < prompt.length; r++) {
                int gArg = 0, wArg = 0;
                for (int i = 0; i < v; i++) {
                    float w = want.get(r * v + i), g = got[r * v + i];
                    double d = Math.abs(w - g);
                    maxDiff = Math.max(maxDiff, d);
                    sumDiff += d;
                    maxRef = Math.max(maxRef, Math.abs(w));
                    if (g > got[r * v + gArg]) gArg = i;
                    if (w > want.get(r * v + wArg)) wArg = i;
                }
                if (gArg == wArg) agree++;
                else flips.add(new double[] {r, want.get(r * v + wArg) - want.get(r * v + gArg)});
            }
            double meanDiff = sumDiff / ((double) prompt.length * v);
            System.out.printf(Locale.ROOT, "logits of %d positions x %d: max |diff| %.4g, mean |diff| %.4g (max |ref| %.3g); top-1 agreement %d/%d (%.2f%%); prefill %.0f ms%n",
                    prompt.length, v, maxDiff, meanDiff, maxRef, agree, prompt.length, 100.0 * agree / prompt.length, ms);
            double[] baseline = fp16Error(t, want, prompt.length, v);
            double tol = baseline != null ? 2 * baseline[0] : maxRelDiff * maxRef;
            boolean diffOk;
            String verdict;
            if (baseline != null) {
                diffOk = maxDiff <= 2 * baseline[0] && meanDiff <= 2 * baseline[1];
                verdict = String.format(Locale.ROOT, "max |diff| %.4g = %.2fx transformers' own fp16 error (%.4g), mean %.4g = %.2fx (%.4g); the bar is 2x",
                        maxDiff, maxDiff / baseline[0], baseline[0], meanDiff, meanDiff / baseline[1], baseline[1]);
            } else {
                diffOk = maxDiff <= tol;
                verdict = String.format(Locale.ROOT, "max |diff| %.4g %s %.4g (%.3g x max |ref|; the dump has no fp16 baseline)", maxDiff, diffOk ? "<=" : ">", tol, maxRelDiff);
            }
            if (!flips.isEmpty()) {
                System.out.printf(Locale.ROOT, "top-1 differences (position: transformers' lead of its top-1 over flashcl's pick): %s%n",
                        String.join(", ", flips.stream().limit(8).map(f -> String.format(Locale.ROOT, "%d: %.4g", (int) f[0], f[1])).toList()));
            }
            var r = new Generator(m).generate(GenerationRequest.builder().promptTokens(prompt).maxNewTokens(greedy.length).stopAtEos(false).build());
            int same = 0;
            while (same < greedy.length && same < r.tokens().length && r.tokens()[same] == greedy[same]) same++;
            System.out.printf(Locale.ROOT, "greedy: %d of %d tokens identical to transformers before the first difference%s%n", same, greedy.length,
                    same < greedy.length ? " (at " + same + ": flashcl " + r.tokens()[same] + ", transformers " + greedy[same]
                            + (ref.has("greedy_margins") ? String.format(Locale.ROOT, ", transformers' top-1/top-2 margin there %.4f", ref.get("greedy_margins").get(same).asDouble()) : "") + ")" : "");
            boolean greedyOk = same == greedy.length || (ref.has("greedy_margins") && ref.get("greedy_margins").get(same).asDouble() <= 2 * tol);
            System.out.printf(Locale.ROOT, "%s: %s%s%n", diffOk && greedyOk ? "PASS" : "FAIL", verdict,
                    greedyOk ? "" : String.format(Locale.ROOT, "; the greedy tokens part where transformers' top-1 led by more than 2 x %.4g", tol));
            return diffOk && greedyOk ? 0 : 1;
        }
    }

    /** transformers' own fp16 error against the fp32 reference, {max, mean} |diff|, when the dump has 'logits_fp16'; else null. */
    private double[] fp16Error(Map<String, TensorInfo> t, FloatBuffer want, int rows, int v) {
        TensorInfo h = t.get("logits_fp16");
        if (h == null) return null;
        if (h.dtype() != dev.flashcl.internal.checkpoint.DType.F32 || h.elements() != (long) rows * v) {
            throw new IllegalArgumentException(String.format("%s: tensor 'logits_fp16' is %s %s; it must be F32 [%d, %d]", reference.resolve("reference.safetensors"),
                    h.dtype(), h.shapeString(), rows, v));
        }
        FloatBuffer half = Checkpoint.map(h).asFloatBuffer();
        double max = 0, sum = 0;
        for (int i = 0; i < rows * v; i++) {
            double d = Math.abs(half.get(i) - want.get(i));
            max = Math.max(max, d);
            sum += d;
        }
        if (max == 0) throw new IllegalArgumentException(reference.resolve("reference.safetensors") + ": 'logits_fp16' equals 'logits'; it is no fp16 baseline");
        return new double[] {max, sum / ((double) rows * v)};
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }
}
