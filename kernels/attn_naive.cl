// Naive attention, the baseline the benchmarks measure flash attention against: it materializes
// the fp32 score matrix [batch * heads, q_len, kv_len] in global memory, in three launches
// (scores, row softmax in place, probabilities times V). Same layouts, masking and storage as
// flash_attn.cl, so both run on the same inputs.

#ifndef HEAD_DIM
#define HEAD_DIM 80          // elements per head
#endif
#ifndef SOFTMAX_WG
#define SOFTMAX_WG 128       // work-items per row in the softmax; a power of two
#endif

#include "storage.cl"

inline size_t row_offset(int4 layout, int b, int h, int r) {
    return (size_t)layout.x + (size_t)b * layout.y + (size_t)h * layout.z + (size_t)r * layout.w;
}

// scores[bh][i][j] = scale * q_i . k_j, or -inf where the causal mask (bottom-right) hides j.
// NDRange: (kv_len, q_len, batch * heads).
__kernel void KERNEL(attn_naive_scores)(
        __global const STORE_T* q, int4 q_layout,
        __global const STORE_T* k, int4 k_layout,
        __global float* scores,      // [batch * heads, q_len, kv_len]
        int heads, int q_len, int kv_len, int causal, float scale) {
    const int j = get_global_id(0);
    const int i = get_global_id(1);
    const int bh = get_global_id(2);
    const int b = bh / heads;
    const int h = bh % heads;
    float s = -INFINITY;
    if (!causal || j <= i + kv_len - q_len) {
        __global const STORE_T* q_ptr = q + row_offset(q_layout, b, h, i);
        __global const STORE_T* k_ptr = k + row_offset(k_layout, b, h, j);
        float dot = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) dot = mad(LOAD1(q_ptr, d), LOAD1(k_ptr, d), dot);
        s = dot * scale;
    }
    scores[((size_t)bh * q_len + i) * kv_len + j] = s;
}

// Row softmax in place; a fully masked row becomes zeros with lse = -inf. lse may be NULL.
// NDRange: (SOFTMAX_WG, q_len, batch * heads), work-group (SOFTMAX_WG, 1, 1).
__kernel __attribute__((reqd_work_group_size(SOFTMAX_WG, 1, 1)))
void attn_naive_softmax(__global float* scores, __global float* lse, int q_len, int kv_len) {
    __local float red[SOFTMAX_WG];
    const int tid = get_local_id(0);
    const size_t row = (size_t)get_global_id(2) * q_len + get_global_id(1);
    __global float* s = scores + row * kv_len;

    float m = -INFINITY;
    for (int j = tid; j < kv_len; j += SOFTMAX_WG) m = fmax(m, s[j]);
    red[tid] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = SOFTMAX_WG / 2; w > 0; w /= 2) {
        if (tid < w) red[tid] = fmax(red[tid], red[tid + w]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);

    float sum = 0.0f;
    if (m != -INFINITY) for (int j = tid; j < kv_len; j += SOFTMAX_WG) sum += exp(s[j] - m);
    red[tid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = SOFTMAX_WG / 2; w > 0; w /= 2) {
        if (tid < w) red[tid] += red[tid + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    sum = red[0];

    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int j = tid; j < kv_len; j += SOFTMAX_WG) s[j] = m == -INFINITY ? 0.0f : exp(s[j] - m) * inv;
    if (lse && tid == 0) lse[row] = m == -INFINITY ? -INFINITY : m + log(sum);
}

// o_i = sum_j p_ij v_j. NDRange: (HEAD_DIM, q_len, batch * heads).
__kernel void KERNEL(attn_naive_pv)(
        __global const float* probs,   // [batch * heads, q_len, kv_len]
        __global const STORE_T* v, int4 v_layout,
        __global STORE_T* o, int4 o_layout,
        int heads, int q_len, int kv_len) {
    const int d = get_global_id(0);
    const int i = get_global_id(1);
    const int bh = get_global_id(2);
    const int b = bh / heads;
    const int h = bh % heads;
    __global const float* p = probs + ((size_t)bh * q_len + i) * kv_len;
    const size_t v_base = row_offset(v_layout, b, h, 0) + d;
    float out = 0.0f;
    for (int j = 0; j < kv_len; j++) out = mad(p[j], LOAD1(v, v_base + (size_t)j * v_layout.w), out);
    STORE1(out, o + row_offset(o_layout, b, h, i), d);
}
