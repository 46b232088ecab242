// FlashAttention for OpenCL C 1.2: prefill (many query rows) and decode (one query row,
// Flash-Decoding: split the keys across work-groups, then merge the partial results by their
// running max and sum). The score matrix never exists: each work-group streams K/V tiles through
// local memory and keeps a running max (m_i), sum (l_i) and unnormalized output (acc).
//
// Layout: every Q/K/V/O tensor is [batch, heads, seq, HEAD_DIM] with head_dim contiguous; the
// other strides come in an int4 (offset, batch stride, head stride, row stride), in elements,
// so views (a slice of a KV cache, a [seq, heads, dim] projection output) need no copies. Offsets
// and strides are multiples of 4 elements (the host checks), so groups of 4 load as one vector.
// Storage is fp16 (vload_half/vstore_half, no cl_khr_fp16 needed) or fp32; arithmetic is fp32.
// Each score q.k is multiplied by scale*log2(e) so the softmax runs on exp2. Scaling the dot
// product, not q, matters: rounding every scaled q element doubled the error of scores in the
// thousands (seen in the decode tests).

#ifndef HEAD_DIM
#define HEAD_DIM 80          // elements per head; a multiple of 4
#endif
#ifndef BLOCK_M
#define BLOCK_M 64           // prefill: query rows per work-group, one row per work-item
#endif
#ifndef BLOCK_N
#define BLOCK_N 32           // prefill: keys per K/V tile in local memory; a multiple of 4
#endif
#ifndef DECODE_WG
#define DECODE_WG 64         // decode: work-items per split; each takes every DECODE_WG-th key
#endif
#ifndef UNROLL_HINTS
#define UNROLL_HINTS 1       // 1: ask for the loops over head_dim and tile keys to be unrolled
#endif
#if UNROLL_HINTS
#define UNROLL _Pragma("unroll")
#else
#define UNROLL
#endif
#ifndef WITH_PREFILL
#define WITH_PREFILL 1       // the host builds prefill and decode as separate programs
#endif
#ifndef WITH_DECODE
#define WITH_DECODE 1
#endif
#ifndef QUAD
#define QUAD 0               // prefill kernel: 0 flash_attn_prefill (a row per work-item), 1 flash_attn_prefill_quad
#endif
#ifndef MMA
#define MMA 0                // 1: also flash_attn_prefill_mma (NVIDIA tensor cores through inline PTX; fp16, HEAD_DIM % 16 == 0)
#endif

#if HEAD_DIM % 4 != 0
#error "HEAD_DIM must be a multiple of 4"
#endif
#if BLOCK_N % 4 != 0
#error "BLOCK_N must be a multiple of 4"
#endif
#define D4 (HEAD_DIM / 4)

#include "storage.cl"

#ifdef FLASHCL_FAULT   // a wrong kernel for the suite's own test: output column FLASHCL_FAULT stored 1% off
#undef STORE1
#if STORAGE_F16
#define STORE1(x, p, i) vstore_half_rte(((i) == FLASHCL_FAULT ? 1.01f : 1.0f) * (x), (i), (p))
#else
#define STORE1(x, p, i) ((p)[i] = ((i) == FLASHCL_FAULT ? 1.01f : 1.0f) * (x))
#endif
#endif

#define LN2 0.69314718055994530942f

// Element offset of (batch b, head h, row r) in a tensor whose layout is (offset, sb, sh, sr).
inline size_t row_offset(int4 layout, int b, int h, int r) {
    return (size_t)layout.x + (size_t)b * layout.y + (size_t)h * layout.z + (size_t)r * layout.w;
}

#if WITH_PREFILL
// This work-group's query block, head and batch (x, y, z). NDRange (heads * batch * group size,
// query blocks): work-groups are dispatched x first, so under a causal mask every head's last
// (longest) query block starts in the first wave and the short first blocks fill the tail. With
// the query blocks along x, each head's blocks went out heaviest first but the heads one after
// another, so the last head's longest block started near the end and ran alone.
inline int3 prefill_block(int heads) {
    const int hb = get_group_id(0);
    return (int3)(get_num_groups(1) - 1 - get_group_id(1), hb % heads, hb / heads);
}

// The arguments of the three prefill kernels (row, quad, tensor cores): one contract, bound by
// FlashAttention.prefill whichever kernel runs.
#define PREFILL_ARGS                                                                               \
        __global const STORE_T* q, int4 q_layout,   /* [batch, heads, q_len, HEAD_DIM] */          \
        __global const STORE_T* k, int4 k_layout,   /* [batch, heads, kv_len, HEAD_DIM] */         \
        __global const STORE_T* v, int4 v_layout,   /* [batch, heads, kv_len, HEAD_DIM] */         \
        __global STORE_T* o, int4 o_layout,         /* [batch, heads, q_len, HEAD_DIM] */          \
        __global float* lse,                        /* [batch, heads, q_len] or NULL */            \
        int heads, int q_len, int kv_len, int causal, float scale

