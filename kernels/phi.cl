// The rest of a Phi layer, for OpenCL C 1.2 (the attention itself is flash_attn.cl).
//
// Activations: the residual stream x is fp32 [rows, H]; what feeds a matrix product (the
// LayerNorm output, the attention output, the MLP's hidden layer) and the weights are stored as
// STORE_T: fp16 (vload_half/vstore_half, no cl_khr_fp16 needed) or fp32. Arithmetic is fp32.
// Weights are [out, in] as in the checkpoint: y = x W^T + b, so both operands of a dot product
// run along contiguous memory.
//
//   embed          x[t]   = E[id[t]]
//   layernorm      h      = (x - mean) / sqrt(var + eps) * w + b          (fp32 statistics, biased variance)
//   gemm/gemv      qkv    = h Wqkv^T + b         (EPI 0: fp32 out)
//                  g      = gelu_new(h W1^T + b) (EPI 1: STORE_T out)
//                  x     += o Wd^T + bd + g W2^T + b2   (decode: gemv_dense_fc2; prefill: gemm_split
//                                                         partial sums, then residual_sum)
//   rope_cache     q, k   = partial rotate-half RoPE (first ROT dims); k, v appended to the cache
//   argmax         token  = first index of the largest logit of each row, and whether it is finite
//   cache_to_pages a prefilled sequence's KV cache rows copied into its pages (batched decode)

#ifndef LN_WG
#define LN_WG 256            // work-items per LayerNorm row; a power of two
#endif
#ifndef GEMV_WG
#define GEMV_WG 128          // work-items per decode GEMV work-group; a power of two
#endif
#ifndef GEMV_ROWS
#define GEMV_ROWS 4          // outputs per GEMV work-group (GEMV_WG / GEMV_ROWS work-items each)
#endif
#ifndef ARGMAX_WG
#define ARGMAX_WG 256
#endif
#define TK 16                // GEMM: k per step through local memory (tiles below)
#ifndef MMA
#define MMA 0                // 1: the tensor-core GEMM kernels (NVIDIA inline PTX, fp16 storage)
#endif

#include "storage.cl"

// x[t, :] = table[ids[t], :]. NDRange (H, rows). An id outside the table gives zeros (the host
// checks prompt ids; this keeps a bad sampled id from reading out of bounds).
__kernel void KERNEL(embed)(__global const int* ids, __global const STORE_T* table, __global float* x, int h, int vocab) {
    const int d = get_global_id(0), t = get_global_id(1);
    if (d >= h) return;
    const int id = ids[t];
    x[(size_t)t * h + d] = (id >= 0 && id < vocab) ? LOAD1(table, (size_t)id * h + d) : 0.0f;
}

// One work-group per row, one pass over x and one reduction: each work-item keeps Welford's
// running (count, mean, M2) over its share of the row, the work-group merges them pairwise
// (Chan et al.: no cancellation against a large mean), then x is read again (from cache) to write
// h. One tree of log2(LN_WG) barriers where a mean-then-variance pass had two.
inline float4 welford_merge(float4 a, float4 b) {   // (count, mean, M2, -) of two disjoint sets
    const float n = a.x + b.x;
    if (b.x == 0.0f) return a;
    if (a.x == 0.0f) return b;
    const float d = b.y - a.y, f = b.x / n;
    return (float4)(n, a.y + d * f, a.z + b.z + d * d * a.x * f, 0.0f);
}

