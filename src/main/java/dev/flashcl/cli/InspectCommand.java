package dev.flashcl.cli;

import dev.flashcl.internal.checkpoint.Checkpoint;
import dev.flashcl.internal.checkpoint.DType;
import dev.flashcl.internal.checkpoint.PhiConfig;
import dev.flashcl.internal.checkpoint.TensorInfo;
import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.kernels.Storage;
import dev.flashcl.internal.phi.PhiModel;
import dev.flashcl.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code flashcl inspect}: what a model directory holds and what running it will need. Touches no
 * device, but runs every check loading runs (config, every tensor's presence and shape, the
 * tokenizer and its vocabulary against the model's) and exits 1 on the first problem.
 */
@Command(name = "inspect", description = "Config summary, tensors, parameters, dtypes, tokenizer and the device memory generation needs; "
        + "exits 1 if loading would fail.")
final class InspectCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--context", description = "Context length for the memory estimate (default: max_position_embeddings).")
    Integer context;

    @Override
    public Integer call() {
        Path dir = model.resolve();
        dev.flashcl.internal.phi.ModelFiles files = dev.flashcl.internal.phi.ModelFiles.open(dir);
        PhiConfig c = files.config();
        Checkpoint ck = files.checkpoint();
        Tokenizer tok = files.requireTokenizer();
        tok.checkAgainst(c.vocabSize(), dir);
        int ctxLen = context == null ? c.maxPositions() : context;
        if (ctxLen < 1 || ctxLen > c.maxPositions()) throw new IllegalArgumentException("--context must be 1.." + c.maxPositions() + ", got " + ctxLen);
        Map<DType, long[]> byType = new EnumMap<>(DType.class);
        long params = 0;
        for (TensorInfo t : ck.tensors().values()) {
            long[] a = byType.computeIfAbsent(t.dtype(), k -> new long[2]);
            a[0]++;
            a[1] += t.bytes();
            params += t.elements();
        }
        System.out.printf(Locale.ROOT, "model      %s (model_type %s)%n", dir, c.modelType());
        System.out.printf(Locale.ROOT, "config     %d layers, hidden %d, %d heads x head_dim %d, intermediate %d, vocab %d%n",
                c.numLayers(), c.hiddenSize(), c.numHeads(), c.headDim(), c.intermediateSize(), c.vocabSize());
        System.out.printf(Locale.ROOT, "           rotary %d of %d dims (factor %.2f, theta %.0f), %s, LayerNorm eps %.0e, %d positions, %s embeddings%n",
                c.rotaryDims(), c.headDim(), c.partialRotaryFactor(), c.ropeTheta(), c.hiddenAct(), c.layerNormEps(), c.maxPositions(),
                c.tieWordEmbeddings() ? "tied" : "untied");
        System.out.printf(Locale.ROOT, "tensors    %d, %,d parameters (config implies %,d), %s in %s%n", ck.tensors().size(), params, c.parameters(),
                Bytes.format(ck.bytes()), ck.tensors().values().stream().map(t -> t.file().getFileName().toString()).distinct().count() + " file(s)");
        byType.forEach((t, a) -> System.out.printf(Locale.ROOT, "dtype      %-5s %d tensors, %s%n", t, a[0], Bytes.format(a[1])));
        System.out.printf(Locale.ROOT, "tokenizer  %d ids (%d embedding rows), eos %s%n", tok.size(), c.vocabSize(), c.eosTokenIds());
        var formats = PhiModel.storedFormats(ck, c);
        if (formats[0] != null || formats[1] != null || byType.keySet().stream().anyMatch(t -> t.quantized())) {
            System.out.printf(Locale.ROOT, "blocks     layer matrices %s, lm_head %s on the device (other block types dequantized while loading)%n",
                    formats[0] == null ? "in the storage type" : formats[0] + " as stored", formats[1] == null ? "in the storage type" : formats[1] + " as stored");
        }
        for (Storage s : Storage.values()) {
            System.out.printf(Locale.ROOT, "device     %s weights + KV cache at context %d: about %s%n", s.suffix, ctxLen,
                    Bytes.format(PhiModel.deviceBytesFor(c, s, ctxLen, PhiModel.Options.defaults().prefillChunk(), false, ck.has("lm_head.weight") || formats[1] != null,
                            formats[0], formats[1])));
        }
        System.out.println("ok         every check that loading runs passed");
        return 0;
    }
}