// The K/V tile of keys [start, start + BLOCK_N) into local memory, by the work-group's BLOCK_M
// work-items (both portable prefill kernels), in two halves: fetch_kv_tile issues this
// work-item's global loads into registers (as stored: fp16 stays packed; keys past kv_len are
// zeros), every load in flight before the first is used; store_kv_tile converts and writes them.
// K is transposed (k_tile[d][j4] holds keys 4 j4 .. + 3 of dim d), consecutive work-items on
// consecutive keys so that the transposed stores are conflict-free; V is as stored, consecutive
// work-items on consecutive dims so that the loads coalesce.
#define KV_PER_ITEM ((BLOCK_N * D4 + BLOCK_M - 1) / BLOCK_M)
#if STORAGE_F16
#define RAW4 uint2
#define LOAD_RAW4(p, i) (*(__global const uint2*)((p) + (i)))
#define RAW_ZERO ((uint2)(0))
inline float4 raw_to_float4(uint2 r) {
    return vload_half4(0, (const __private half*)&r);
}
#else
#define RAW4 float4
#define LOAD_RAW4(p, i) (*(__global const float4*)((p) + (i)))
#define RAW_ZERO ((float4)(0.0f))
#define raw_to_float4(r) (r)
#endif
inline void fetch_kv_tile(RAW4* kr, RAW4* vr, __global const STORE_T* k, size_t k_base, int k_row_stride,
                          __global const STORE_T* v, size_t v_base, int v_row_stride, int start, int kv_len) {
    const int tid = get_local_id(0);
    UNROLL
    for (int i = 0; i < KV_PER_ITEM; i++) {
        const int idx = tid + i * BLOCK_M, in = idx < BLOCK_N * D4;
        const int jk = idx % BLOCK_N, dk = 4 * (idx / BLOCK_N), jv = idx / D4, dv = 4 * (idx % D4);
        kr[i] = in && start + jk < kv_len ? LOAD_RAW4(k, k_base + (size_t)(start + jk) * k_row_stride + dk) : RAW_ZERO;
        vr[i] = in && start + jv < kv_len ? LOAD_RAW4(v, v_base + (size_t)(start + jv) * v_row_stride + dv) : RAW_ZERO;
    }
}
inline void store_kv_tile(const RAW4* kr, const RAW4* vr, __local float4 (*k_tile)[BLOCK_N / 4], __local float4 (*v_tile)[D4]) {
    const int tid = get_local_id(0);
    UNROLL
    for (int i = 0; i < KV_PER_ITEM; i++) {
        const int idx = tid + i * BLOCK_M;
        if (idx >= BLOCK_N * D4) break;
        const int jk = idx % BLOCK_N, dk = 4 * (idx / BLOCK_N);
        const float4 kv = raw_to_float4(kr[i]);
        ((__local float*)k_tile[dk + 0])[jk] = kv.x;
        ((__local float*)k_tile[dk + 1])[jk] = kv.y;
        ((__local float*)k_tile[dk + 2])[jk] = kv.z;
        ((__local float*)k_tile[dk + 3])[jk] = kv.w;
        v_tile[idx / D4][idx % D4] = raw_to_float4(vr[i]);
    }
}
#endif

#if WITH_PREFILL && !QUAD
// Prefill. NDRange: (heads * batch * BLOCK_M, num_q_blocks) (see prefill_block), work-group (BLOCK_M, 1, 1).
// Causal masking is aligned bottom-right: query row i sees key j iff j <= i + (kv_len - q_len),
// so a prompt chunk attends to the whole cache before it. Rows that see no key (q_len > kv_len)
// get a zero output and lse = -inf. lse (natural log, [batch, heads, q_len]) may be NULL.
__kernel __attribute__((reqd_work_group_size(BLOCK_M, 1, 1)))
void KERNEL(flash_attn_prefill)(PREFILL_ARGS) {
    // Tiles of float4, 16-byte aligned, so that each read below is one 16-byte local load whatever
    // the compiler can prove about a float array's alignment.
    __local float4 k_tile[HEAD_DIM][BLOCK_N / 4] __attribute__((aligned(16)));   // K^T: k_tile[d][j4] = keys 4 j4 .. + 3 of dim d
    __local float4 v_tile[BLOCK_N][D4] __attribute__((aligned(16)));

    const int tid = get_local_id(0);
    const int3 blk = prefill_block(heads);
    const int q_block = blk.x, head = blk.y, batch = blk.z;
    const int first_row = q_block * BLOCK_M;
    const int row = first_row + tid;
    const int shift = kv_len - q_len;
    const float scale_log2 = scale * M_LOG2E_F;

    float4 q_row[D4];
    float4 acc[D4];
    if (row < q_len) {
        __global const STORE_T* q_ptr = q + row_offset(q_layout, batch, head, row);
        UNROLL
        for (int d4 = 0; d4 < D4; d4++) q_row[d4] = LOAD4(q_ptr, 4 * d4);
    } else {
        UNROLL
        for (int d4 = 0; d4 < D4; d4++) q_row[d4] = (float4)(0.0f);
    }
    UNROLL
    for (int d4 = 0; d4 < D4; d4++) acc[d4] = (float4)(0.0f);
    float m_i = -INFINITY;
    float l_i = 0.0f;

    // Keys past the last row's diagonal are never seen by this block: stop there.
    const int last_row = min(first_row + BLOCK_M, q_len) - 1;
    const int kv_end = causal ? clamp(last_row + shift + 1, 0, kv_len) : kv_len;
    const size_t k_base = row_offset(k_layout, batch, head, 0);
    const size_t v_base = row_offset(v_layout, batch, head, 0);

    RAW4 kr[KV_PER_ITEM], vr[KV_PER_ITEM];
    for (int start = 0; start < kv_end; start += BLOCK_N) {
        fetch_kv_tile(kr, vr, k, k_base, k_layout.w, v, v_base, v_layout.w, start, kv_len);
        barrier(CLK_LOCAL_MEM_FENCE);   // every work-item is done with the previous tile
        store_kv_tile(kr, vr, k_tile, v_tile);
        barrier(CLK_LOCAL_MEM_FENCE);

        // s = q . k^T for BLOCK_N keys, then into log2 units.
        float4 s[BLOCK_N / 4];
        UNROLL
        for (int j4 = 0; j4 < BLOCK_N / 4; j4++) s[j4] = (float4)(0.0f);
        UNROLL
        for (int d4 = 0; d4 < D4; d4++) {
            const float4 qd = q_row[d4];
            UNROLL
            for (int j4 = 0; j4 < BLOCK_N / 4; j4++) {
                s[j4] = mad((float4)(qd.x), k_tile[4 * d4 + 0][j4], s[j4]);
                s[j4] = mad((float4)(qd.y), k_tile[4 * d4 + 1][j4], s[j4]);
                s[j4] = mad((float4)(qd.z), k_tile[4 * d4 + 2][j4], s[j4]);
                s[j4] = mad((float4)(qd.w), k_tile[4 * d4 + 3][j4], s[j4]);
            }
        }
        UNROLL
        for (int j4 = 0; j4 < BLOCK_N / 4; j4++) s[j4] *= scale_log2;
        // Mask only the ragged tail and tiles that cross this block's diagonal.
        const bool ragged = start + BLOCK_N > kv_len;
        const bool diagonal = causal && start + BLOCK_N - 1 > first_row + shift;
        if (ragged || diagonal) {
            const int limit = causal ? min(kv_len, row + shift + 1) : kv_len;   // keys < limit are seen
            UNROLL
            for (int j4 = 0; j4 < BLOCK_N / 4; j4++) {
                const int key = start + 4 * j4;
                if (key + 0 >= limit) s[j4].x = -INFINITY;
                if (key + 1 >= limit) s[j4].y = -INFINITY;
                if (key + 2 >= limit) s[j4].z = -INFINITY;
                if (key + 3 >= limit) s[j4].w = -INFINITY;
            }
        }

        // Online softmax: rescale what was accumulated by exp2(m_old - m_new).
        float m_new = m_i;
        UNROLL
        for (int j4 = 0; j4 < BLOCK_N / 4; j4++) m_new = fmax(m_new, fmax(fmax(s[j4].x, s[j4].y), fmax(s[j4].z, s[j4].w)));
        if (m_new != -INFINITY) {   // a row that has seen no key yet keeps m_i = -inf, l_i = 0
            const float alpha = exp2(m_i - m_new);
            l_i *= alpha;
            UNROLL
            for (int d4 = 0; d4 < D4; d4++) acc[d4] *= alpha;
            UNROLL
            for (int j4 = 0; j4 < BLOCK_N / 4; j4++) {
                const float4 p = exp2(s[j4] - m_new);
                l_i += p.x + p.y + p.z + p.w;
                UNROLL
                for (int d4 = 0; d4 < D4; d4++) {
                    float4 a = acc[d4];
                    a = mad((float4)(p.x), v_tile[4 * j4 + 0][d4], a);
                    a = mad((float4)(p.y), v_tile[4 * j4 + 1][d4], a);
                    a = mad((float4)(p.z), v_tile[4 * j4 + 2][d4], a);
                    a = mad((float4)(p.w), v_tile[4 * j4 + 3][d4], a);
                    acc[d4] = a;
                }
            }
            m_i = m_new;
        }
    }

    if (row < q_len) {
        const float inv_l = l_i > 0.0f ? 1.0f / l_i : 0.0f;
        __global STORE_T* o_ptr = o + row_offset(o_layout, batch, head, row);
        UNROLL
        for (int d4 = 0; d4 < D4; d4++) {
            const float4 out = acc[d4] * inv_l;
            STORE1(out.x, o_ptr, 4 * d4 + 0);
            STORE1(out.y, o_ptr, 4 * d4 + 1);
            STORE1(out.z, o_ptr, 4 * d4 + 2);
            STORE1(out.w, o_ptr, 4 * d4 + 3);
        }
        if (lse) lse[((size_t)batch * heads + head) * q_len + row] = l_i > 0.0f ? (m_i + log2(l_i)) * LN2 : -INFINITY;
    }
}

