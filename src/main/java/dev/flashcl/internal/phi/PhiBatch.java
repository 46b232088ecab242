package dev.flashcl.internal.phi;

import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClBuffer;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.ClKernel;
import dev.flashcl.internal.cl.DeviceMemoryException;
import dev.flashcl.internal.graph.Graph;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Arrays;
import java.util.List;

/**
 * Batched decode over a paged KV cache, beside a {@link PhiModel}'s own graphs and sharing its
 * weights: each step takes one token of each of up to {@code maxRows} sequences, every sequence
 * at its own position, its keys and values in pages of {@code pageSize} positions (a page holds
 * one layer's [heads, pageSize, head_dim]; the pools are one buffer per layer, for keys and for
 * values). A sequence's page table lists its pages in order; pages come from a free list and
 * go back to it, so the cache's memory follows the tokens in flight, as vLLM's does.
 *
 * <p>Prompts are not prefilled here: they run through the model's prefill graph (its contiguous
 * KV cache is the scratch of one prompt at a time), and {@link #copyPrefill} moves the result into
 * the sequence's pages. The step graph is the prefill graph's products over the batch's rows,
 * with paged attention; its argmax leaves each row's next id where the next step reads it, so the
 * host writes an input id only where it differs (a sampled token, a new or moved row). Not
 * thread-safe; one user, with the model's other graphs idle while a step runs.
 */
public final class PhiBatch implements AutoCloseable {
    private final PhiModel model;
    private final ClContext ctx;
    private final int maxRows, pageSize, pages, maxPages;
    final ClBuffer ids, logits, positions, table;
    final ClBuffer[] kPages, vPages;
    private final ClBuffer prefillTable;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final List<ClKernel> copies = new ArrayList<>();
    private final Graph graph;
    private final int[] freeList;
    private int free;
    // Prefix sharing: a page full of a prompt's positions is keyed by a hash of every token up to
    // its end (and keeps its own tokens, compared on lookup); sequences with the same prefix take
    // the same pages. refs counts the sequences holding a page; a keyed page nobody holds stays
    // cached (evictable, least recently released first) until a page is needed.
    private final int[] refs;
    private final long[] keyOf;
    private final int[][] tokensOf;
    private final Map<Long, Integer> prefix = new HashMap<>();
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();
    private volatile long sharedPositions;
    private final List<ClKernel> restores = new ArrayList<>();
    private final int[] deviceIds, deviceTable;
    private int deviceTableRows = -1;

