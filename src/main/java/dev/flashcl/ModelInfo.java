package dev.flashcl;

import java.nio.file.Path;

/**
 * A loaded model's shape and what it holds on the device.
 *
 * @param source            the model directory
 * @param layers            transformer layers
 * @param hiddenSize        width of the residual stream
 * @param heads             attention heads
 * @param headDim           dimensions per head
 * @param intermediateSize  width of the MLP
 * @param vocabSize         rows of the embedding (may exceed the tokenizer's ids, as Phi-2's 51,200 do its 50,295)
 * @param contextLength     KV cache positions: prompt plus new tokens must fit
 * @param parameters        parameters the config implies
 * @param precision         storage on the device
 * @param eosTokenIds       the end-of-text tokens (config.json may name several)
 * @param deviceBytes       device memory in use after loading (weights, KV cache, activations)
 * @param loadNanos         time the load took, kernel builds and the warm-up pass included
 * @param kernelBuildNanos  of that, time spent building OpenCL programs (or loading them from the kernel cache)
 */
public record ModelInfo(Path source, int layers, int hiddenSize, int heads, int headDim, int intermediateSize, int vocabSize,
                        int contextLength, long parameters, Precision precision, java.util.List<Integer> eosTokenIds, long deviceBytes, long loadNanos,
                        long kernelBuildNanos) {}
