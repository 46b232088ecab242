package dev.flashcl.internal.checkpoint;

/**
 * The tensor types flashcl reads: safetensors' F16, BF16 and F32, and the ggml block types of
 * GGUF files that it runs (Q8_0, Q4_0 and the K-quants of Q4_K_M files). A block type packs
 * {@code block} elements into {@code blockBytes} bytes; the float types are blocks of one.
 * Others (safetensors' I8, F64, F8_E4M3; ggml's Q4_1, Q5_0, IQ*, ...) are refused by name.
 */
public enum DType {
    F16(1, 2, 1), BF16(1, 2, 30), F32(1, 4, 0),
    Q8_0(32, 34, 8), Q4_0(32, 18, 2), Q4_K(256, 144, 12), Q5_K(256, 176, 13), Q6_K(256, 210, 14);

    /** Elements per block. */
    public final int block;
    /** Bytes per block (per element for the float types). */
    public final int blockBytes;
    /** Bytes per element of the float types (as {@link #blockBytes}); meaningless for block types. */
    public final int bytes;
    /** ggml's type id (enum ggml_type), as GGUF tensor infos store it. */
    public final int ggmlId;

    DType(int block, int blockBytes, int ggmlId) {
        this.block = block;
        this.blockBytes = blockBytes;
        this.bytes = blockBytes;
        this.ggmlId = ggmlId;
    }

    /** Whether this is a ggml block (quantized) type. */
    public boolean quantized() {
        return block > 1;
    }

    /** Bytes of {@code elements} elements (a whole number of blocks; checked by the readers). */
    public long bytesOf(long elements) {
        return elements / block * blockBytes;
    }

    static DType parse(String name, String where) {
        for (DType d : new DType[] {F16, BF16, F32}) if (d.name().equals(name)) return d;
        throw new CheckpointException(where + ": dtype " + name + " is not supported (flashcl reads F16, BF16 and F32)");
    }

    /** ggml's type names by id (ggml.h), so that a type flashcl does not run is refused by name. */
    private static final String[] GGML_NAMES = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
        "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32",
        "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};

    static DType ofGgml(long id, String where) {
        for (DType d : values()) if (d.ggmlId == id) return d;
        String name = id >= 0 && id < GGML_NAMES.length ? GGML_NAMES[(int) id] : "with id " + id;
        throw new CheckpointException(where + ": ggml type " + name + " is not supported (flashcl reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K)");
    }
}