__kernel __attribute__((reqd_work_group_size(LN_WG, 1, 1)))
void KERNEL(layernorm)(__global const float* x, __global const float* w, __global const float* b,
                       __global STORE_T* out, int h, float eps) {
    __local float4 part[LN_WG];
    const int row = get_group_id(0), tid = get_local_id(0);
    __global const float* xr = x + (size_t)row * h;
    float4 s = 0.0f;
    for (int i = tid; i < h; i += LN_WG) {
        const float v = xr[i], d = v - s.y;
        s.x += 1.0f;
        s.y += d / s.x;
        s.z += d * (v - s.y);
    }
    part[tid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = LN_WG / 2; k > 0; k >>= 1) {
        if (tid < k) part[tid] = welford_merge(part[tid], part[tid + k]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float mean = part[0].y, inv = rsqrt(part[0].z / h + eps);
    for (int i = tid; i < h; i += LN_WG) STORE1((xr[i] - mean) * inv * w[i] + b[i], out, (size_t)row * h + i);
}

inline float gelu_new(float x) {
    return 0.5f * x * (1.0f + tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

// The epilogues of the matrix products: fp32 out, gelu_new stored as STORE_T, or added into fp32.
#define EPI_F32(acc, out, idx) ((out)[idx] = (acc))
#define EPI_GELU(acc, out, idx) STORE1(gelu_new(acc), out, idx)
#define EPI_RESIDUAL(acc, out, idx) ((out)[idx] += (acc))
// The GEMM bodies' epilogues, given output n: with its bias, or a partial sum as it is.
#define OUT_F32(acc, idx, n) EPI_F32((acc) + bias[n], out, idx)
#define OUT_GELU(acc, idx, n) EPI_GELU((acc) + bias[n], out, idx)
#define OUT_PART(acc, idx, n) (out[idx] = (acc))

// C[m, n] (epilogue) sum_k A[a_row0 + m, k] W[n, k] + bias[n], for m < rows, n < n_out, over
// k in [kb, ke) of rows lda long (the plain kernels: [0, k) of k).
// Two tilings of one body: T x T outputs per work-group of 16 x 16, R x R per work-item: T = 64,
// R = 4 and T = 128, R = 8 (four times the FMAs per local load; the host takes it when there are
// enough tiles to fill the device). Each work-item loads VEC = T * TK / 256 consecutive k of one
// row of A and of W per K step (8-byte loads), stored transposed in local memory; rows past
// `rows`/`n_out` and k past `k` read as zeros. NDRange (ceil(n_out / T) * 16, ceil(rows / T) * 16).
// Work-item (tx, ty) owns rows 64 i + 4 ty + 0..3 and columns 64 j + 4 tx + 0..3 (i, j < R / 4),
// so each k reads its R values of A and of W as R / 4 16-byte local loads: a warp's loads of W
// cover 256 contiguous bytes, conflict-free, and each float loaded feeds R FMAs. (Measured on an
// H200, 2026-12-01, against rows ty + 16 i and one 4-byte load per value: Phi-2's portable
// prefill 5,016 -> 5,839 tokens/s at 2048, the products 26-32 -> 31-38 TFLOP/s.)
#define GEMM_BODY(EPI, T, R)                                                                         \
    __local float as[TK][T + 4] __attribute__((aligned(16)));   /* 16-byte rows */                   \
    __local float ws[TK][T + 4] __attribute__((aligned(16)));                                        \
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * 16 + tx;                        \
    const int n0 = get_group_id(0) * T, m0 = get_group_id(1) * T;                                    \
    const int VEC = T * TK / 256, lr = tid / (TK / VEC), lc = tid % (TK / VEC) * VEC;                \
    float acc[R][R];                                                                                 \
    for (int i = 0; i < R; i++) for (int j = 0; j < R; j++) acc[i][j] = 0.0f;                        \
    for (int k0 = kb; k0 < ke; k0 += TK) {                                                           \
        const int kk = k0 + lc;                                                                      \
        for (int v = 0; v < VEC; v += 4) {   /* k is a multiple of 4: a group of 4 is all in or out */ \
            const float4 x = (m0 + lr < rows && kk + v < ke) ? LOAD4(a, (size_t)(a_row0 + m0 + lr) * lda + kk + v) : (float4)(0.0f); \
            const float4 y = (n0 + lr < n_out && kk + v < ke) ? LOAD4(w, (size_t)(n0 + lr) * lda + kk + v) : (float4)(0.0f); \
            as[lc + v][lr] = x.s0; as[lc + v + 1][lr] = x.s1; as[lc + v + 2][lr] = x.s2; as[lc + v + 3][lr] = x.s3; \
            ws[lc + v][lr] = y.s0; ws[lc + v + 1][lr] = y.s1; ws[lc + v + 2][lr] = y.s2; ws[lc + v + 3][lr] = y.s3; \
        }                                                                                            \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                \
        for (int c = 0; c < TK; c++) {                                                               \
            float av[R], wv[R];                                                                      \
            for (int i = 0; i < R; i += 4) {                                                         \
                const float4 x = vload4(0, &as[c][64 * (i / 4) + 4 * ty]);                           \
                av[i] = x.x; av[i + 1] = x.y; av[i + 2] = x.z; av[i + 3] = x.w;                      \
            }                                                                                        \
            for (int j = 0; j < R; j += 4) {                                                         \
                const float4 y = vload4(0, &ws[c][64 * (j / 4) + 4 * tx]);                           \
                wv[j] = y.x; wv[j + 1] = y.y; wv[j + 2] = y.z; wv[j + 3] = y.w;                      \
            }                                                                                        \
            for (int i = 0; i < R; i++) for (int j = 0; j < R; j++) acc[i][j] = fma(av[i], wv[j], acc[i][j]); \
        }                                                                                            \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                \
    }                                                                                                \
    for (int i = 0; i < R; i++) {                                                                    \
        const int m = m0 + 64 * (i / 4) + 4 * ty + i % 4;                                            \
        if (m >= rows) continue;                                                                     \
        for (int j = 0; j < R; j++) {                                                                \
            const int n = n0 + 64 * (j / 4) + 4 * tx + j % 4;                                       \
            if (n < n_out) EPI(acc[i][j], (size_t)m * n_out + n, n);                                 \
        }                                                                                            \
    }

#define GEMM_ARGS(OUT_T) __global const STORE_T* a, int a_row0, __global const STORE_T* w, __global const float* bias, \
                         __global OUT_T* out, int rows, int n_out, int k
#define WHOLE_K const int lda = k, kb = 0, ke = k;
// Phi's two residual products, o Wd^T (k1) and g W2^T (k2), as one launch split along k so that
// it fills the device: NDRange z = 0 takes the first, z = 1, 2, ... the second's k in chunks of
// `chunk` (a multiple of 32), and each writes its partial sums, no bias, to part[z] ([rows,
// n_out] fp32). residual_sum then adds them, both biases and x. (Unsplit, Phi-2's 2560 outputs
// made 320 work-groups of 128 x 128 for 132 compute units on an H200.)
#define SPLIT_ARGS __global const STORE_T* a1, __global const STORE_T* w1, int k1, __global const STORE_T* a2,      \
                   __global const STORE_T* w2, int k2, int chunk, __global float* part, int rows, int n_out
#define SPLIT_K                                                                                                   \
    const int z = get_group_id(2), a_row0 = 0;                                                                    \
    __global const STORE_T* a = z == 0 ? a1 : a2;                                                                 \
    __global const STORE_T* w = z == 0 ? w1 : w2;                                                                 \
    const int lda = z == 0 ? k1 : k2, kb = z == 0 ? 0 : (z - 1) * chunk, ke = z == 0 ? k1 : min(kb + chunk, k2);  \
    __global float* out = part + (size_t)z * rows * n_out;
#define GEMM_KERNELS(NAME, T, R)                                                                                                     \
__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void KERNEL(NAME##_f32out)(GEMM_ARGS(float)) { WHOLE_K GEMM_BODY(OUT_F32, T, R) }   \
__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void KERNEL(NAME##_gelu)(GEMM_ARGS(STORE_T)) { WHOLE_K GEMM_BODY(OUT_GELU, T, R) } \
__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void KERNEL(NAME##_split)(SPLIT_ARGS) { SPLIT_K GEMM_BODY(OUT_PART, T, R) }
GEMM_KERNELS(gemm, 64, 4)
GEMM_KERNELS(gemm128, 128, 8)

// x[m, n] += bd[n] + b2[n] + the partial sums of a split product (part: [parts, rows, n_out]).
// NDRange (n_out, rows).
__kernel void KERNEL(residual_sum)(__global const float* part, int parts, __global const float* bd, __global const float* b2,
                                   __global float* x, int rows, int n_out) {
    const int n = get_global_id(0), m = get_global_id(1);
    const size_t idx = (size_t)m * n_out + n, plane = (size_t)rows * n_out;
    float s = bd[n] + b2[n];
    for (int z = 0; z < parts; z++) s += part[z * plane + idx];
    x[idx] += s;
}

#if MMA && STORAGE_F16
// The same products on NVIDIA tensor cores (sm_80 and later), through inline PTX
// mma.sync.m16n8k16 (fp16 operands, fp32 accumulation): fp16 storage only, k a multiple of 8
// (16-byte rows). 128 x 128 outputs per work-group of 256 work-items = 8 warps as 2 x 4, each
// warp 64 x 32 outputs = 4 x 4 mma tiles of 16 x 8. k goes through local memory 32 at a time,
// double-buffered: each work-item's two 16-byte loads per operand for the next k tile are in
// flight while the warps multiply the current one, and one barrier per tile separates them.
// Local rows hold 32 halves in 20 words (padded), so a warp's fragment reads (8 rows x 4 words)
// fall in 32 distinct banks. Rows past `rows`/`n_out` and k past `k` load as zeros.
// Fragment layout (PTX ISA, mma.m16n8k16 .f16): lane = 4 g + t; A regs {(g, 2t), (g + 8, 2t),
// (g, 2t + 8), (g + 8, 2t + 8)}, B regs {(k 2t, n g), (k 2t + 8, n g)}, C {(g, 2t), (g, 2t + 1),
// (g + 8, 2t), (g + 8, 2t + 1)}; each A/B register holds two consecutive k, lower k in the low half.
#define MMA_LD 20
#define MMA_16816(c, a, b)                                                                               \
    __asm__ __volatile__("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
                 : "+f"((c)[0]), "+f"((c)[1]), "+f"((c)[2]), "+f"((c)[3])                                \
                 : "r"((a)[0]), "r"((a)[1]), "r"((a)[2]), "r"((a)[3]), "r"((b)[0]), "r"((b)[1]))
// A and B fragments of k16 step ks from local memory: with ldmatrix.x4 (four 8x8 matrices a
// warp-wide instruction, each lane giving one row address), or one 32-bit local load per
// register. Both give the layout above. MMA_LDMATRIX: 1 every kernel takes ldmatrix, 0 none,
// 2 (default) all but the residual ones: measured on the H100 (2026-11-25), ldmatrix made the
// qkv and fc1 products 7-9% faster and dense/fc2 (n = 2560) 9% slower.
#ifndef MMA_LDMATRIX
#define MMA_LDMATRIX 2
#endif
#define LDMATRIX_X4(r0, r1, r2, r3, p)                                                                   \
    __asm__ __volatile__("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"                  \
                         : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"((uint)(size_t)(p)) : "memory")
#define FRAGMENTS_LDMATRIX(af, bf, at, wt, ks)                                                           \
    _Pragma("unroll") for (int i = 0; i < 4; i++)                                                        \
        LDMATRIX_X4(af[i][0], af[i][1], af[i][2], af[i][3], &(at)[(wm + 16 * i + (lane & 15)) * MMA_LD + 8 * (ks) + 4 * (lane >> 4)]); \
    _Pragma("unroll") for (int j = 0; j < 4; j += 2)                                                     \
        LDMATRIX_X4(bf[j][0], bf[j][1], bf[j + 1][0], bf[j + 1][1],                                      \
                    &(wt)[(wn + 8 * j + (lane & 7) + 8 * (lane >> 4)) * MMA_LD + 8 * (ks) + 4 * ((lane >> 3) & 1)]);
#define FRAGMENTS_LDS32(af, bf, at, wt, ks)                                                              \
    _Pragma("unroll") for (int i = 0; i < 4; i++) {                                                      \
        const __local uint* pa = &(at)[(wm + 16 * i + g) * MMA_LD + 8 * (ks) + t];                       \
        af[i][0] = pa[0]; af[i][1] = pa[8 * MMA_LD]; af[i][2] = pa[4]; af[i][3] = pa[8 * MMA_LD + 4];    \
    }                                                                                                    \
    _Pragma("unroll") for (int j = 0; j < 4; j++) {                                                      \
        const __local uint* pb = &(wt)[(wn + 8 * j + g) * MMA_LD + 8 * (ks) + t];                        \
        bf[j][0] = pb[0]; bf[j][1] = pb[4];                                                              \
    }
#if MMA_LDMATRIX == 0
#define FRAGMENTS_MAIN FRAGMENTS_LDS32
#else
#define FRAGMENTS_MAIN FRAGMENTS_LDMATRIX
#endif
#if MMA_LDMATRIX == 1
#define FRAGMENTS_RESIDUAL FRAGMENTS_LDMATRIX
#else
#define FRAGMENTS_RESIDUAL FRAGMENTS_LDS32
#endif
#define MMA_BODY(EPI, MMA_FRAGMENTS)                                                                                    \
    __local uint as[2][128 * MMA_LD] __attribute__((aligned(16)));   /* 16-byte rows: uint4 stores, ldmatrix */ \
    __local uint ws[2][128 * MMA_LD] __attribute__((aligned(16)));                                       \
    const int tid = get_local_id(0), lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;      \
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;                                               \
    const int n0 = get_group_id(0) * 128, m0 = get_group_id(1) * 128;                                    \
    const int lrow = tid >> 2, lk = (tid & 3) * 8;                                                       \
    float acc[4][4][4];                                                                                  \
    _Pragma("unroll") for (int i = 0; i < 4; i++) _Pragma("unroll") for (int j = 0; j < 4; j++)           \
        _Pragma("unroll") for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;                               \
    uint4 ra[2], rw[2];                                                                                  \
    const int nk = (ke - kb + 31) / 32;                                                                  \
    for (int kt = 0; kt <= nk; kt++) {                                                                   \
        const int kk = kb + kt * 32 + lk; /* tile kt: global loads in flight during the multiply */     \
        if (kt < nk) {                                                                                   \
            _Pragma("unroll") for (int p = 0; p < 2; p++) {                                              \
                const int r = lrow + 64 * p;                                                             \
                ra[p] = (m0 + r < rows && kk < ke) ? *(__global const uint4*)(a + (size_t)(a_row0 + m0 + r) * lda + kk) : (uint4)(0); \
                rw[p] = (n0 + r < n_out && kk < ke) ? *(__global const uint4*)(w + (size_t)(n0 + r) * lda + kk) : (uint4)(0); \
            }                                                                                            \
        }                                                                                                \
        if (kt > 0) {                     /* multiply tile kt - 1 */                                    \
            const int cur = (kt - 1) & 1;                                                                \
            _Pragma("unroll") for (int ks = 0; ks < 2; ks++) {                                           \
                uint af[4][4], bf[4][2];                                                                 \
                MMA_FRAGMENTS(af, bf, as[cur], ws[cur], ks)                                              \
                _Pragma("unroll") for (int i = 0; i < 4; i++) _Pragma("unroll") for (int j = 0; j < 4; j++) MMA_16816(acc[i][j], af[i], bf[j]); \
            }                                                                                            \
        }                                                                                                \
        if (kt < nk) {                    /* into the other buffer */                                   \
            _Pragma("unroll") for (int p = 0; p < 2; p++) {                                              \
                *(__local uint4*)&as[kt & 1][(lrow + 64 * p) * MMA_LD + lk / 2] = ra[p];                 \
                *(__local uint4*)&ws[kt & 1][(lrow + 64 * p) * MMA_LD + lk / 2] = rw[p];                 \
            }                                                                                            \
        }                                                                                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
    }                                                                                                    \
    _Pragma("unroll") for (int i = 0; i < 4; i++) _Pragma("unroll") for (int j = 0; j < 4; j++)           \
        _Pragma("unroll") for (int e = 0; e < 4; e++) {                                                  \
            const int m = m0 + wm + 16 * i + g + 8 * (e >> 1), n = n0 + wn + 8 * j + 2 * t + (e & 1);    \
            if (m < rows && n < n_out) EPI(acc[i][j][e], (size_t)m * n_out + n, n);                      \
        }
__kernel __attribute__((reqd_work_group_size(256, 1, 1))) void KERNEL(gemm_mma_f32out)(GEMM_ARGS(float)) { WHOLE_K MMA_BODY(OUT_F32, FRAGMENTS_MAIN) }
__kernel __attribute__((reqd_work_group_size(256, 1, 1))) void KERNEL(gemm_mma_gelu)(GEMM_ARGS(STORE_T)) { WHOLE_K MMA_BODY(OUT_GELU, FRAGMENTS_MAIN) }
__kernel __attribute__((reqd_work_group_size(256, 1, 1))) void KERNEL(gemm_mma_split)(SPLIT_ARGS) { SPLIT_K MMA_BODY(OUT_PART, FRAGMENTS_RESIDUAL) }

// The same products for a batched decode step (at most a few dozen rows): weights are read once
// a step and the outputs are few, so the product is bound by streaming W, and a 128-row tile
// would leave most of the device idle. Here the weights are mma's A operand (16 outputs n a
// warp) and the rows its B operand (8 rows an mma, up to 64 rows a work-group, tiles past `rows`
// skipped), and W goes from global memory straight into registers: no local-memory round trip.
// Since a dot product does not care in which order k is visited, lane (g, t) loads 8
// consecutive k (16 bytes) of W rows g and g + 8 and of activation row g at the same offset,
// and its registers are the fragments of two m16n8k16 products (logical k 2t, 2t + 1, 2t + 8,
// 2t + 9 of the first are physical k 8t .. 8t + 3, of the second 8t + 4 .. 8t + 7), so every
// global load is a 16-byte one.
// Work-group: SK_GROUPS groups of 4 warps, the same 64 outputs; group s takes k chunks
// (SKINNY_KC wide) s, s + SK_GROUPS, ... and at the end the groups' sums are added in group
// order through local memory (fixed, so a row's result never depends on the others). Each group
// stages its chunks' activations (64 rows) in local memory once for its 4 warps, double-buffered.
// Loads run two chunks ahead: chunk i + 2 is requested before chunk i is multiplied, and chunk
// i + 1's activations, requested an iteration earlier, are stored after it, so no step waits on
// a load it has just issued (the bandwidth of a batched step is the memory in flight). Local
// rows are SKINNY_KC / 8 16-byte slots, slot s of odd rows stored at s ^ 4: the two rows a
// quarter warp reads fall in distinct banks. NDRange (ceil(n_out / 64) * 128 * SK_GROUPS,
// ceil(rows / 64)).
#ifndef SKINNY_KC
#define SKINNY_KC 64
#endif
#ifndef SK_GROUPS
#define SK_GROUPS 2
#endif
#define SK_WG (128 * SK_GROUPS)
#define SK_SLOTS (SKINNY_KC / 8)
#define SK_ALOADS (64 * SK_SLOTS / 128)   /* activation slots a work-item loads a chunk */
#define SK_WLOADS (SKINNY_KC / 32)         /* 16-byte loads of each of its two W rows a chunk */
#define SK_LOAD(ci, wv, av)                                                                              \
    {                                                                                                    \
        const int k0 = kb + (ci) * SKINNY_KC;                                                            \
        _Pragma("unroll") for (int c = 0; c < SK_WLOADS; c++) {                                          \
            const int kk = k0 + 32 * c + 8 * t;                                                          \
            wv[c] = ok0 && kk < ke ? *(__global const uint4*)(wr0 + kk) : (uint4)(0);                    \
            wv[SK_WLOADS + c] = ok1 && kk < ke ? *(__global const uint4*)(wr1 + kk) : (uint4)(0);        \
        }                                                                                                \
        _Pragma("unroll") for (int p = 0; p < SK_ALOADS; p++) {                                          \
            const int idx = lt + 128 * p, r = idx / SK_SLOTS, kk = k0 + 8 * (idx % SK_SLOTS);            \
            av[p] = m0 + r < rows && kk < ke ? *(__global const uint4*)(a + (size_t)(a_row0 + m0 + r) * lda + kk) : (uint4)(0); \
        }                                                                                                \
    }
#define SK_STORE(buf, av)                                                                                \
    _Pragma("unroll") for (int p = 0; p < SK_ALOADS; p++) {                                              \
        const int idx = lt + 128 * p, r = idx / SK_SLOTS, sl = idx % SK_SLOTS;                           \
        as[grp][buf][r * SK_SLOTS + (sl ^ ((r & 1) << 2))] = av[p];                                      \
    }
#define SKINNY_BODY(EPI)                                                                                 \
    __local uint4 as[SK_GROUPS][2][64 * SK_SLOTS];                                                       \
    const int tid = get_local_id(0), grp = tid >> 7, lt = tid & 127, lane = tid & 31, g = lane >> 2, t = lane & 3; \
    const int n0 = get_group_id(0) * 64 + ((tid >> 5) & 3) * 16, m0 = get_group_id(1) * 64;            \
    const int nj = min(8, (rows - m0 + 7) / 8);                                                          \
    __global const STORE_T* wr0 = w + (size_t)(n0 + g) * lda;                                            \
    __global const STORE_T* wr1 = wr0 + (size_t)8 * lda;                                                 \
    const bool ok0 = n0 + g < n_out, ok1 = n0 + g + 8 < n_out;                                           \
    float acc[8][4];                                                                                     \
    _Pragma("unroll") for (int j = 0; j < 8; j++) _Pragma("unroll") for (int e = 0; e < 4; e++) acc[j][e] = 0.0f; \
    uint4 wc[2 * SK_WLOADS], wn[2 * SK_WLOADS], wf[2 * SK_WLOADS], ra[SK_ALOADS], rf[SK_ALOADS];          \
    /* chunks of this group: grp, grp + SK_GROUPS, ...; every group runs the same iterations (the  \
       barriers), chunks past k load as zeros */                                                     \
    const int iters = ((ke - kb + SKINNY_KC - 1) / SKINNY_KC + SK_GROUPS - 1) / SK_GROUPS;              \
    SK_LOAD(grp, wc, ra)                                                                                 \
    SK_STORE(0, ra)                                                                                      \
    SK_LOAD(grp + SK_GROUPS, wn, ra)                                                                     \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                        \
    for (int i = 0; i < iters; i++) {                                                                    \
        if (i + 2 < iters) SK_LOAD(grp + (i + 2) * SK_GROUPS, wf, rf)                                    \
        const __local uint4* at = as[grp][i & 1];                                                        \
        _Pragma("unroll") for (int c = 0; c < SK_WLOADS; c++) {                                          \
            const uint4 x = wc[c], y = wc[SK_WLOADS + c];                                                \
            const uint a1[4] = {x.x, y.x, x.y, y.y}, a2[4] = {x.z, y.z, x.w, y.w};                        \
            _Pragma("unroll") for (int j = 0; j < 8; j++) {                                              \
                if (j < nj) {                                                                            \
                    const int row = 8 * j + g;                                                           \
                    const uint4 b = at[row * SK_SLOTS + ((4 * c + t) ^ ((row & 1) << 2))];               \
                    const uint b1[2] = {b.x, b.y}, b2[2] = {b.z, b.w};                                   \
                    MMA_16816(acc[j], a1, b1);                                                           \
                    MMA_16816(acc[j], a2, b2);                                                           \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        if (i + 1 < iters) SK_STORE((i + 1) & 1, ra)                                                     \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
        _Pragma("unroll") for (int c = 0; c < 2 * SK_WLOADS; c++) { wc[c] = wn[c]; wn[c] = wf[c]; }       \
        _Pragma("unroll") for (int p = 0; p < SK_ALOADS; p++) ra[p] = rf[p];                             \
    }                                                                                                    \
    if (SK_GROUPS > 1) {                 /* the groups' sums, added in group order */                   \
        __local float* red = (__local float*)as;                                                         \
        for (int s = 1; s < SK_GROUPS; s++) {                                                            \
            if (grp == s) _Pragma("unroll") for (int j = 0; j < 8; j++) _Pragma("unroll") for (int e = 0; e < 4; e++) red[(j * 4 + e) * 128 + lt] = acc[j][e]; \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                \
            if (grp == 0) _Pragma("unroll") for (int j = 0; j < 8; j++) _Pragma("unroll") for (int e = 0; e < 4; e++) acc[j][e] += red[(j * 4 + e) * 128 + lt]; \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                \
        }                                                                                                \
    }                                                                                                    \
    if (grp == 0) _Pragma("unroll") for (int j = 0; j < 8; j++) _Pragma("unroll") for (int e = 0; e < 4; e++) { \
        const int m = m0 + 8 * j + 2 * t + (e & 1), n = n0 + g + 8 * (e >> 1);                           \
        if (j < nj && m < rows && n < n_out) EPI(acc[j][e], (size_t)m * n_out + n, n);                   \
    }
__kernel __attribute__((reqd_work_group_size(SK_WG, 1, 1))) void KERNEL(gemm_skinny_f32out)(GEMM_ARGS(float)) { WHOLE_K SKINNY_BODY(OUT_F32) }
__kernel __attribute__((reqd_work_group_size(SK_WG, 1, 1))) void KERNEL(gemm_skinny_gelu)(GEMM_ARGS(STORE_T)) { WHOLE_K SKINNY_BODY(OUT_GELU) }
__kernel __attribute__((reqd_work_group_size(SK_WG, 1, 1))) void KERNEL(gemm_skinny_split)(SPLIT_ARGS) { SPLIT_K SKINNY_BODY(OUT_PART) }
#endif

// One row of A against W: out[n] (epilogue) A[a_row0] . W[n] + bias[n]. GEMV_ROWS outputs per
// work-group of GEMV_WG, one output per GEMV_WG / GEMV_ROWS work-items (a warp on NVIDIA), which
// stride over k eight elements at a time with 16-byte loads (k a multiple of 8: rows 16-byte
// aligned), or four at a time with 8-byte loads otherwise. One barrier, then one work-item per
// output sums its lanes' partial sums. Decode streams every weight once per token through here.
#define LANES (GEMV_WG / GEMV_ROWS)
#if STORAGE_F16
inline float dot8(__global const half* a, __global const half* w) {
    const uint4 ra = *(__global const uint4*)a, rw = *(__global const uint4*)w;
    const float8 x = vload_half8(0, (const __private half*)&ra), y = vload_half8(0, (const __private half*)&rw);
    return dot(x.lo, y.lo) + dot(x.hi, y.hi);
}
#else
inline float dot8(__global const float* a, __global const float* w) {
    return dot(*(__global const float4*)a, *(__global const float4*)w) + dot(*(__global const float4*)(a + 4), *(__global const float4*)(w + 4));
}
#endif
// This lane's share (of `lanes`) of A[row] . W[row] over k. Two 16-byte loads of W per lane per
// iteration, into two sums, so that each lane keeps two loads in flight.
inline float gemv_lane(__global const STORE_T* ar, __global const STORE_T* wr, int k, int lane, int lanes) {
    float s = 0.0f;
    if (k % 8 == 0) {
        float s2 = 0.0f;
        int i = 8 * lane;
        for (; i + 8 * lanes < k; i += 16 * lanes) {
            s += dot8(ar + i, wr + i);
            s2 += dot8(ar + i + 8 * lanes, wr + i + 8 * lanes);
        }
        if (i < k) s += dot8(ar + i, wr + i);
        s += s2;
    } else {
        for (int i = 4 * lane; i < k; i += 4 * lanes) s += dot(LOAD4(ar, i), LOAD4(wr, i));
    }
    return s;
}

// Sum of v over the work-group (GEMV_WG work-items), every work-item gets it. part: GEMV_WG floats.
inline float wg_sum(float v, __local float* part) {
    const int lid = get_local_id(0);
    barrier(CLK_LOCAL_MEM_FENCE);   // part may still be read from a previous call
    part[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = GEMV_WG / 2; h > 0; h >>= 1) {
        if (lid < h) part[lid] += part[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return part[0];
}

// The lanes' partial sums of each output, added by its first lane (one barrier).
#define GEMV_REDUCE(s)                                                                  \
    __local float part[GEMV_WG];                                                        \
    part[lid] = (s);                                                                    \
    barrier(CLK_LOCAL_MEM_FENCE);                                                       \
    float total = 0.0f;                                                                 \
    if (lane == 0) for (int j = 0; j < LANES; j++) total += part[lid + j];

// The lm_head of a decode step (and of a prefill's last row, picked by a_row0): fp32 logits.
__kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1)))
void KERNEL(gemv_f32out)(__global const STORE_T* a, int a_row0, __global const STORE_T* w, __global const float* bias,
                         __global float* out, int n_out, int k) {
    const int lid = get_local_id(0), lane = lid % LANES;
    const int n = get_group_id(0) * GEMV_ROWS + lid / LANES;
    const float s = n < n_out ? gemv_lane(a + (size_t)a_row0 * k, w + (size_t)n * k, k, lane, LANES) : 0.0f;
    GEMV_REDUCE(s)
    if (lane == 0 && n < n_out) EPI_F32(total + bias[n], out, n);
}

// Decode, both products that read the LayerNorm output in one launch: outputs [0, n1) are
// qkv = h W1^T + b1 (fp32), outputs [n1, n1 + n2) are g = gelu_new(h W2^T + b2) (STORE_T).
__kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1)))
void KERNEL(gemv_qkv_fc1)(__global const STORE_T* h, __global const STORE_T* w1, __global const float* b1, __global float* out1, int n1,
                          __global const STORE_T* w2, __global const float* b2, __global STORE_T* out2, int n2, int k) {
    const int lid = get_local_id(0), lane = lid % LANES;
    const int n = get_group_id(0) * GEMV_ROWS + lid / LANES;
    const float s = n < n1 ? gemv_lane(h, w1 + (size_t)n * k, k, lane, LANES)
                  : n < n1 + n2 ? gemv_lane(h, w2 + (size_t)(n - n1) * k, k, lane, LANES) : 0.0f;
    GEMV_REDUCE(s)
    if (lane == 0 && n < n1) EPI_F32(total + b1[n], out1, n);
    else if (lane == 0 && n < n1 + n2) EPI_GELU(total + b2[n - n1], out2, n - n1);
}

// Decode, both products that add into the residual stream in one launch (Phi's parallel block):
// x[n] += o . Wd[n] + bd[n] + g . W2[n] + b2[n], with o of length k1 and g of length k2. One
// output per work-group: only H outputs, each a long dot product, so all GEMV_WG work-items
// share one (a work-group per four left most of the device idle: measured 1.8 TB/s).
__kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1)))
void KERNEL(gemv_dense_fc2)(__global const STORE_T* o, __global const STORE_T* wd, __global const float* bd, int k1,
                            __global const STORE_T* g, __global const STORE_T* w2, __global const float* b2, int k2,
                            __global float* x, int n_out) {
    __local float red[GEMV_WG];
    const int lid = get_local_id(0), n = get_group_id(0);
    const float s = gemv_lane(o, wd + (size_t)n * k1, k1, lid, GEMV_WG) + gemv_lane(g, w2 + (size_t)n * k2, k2, lid, GEMV_WG);
    const float total = wg_sum(s, red);
    if (lid == 0) EPI_RESIDUAL(total + bd[n] + b2[n], x, n);
}

// The portable GEMM for few rows (batched decode off tensor cores): each work-group of RW_WG
// work-items takes RW_OUT outputs n and RW_M rows m, RW_LANES lanes per output, and each lane
// reads its share of W[n] once for all RW_M rows, so a step of up to RW_M sequences reads every
// weight once (the 64-row tiles did 64 times the FMAs for one row). A row's sum is the same
// however many rows the launch has: lane order over k, then the lanes in order.
// NDRange (ceil(n_out / RW_OUT) * RW_WG, ceil(rows / RW_M), splits).
#define RW_WG 64
#define RW_OUT 4
#define RW_LANES (RW_WG / RW_OUT)
#define RW_M 16
#define ROWS_BODY(EPI)                                                                                   \
    __local float rw_part[RW_M][RW_WG];                                                                     \
    const int lid = get_local_id(0), lane = lid % RW_LANES;                                              \
    const int n = get_group_id(0) * RW_OUT + lid / RW_LANES, m0 = get_group_id(1) * RW_M;                \
    float s[RW_M];                                                                                       \
    for (int r = 0; r < RW_M; r++) s[r] = 0.0f;                                                          \
    if (n < n_out) {                                                                                     \
        for (int i = kb + 4 * lane; i < ke; i += 4 * RW_LANES) {   /* k is a multiple of 4 */            \
            const float4 wv = LOAD4(w, (size_t)n * lda + i);                                             \
            for (int r = 0; r < RW_M; r++)                                                               \
                if (m0 + r < rows) s[r] += dot(LOAD4(a, (size_t)(a_row0 + m0 + r) * lda + i), wv);       \
        }                                                                                                \
    }                                                                                                    \
    for (int r = 0; r < RW_M; r++) rw_part[r][lid] = s[r];                                                  \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                        \
    if (lane == 0 && n < n_out) {                                                                        \
        for (int r = 0; r < RW_M && m0 + r < rows; r++) {                                                \
            float total = 0.0f;                                                                          \
            for (int j = 0; j < RW_LANES; j++) total += rw_part[r][lid + j];                                \
            EPI(total, (size_t)(m0 + r) * n_out + n, n);                                                 \
        }                                                                                                \
    }
__kernel __attribute__((reqd_work_group_size(RW_WG, 1, 1))) void KERNEL(gemm_rows_f32out)(GEMM_ARGS(float)) { WHOLE_K ROWS_BODY(OUT_F32) }
__kernel __attribute__((reqd_work_group_size(RW_WG, 1, 1))) void KERNEL(gemm_rows_gelu)(GEMM_ARGS(STORE_T)) { WHOLE_K ROWS_BODY(OUT_GELU) }
__kernel __attribute__((reqd_work_group_size(RW_WG, 1, 1))) void KERNEL(gemm_rows_split)(SPLIT_ARGS) { SPLIT_K ROWS_BODY(OUT_PART) }

// Quantized weights (WQ 8: ggml's Q8_0, WQ 4: Q4_0; programs built with WQ hold these kernels).
// A matrix of n_rows x k (k a multiple of 32) keeps ggml's blocks of 32 along k, split in two
// arrays: every block's quants in row order (Q8_0: 32 int8; Q4_0: 16 bytes, byte j holding
// element j in its low nibble and j + 16 in its high one), then every block's fp16 scale d:
//   x = d q (Q8_0), x = d (q - 8) (Q4_0)
// so that a work-item's 16 elements are one aligned 16-byte (Q8_0) or 8-byte (Q4_0) load. The
// decode GEMVs are the fp16 ones' with this inner product; prefill and batched products take
// their weights dequantized into a STORE_T scratch matrix (dequant_rows) by the GEMM kernels.
#ifndef WQ
#define WQ 0
#endif
#if WQ
#define QROW(k) (WQ == 8 ? (size_t)(k) : (size_t)(k) / 2)   /* quant bytes of a row */
#define QSCALES(w, rows, k) ((__global const half*)((w) + (size_t)(rows) * QROW(k)))

inline float8 act8(__global const STORE_T* a) {
#if STORAGE_F16
    const uint4 r = *(__global const uint4*)a;
    return vload_half8(0, (const __private half*)&r);
#else
    return vload8(0, a);
#endif
}

inline float dot8f(float8 x, float8 y) {
    return dot(x.lo, y.lo) + dot(x.hi, y.hi);
}

// Chunk c (16 elements: half of block c / 2) of row `row`: its 16 weights as two float8, in the
// order of the activations they meet (lo: a[off .. off + 7], hi: a[off2 .. off2 + 7]).
inline void qchunk(__global const uchar* w, size_t row, int k, int c, float8* lo, float8* hi, int* off, int* off2) {
#if WQ == 8
    const uint4 r = *(__global const uint4*)(w + row * QROW(k) + 16 * (size_t)c);   // one 16-byte load, bytes reinterpreted
    *lo = convert_float8(as_char8(r.lo));
    *hi = convert_float8(as_char8(r.hi));
    *off = 16 * c;
    *off2 = 16 * c + 8;
#else
    const int b = c / 2, h = c % 2;
    const uchar8 q = as_uchar8(*(__global const uint2*)(w + row * QROW(k) + 16 * (size_t)b + 8 * h));
    *lo = convert_float8(q & (uchar)15) - 8.0f;
    *hi = convert_float8(q >> (uchar)4) - 8.0f;
    *off = 32 * b + 8 * h;
    *off2 = 32 * b + 16 + 8 * h;
#endif
}

// This lane's share (of `lanes`) of A . W[row] over k, chunk by chunk, scaled per block.
inline float qgemv_lane(__global const STORE_T* ar, __global const uchar* w, __global const half* scales, size_t row, int k, int lane, int lanes) {
    float s = 0.0f;
    const int chunks = k / 16;
    for (int c = lane; c < chunks; c += lanes) {
        float8 lo, hi;
        int off, off2;
        qchunk(w, row, k, c, &lo, &hi, &off, &off2);
        s += vload_half(row * (size_t)(k / 32) + c / 2, scales) * (dot8f(lo, act8(ar + off)) + dot8f(hi, act8(ar + off2)));
    }
    return s;
}

// The lm_head of a decode step (and of a prefill's last row): gemv_f32out with quantized W.
__kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1)))
void KERNEL(qgemv_f32out)(__global const STORE_T* a, int a_row0, __global const uchar* w, __global const float* bias,
                          __global float* out, int n_out, int k) {
    const int lid = get_local_id(0), lane = lid % LANES;
    const int n = get_group_id(0) * GEMV_ROWS + lid / LANES;
    const float s = n < n_out ? qgemv_lane(a + (size_t)a_row0 * k, w, QSCALES(w, n_out, k), n, k, lane, LANES) : 0.0f;
    GEMV_REDUCE(s)
    if (lane == 0 && n < n_out) EPI_F32(total + bias[n], out, n);
}

// gemv_qkv_fc1 with quantized W1 (n1 x k) and W2 (n2 x k).
__kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1)))
void KERNEL(qgemv_qkv_fc1)(__global const STORE_T* h, __global const uchar* w1, __global const float* b1, __global float* out1, int n1,
                           __global const uchar* w2, __global const float* b2, __global STORE_T* out2, int n2, int k) {
    const int lid = get_local_id(0), lane = lid % LANES;
    const int n = get_group_id(0) * GEMV_ROWS + lid / LANES;
    const float s = n < n1 ? qgemv_lane(h, w1, QSCALES(w1, n1, k), n, k, lane, LANES)
                  : n < n1 + n2 ? qgemv_lane(h, w2, QSCALES(w2, n2, k), n - n1, k, lane, LANES) : 0.0f;
    GEMV_REDUCE(s)
    if (lane == 0 && n < n1) EPI_F32(total + b1[n], out1, n);
    else if (lane == 0 && n < n1 + n2) EPI_GELU(total + b2[n - n1], out2, n - n1);
}