#endif  // WITH_PREFILL && !QUAD

#if WITH_PREFILL && QUAD
// Prefill, register-tiled by quads: the same arguments, results and NDRange as flash_attn_prefill
// (BLOCK_M work-items, BLOCK_M query rows), but four work-items (a quad) share four rows, so that
// every value read from local memory feeds 16 FMAs, not 4 (one row per work-item reads one k or v
// element per FMA, and local-memory instructions, not FMAs, then set the pace). Per K/V tile:
//   S = Q K^T  work-item `part` of the quad scores the quad's 4 rows against keys
//              [part * KPT, (part + 1) * KPT) over all of head_dim, Q^T and K^T both from local
//              memory: per dim one float4 of q (4 rows) and KPT / 4 float4 of k, 4 KPT FMAs.
//   softmax    the quad's scores go through local memory (s_tile), so each work-item reads all
//              BLOCK_N scores of its 4 rows and computes the same m_i, l_i and p as its partners.
//   O += P V   work-item `part` accumulates the 4 rows on the float4 dim groups part, part + 4,
//              part + 8, ...: per key one float4 of v feeds 16 FMAs.
// Needs HEAD_DIM % 16 == 0 and BLOCK_N % 16 == 0; Q^T stays in local memory for the whole kernel
// (4 BLOCK_M HEAD_DIM bytes), which is what limits BLOCK_M. The next K/V tile's global loads are
// in flight while this one is multiplied (measured on an H200, 2026-12-02, same call: 24.2 ->
// 28.3 TFLOP/s at N = 4096 against each tile's loads issued one at a time before its products;
// 26.9 with them all issued at once but not ahead).
#if HEAD_DIM % 16 != 0 || BLOCK_N % 16 != 0 || BLOCK_M % 4 != 0
#error "flash_attn_prefill_quad needs HEAD_DIM and BLOCK_N multiples of 16, BLOCK_M of 4"
#endif
#define KPT (BLOCK_N / 4)    // keys per work-item in S
#define DPT (D4 / 4)         // float4 dim groups per work-item in O
#define QUADS (BLOCK_M / 4)
#define ROW(v, r) ((r) == 0 ? (v).x : (r) == 1 ? (v).y : (r) == 2 ? (v).z : (v).w)

