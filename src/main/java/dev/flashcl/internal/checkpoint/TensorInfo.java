package dev.flashcl.internal.checkpoint;

import java.nio.file.Path;
import java.util.Arrays;

/** One tensor of a safetensors file: where its bytes lie ({@code offset} from the start of the file). */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, long offset, long bytes) {
    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + shapeString() + " in " + file.getFileName();
    }
}
