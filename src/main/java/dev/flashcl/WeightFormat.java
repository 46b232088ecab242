package dev.flashcl;

/**
 * How the weight matrices (the layers' four and the lm_head) sit on the device. The embedding,
 * LayerNorms and biases stay in the {@link Precision} storage; activations too.
 */
public enum WeightFormat {
    /** As the file holds them: fp16/bf16/fp32 in the storage type, a GGUF file's Q8_0 or Q4_0 blocks as they are, other block types dequantized. */
    AS_STORED,
    /** ggml's Q8_0, quantized at load: 8.5 bits a weight, within about 1% of fp16's perplexity. */
    Q8_0,
    /** ggml's Q4_0, quantized at load: 4.5 bits a weight. */
    Q4_0
}
