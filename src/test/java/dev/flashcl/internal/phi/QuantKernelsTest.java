package dev.flashcl.internal.phi;

import dev.flashcl.internal.check.CheckCase;
import dev.flashcl.internal.check.PhiCases;
import dev.flashcl.internal.kernels.CheckCases;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The quantized kernels (phi.cl with WQ: Q8_0 and Q4_0 weights) against fp64 products of the
 * weights as the format defines them, and dequant_rows bit for bit: every case of
 * {@link PhiCases#quantCases}, the same cases {@code flashcl check --full} runs.
 */
class QuantKernelsTest {
    @AfterAll
    static void release() {
        CheckCases.release();
    }

    static Stream<CheckCase> cases() {
        return PhiCases.quantCases(false).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void kernel(CheckCase c) {
        CheckCases.run(c);
    }
}
