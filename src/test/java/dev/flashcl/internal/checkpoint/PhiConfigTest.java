package dev.flashcl.internal.checkpoint;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.json: Phi-2's values, transformers' defaults for absent fields, and refusals that name the field. */
class PhiConfigTest {
    @TempDir Path dir;

    PhiConfig read(String json) throws IOException {
        Files.writeString(dir.resolve("config.json"), json);
        return PhiConfig.read(dir);
    }

    /** Phi-2's config.json as the hub has it (transformers 4.x style: top-level rope fields). */
    @Test
    void phi2() throws IOException {
        PhiConfig c = read("{\"model_type\":\"phi\",\"vocab_size\":51200,\"hidden_size\":2560,\"intermediate_size\":10240,\"num_hidden_layers\":32,"
                + "\"num_attention_heads\":32,\"num_key_value_heads\":32,\"partial_rotary_factor\":0.4,\"rope_theta\":10000.0,\"rope_scaling\":null,"
                + "\"layer_norm_eps\":1e-05,\"hidden_act\":\"gelu_new\",\"max_position_embeddings\":2048,\"tie_word_embeddings\":false,"
                + "\"qk_layernorm\":false,\"bos_token_id\":50256,\"eos_token_id\":50256,\"torch_dtype\":\"float16\"}");
        assertEquals(80, c.headDim());
        assertEquals(32, c.rotaryDims());
        assertEquals(2_779_683_840L, c.parameters(), "phi2.md: 2,779,683,840 parameters");
        assertEquals(50256, c.eosTokenId());
    }

    @Test
    void transformersDefaults() throws IOException {
        PhiConfig c = read("{\"model_type\":\"phi\"}");
        assertEquals(51200, c.vocabSize());
        assertEquals(2048, c.hiddenSize());
        assertEquals(8192, c.intermediateSize());
        assertEquals(24, c.numLayers());
        assertEquals(32, c.numHeads());
        assertEquals(32, c.numKvHeads());
        assertEquals(0.5, c.partialRotaryFactor());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(1e-5, c.layerNormEps());
        assertEquals(2048, c.maxPositions());
        assertFalse(c.tieWordEmbeddings());
    }

    @Test
    void transformers5RopeParameters() throws IOException {
        PhiConfig c = read("{\"model_type\":\"phi\",\"hidden_size\":160,\"num_attention_heads\":2,\"intermediate_size\":384,"
                + "\"rope_parameters\":{\"partial_rotary_factor\":0.4,\"rope_theta\":500.0,\"rope_type\":\"default\"}}");
        assertEquals(0.4, c.partialRotaryFactor());
        assertEquals(500.0, c.ropeTheta());
        assertEquals(32, c.rotaryDims());
    }

    @Test
    void refusalsNameTheField() throws IOException {
        assertRefused("{\"model_type\":\"llama\"}", "model_type");
        assertRefused("{\"model_type\":\"phi-msft\"}", "phi-msft");
        assertRefused("{\"model_type\":\"phi\",\"hidden_act\":\"relu\"}", "hidden_act");
        assertRefused("{\"model_type\":\"phi\",\"num_key_value_heads\":8}", "num_key_value_heads");
        assertRefused("{\"model_type\":\"phi\",\"qk_layernorm\":true}", "qk_layernorm");
        assertRefused("{\"model_type\":\"phi\",\"hidden_size\":100,\"num_attention_heads\":3}", "hidden_size");
        assertRefused("{\"model_type\":\"phi\",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}", "rope scaling");
        assertRefused("{\"model_type\":\"phi\",\"vocab_size\":\"many\"}", "vocab_size");
        assertRefused("not json", "not JSON");
    }

    void assertRefused(String json, String word) throws IOException {
        Files.writeString(dir.resolve("config.json"), json);
        String m = assertThrows(CheckpointException.class, () -> PhiConfig.read(dir)).getMessage();
        assertTrue(m.contains(word) && m.contains("config.json"), m);
    }
}
