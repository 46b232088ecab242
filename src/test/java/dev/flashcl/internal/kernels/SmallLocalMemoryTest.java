package dev.flashcl.internal.kernels;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.GenerationRequest;
import dev.flashcl.internal.check.AttentionCases;
import dev.flashcl.internal.check.Layout;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.generate.Generator;
import dev.flashcl.internal.phi.PhiModel;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Device capabilities decide, not vendor names: the test device as if it had 32 or 64 KiB of
 * local memory (as many AMD and Intel GPUs, and Mesa's llvmpipe, have) gets prefill tiles and a
 * decode work-group that fit, computes right with them, and runs the embedded model to
 * transformers' greedy tokens.
 */
class SmallLocalMemoryTest {
    @ParameterizedTest(name = "{0} bytes of local memory")
    @ValueSource(ints = {32768, 65536})
    void smallDevicesGetTilesThatFitAndComputeRight(int localBytes) throws Exception {
        DeviceInfo small = TestDevice.context().device().withLocalMemBytes(localBytes);
        for (int hd : new int[] {64, 80, 96, 128}) {
            PrefillTiles t = PrefillTiles.defaultFor(small, hd);
            assertTrue(t.localBytes(hd) <= localBytes, hd + ": " + t + " takes " + t.localBytes(hd));
            int wg = FlashAttention.defaultDecodeWg(small, hd);
            assertTrue(FlashAttention.decodeLocalBytes(hd, wg) <= localBytes, hd + ": decode work-group " + wg);
            for (boolean causal : new boolean[] {true, false}) {
                CheckCases.run(new AttentionCases.Prefill(1, 2, 77, 93, hd, causal, Storage.F16, t, Layout.CONTIGUOUS, 1f).asCase());
            }
        }
        JsonNode want = new ObjectMapper().readTree(Path.of("testdata/embedded/expected.json").toFile());
        int[] wantIds = new int[40];
        for (int i = 0; i < wantIds.length; i++) wantIds[i] = want.get("new_ids").get(i).asInt();
        try (ClContext ctx = ClContext.create(small);
             PhiModel m = PhiModel.load(ctx, Path.of("testdata/embedded"), PhiModel.Options.defaults().withContext(256), null)) {
            assertEquals(localBytes, ctx.device().localMemBytes());
            var r = new Generator(m).generate(GenerationRequest.builder().prompt(want.get("prompt").asText()).maxNewTokens(40).stopAtEos(false).build());
            assertArrayEquals(wantIds, r.tokens(), "the embedded model's greedy tokens with the small device's tiles");
        }
    }
}