// gemv_dense_fc2 with quantized Wd (n_out x k1) and W2 (n_out x k2).
__kernel __attribute__((reqd_work_group_size(GEMV_WG, 1, 1)))
void KERNEL(qgemv_dense_fc2)(__global const STORE_T* o, __global const uchar* wd, __global const float* bd, int k1,
                             __global const STORE_T* g, __global const uchar* w2, __global const float* b2, int k2,
                             __global float* x, int n_out) {
    __local float red[GEMV_WG];
    const int lid = get_local_id(0), n = get_group_id(0);
    const float s = qgemv_lane(o, wd, QSCALES(wd, n_out, k1), n, k1, lid, GEMV_WG) + qgemv_lane(g, w2, QSCALES(w2, n_out, k2), n, k2, lid, GEMV_WG);
    const float total = wg_sum(s, red);
    if (lid == 0) EPI_RESIDUAL(total + bd[n] + b2[n], x, n);
}

// out[row, :] = the dequantized W[row, :] (rounded to STORE_T). NDRange (k / 16, n_rows).
__kernel void KERNEL(dequant_rows)(__global const uchar* w, int n_rows, int k, __global STORE_T* out) {
    const int c = get_global_id(0), row = get_global_id(1);
    if (c >= k / 16 || row >= n_rows) return;
    float8 lo, hi;
    int off, off2;
    qchunk(w, row, k, c, &lo, &hi, &off, &off2);
    const float d = vload_half((size_t)row * (k / 32) + c / 2, QSCALES(w, n_rows, k));
    __global STORE_T* r = out + (size_t)row * k;
#if STORAGE_F16   /* rounded in registers, then one 16-byte store each (vstore_half8 to global becomes eight 2-byte stores on NVIDIA) */
    uint4 a, b;
    vstore_half8_rte(d * lo, 0, (__private half*)&a);
    vstore_half8_rte(d * hi, 0, (__private half*)&b);
    *(__global uint4*)(r + off) = a;
    *(__global uint4*)(r + off2) = b;
#else
    vstore8(d * lo, 0, r + off);
    vstore8(d * hi, 0, r + off2);
#endif
}
#endif

