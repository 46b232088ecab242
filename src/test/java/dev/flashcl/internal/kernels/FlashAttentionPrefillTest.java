package dev.flashcl.internal.kernels;

import dev.flashcl.internal.check.AttentionCases;
import dev.flashcl.internal.check.AttentionCases.Prefill;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The prefill kernel against the fp64 reference and against the naive kernel, over ragged and
 * unequal lengths, every head_dim and tile the code can choose, both storage types, causal and
 * not, strided views, and scores in the thousands. Every output sits between poisoned guards.
 * The cases and their checks are {@link AttentionCases}', which {@code flashcl check} runs too.
 */
class FlashAttentionPrefillTest {
    @AfterAll
    static void release() {
        CheckCases.release();
    }

    static Stream<Prefill> lengths() {
        return AttentionCases.prefillLengths(TestDevice.context().device()).stream();
    }

    static Stream<Prefill> tilesAndHeadDims() {
        return AttentionCases.prefillTilesAndHeadDims(TestDevice.context().device(), false).stream();
    }

    static Stream<Prefill> headsBatchesLayouts() {
        return AttentionCases.prefillHeadsBatchesLayouts(TestDevice.context().device()).stream();
    }

    static Stream<Prefill> largeScores() {
        return AttentionCases.prefillLargeScores(TestDevice.context().device()).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lengths")
    void lengths(Prefill c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tilesAndHeadDims")
    void tilesAndHeadDims(Prefill c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("headsBatchesLayouts")
    void headsBatchesLayouts(Prefill c) {
        check(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("largeScores")
    void largeScores(Prefill c) {
        check(c);
    }

    static void check(Prefill c) {
        CheckCases.run(c.asCase());
    }
}
