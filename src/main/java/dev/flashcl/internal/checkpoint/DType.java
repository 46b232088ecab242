package dev.flashcl.internal.checkpoint;

/** The safetensors dtypes flashcl reads. Others (I8, F64, F8_E4M3, ...) are refused by name. */
public enum DType {
    F16(2), BF16(2), F32(4);

    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    static DType parse(String name, String where) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        throw new CheckpointException(where + ": dtype " + name + " is not supported (flashcl reads F16, BF16 and F32)");
    }
}
