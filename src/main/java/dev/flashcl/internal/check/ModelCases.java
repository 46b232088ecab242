package dev.flashcl.internal.check;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.GenerationRequest;
import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.SafetensorsFile;
import dev.flashcl.internal.checkpoint.TensorInfo;
import dev.flashcl.internal.generate.Generator;
import dev.flashcl.internal.kernels.Half;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.EmbeddedModel;
import dev.flashcl.internal.phi.PhiModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The whole model on the device: the embedded model (testdata/embedded) against transformers.
 * Its logits at the rows of reference.safetensors (make_reference.py: the prompt and its 200
 * greedy tokens in one pass) must have max and mean |diff| from transformers' fp32 math each at
 * most 2x transformers' own fp16 error, the bar the sweep models meet; its greedy completion of
 * expected.json's prompt must be transformers' token for token (the smallest top-1/top-2 margin
 * there is 0.0108, far above either error).
 */
public final class ModelCases {
    private ModelCases() {}

    public static List<CheckCase> cases(boolean quick) {
        List<CheckCase> out = new ArrayList<>();
        for (Storage s : quick ? List.of(Storage.F16) : List.of(Storage.F16, Storage.F32)) {
            out.add(new CheckCase("model", "embedded model logits " + s.suffix + " vs transformers", rig -> logits(rig, EmbeddedModel.directory(), s)));
            out.add(new CheckCase("model", "embedded model greedy 200 tokens " + s.suffix + " vs transformers", rig -> greedy(rig, EmbeddedModel.directory(), s)));
        }
        return out;
    }

    /**
     * make_reference.py's dump: the ids, the positions kept, and transformers' logits there
     * (fp32 math and its own fp16 pass), rows of {@code vocab}.
     */
    public record Reference(int[] ids, int[] positions, int vocab, float[] logits, float[] logitsFp16) {
        /** @return row {@code r}'s log-probability of {@code token} under logits {@code l} (fp64 log-softmax) */
        public static double logprob(float[] l, int vocab, int r, int token) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < vocab; i++) max = Math.max(max, l[r * vocab + i]);
            for (int i = 0; i < vocab; i++) sum += Math.exp(l[r * vocab + i] - max);
            return l[r * vocab + token] - max - Math.log(sum);
        }
    }

    /** @return the reference of the model in {@code dir} (reference.json and reference.safetensors) */
    public static Reference reference(Path dir, int vocab) {
        JsonNode ref = json(dir.resolve("reference.json"));
        int[] positions = ints(ref.get("positions"));
        Map<String, TensorInfo> t = SafetensorsFile.read(dir.resolve("reference.safetensors"));
        return new Reference(ints(ref.get("ids")), positions, vocab, floats(t.get("logits"), positions.length, vocab),
                floats(t.get("logits_fp16"), positions.length, vocab));
    }

    public static Measure logits(CheckRig rig, Path dir, Storage s) {
        int[] ids = ints(json(dir.resolve("reference.json")).get("ids"));
        try (PhiModel m = PhiModel.load(rig.ctx(), dir, PhiModel.Options.defaults().withStorage(s).withChunk(ids.length).withAllLogits(true), n -> {})) {
            int v = m.config().vocabSize();
            Reference ref = reference(dir, v);
            int[] positions = ref.positions();
            float[] want = ref.logits(), half = ref.logitsFp16();
            m.prefill(ids, null);
            float[] all = m.logits(ids.length);
            double maxDiff = -1, sumDiff = 0, maxBase = 0, sumBase = 0;
            String worst = "";
            for (int r = 0; r < positions.length; r++) {
                for (int i = 0; i < v; i++) {
                    float w = want[r * v + i], g = all[positions[r] * v + i];
                    double d = Float.isFinite(g) ? Math.abs(w - g) : Double.POSITIVE_INFINITY;
                    double b = Math.abs(half[r * v + i] - w);
                    if (d > maxDiff) {
                        maxDiff = d;
                        worst = String.format(Locale.ROOT, "position %d token %d: got %.6g, want %.6g", positions[r], i, g, w);
                    }
                    sumDiff += d;
                    maxBase = Math.max(maxBase, b);
                    sumBase += b;
                }
            }
            double n = (double) positions.length * v;
            Measure m1 = new Measure(maxDiff, 2 * maxBase, worst);
            String what = String.format(Locale.ROOT, "logits at %d positions: max |diff| %.4g (%.2fx transformers' fp16 error %.4g), mean %.4g (%.2fx %.4g); the bar is 2x",
                    positions.length, maxDiff, maxDiff / maxBase, maxBase, sumDiff / n, sumDiff / sumBase, sumBase / n);
            if (!(maxDiff <= 2 * maxBase && sumDiff <= 2 * sumBase)) throw new CheckFailure(what + "; worst element " + worst, m1);
            return m1;
        }
    }

    public static Measure greedy(CheckRig rig, Path dir, Storage s) {
        JsonNode want = json(dir.resolve("expected.json"));
        int[] prompt = ints(want.get("prompt_ids"));
        int[] wantIds = ints(want.get("new_ids"));
        try (PhiModel m = PhiModel.load(rig.ctx(), dir, PhiModel.Options.defaults().withStorage(s), n -> {})) {
            int[] enc = m.tokenizer().encode(want.get("prompt").asText());
            if (!java.util.Arrays.equals(prompt, enc)) {
                throw new CheckFailure("the tokenizer's ids of the prompt: got " + java.util.Arrays.toString(enc) + ", want " + java.util.Arrays.toString(prompt), new Measure(1, 0, "prompt"));
            }
            int[] got = new Generator(m).generate(GenerationRequest.builder().promptTokens(prompt).maxNewTokens(wantIds.length).stopAtEos(false).build()).tokens();
            for (int i = 0; i < wantIds.length; i++) {
                if (i >= got.length || got[i] != wantIds[i]) {
                    throw new CheckFailure(String.format(Locale.ROOT, "greedy token %d: got %s, want %d (transformers' top-1/top-2 margin there %.4f)", i,
                            i < got.length ? Integer.toString(got[i]) : "none", wantIds[i], want.get("margins").get(i).asDouble()), new Measure(1, 0, "token " + i));
                }
            }
            return Measure.EXACT;
        }
    }

    private static JsonNode json(Path p) {
        try {
            return new ObjectMapper().readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": " + e.getMessage(), e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    /** An F32 or F16 tensor of rows x cols, as floats. */
    private static float[] floats(TensorInfo t, int rows, int cols) {
        if (t == null || t.elements() != (long) rows * cols || (t.dtype() != DType.F32 && t.dtype() != DType.F16)) {
            throw new IllegalStateException("reference.safetensors: " + (t == null ? "a tensor is missing" : t.name() + " is " + t.dtype() + " " + t.shapeString())
                    + "; want F32 or F16 [" + rows + ", " + cols + "]");
        }
        ByteBuffer b = Checkpoint.map(t).order(ByteOrder.LITTLE_ENDIAN);
        if (t.dtype() == DType.F16) {
            short[] h = new short[rows * cols];
            b.asShortBuffer().get(h);
            return Half.toFloats(h);
        }
        float[] out = new float[rows * cols];
        b.asFloatBuffer().get(out);
        return out;
    }
}