// qkv [rows, 3H] fp32 -> q [heads, rows, D] (STORE_T) and k, v appended to this layer's cache
// [heads, ctx, D] (starting at row cache_row0 of the all-layer cache) at positions pos0 .. pos0 + rows - 1. Rotate-half RoPE on the first `rot`
// dims of q and k: with half = rot / 2, dim d < half pairs with d + half,
//   out[d] = x[d] cos - x[d + half] sin,  out[d + half] = x[d + half] cos + x[d] sin,
// angle = position * inv_freq[d mod half] (inv_freq from the host, as transformers computes it).
// NDRange (D, heads, rows).
__kernel void KERNEL(rope_cache)(__global const float* qkv, __global const float* inv_freq,
                                 __global STORE_T* q, __global STORE_T* k_cache, __global STORE_T* v_cache,
                                 int heads, int d_head, int rot, int rows, int pos0, int ctx, int cache_row0) {
    const int d = get_global_id(0), head = get_global_id(1), t = get_global_id(2);
    if (d >= d_head) return;
    const int hsz = heads * d_head;
    __global const float* row = qkv + (size_t)t * 3 * hsz + head * d_head;
    float qv = row[d], kv = row[hsz + d];
    const float vv = row[2 * hsz + d];
    if (d < rot) {
        const int half_rot = rot / 2;
        const int i = d < half_rot ? d : d - half_rot;
        const float angle = (float)(pos0 + t) * inv_freq[i];
        const float c = cos(angle), s = sin(angle);
        if (d < half_rot) {
            qv = qv * c - row[d + half_rot] * s;
            kv = kv * c - row[hsz + d + half_rot] * s;
        } else {
            qv = qv * c + row[d - half_rot] * s;
            kv = kv * c + row[hsz + d - half_rot] * s;
        }
    }
    STORE1(qv, q, ((size_t)head * rows + t) * d_head + d);
    const size_t at = ((size_t)cache_row0 + (size_t)head * ctx + pos0 + t) * d_head + d;
    STORE1(kv, k_cache, at);
    STORE1(vv, v_cache, at);
}

