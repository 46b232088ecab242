package dev.flashcl;

/** How weights, the KV cache and the inputs of matrix products are stored on the device; arithmetic accumulates in fp32 either way. */
public enum Precision {
    /** Half precision (the default): half the memory and bandwidth; tensor cores on NVIDIA. */
    F16,
    /** Single precision: for checking, or models whose activations overflow fp16. */
    F32
}