    PhiBatch(PhiModel model, int maxRows, int pageSize, int pages) {
        this.model = model;
        this.ctx = model.context();
        var cfg = model.config();
        if (maxRows < 1) throw new IllegalArgumentException("the batch must take at least 1 sequence, got " + maxRows);
        if (pageSize < 1) throw new IllegalArgumentException("a KV page must hold at least 1 position, got " + pageSize);
        this.maxRows = maxRows;
        this.pageSize = pageSize;
        this.maxPages = (model.contextLength() + pageSize - 1) / pageSize;
        if (pages < maxPages) {
            throw new IllegalArgumentException("a KV cache of " + pages + " pages of " + pageSize + " positions cannot hold one sequence of the context ("
                    + model.contextLength() + " positions, " + maxPages + " pages)");
        }
        this.pages = pages;
        long need = cacheBytes(cfg, model.storage().bytes, pageSize, pages);
        long have = ctx.device().globalMemBytes() - ctx.bytesInUse();
        if (need > have) {
            throw new DeviceMemoryException(String.format("a paged KV cache of %d pages (%d positions) needs %s of device memory, but %s has %s free; "
                    + "give it fewer pages", pages, (long) pages * pageSize, Bytes.format(need), ctx.device().name(), Bytes.format(have)));
        }
        refs = new int[pages];
        keyOf = new long[pages];
        tokensOf = new int[pages][];
        freeList = new int[pages];
        for (int i = 0; i < pages; i++) freeList[i] = pages - 1 - i;   // page 0 first
        free = pages;
        deviceIds = new int[maxRows];
        Arrays.fill(deviceIds, -1);
        deviceTable = new int[maxRows * maxPages];
        kPages = new ClBuffer[cfg.numLayers()];
        vPages = new ClBuffer[cfg.numLayers()];
        try {
            ids = own(ctx.allocate("batch token ids and flags", 8L * maxRows));
            logits = own(ctx.allocate("batch logits", (long) maxRows * cfg.vocabSize() * 4));
            positions = own(ctx.allocate("batch positions", 4L * maxRows));
            table = own(ctx.allocate("batch page tables", 4L * maxRows * maxPages));
            prefillTable = own(ctx.allocate("prefill page table", 4L * maxPages));
            long layerBytes = pageBytes(cfg, model.storage().bytes, pageSize) * pages;
            for (int l = 0; l < kPages.length; l++) {
                kPages[l] = own(ctx.allocate("KV pages (keys) of layer " + l, layerBytes));
                vPages[l] = own(ctx.allocate("KV pages (values) of layer " + l, layerBytes));
            }
            PhiKernels k = model.kernels();
            for (int l = 0; l < kPages.length; l++) {
                copies.add(copyKernel(k, "cache_to_pages", l));
                restores.add(copyKernel(k, "pages_to_cache", l));
            }
            graph = own(model.buildGraph(PhiModel.Mode.BATCH, k, maxRows, this));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Layer {@code l}'s copy between the contiguous cache and the pages, one way or the other (both kernels take the same arguments). */
    private ClKernel copyKernel(PhiKernels k, String name, int l) {
        int heads = model.config().numHeads(), context = model.contextLength();
        return own(k.kernel(name)).arg("k_cache", model.keyCache()).arg("v_cache", model.valueCache()).arg("cache_row0", l * heads * context).arg("ctx", context)
                .arg("k_pages", kPages[l]).arg("v_pages", vPages[l]).arg("page_size", pageSize).arg("table", prefillTable).arg("heads", heads)
                .arg("d_head", model.config().headDim());
    }

    /** Device bytes of one page across every layer, keys and values. */
    public static long pageBytes(dev.flashcl.internal.checkpoint.PhiConfig cfg, int elementBytes, int pageSize) {
        return (long) cfg.numHeads() * pageSize * cfg.headDim() * elementBytes;
    }

    /** Device bytes of {@code pages} pages in every layer, keys and values. */
    public static long cacheBytes(dev.flashcl.internal.checkpoint.PhiConfig cfg, int elementBytes, int pageSize, long pages) {
        return 2L * cfg.numLayers() * pageBytes(cfg, elementBytes, pageSize) * pages;
    }

    private <T extends AutoCloseable> T own(T r) {
        owned.add(r);
        return r;
    }

    public int maxRows() {
        return maxRows;
    }

    public int pageSize() {
        return pageSize;
    }

    public int pages() {
        return pages;
    }

    /** Pages a sequence can take: free ones and cached prefix pages nobody holds. */
    public int freePages() {
        return free + evictable.size();
    }

    /** Pages one sequence needs to hold {@code positions} positions. */
    public int pagesFor(int positions) {
        return (positions + pageSize - 1) / pageSize;
    }

    /** Pages a sequence's table can list (the context's worth). */
    public int maxPagesPerSequence() {
        return maxPages;
    }

    /** Takes a page, evicting the cached prefix page released longest ago when none is free; -1 when none is left. */
    public int takePage() {
        int p;
        if (free > 0) {
            p = freeList[--free];
        } else if (!evictable.isEmpty()) {
            p = evictable.iterator().next();
            evictable.remove(p);
            prefix.remove(keyOf[p], p);
            tokensOf[p] = null;
        } else {
            return -1;
        }
        refs[p] = 1;
        return p;
    }

    /** Gives pages back: each a sequence no longer holds goes to the free list, or stays cached if it holds a shared prefix. */
    public void returnPages(int[] taken, int count) {
        for (int i = 0; i < count; i++) {
            int p = taken[i];
            if (refs[p] <= 0) throw new IllegalStateException("page " + p + " returned but not held");
            if (--refs[p] > 0) continue;
            if (tokensOf[p] != null) evictable.add(p);
            else freeList[free++] = p;
        }
    }

    /** The hash of a prefix's tokens [0, (j + 1) pageSize), from the hash up to page j's start. */
    private long pageKey(long parent, int[] tokens, int j) {
        long h = parent ^ 0x9E3779B97F4A7C15L * (j + 1);
        for (int i = j * pageSize; i < (j + 1) * pageSize; i++) {
            h = (h ^ tokens[i]) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 31;
        }
        return h;
    }

    /**
     * Puts into {@code pageTable} the cached pages that hold a prefix of {@code tokens}, page by
     * page from the first, and holds them: full pages only, and never the page of the last token
     * (its logits have to be computed). Returns how many.
     */
    public int sharePrefix(int[] tokens, int[] pageTable) {
        long h = 0;
        int j = 0;
        for (; (j + 1) * pageSize <= tokens.length - 1; j++) {
            h = pageKey(h, tokens, j);
            Integer p = prefix.get(h);
            if (p == null || !Arrays.equals(tokensOf[p], 0, pageSize, tokens, j * pageSize, (j + 1) * pageSize)) break;
            if (refs[p]++ == 0) evictable.remove(p);
            pageTable[j] = p;
        }
        sharedPositions += (long) j * pageSize;
        return j;
    }

    /** Offers the full pages of {@code tokens}' positions (a prefill just copied into {@code pageTable}) for later prompts to share. */
    public void registerPrefix(int[] tokens, int[] pageTable) {
        long h = 0;
        for (int j = 0; (j + 1) * pageSize <= tokens.length; j++) {
            h = pageKey(h, tokens, j);
            int p = pageTable[j];
            if (tokensOf[p] != null || prefix.containsKey(h)) continue;   // already shared, or another page holds this prefix
            prefix.put(h, p);
            keyOf[p] = h;
            tokensOf[p] = Arrays.copyOfRange(tokens, j * pageSize, (j + 1) * pageSize);
        }
    }

    /** Positions whose KV came from shared pages instead of a prefill, so far. */
    public long sharedPositions() {
        return sharedPositions;
    }

    /** Copies positions [0, n) of the pages {@code pageTable} lists into the model's contiguous KV cache, which then holds n positions. */
    public void restorePrefix(int[] pageTable, int n) {
        if (n < 1 || n > model.contextLength()) throw new IllegalArgumentException("a prefix of " + n + " positions does not fit the context of " + model.contextLength());
        copy(restores, pageTable, n);
        model.resumeAt(n);
    }

    /** Copies positions [0, n) of the model's contiguous KV cache (a prompt just prefilled) into the pages {@code pageTable} lists. */
    public void copyPrefill(int[] pageTable, int n) {
        if (n < 1 || n > model.cachedPositions()) throw new IllegalArgumentException("the prefill cache holds " + model.cachedPositions() + " positions, asked to copy " + n);
        if (pageTable.length < pagesFor(n)) throw new IllegalArgumentException(n + " positions need " + pagesFor(n) + " pages, the table lists " + pageTable.length);
        copy(copies, pageTable, n);
    }

    /** Runs the copy kernels, one a layer, over positions [0, n) of the pages {@code pageTable} lists. */
    private void copy(List<ClKernel> kernels, int[] pageTable, int n) {
        prefillTable.write(Arrays.copyOf(pageTable, maxPages));
        int d = model.config().headDim(), heads = model.config().numHeads();
        for (ClKernel c : kernels) c.arg("n", n).launch(ctx, new long[] {d, heads, n}, null);
    }

    /**
     * One decode step of {@code rows} sequences: row r feeds {@code inputs[r]} at {@code
     * positions[r]} (its page table, row r of {@code pageTables}, must list a page for it), and
     * gets back its argmax in {@code next[r]}, with {@code bad[r]} true where its logits were not
     * finite. The row logits stay on the device for {@link #logits}.
     */
    public void step(int rows, int[] inputs, int[] rowPositions, int[][] pageTables, int[] next, boolean[] bad) {
        if (rows < 1 || rows > maxRows) throw new IllegalArgumentException("a step takes 1.." + maxRows + " rows, got " + rows);
        int vocab = model.config().vocabSize();
        boolean idsDiffer = false;
        for (int r = 0; r < rows; r++) {
            if (inputs[r] < 0 || inputs[r] >= vocab) throw new IllegalArgumentException("token id " + inputs[r] + " is outside the vocabulary of " + vocab);
            int need = rowPositions[r] / pageSize;
            if (rowPositions[r] < 0 || rowPositions[r] >= model.contextLength() || need >= pageTables[r].length || pageTables[r][need] < 0) {
                throw new IllegalArgumentException("row " + r + " at position " + rowPositions[r] + " has no page for it");
            }
            idsDiffer |= deviceIds[r] != inputs[r];
        }
        if (idsDiffer) {
            System.arraycopy(inputs, 0, deviceIds, 0, rows);
            ids.write(Arrays.copyOf(deviceIds, maxRows));
        }
        positions.write(Arrays.copyOf(rowPositions, maxRows));
        boolean tableDiffers = rows > deviceTableRows;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < maxPages; j++) {
                int p = j < pageTables[r].length ? pageTables[r][j] : 0;
                if (p < 0) p = 0;
                if (deviceTable[r * maxPages + j] != p) {
                    deviceTable[r * maxPages + j] = p;
                    tableDiffers = true;
                }
            }
        }
        if (tableDiffers) {
            table.write(deviceTable);
            deviceTableRows = Math.max(deviceTableRows, rows);
        }
        graph.run(new Graph.Step(rows, 0));
        int[] out = new int[2 * maxRows];
        ids.read(out);
        for (int r = 0; r < rows; r++) {
            next[r] = out[r];
            bad[r] = out[maxRows + r] != 0;
            deviceIds[r] = out[r];
        }
        for (int r = rows; r < maxRows; r++) deviceIds[r] = out[r];
    }

    /** Row {@code row}'s logits of the last step. */
    public float[] logits(int row) {
        int v = model.config().vocabSize();
        float[] out = new float[v];
        logits.read(out, (long) row * v);
        return out;
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // closing device objects: nothing to recover
            }
        }
        owned.clear();
    }
}
