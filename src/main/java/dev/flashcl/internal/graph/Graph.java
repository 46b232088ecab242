package dev.flashcl.internal.graph;

import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A forward pass as a list of named nodes ({@code layer.7.attn.qkv}, ...), built once. Each node
 * reads and writes activation tensors; {@link #plan} gives every tensor a device buffer, reusing
 * a buffer once the last node that reads its tensor has run (liveness), and then asks every node
 * to bind its kernel arguments to those buffers, once. {@link #run} enqueues the whole pass with
 * only the per-step numbers (rows, position) changing and no host round-trip inside it.
 *
 * <pre>
 *   graph.tensor("x", bytesPerRow)            symbolic tensor of maxRows rows
 *   graph.node("layer.0.ln", reads, writes, buffers -> step)   binding happens in plan()
 *   graph.plan(ctx, maxRows); graph.run(new Step(rows, pos))
 * </pre>
 * Persistent buffers (weights, the KV cache, the token id) are not graph tensors: nodes capture them.
 */
public final class Graph implements AutoCloseable {
    /** The numbers that change between runs: rows of this pass and the position of its first row. */
    public record Step(int rows, int position) {
        public int kvLen() {
            return position + rows;
        }
    }

    /** A node's enqueue, with its arguments already bound. */
    @FunctionalInterface
    public interface Launch {
        void run(Step step);
    }

    /** An activation tensor of up to {@code maxRows x bytesPerRow} bytes. */
    public static final class Tensor {
        final String name;
        final long bytesPerRow;
        int first = Integer.MAX_VALUE, last = -1;
        ClBuffer buffer;

        Tensor(String name, long bytesPerRow) {
            this.name = name;
            this.bytesPerRow = bytesPerRow;
        }

        public String name() {
            return name;
        }

        /** The buffer {@link #plan} gave this tensor (shared with tensors whose lifetimes do not overlap). */
        public ClBuffer buffer() {
            if (buffer == null) throw new IllegalStateException("tensor " + name + " has no buffer before plan()");
            return buffer;
        }
    }

    private record Node(String name, List<Tensor> reads, List<Tensor> writes, Function<Graph, Launch> binder) {}

    private final String name;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final List<ClBuffer> pool = new ArrayList<>();
    private Launch[] launches;
    private String[] names;
    private int maxRows;

    public Graph(String name) {
        this.name = name;
    }

    public Tensor tensor(String tensorName, long bytesPerRow) {
        if (tensors.containsKey(tensorName)) throw new IllegalArgumentException("tensor " + tensorName + " defined twice in graph " + name);
        Tensor t = new Tensor(tensorName, bytesPerRow);
        tensors.put(tensorName, t);
        return t;
    }

    /** Adds a node; {@code binder} runs in {@link #plan}, when every tensor has its buffer, and returns the bound launch. */
    public void node(String nodeName, List<Tensor> reads, List<Tensor> writes, Function<Graph, Launch> binder) {
        int i = nodes.size();
        for (Tensor t : reads) {
            if (t.first == Integer.MAX_VALUE) throw new IllegalArgumentException("node " + nodeName + " reads " + t.name + " before any node writes it");
            t.last = Math.max(t.last, i);
        }
        for (Tensor t : writes) {
            t.first = Math.min(t.first, i);
            t.last = Math.max(t.last, i);
        }
        nodes.add(new Node(nodeName, reads, writes, binder));
    }

    /**
     * Gives every tensor a buffer by liveness (greedy: a tensor takes the smallest free buffer
     * that holds it, a buffer is freed after the last node that uses its tensor) and binds the nodes.
     */
    public void plan(ClContext ctx, int rows) {
        if (launches != null) throw new IllegalStateException("graph " + name + " is already planned");
        maxRows = rows;
        List<Tensor> byStart = new ArrayList<>(tensors.values());
        byStart.removeIf(t -> t.last < 0);
        byStart.sort(Comparator.comparingInt((Tensor t) -> t.first));
        List<ClBuffer> free = new ArrayList<>();
        Map<ClBuffer, Integer> busyUntil = new HashMap<>();
        for (Tensor t : byStart) {
            for (var it = busyUntil.entrySet().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (e.getValue() < t.first) {
                    free.add(e.getKey());
                    it.remove();
                }
            }
            long bytes = t.bytesPerRow * rows;
            ClBuffer best = null;
            for (ClBuffer b : free) if (b.bytes() >= bytes && (best == null || b.bytes() < best.bytes())) best = b;
            if (best == null) {
                best = ctx.allocate(name + " activations #" + pool.size() + " (first " + t.name + ")", bytes);
                pool.add(best);
            } else {
                free.remove(best);
            }
            t.buffer = best;
            busyUntil.put(best, t.last);
        }
        launches = new Launch[nodes.size()];
        names = new String[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            launches[i] = nodes.get(i).binder.apply(this);
            names[i] = nodes.get(i).name;
        }
    }

    /** Enqueues every node for this step (nothing waits). */
    public void run(Step step) {
        run(step, null);
    }

    /** Observes the pass node by node (tests, debugging, the NaN guard): {@code after} runs once each node is enqueued. */
    public interface Observer {
        void after(String nodeName, Step step);
    }

    public void run(Step step, Observer after) {
        if (launches == null) throw new IllegalStateException("graph " + name + " is not planned");
        if (step.rows() < 1 || step.rows() > maxRows) {
            throw new IllegalArgumentException("graph " + name + " runs 1.." + maxRows + " rows, asked for " + step.rows());
        }
        for (int i = 0; i < launches.length; i++) {
            launches[i].run(step);
            if (after != null) after.after(names[i], step);
        }
    }

    public Tensor get(String tensorName) {
        Tensor t = tensors.get(tensorName);
        if (t == null) throw new IllegalArgumentException("graph " + name + " has no tensor " + tensorName);
        return t;
    }

    public List<String> nodeNames() {
        return nodes.stream().map(Node::name).toList();
    }

    /** Kernel launches per run (nodes; a node may enqueue more than one kernel). */
    public int size() {
        return nodes.size();
    }

    /** Bytes of the activation buffers the plan allocated. */
    public long activationBytes() {
        return pool.stream().mapToLong(ClBuffer::bytes).sum();
    }

    public int bufferCount() {
        return pool.size();
    }

    @Override
    public void close() {
        for (ClBuffer b : pool) b.close();
        pool.clear();
    }
}
