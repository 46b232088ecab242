package dev.flashcl;

import java.util.OptionalLong;

/**
 * How the next token is picked: {@link #greedy()} (the most likely, chosen on the device), or
 * sampled at a {@link #temperature(double)}, optionally cut to the {@link #topK(int)} most likely
 * and to the smallest set whose probability reaches {@link #topP(double)}. A seeded sampler gives
 * the same text for the same prompt; without a seed each generation draws one, which
 * {@link GenerationResult#seed()} reports so the run can be repeated. Immutable; every value is
 * checked when set.
 */
public final class Sampling {
    private static final Sampling GREEDY = new Sampling(0, 0, 1, null);

    private final double temperature;
    private final int topK;
    private final double topP;
    private final Long seed;

    private Sampling(double temperature, int topK, double topP, Long seed) {
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.seed = seed;
    }

    /** @return the argmax of the logits at every step (deterministic, no host round trip for the logits) */
    public static Sampling greedy() {
        return GREEDY;
    }

    /**
     * @param temperature divides the logits before the softmax: finite and above 0 (lower is more
     *                    conservative; for argmax use {@link #greedy()})
     * @return sampling at that temperature, with no top-k or top-p cut and no fixed seed
     */
    public static Sampling temperature(double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number above 0, got " + temperature
                    + (temperature == 0 ? " (for argmax use greedy sampling)" : ""));
        }
        return new Sampling(temperature, 0, 1, null);
    }

    /**
     * @param k sample among the k most likely tokens; 0 for no cut
     * @return a copy with that cut
     */
    public Sampling topK(int k) {
        requireSampled("topK");
        if (k < 0) throw new IllegalArgumentException("top_k must be 0 (no cut) or more, got " + k);
        return new Sampling(temperature, k, topP, seed);
    }

    /**
     * @param p keep the smallest set of tokens whose probability reaches p: above 0, at most 1 (no cut)
     * @return a copy with that cut
     */
    public Sampling topP(double p) {
        requireSampled("topP");
        if (!(p > 0 && p <= 1)) throw new IllegalArgumentException("top_p must be above 0 and at most 1, got " + p);
        return new Sampling(temperature, topK, p, seed);
    }

    /**
     * @param seed the random generator's seed: the same seed, prompt and model give the same text
     * @return a copy with that seed
     */
    public Sampling seed(long seed) {
        requireSampled("seed");
        return new Sampling(temperature, topK, topP, seed);
    }

    private void requireSampled(String what) {
        if (isGreedy()) throw new IllegalArgumentException(what + " applies to sampling; greedy picks the most likely token (start from Sampling.temperature(t))");
    }

    /** @return whether this picks the most likely token */
    public boolean isGreedy() {
        return temperature == 0;
    }

    /** @return the temperature; 0 for greedy */
    public double temperature() {
        return temperature;
    }

    /** @return the top-k cut; 0 for none */
    public int topK() {
        return topK;
    }

    /** @return the top-p cut; 1 for none */
    public double topP() {
        return topP;
    }

    /** @return the fixed seed, or empty when each generation draws one */
    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    @Override
    public String toString() {
        return isGreedy() ? "greedy" : "temperature " + temperature + ", top_k " + topK + ", top_p " + topP + (seed == null ? "" : ", seed " + seed);
    }
}