__kernel __attribute__((reqd_work_group_size(BLOCK_M, 1, 1)))
void KERNEL(flash_attn_prefill_quad)(PREFILL_ARGS) {
    // float4 tiles, 16-byte aligned (see flash_attn_prefill).
    __local float4 q_tile[HEAD_DIM][QUADS] __attribute__((aligned(16)));         // Q^T: q_tile[d][quad] = the quad's 4 rows at dim d
    __local float4 k_tile[HEAD_DIM][BLOCK_N / 4] __attribute__((aligned(16)));   // K^T: 4 keys of one dim
    __local float4 v_tile[BLOCK_N][D4] __attribute__((aligned(16)));             // [key][4 dims]
    __local float4 s_tile[BLOCK_N][QUADS] __attribute__((aligned(16)));          // scores q.k scale log2(e): [key][quad's 4 rows]

    const int tid = get_local_id(0), quad = tid >> 2, part = tid & 3;
    const int3 blk = prefill_block(heads);
    const int q_block = blk.x, head = blk.y, batch = blk.z;
    const int first_row = q_block * BLOCK_M;
    const int row0 = first_row + 4 * quad;   // the quad's rows: row0 .. row0 + 3
    const int shift = kv_len - q_len;
    const float scale_log2 = scale * M_LOG2E_F;

    // Q^T once: consecutive work-items take consecutive rows (conflict-free transposed stores).
    for (int idx = tid; idx < BLOCK_M * D4; idx += BLOCK_M) {
        const int r = idx % BLOCK_M, d = 4 * (idx / BLOCK_M), row = first_row + r;
        const float4 x = row < q_len ? LOAD4(q, row_offset(q_layout, batch, head, row) + d) : (float4)(0.0f);
        ((__local float*)q_tile[d + 0])[r] = x.x;
        ((__local float*)q_tile[d + 1])[r] = x.y;
        ((__local float*)q_tile[d + 2])[r] = x.z;
        ((__local float*)q_tile[d + 3])[r] = x.w;
    }

    float4 acc[DPT][4];   // acc[c][r]: row row0 + r, dims 4 (part + 4 c) .. + 3
    UNROLL
    for (int c = 0; c < DPT; c++) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = (float4)(0.0f);
    float4 m_i = (float4)(-INFINITY), l_i = (float4)(0.0f);   // per row, log2 units
    const int4 limit = causal ? min((int4)(kv_len), (int4)(row0 + shift + 1) + (int4)(0, 1, 2, 3)) : (int4)(kv_len);   // keys < limit are seen

    const int last_row = min(first_row + BLOCK_M, q_len) - 1;
    const int kv_end = causal ? clamp(last_row + shift + 1, 0, kv_len) : kv_len;
    const size_t k_base = row_offset(k_layout, batch, head, 0);
    const size_t v_base = row_offset(v_layout, batch, head, 0);

    // Software-pipelined K/V: tile t + 1's global loads are in flight (in registers) while tile t
    // is multiplied, then stored to local memory at the top of the next iteration.
    RAW4 kr[KV_PER_ITEM], vr[KV_PER_ITEM];
    if (kv_end > 0) fetch_kv_tile(kr, vr, k, k_base, k_layout.w, v, v_base, v_layout.w, 0, kv_len);
    for (int start = 0; start < kv_end; start += BLOCK_N) {
        barrier(CLK_LOCAL_MEM_FENCE);   // every work-item is done with the previous tile and its scores
        store_kv_tile(kr, vr, k_tile, v_tile);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (start + BLOCK_N < kv_end) fetch_kv_tile(kr, vr, k, k_base, k_layout.w, v, v_base, v_layout.w, start + BLOCK_N, kv_len);

        // s[jj]: the 4 rows' raw scores against key part * KPT + jj.
        float4 s[KPT];
        UNROLL
        for (int jj = 0; jj < KPT; jj++) s[jj] = (float4)(0.0f);
        UNROLL
        for (int d = 0; d < HEAD_DIM; d++) {
            const float4 qd = q_tile[d][quad];
            UNROLL
            for (int j4 = 0; j4 < KPT / 4; j4++) {
                const float4 kd = k_tile[d][part * (KPT / 4) + j4];
                s[4 * j4 + 0] = mad(qd, (float4)(kd.x), s[4 * j4 + 0]);
                s[4 * j4 + 1] = mad(qd, (float4)(kd.y), s[4 * j4 + 1]);
                s[4 * j4 + 2] = mad(qd, (float4)(kd.z), s[4 * j4 + 2]);
                s[4 * j4 + 3] = mad(qd, (float4)(kd.w), s[4 * j4 + 3]);
            }
        }
        UNROLL
        for (int jj = 0; jj < KPT; jj++) s_tile[part * KPT + jj][quad] = s[jj] * scale_log2;
        barrier(CLK_LOCAL_MEM_FENCE);

        // Online softmax over the tile's BLOCK_N keys, then O += P V. Masks only on the ragged
        // tail and on tiles that cross this block's diagonal.
        const bool masked = start + BLOCK_N > kv_len || (causal && start + BLOCK_N - 1 > first_row + shift);
        float4 m_new = m_i;
        UNROLL
        for (int j = 0; j < BLOCK_N; j++) {
            float4 sj = s_tile[j][quad];
            if (masked) sj = select(sj, (float4)(-INFINITY), (int4)(start + j) >= limit);
            m_new = fmax(m_new, sj);
        }
        // A row that has seen no key yet keeps m = -inf: subtract 0 instead, so p = 0, not NaN.
        const float4 base = select(m_new, (float4)(0.0f), m_new == (float4)(-INFINITY));
        const float4 alpha = exp2(m_i - base);
        l_i *= alpha;
        if (any(alpha != (float4)(1.0f))) {   // once the maxima settle, most tiles move none of them
            UNROLL
            for (int c = 0; c < DPT; c++) {
                acc[c][0] *= alpha.x;
                acc[c][1] *= alpha.y;
                acc[c][2] *= alpha.z;
                acc[c][3] *= alpha.w;
            }
        }
        UNROLL
        for (int j = 0; j < BLOCK_N; j++) {
            float4 sj = s_tile[j][quad];
            if (masked) sj = select(sj, (float4)(-INFINITY), (int4)(start + j) >= limit);
            const float4 p = exp2(sj - base);
            l_i += p;
            UNROLL
            for (int c = 0; c < DPT; c++) {
                const float4 vd = v_tile[j][part + 4 * c];
                acc[c][0] = mad((float4)(p.x), vd, acc[c][0]);
                acc[c][1] = mad((float4)(p.y), vd, acc[c][1]);
                acc[c][2] = mad((float4)(p.z), vd, acc[c][2]);
                acc[c][3] = mad((float4)(p.w), vd, acc[c][3]);
            }
        }
        m_i = m_new;
    }

    const float4 inv_l = select((float4)(0.0f), 1.0f / l_i, l_i > (float4)(0.0f));
    UNROLL
    for (int r = 0; r < 4; r++) {
        const int row = row0 + r;
        if (row >= q_len) break;
        __global STORE_T* o_ptr = o + row_offset(o_layout, batch, head, row);
        UNROLL
        for (int c = 0; c < DPT; c++) {
            const float4 out = acc[c][r] * ROW(inv_l, r);
            const int d = 4 * (part + 4 * c);
            STORE1(out.x, o_ptr, d + 0);
            STORE1(out.y, o_ptr, d + 1);
            STORE1(out.z, o_ptr, d + 2);
            STORE1(out.w, o_ptr, d + 3);
        }
        if (lse && part == 0) {
            const float l = ROW(l_i, r);
            lse[((size_t)batch * heads + head) * q_len + row] = l > 0.0f ? (ROW(m_i, r) + log2(l)) * LN2 : -INFINITY;
        }
    }
}
#endif  // WITH_PREFILL && QUAD

