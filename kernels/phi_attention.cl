// Phi's decode attention in one launch: the rotary embedding of the new position and its
// KV-cache append folded into flash decoding (flash_attn.cl's decode_split and combine, included
// below with its tunables: HEAD_DIM, DECODE_WG, STORAGE_F16). The host builds this file with
// WITH_PREFILL 0.

#include "flash_attn.cl"
#if !WITH_DECODE
#error "phi_attention.cl is built with the decode kernels (WITH_DECODE 1)"
#endif

// flash_attn_decode_rope: a Phi decode step, one launch instead of two. q, k and v of the new
// position come from the projection qkv ([batch, 3 * heads * HEAD_DIM] fp32, q | k | v); the new
// position is kv_len - 1. q and k are
// rotated on their first `rot` dims (rotate-half: dim d < rot / 2 pairs with d + rot / 2, angle
// = position * inv_freq[d mod rot / 2]); q stays fp32 in local memory, and the work-group whose
// split holds the new position writes k and v into the cache, then a barrier with a global fence
// makes them visible to its own work-items before any reads them. No other work-group reads that
// position. Same NDRange and outputs as flash_attn_decode.
inline float rope_at(__global const float* x, __global const float* inv_freq, int d, int rot, float position) {
    if (d >= rot) return x[d];
    const int half_rot = rot / 2;
    const int i = d < half_rot ? d : d - half_rot;
    const float angle = position * inv_freq[i];
    const float c = cos(angle), s = sin(angle);
    return d < half_rot ? x[d] * c - x[d + half_rot] * s : x[d] * c + x[d - half_rot] * s;
}

// The new position's k (rotated) and v from the projection row (q | k | v, hsz each) into the
// cache rows k_dst and v_dst, the work-group's items sharing the dims.
inline void append_kv(__global const float* row, int hsz, __global const float* inv_freq, int rot, int pos,
                      __global STORE_T* k_dst, __global STORE_T* v_dst) {
    for (int d = get_local_id(0); d < HEAD_DIM; d += DECODE_WG) {
        STORE1(rope_at(row + hsz, inv_freq, d, rot, (float)pos), k_dst, d);
        STORE1(row[2 * hsz + d], v_dst, d);
    }
}

__kernel __attribute__((reqd_work_group_size(DECODE_WG, 1, 1)))
void KERNEL(flash_attn_decode_rope)(
        __global const float* qkv, __global const float* inv_freq, int rot,
        __global STORE_T* k, int4 k_layout,         // the cache: [batch, heads, >= kv_len, HEAD_DIM]
        __global STORE_T* v, int4 v_layout,
        __global float* part_o, __global float2* part_ml,
        int heads, int kv_len, int split_len, float scale,
        __global STORE_T* o, int4 o_layout, __global float* lse) {
    __local float4 q_local[D4];
    __local float m_all[DECODE_WG];
    __local float l_all[DECODE_WG];
    __local float acc_all[DECODE_WG][HEAD_DIM + 1];
    const int tid = get_local_id(0), head = get_group_id(1), batch = get_group_id(2);
    const int hsz = heads * HEAD_DIM, pos = kv_len - 1;
    __global const float* row = qkv + (size_t)batch * 3 * hsz + head * HEAD_DIM;
    for (int d = tid; d < HEAD_DIM; d += DECODE_WG) ((__local float*)q_local)[d] = rope_at(row, inv_freq, d, rot, (float)pos);
    if (get_group_id(0) == pos / split_len) {
        append_kv(row, hsz, inv_freq, rot, pos, k + row_offset(k_layout, batch, head, pos), v + row_offset(v_layout, batch, head, pos));
    }
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    decode_split(q_local, m_all, l_all, acc_all, k, k_layout, v, v_layout, part_o, part_ml, heads, kv_len, split_len, scale, o, o_layout, lse);
}

// flash_attn_decode_paged: one decode step of many sequences at once, over a paged KV cache. Row
// r of the batch is one sequence at position positions[r]; its positions 0..positions[r] live in
// pages of page_size positions, page j being block_table[r * max_pages + j], and a page holds
// [heads, page_size, HEAD_DIM] of this layer's keys (k_pages) or values (v_pages). As
// flash_attn_decode_rope: q and k of the new position come from qkv row r, rotated; k and v go
// into the row's page at its position (one work-group per row and head writes them, then the
// barrier's global fence makes them visible to its own work-items); attention runs over
// positions[r] + 1 keys. A row's result depends on its own inputs only, never on the other rows.
// NDRange (DECODE_WG, heads, rows), no split; o: [rows, heads * HEAD_DIM].
__kernel __attribute__((reqd_work_group_size(DECODE_WG, 1, 1)))
void KERNEL(flash_attn_decode_paged)(
        __global const float* qkv, __global const float* inv_freq, int rot,
        __global STORE_T* k_pages, __global STORE_T* v_pages, int page_size,
        __global const int* positions, __global const int* block_table, int max_pages,
        int heads, float scale, __global STORE_T* o) {
    __local float4 q_local[D4];
    __local float m_all[DECODE_WG];
    __local float l_all[DECODE_WG];
    __local float acc_all[DECODE_WG][HEAD_DIM + 1];
    const int tid = get_local_id(0), head = get_group_id(1), r = get_group_id(2);
    const int hsz = heads * HEAD_DIM, pos = positions[r];
    __global const int* table = block_table + (size_t)r * max_pages;
    __global const float* row = qkv + (size_t)r * 3 * hsz + head * HEAD_DIM;
    for (int d = tid; d < HEAD_DIM; d += DECODE_WG) ((__local float*)q_local)[d] = rope_at(row, inv_freq, d, rot, (float)pos);
    const size_t at = (((size_t)table[pos / page_size] * heads + head) * page_size + pos % page_size) * HEAD_DIM;
    append_kv(row, hsz, inv_freq, rot, pos, k_pages + at, v_pages + at);
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    const float scale_log2 = scale * M_LOG2E_F;
    float4 acc[D4];
    UNROLL
    for (int d4 = 0; d4 < D4; d4++) acc[d4] = (float4)(0.0f);
    float m_i = -INFINITY;
    float l_i = 0.0f;
    for (int key = tid; key <= pos; key += DECODE_WG) {
        const size_t kat = (((size_t)table[key / page_size] * heads + head) * page_size + key % page_size) * HEAD_DIM;
        decode_key(q_local, k_pages + kat, v_pages + kat, scale_log2, &m_i, &l_i, acc, true);   // page rows: 16-byte aligned
    }
    decode_merge(m_i, l_i, acc, m_all, l_all, acc_all, 0, 0, heads, o, (int4)(0, hsz, HEAD_DIM, 0), 0);
}
