package dev.flashcl.internal.kernels;

import dev.flashcl.internal.check.AttentionCases;
import dev.flashcl.internal.check.AttentionCases.Decode;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Flash-Decoding (split keys, log-sum-exp combine) against the fp64 reference and the naive
 * kernel: cache lengths around every power-of-two edge up to 4096, split lengths from one key per
 * split to one split in all, every decode work-group size, strided cache views. The cases and
 * their checks are {@link AttentionCases}', which {@code flashcl check} runs too.
 */
class FlashAttentionDecodeTest {
    @AfterAll
    static void release() {
        CheckCases.release();
    }

    static Stream<Decode> lengths() {
        return AttentionCases.decodeLengths().stream();
    }

    static Stream<Decode> splits() {
        return AttentionCases.decodeSplits().stream();
    }

    static Stream<Decode> shapes() {
        return AttentionCases.decodeShapes(TestDevice.context().device()).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lengths")
    void lengths(Decode c) {
        CheckCases.run(c.asCase());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("splits")
    void splits(Decode c) {
        CheckCases.run(c.asCase());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void shapes(Decode c) {
        CheckCases.run(c.asCase());
    }
}
