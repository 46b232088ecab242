package dev.flashcl.internal.phi;

import dev.flashcl.internal.check.CheckCase;
import dev.flashcl.internal.check.PhiCases;
import dev.flashcl.internal.kernels.CheckCases;
import dev.flashcl.internal.kernels.TestDevice;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The layer kernels of phi.cl against double-precision references written from the math
 * (embedding, LayerNorm, GEMM and GEMV with their epilogues, the fused decode GEMVs under every
 * GEMV shape, the split residual products, partial rotary + KV append, argmax): every case of
 * {@link PhiCases}, the same cases {@code flashcl check --full} runs.
 */
class PhiKernelsTest {
    @AfterAll
    static void release() {
        CheckCases.release();
    }

    static Stream<CheckCase> cases() {
        return PhiCases.cases(TestDevice.context().device(), false).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void kernel(CheckCase c) {
        CheckCases.run(c);
    }
}