#if WITH_PREFILL && MMA && STORAGE_F16 && HEAD_DIM % 16 == 0
// Prefill on NVIDIA tensor cores (sm_80 and later) through inline PTX mma.sync.m16n8k16, fp16
// operands and fp32 accumulation; the same arguments and results as flash_attn_prefill. A
// work-group of MMA_WARPS warps takes 16 query rows per warp. K and V tiles of MMA_BN keys stay
// row-major in local memory ([key][dim], KV_LD halves a row) and come in by cp.async (16-byte
// asynchronous copies, no registers), two buffers deep: tile i + 1 is in flight while the warps
// work on tile i. Per tile and warp: S = Q K^T (Q's fragments stay in registers from the start,
// K's come by ldmatrix.x4), the online softmax on the accumulator layout (rows g and g + 8 of the
// warp's 16 in each work-item, the row max and sum over the 4 work-items of a quad by shuffles),
// then O += P V with P taken from the registers of S and V's fragments by ldmatrix.x4.trans. P is
// split into fp16 hi + lo parts (two products), so P V keeps fp32 accuracy rather than fp16's:
// the correctness suite holds this kernel to the same bounds as the fp32 one. ex2.approx
// (relative error about 2^-22) replaces exp2, and the scale folds into the exponent's FMA, so
// the running max is of raw scores (the host sends scale > 0 only).
// Q/K/V/O offsets and strides must be multiples of 8 elements (16-byte rows; the host checks).
// Measured on an H200 (2026-12-01), this version ran 2.0x the first one (registers for V's
// transpose, 32-bit fragment loads, loads then compute): 188 against 94 TFLOP/s at N = 8192.
#ifndef MMA_WARPS
#define MMA_WARPS 4                     // warps per work-group, 16 query rows each
#endif
#ifndef MMA_BN
#define MMA_BN 64                       // keys per tile; the host takes 32 where two buffers of 64 would not fit local memory
#endif
#define KV_LD (HEAD_DIM + 8)            // halves per local K/V row: 16-byte rows; an 8-row ldmatrix read hits 32 distinct banks
#define KV_WORDS (MMA_BN * KV_LD / 2)   // one tile of K or V
#define MMA_16816(c, a, b0, b1)                                                                          \
    __asm__ __volatile__("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
                 : "+f"((c)[0]), "+f"((c)[1]), "+f"((c)[2]), "+f"((c)[3])                                \
                 : "r"((a)[0]), "r"((a)[1]), "r"((a)[2]), "r"((a)[3]), "r"(b0), "r"(b1))

