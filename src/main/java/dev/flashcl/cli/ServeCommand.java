package dev.flashcl.cli;

import dev.flashcl.FlashCl;
import dev.flashcl.LanguageModel;
import dev.flashcl.LoadOptions;
import dev.flashcl.server.FlashClServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code flashcl serve}: the OpenAI completions and chat API over one model, until SIGTERM or
 * Ctrl-C. Every option can come from the environment too (FLASHCL_MODEL, FLASHCL_DEVICE,
 * FLASHCL_HOST, FLASHCL_PORT, ...), as a container is configured; a flag wins over its variable.
 */
@Command(name = "serve", description = "Serve the OpenAI completions and chat completions API (streaming, /v1/models, /health, /metrics) over one model.")
final class ServeCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @picocli.CommandLine.Mixin DeviceOption device;
    @Option(names = "--host", defaultValue = "${env:FLASHCL_HOST:-127.0.0.1}", description = "Address to bind (default: FLASHCL_HOST, else 127.0.0.1; 0.0.0.0 for every interface).")
    String host;
    @Option(names = "--port", defaultValue = "${env:FLASHCL_PORT:-8080}", description = "Port (default: FLASHCL_PORT, else 8080; 0 for any free port, printed).")
    int port;
    @Option(names = "--context", defaultValue = "${env:FLASHCL_CONTEXT}", description = "KV cache positions (default: FLASHCL_CONTEXT, else the model's max_position_embeddings).")
    Integer context;
    @Option(names = "--api-key", description = "Require 'Authorization: Bearer KEY' on /v1 (default: the FLASHCL_API_KEY environment variable, else none).")
    String apiKey;
    @Option(names = "--model-name", defaultValue = "${env:FLASHCL_MODEL_NAME}", description = "The model id /v1/models lists and requests name (default: FLASHCL_MODEL_NAME, else the model directory's name).")
    String modelName;
    @Option(names = "--max-queue", defaultValue = "${env:FLASHCL_MAX_QUEUE:-64}", description = "Requests waiting at most; more get 429 (default: FLASHCL_MAX_QUEUE, else 64).")
    int maxQueue;
    @Option(names = "--max-batch", defaultValue = "${env:FLASHCL_MAX_BATCH:-32}", description = "Sequences decoded together in one step at most (continuous batching; default: FLASHCL_MAX_BATCH, else 32).")
    int maxBatch;
    @Option(names = "--max-body", defaultValue = "${env:FLASHCL_MAX_BODY:-4000000}", description = "Largest request body in bytes; larger get 413 (default: FLASHCL_MAX_BODY, else 4000000).")
    int maxBody;
    @Option(names = "--max-connections", defaultValue = "${env:FLASHCL_MAX_CONNECTIONS:-256}", description = "Open connections at most (default: FLASHCL_MAX_CONNECTIONS, else 256).")
    int maxConnections;
    @Option(names = "--weights", defaultValue = "${env:FLASHCL_WEIGHTS:-stored}", description = GenerateCommand.WEIGHTS_HELP + " Default: FLASHCL_WEIGHTS, else stored.")
    String weights;

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("FLASHCL_API_KEY");
        LoadOptions.Builder load = LoadOptions.builder();
        if (context != null) Cli.option("--context", () -> load.contextLength(context));
        Cli.option("--weights", () -> load.weights(GenerateCommand.parseWeights(weights)));
        if (model.model == null && System.getenv("FLASHCL_MODEL") != null && !System.getenv("FLASHCL_MODEL").isEmpty()) {
            model.model = Path.of(System.getenv("FLASHCL_MODEL"));   // a container's configuration
        }
        Path dir = model.resolve();
        String name = modelName != null ? modelName : model.model == null ? "flashcl-embedded" : dir.toAbsolutePath().normalize().getFileName().toString();
        FlashClServer.Options opts = Cli.option("--port, --max-queue, --max-batch, --max-body, --max-connections or --api-key",
                () -> new FlashClServer.Options(host, port, name, key, maxQueue, maxBatch, maxBody, maxConnections));
        try (FlashCl engine = FlashCl.open(device.spec); LanguageModel m = engine.load(dir, load.build())) {
            Cli.note("device " + engine.device() + ": " + engine.selectionReason());
            FlashClServer server = new FlashClServer(m, opts);
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                try {
                    server.close();   // answers /health 503, cancels what runs, stops the HTTP server
                } catch (Exception e) {
                    System.err.println("flashcl: stopping the server: " + e.getMessage());
                }
                try {
                    stopped.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            System.err.printf("flashcl: serving '%s' on http://%s:%d/v1 (%s)%n", name, host, server.port(), key == null ? "no API key" : "API key required");
            try {
                server.join();
            } finally {
                stopped.countDown();
            }
        }
        return 0;
    }
}