// For each of the NDRange's rows g (one work-group each): token[g] = the first index of the
// largest of logits[first + g n .. first + g n + n) (minus its start), and token[flag_at + g] =
// 1 when that largest value is NaN or infinite (NaN wins the comparison), the host's cheap check
// that the step went wrong somewhere. NDRange (ARGMAX_WG * rows).
__kernel __attribute__((reqd_work_group_size(ARGMAX_WG, 1, 1)))
void KERNEL(argmax)(__global const float* logits_all, int first, int n, __global int* token, int flag_at) {
    const int g = get_group_id(0);
    __global const float* logits = logits_all + first + (size_t)g * n;
    __local float best[ARGMAX_WG];
    __local int where[ARGMAX_WG];
    const int tid = get_local_id(0);
    float b = -INFINITY;
    int w = 0x7fffffff;
    for (int i = tid; i < n; i += ARGMAX_WG) {
        const float v = logits[i];
        if (v > b || (isnan(v) && !isnan(b))) { b = v; w = i; }   // NaN wins, so a broken model shows
    }
    best[tid] = b;
    where[tid] = w;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = ARGMAX_WG / 2; h > 0; h >>= 1) {
        if (tid < h) {
            const float o = best[tid + h];
            const int ow = where[tid + h];
            if (o > best[tid] || (o == best[tid] && ow < where[tid]) || (isnan(o) && !isnan(best[tid]))) {
                best[tid] = o;
                where[tid] = ow;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (tid == 0) {
        token[g] = where[0] == 0x7fffffff ? 0 : where[0];
        token[flag_at + g] = (where[0] == 0x7fffffff || !isfinite(best[0])) ? 1 : 0;
    }
}

// Positions [0, n) of one sequence from the contiguous KV cache of one layer (rows cache_row0 +
// head * ctx + t, as rope_cache writes them) into that sequence's pages of the layer (page j of
// the sequence is table[j]; a page is [heads, page_size, d_head], as flash_attn_decode_paged
// reads it). NDRange (d_head, heads, n).
__kernel void KERNEL(cache_to_pages)(__global const STORE_T* k_cache, __global const STORE_T* v_cache, int cache_row0, int ctx,
                                     __global STORE_T* k_pages, __global STORE_T* v_pages, int page_size, __global const int* table,
                                     int heads, int d_head, int n) {
    const int d = get_global_id(0), head = get_global_id(1), t = get_global_id(2);
    if (d >= d_head || t >= n) return;
    const size_t from = ((size_t)cache_row0 + (size_t)head * ctx + t) * d_head + d;
    const size_t to = (((size_t)table[t / page_size] * heads + head) * page_size + t % page_size) * d_head + d;
    STORE1(LOAD1(k_cache, from), k_pages, to);   // exact: fp16 -> fp32 -> fp16 round-trips
    STORE1(LOAD1(v_cache, from), v_pages, to);
}

// The other way: positions [0, n) of a sequence's pages into the contiguous KV cache of one layer,
// so that a prefill continues after a prompt prefix whose pages are shared. Same arguments.
__kernel void KERNEL(pages_to_cache)(__global STORE_T* k_cache, __global STORE_T* v_cache, int cache_row0, int ctx,
                                     __global const STORE_T* k_pages, __global const STORE_T* v_pages, int page_size, __global const int* table,
                                     int heads, int d_head, int n) {
    const int d = get_global_id(0), head = get_global_id(1), t = get_global_id(2);
    if (d >= d_head || t >= n) return;
    const size_t to = ((size_t)cache_row0 + (size_t)head * ctx + t) * d_head + d;
    const size_t from = (((size_t)table[t / page_size] * heads + head) * page_size + t % page_size) * d_head + d;
    STORE1(LOAD1(k_pages, from), k_cache, to);
    STORE1(LOAD1(v_pages, from), v_cache, to);
}