inline float shfl_xor(float v, int mask) {
    float r;
    __asm__ __volatile__("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(mask));
    return r;
}
inline float quad_max(float v) { v = fmax(v, shfl_xor(v, 1)); return fmax(v, shfl_xor(v, 2)); }
inline float quad_sum(float v) { v += shfl_xor(v, 1); return v + shfl_xor(v, 2); }
// Two floats rounded to fp16 (nearest even) in one word, lo in the low half.
inline uint pack_half2(float lo, float hi) {
    uint r;
    __asm__("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
inline float2 unpack_half2(uint w) {
    return vload_half2(0, (const __private half*)&w);
}
// A fragment pair (hi, lo) of P: fp16(p) and fp16(p - fp16(p)) for two keys of one row.
#define SPLIT2(hi, lo, p0, p1) { hi = pack_half2(p0, p1); const float2 h_ = unpack_half2(hi); lo = pack_half2((p0) - h_.x, (p1) - h_.y); }

#define LDMATRIX_X4(r, p)                                                                                \
    __asm__ __volatile__("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"                  \
                         : "=r"((r)[0]), "=r"((r)[1]), "=r"((r)[2]), "=r"((r)[3]) : "r"((uint)(size_t)(p)) : "memory")
#define LDMATRIX_X4_TRANS(r, p)                                                                          \
    __asm__ __volatile__("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"            \
                         : "=r"((r)[0]), "=r"((r)[1]), "=r"((r)[2]), "=r"((r)[3]) : "r"((uint)(size_t)(p)) : "memory")
#define CP_ASYNC_WAIT(n) __asm__ __volatile__("cp.async.wait_group " #n ";" ::: "memory")

// 16 bytes from global to local memory, asynchronously; the bytes past `bytes` (0 or 16) are zeros.
inline void cp_async16(__local uint* dst, __global const half* src, int bytes) {
    __asm__ __volatile__("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"((uint)(size_t)dst), "l"((ulong)src), "r"(bytes) : "memory");
}
inline void cp_async_commit(void) {
    __asm__ __volatile__("cp.async.commit_group;" ::: "memory");
}
inline float ex2(float x) {
    float y;
    __asm__("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Starts the copies of the K and V rows [start, start + MMA_BN) into kt and vt; rows past kv_len
// read nothing and become zeros.
inline void load_kv_async(__local uint* kt, __local uint* vt, __global const half* k, int4 k_layout, __global const half* v, int4 v_layout,
                          int batch, int head, int start, int kv_len) {
    for (int idx = get_local_id(0); idx < MMA_BN * (HEAD_DIM / 8); idx += 32 * MMA_WARPS) {
        const int j = idx / (HEAD_DIM / 8), c = idx % (HEAD_DIM / 8), key = start + j;
        const int row = min(key, kv_len - 1), bytes = key < kv_len ? 16 : 0;   // a valid address even when nothing is read
        cp_async16(kt + j * (KV_LD / 2) + 4 * c, k + row_offset(k_layout, batch, head, row) + 8 * c, bytes);
        cp_async16(vt + j * (KV_LD / 2) + 4 * c, v + row_offset(v_layout, batch, head, row) + 8 * c, bytes);
    }
    cp_async_commit();
}

__kernel __attribute__((reqd_work_group_size(32 * MMA_WARPS, 1, 1)))
void KERNEL(flash_attn_prefill_mma)(PREFILL_ARGS) {
    __local uint kv_tiles[2][2 * KV_WORDS] __attribute__((aligned(16)));   // [buffer]: K rows, then V rows
    const int tid = get_local_id(0), lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    const int3 blk = prefill_block(heads);
    const int q_block = blk.x, head = blk.y, batch = blk.z;
    const int first_row = q_block * 16 * MMA_WARPS;
    const int row0 = first_row + 16 * warp + g, row1 = row0 + 8;    // this work-item's two rows
    const int shift = kv_len - q_len;
    const float scale_log2 = scale * M_LOG2E_F;

    const int last_row = min(first_row + 16 * MMA_WARPS, q_len) - 1;
    const int kv_end = causal ? clamp(last_row + shift + 1, 0, kv_len) : kv_len;
    const int tiles = (kv_end + MMA_BN - 1) / MMA_BN;
    if (tiles > 0) load_kv_async(kv_tiles[0], kv_tiles[0] + KV_WORDS, k, k_layout, v, v_layout, batch, head, 0, kv_len);

    uint qf[HEAD_DIM / 16][4];
    {
        __global const uint* q0 = (__global const uint*)(q + row_offset(q_layout, batch, head, min(row0, q_len - 1)));
        __global const uint* q1 = (__global const uint*)(q + row_offset(q_layout, batch, head, min(row1, q_len - 1)));
        UNROLL
        for (int ks = 0; ks < HEAD_DIM / 16; ks++) {
            qf[ks][0] = row0 < q_len ? q0[8 * ks + t] : 0u;
            qf[ks][1] = row1 < q_len ? q1[8 * ks + t] : 0u;
            qf[ks][2] = row0 < q_len ? q0[8 * ks + 4 + t] : 0u;
            qf[ks][3] = row1 < q_len ? q1[8 * ks + 4 + t] : 0u;
        }
    }
    float acc[HEAD_DIM / 8][4];
    UNROLL
    for (int n = 0; n < HEAD_DIM / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;   // m: raw q.k, unscaled; l: this work-item's columns only
    const int limit0 = causal ? min(kv_len, row0 + shift + 1) : kv_len;   // keys < limit are seen
    const int limit1 = causal ? min(kv_len, row1 + shift + 1) : kv_len;
    // Lane offsets (in words) of the ldmatrix row addresses: matrix lane / 8, row lane % 8.
    const int k_lane = ((lane & 7) + 8 * (lane >> 4)) * (KV_LD / 2) + 4 * ((lane >> 3) & 1);   // keys 8j + .., dims 16ks + 0 / 8
    const int v_lane = ((lane & 7) + 8 * ((lane >> 3) & 1)) * (KV_LD / 2) + 4 * (lane >> 4);   // keys 16kk + 0 / 8 + .., dims 8n + 0 / 8

    for (int i = 0; i < tiles; i++) {
        const int start = i * MMA_BN;
        if (i + 1 < tiles) {
            load_kv_async(kv_tiles[(i + 1) & 1], kv_tiles[(i + 1) & 1] + KV_WORDS, k, k_layout, v, v_layout, batch, head, start + MMA_BN, kv_len);
            CP_ASYNC_WAIT(1);   // this work-item's copies of tile i have landed
        } else {
            CP_ASYNC_WAIT(0);
        }
        barrier(CLK_LOCAL_MEM_FENCE);   // ... and every work-item's
        __local const uint* kt = kv_tiles[i & 1];
        __local const uint* vt = kv_tiles[i & 1] + KV_WORDS;

        float s[MMA_BN / 8][4];
        UNROLL
        for (int j = 0; j < MMA_BN / 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
        UNROLL
        for (int ks = 0; ks < HEAD_DIM / 16; ks++) {
            UNROLL
            for (int j = 0; j < MMA_BN / 8; j += 2) {
                uint b[4];
                LDMATRIX_X4(b, kt + 8 * j * (KV_LD / 2) + 8 * ks + k_lane);
                MMA_16816(s[j], qf[ks], b[0], b[1]);
                MMA_16816(s[j + 1], qf[ks], b[2], b[3]);
            }
        }
        const bool masked = start + MMA_BN > kv_len || (causal && start + MMA_BN - 1 > first_row + shift);
        float mx0 = m0, mx1 = m1;
        UNROLL
        for (int j = 0; j < MMA_BN / 8; j++) {
            if (masked) {
                UNROLL
                for (int e = 0; e < 4; e++)
                    if (start + 8 * j + 2 * t + (e & 1) >= (e < 2 ? limit0 : limit1)) s[j][e] = -INFINITY;
            }
            mx0 = fmax(mx0, fmax(s[j][0], s[j][1]));
            mx1 = fmax(mx1, fmax(s[j][2], s[j][3]));
        }
        mx0 = quad_max(mx0);
        mx1 = quad_max(mx1);
        // p = 2^(scale_log2 (s - m)) as one FMA each. A row that has seen no key yet keeps
        // m = -inf: subtract 0 instead, so p = 0, not NaN.
        const float base0 = mx0 == -INFINITY ? 0.0f : mx0 * scale_log2, base1 = mx1 == -INFINITY ? 0.0f : mx1 * scale_log2;
        const float alpha0 = ex2(m0 * scale_log2 - base0), alpha1 = ex2(m1 * scale_log2 - base1);
        m0 = mx0;
        m1 = mx1;
        l0 *= alpha0;
        l1 *= alpha1;
        UNROLL
        for (int n = 0; n < HEAD_DIM / 8; n++) {
            acc[n][0] *= alpha0; acc[n][1] *= alpha0; acc[n][2] *= alpha1; acc[n][3] *= alpha1;
        }
        UNROLL
        for (int kk = 0; kk < MMA_BN / 16; kk++) {   // 16 keys: S tiles 2kk and 2kk + 1 are P's A fragment
            float p[2][4];
            UNROLL
            for (int h = 0; h < 2; h++) {
                p[h][0] = ex2(fma(s[2 * kk + h][0], scale_log2, -base0)); p[h][1] = ex2(fma(s[2 * kk + h][1], scale_log2, -base0));
                p[h][2] = ex2(fma(s[2 * kk + h][2], scale_log2, -base1)); p[h][3] = ex2(fma(s[2 * kk + h][3], scale_log2, -base1));
                l0 += p[h][0] + p[h][1];
                l1 += p[h][2] + p[h][3];
            }
            uint hi[4], lo[4];
            SPLIT2(hi[0], lo[0], p[0][0], p[0][1]);   // row g,     keys 2t, 2t + 1
            SPLIT2(hi[1], lo[1], p[0][2], p[0][3]);   // row g + 8
            SPLIT2(hi[2], lo[2], p[1][0], p[1][1]);   // row g,     keys 8 + 2t, 9 + 2t
            SPLIT2(hi[3], lo[3], p[1][2], p[1][3]);   // row g + 8
            UNROLL
            for (int n = 0; n < HEAD_DIM / 8; n += 2) {
                uint b[4];
                LDMATRIX_X4_TRANS(b, vt + 16 * kk * (KV_LD / 2) + 4 * n + v_lane);
                MMA_16816(acc[n], hi, b[0], b[1]);
                MMA_16816(acc[n], lo, b[0], b[1]);
                MMA_16816(acc[n + 1], hi, b[2], b[3]);
                MMA_16816(acc[n + 1], lo, b[2], b[3]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);   // every warp is done with buffer i & 1 before tile i + 2 is copied into it
    }

    l0 = quad_sum(l0);
    l1 = quad_sum(l1);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    if (row0 < q_len) {
        __global uint* o0 = (__global uint*)(o + row_offset(o_layout, batch, head, row0));
        UNROLL
        for (int n = 0; n < HEAD_DIM / 8; n++) o0[4 * n + t] = pack_half2(acc[n][0] * inv0, acc[n][1] * inv0);
        if (lse && t == 0) lse[((size_t)batch * heads + head) * q_len + row0] = l0 > 0.0f ? (m0 * scale_log2 + log2(l0)) * LN2 : -INFINITY;
    }
    if (row1 < q_len) {
        __global uint* o1 = (__global uint*)(o + row_offset(o_layout, batch, head, row1));
        UNROLL
        for (int n = 0; n < HEAD_DIM / 8; n++) o1[4 * n + t] = pack_half2(acc[n][2] * inv1, acc[n][3] * inv1);
        if (lse && t == 0) lse[((size_t)batch * heads + head) * q_len + row1] = l1 > 0.0f ? (m1 * scale_log2 + log2(l1)) * LN2 : -INFINITY;
    }
}
#endif  // MMA prefill

#if WITH_DECODE
// The end of a split: merges the work-items' online-softmax states (m_i, l_i, acc over their own
// keys) and writes the split's output, as decode_split below describes. Also the tail of kernels that
// walk their keys another way (phi_attention.cl's paged decode).
inline void decode_merge(float m_i, float l_i, const float4* acc, __local float* m_all, __local float* l_all, __local float (*acc_all)[HEAD_DIM + 1],
                         __global float* part_o, __global float2* part_ml, int heads, __global STORE_T* o, int4 o_layout, __global float* lse) {
    const int tid = get_local_id(0);
    const int split = get_group_id(0);
    const int num_splits = get_num_groups(0);
    const int head = get_group_id(1);
    const int batch = get_group_id(2);
    // Merge the work-items: rescale each to the group's max, then sum.
    m_all[tid] = m_i;
    barrier(CLK_LOCAL_MEM_FENCE);
    float m_group = -INFINITY;
    for (int t = 0; t < DECODE_WG; t++) m_group = fmax(m_group, m_all[t]);
    const float w = m_i == -INFINITY ? 0.0f : exp2(m_i - m_group);
    l_all[tid] = l_i * w;
    UNROLL
    for (int d4 = 0; d4 < D4; d4++) {
        acc_all[tid][4 * d4 + 0] = acc[d4].x * w;
        acc_all[tid][4 * d4 + 1] = acc[d4].y * w;
        acc_all[tid][4 * d4 + 2] = acc[d4].z * w;
        acc_all[tid][4 * d4 + 3] = acc[d4].w * w;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float l_group = 0.0f;
    for (int t = 0; t < DECODE_WG; t++) l_group += l_all[t];
    if (num_splits == 1) {
        __global STORE_T* o_ptr = o + row_offset(o_layout, batch, head, 0);
        for (int d = tid; d < HEAD_DIM; d += DECODE_WG) {
            float sum = 0.0f;
            for (int t = 0; t < DECODE_WG; t++) sum += acc_all[t][d];
            STORE1(l_group > 0.0f ? sum / l_group : 0.0f, o_ptr, d);
        }
        if (lse && tid == 0) lse[(size_t)batch * heads + head] = l_group > 0.0f ? (m_group + log2(l_group)) * LN2 : -INFINITY;
        return;
    }
    const size_t part = ((size_t)batch * heads + head) * num_splits + split;
    for (int d = tid; d < HEAD_DIM; d += DECODE_WG) {
        float sum = 0.0f;
        for (int t = 0; t < DECODE_WG; t++) sum += acc_all[t][d];
        part_o[part * HEAD_DIM + d] = l_group > 0.0f ? sum / l_group : 0.0f;
    }
    if (tid == 0) part_ml[part] = (float2)(m_group, l_group);
}

// One key of a work-item's online softmax: its score q.k in log2 units, then the running max
// m_i, sum l_i and unnormalized output acc rescaled to take it (decode_split and the kernels that
// walk their keys another way, such as phi_attention.cl's paged decode).
// rows16: k_ptr and v_ptr are 16-byte aligned (the paged cache's rows are), so with fp16 and
// HEAD_DIM a multiple of 8 a row is read 8 halves a load; the arithmetic is the same either way.
#if STORAGE_F16 && HEAD_DIM % 8 == 0 && !defined(DECODE_LOADS16)   /* the host passes it: 0 with -Dflashcl.decodeLoads16=off */
#define DECODE_LOADS16 1
#endif
#ifndef DECODE_LOADS16
#define DECODE_LOADS16 0
#endif
inline float8 load_half8(__global const STORE_T* p) {
#if STORAGE_F16
    const uint4 raw = *(__global const uint4*)p;
    return vload_half8(0, (const __private half*)&raw);
#else
    return (float8)(LOAD4(p, 0), LOAD4(p, 4));
#endif
}
inline void decode_key(__local const float4* q_local, __global const STORE_T* k_ptr, __global const STORE_T* v_ptr, float scale_log2,
                       float* m_i, float* l_i, float4* acc, const bool rows16) {
    float4 dot = (float4)(0.0f);
    if (rows16 && DECODE_LOADS16) {
        UNROLL
        for (int d8 = 0; d8 < D4 / 2; d8++) {
            const float8 kv = load_half8(k_ptr + 8 * d8);
            dot = mad(q_local[2 * d8], kv.lo, dot);
            dot = mad(q_local[2 * d8 + 1], kv.hi, dot);
        }
    } else {
        UNROLL
        for (int d4 = 0; d4 < D4; d4++) dot = mad(q_local[d4], LOAD4(k_ptr, 4 * d4), dot);
    }
    const float s = (dot.x + dot.y + dot.z + dot.w) * scale_log2;
    const float m_new = fmax(*m_i, s);
    const float alpha = exp2(*m_i - m_new);
    const float p = exp2(s - m_new);
    *l_i = *l_i * alpha + p;
    if (rows16 && DECODE_LOADS16) {
        UNROLL
        for (int d8 = 0; d8 < D4 / 2; d8++) {
            const float8 vv = load_half8(v_ptr + 8 * d8);
            acc[2 * d8] = mad((float4)(p), vv.lo, acc[2 * d8] * alpha);
            acc[2 * d8 + 1] = mad((float4)(p), vv.hi, acc[2 * d8 + 1] * alpha);
        }
    } else {
        UNROLL
        for (int d4 = 0; d4 < D4; d4++) acc[d4] = mad((float4)(p), LOAD4(v_ptr, 4 * d4), acc[d4] * alpha);
    }
    *m_i = m_new;
}

// Decode, step 1 of 2. One query row per (batch, head) against kv_len keys, split in chunks of
// split_len keys. NDRange: (num_splits * DECODE_WG, heads, batch), work-group (DECODE_WG, 1, 1).
// With one split there is nothing to combine: the work-group writes o (and lse, if given) itself
// and the host skips step 2.
// Each work-item runs its own online softmax over every DECODE_WG-th key of the chunk; the
// work-group then merges its work-items' states and writes the chunk's normalized output and its
// (max, sum) pair in log2 units. The pair, not m + log2(l), travels to the combine: with scores in
// the thousands an fp32 log-sum-exp would round away the small differences between chunks.
// The part of a split after q is in local memory (shared by flash_attn_decode and the model
// kernels that prepare q themselves, such as phi_attention.cl's; OpenCL C 1.2 declares local
// arrays in kernels only, so they come in).
inline void decode_split(__local const float4* q_local, __local float* m_all, __local float* l_all, __local float (*acc_all)[HEAD_DIM + 1],
                         __global const STORE_T* k, int4 k_layout, __global const STORE_T* v, int4 v_layout,
                         __global float* part_o, __global float2* part_ml, int heads, int kv_len, int split_len, float scale,
                         __global STORE_T* o, int4 o_layout, __global float* lse) {
    const int tid = get_local_id(0);
    const int split = get_group_id(0);
    const int head = get_group_id(1);
    const int batch = get_group_id(2);
    const float scale_log2 = scale * M_LOG2E_F;

    float4 acc[D4];
    UNROLL
    for (int d4 = 0; d4 < D4; d4++) acc[d4] = (float4)(0.0f);
    float m_i = -INFINITY;
    float l_i = 0.0f;
    const int start = split * split_len;
    const int end = min(kv_len, start + split_len);
    for (int key = start + tid; key < end; key += DECODE_WG) {
        decode_key(q_local, k + row_offset(k_layout, batch, head, key), v + row_offset(v_layout, batch, head, key), scale_log2, &m_i, &l_i, acc, false);
    }
    decode_merge(m_i, l_i, acc, m_all, l_all, acc_all, part_o, part_ml, heads, o, o_layout, lse);
}

__kernel __attribute__((reqd_work_group_size(DECODE_WG, 1, 1)))
void KERNEL(flash_attn_decode)(
        __global const STORE_T* q, int4 q_layout,   // [batch, heads, 1, HEAD_DIM]
        __global const STORE_T* k, int4 k_layout,   // [batch, heads, kv_len, HEAD_DIM]
        __global const STORE_T* v, int4 v_layout,   // [batch, heads, kv_len, HEAD_DIM]
        __global float* part_o,                     // [batch, heads, num_splits, HEAD_DIM]
        __global float2* part_ml,                   // [batch, heads, num_splits]: (max, sum), log2 units
        int heads, int kv_len, int split_len, float scale,
        __global STORE_T* o, int4 o_layout,         // [batch, heads, 1, HEAD_DIM]: written when num_splits == 1
        __global float* lse) {                      // [batch, heads] or NULL: likewise
    __local float4 q_local[D4];
    __local float m_all[DECODE_WG];
    __local float l_all[DECODE_WG];
    __local float acc_all[DECODE_WG][HEAD_DIM + 1];   // +1: work-items write rows without bank conflicts
    const int tid = get_local_id(0);
    __global const STORE_T* q_ptr = q + row_offset(q_layout, get_group_id(2), get_group_id(1), 0);
    for (int d4 = tid; d4 < D4; d4 += DECODE_WG) q_local[d4] = LOAD4(q_ptr, 4 * d4);
    barrier(CLK_LOCAL_MEM_FENCE);
    decode_split(q_local, m_all, l_all, acc_all, k, k_layout, v, v_layout, part_o, part_ml, heads, kv_len, split_len, scale, o, o_layout, lse);
}

// Decode, step 2 of 2: with M = max_s m_s and w_s = 2^(m_s - M) l_s, out = sum_s w_s o_s / sum_s w_s
// and lse = (M + log2 sum_s w_s) ln 2. NDRange: (HEAD_DIM, heads, batch), work-group (HEAD_DIM, 1, 1).
// lse may be NULL.
__kernel __attribute__((reqd_work_group_size(HEAD_DIM, 1, 1)))
void KERNEL(flash_attn_decode_combine)(
        __global const float* part_o,     // [batch, heads, num_splits, HEAD_DIM]
        __global const float2* part_ml,   // [batch, heads, num_splits]
        int num_splits,
        __global STORE_T* o, int4 o_layout,   // [batch, heads, 1, HEAD_DIM]
        __global float* lse,                  // [batch, heads] or NULL
        int heads) {
    const int d = get_local_id(0);
    const int head = get_group_id(1);
    const int batch = get_group_id(2);
    const size_t first = ((size_t)batch * heads + head) * num_splits;
    float m_max = -INFINITY;
    for (int s = 0; s < num_splits; s++) m_max = fmax(m_max, part_ml[first + s].x);
    float sum_w = 0.0f;
    float out = 0.0f;
    if (m_max != -INFINITY) {
        for (int s = 0; s < num_splits; s++) {
            const float2 ml = part_ml[first + s];
            const float w = ml.x == -INFINITY ? 0.0f : exp2(ml.x - m_max) * ml.y;
            sum_w += w;
            out = mad(w, part_o[(first + s) * HEAD_DIM + d], out);
        }
        out /= sum_w;
    }
    STORE1(out, o + row_offset(o_layout, batch, head, 0), d);
    if (lse && d == 0) lse[(size_t)batch * heads + head] = m_max == -INFINITY ? -INFINITY : (m_max + log2(sum_w)) * LN2;
}
#endif  // WITH_DECODE
