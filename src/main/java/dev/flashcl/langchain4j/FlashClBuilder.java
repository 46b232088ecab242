package dev.flashcl.langchain4j;

import dev.flashcl.GenerationRequest;
import dev.flashcl.LanguageModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What every flashcl LangChain4j model is built from: where the model comes from (a model path,
 * the embedded model when none is given, or a model already loaded) and the defaults of each
 * request, which a LangChain4j request's own parameters override. Each value is checked when set.
 *
 * @param <B> the concrete builder
 */
public abstract class FlashClBuilder<B extends FlashClBuilder<B>> {
    Path modelPath;
    String device;
    int contextLength;
    LanguageModel model;
    String modelName;
    double temperature;
    double topP = 1;
    int topK;
    Long seed;
    int maxTokens = GenerationRequest.DEFAULT_MAX_NEW_TOKENS;
    final List<String> stopSequences = new ArrayList<>();

    FlashClBuilder() {}

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /**
     * @param path a model directory or a .gguf file (default: the embedded model)
     * @return this builder
     */
    public B modelPath(Path path) {
        if (path == null) throw new IllegalArgumentException("modelPath is null; leave it unset for the embedded model");
        this.modelPath = path;
        return self();
    }

    /**
     * @param spec the OpenCL device: {@code gpu}, {@code cpu}, an index or a name (default: the first GPU, else the first device)
     * @return this builder
     */
    public B device(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("device is empty; give gpu, cpu, an index or a name");
        this.device = spec;
        return self();
    }

    /**
     * @param positions KV-cache positions, prompt plus reply (default: the model's own limit)
     * @return this builder
     */
    public B contextLength(int positions) {
        if (positions < 1) throw new IllegalArgumentException("contextLength must be at least 1, got " + positions);
        this.contextLength = positions;
        return self();
    }

    /**
     * @param loaded a model already loaded, shared and not closed by this one (instead of a path)
     * @return this builder
     */
    public B model(LanguageModel loaded) {
        if (loaded == null) throw new IllegalArgumentException("model is null");
        this.model = loaded;
        return self();
    }

    /**
     * @param name the name responses report (default: the model's directory or file name)
     * @return this builder
     */
    public B modelName(String name) {
        this.modelName = name;
        return self();
    }

    /**
     * @param t sampling temperature, 0 (the default) for greedy, at most 2
     * @return this builder
     */
    public B temperature(double t) {
        if (!(t >= 0 && t <= 2)) throw new IllegalArgumentException("temperature must be between 0 and 2, got " + t);
        this.temperature = t;
        return self();
    }

    /**
     * @param p nucleus cut, above 0 and at most 1 (default 1: none)
     * @return this builder
     */
    public B topP(double p) {
        if (!(p > 0 && p <= 1)) throw new IllegalArgumentException("topP must be above 0 and at most 1, got " + p);
        this.topP = p;
        return self();
    }

    /**
     * @param k keep the k likeliest tokens, 0 (the default) for all
     * @return this builder
     */
    public B topK(int k) {
        if (k < 0) throw new IllegalArgumentException("topK must be 0 or more, got " + k);
        this.topK = k;
        return self();
    }

    /**
     * @param seed the sampling seed, for repeatable sampled replies
     * @return this builder
     */
    public B seed(long seed) {
        this.seed = seed;
        return self();
    }

    /**
     * @param n the most new tokens a reply has, at least 1 (default {@value GenerationRequest#DEFAULT_MAX_NEW_TOKENS})
     * @return this builder
     */
    public B maxTokens(int n) {
        if (n < 1) throw new IllegalArgumentException("maxTokens must be at least 1, got " + n);
        this.maxTokens = n;
        return self();
    }

    /**
     * @param stops texts that end a reply, each not empty
     * @return this builder
     */
    public B stopSequences(List<String> stops) {
        for (String s : stops) if (s == null || s.isEmpty()) throw new IllegalArgumentException("a stop sequence is empty");
        stopSequences.clear();
        stopSequences.addAll(stops);
        return self();
    }
}
