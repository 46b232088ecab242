package de.kherud.llama;

/**
 * A llama.cpp completion request whose prompt is token ids (the server's JSON takes an array),
 * which the binding's public API (text prompts only) does not offer: so that llama.cpp continues
 * exactly the ids flashcl ran, with no second tokenization between them.
 */
public final class TokenPrompt {
    private TokenPrompt() {}

    /** One greedy token after {@code ids}. */
    public static InferenceParameters nextToken(int[] ids) {
        InferenceParameters p = new InferenceParameters("").setNPredict(1).setTemperature(0).setTopK(1).setSeed(1).setCachePrompt(false);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < ids.length; i++) sb.append(i == 0 ? "" : ",").append(ids[i]);
        p.parameters.put("prompt", sb.append(']').toString());
        return p;
    }
}
