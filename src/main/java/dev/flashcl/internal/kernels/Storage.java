package dev.flashcl.internal.kernels;

/** How tensors are stored in device memory. Arithmetic is fp32 either way. */
public enum Storage {
    /** IEEE half, read and written with vload_half/vstore_half (round to nearest even). */
    F16(2, "f16"),
    F32(4, "f32");

    public final int bytes;
    /** The suffix of the kernel names built for this storage ({@code flash_attn_prefill_f16}). */
    public final String suffix;

    Storage(int bytes, String suffix) {
        this.bytes = bytes;
        this.suffix = suffix;
    }

    /** The {@code STORAGE_F16} define the kernels read. */
    public String define() {
        return this == F16 ? "1" : "0";
    }
}
