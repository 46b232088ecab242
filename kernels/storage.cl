// Storage of tensors in global memory, shared by every kernel file (each includes it): fp16
// (STORAGE_F16 1, through vload_half / vstore_half, so no cl_khr_fp16 is needed) or fp32.
// Arithmetic is fp32 either way. KERNEL(name) gives a kernel the storage suffix (_f16, _f32),
// so one program of each storage can sit side by side.
//   STORE_T            the element type in memory
//   LOAD1(p, i)        p[i] as a float
//   LOAD4(p, i)        p[i .. i+3] as a float4 (i a multiple of 4, p 8-byte aligned for fp16)
//   STORE1(x, p, i)    p[i] = x, rounded to nearest even for fp16

#ifndef STORAGE_F16
#define STORAGE_F16 1        // 1: fp16 storage, 0: fp32 storage
#endif

#if STORAGE_F16
#define STORE_T half
#define KERNEL(name) name##_f16
#define LOAD1(p, i) vload_half((i), (p))
#define LOAD4(p, i) load_half4((p) + (i))
#define STORE1(x, p, i) vstore_half_rte((x), (i), (p))
// Four halves in one 8-byte load, converted in registers (vload_half4 and vloada_half4 both
// become four 2-byte loads in NVIDIA's PTX).
inline float4 load_half4(__global const half* p) {
    const uint2 raw = *(__global const uint2*)p;
    return vload_half4(0, (const __private half*)&raw);
}
#else
#define STORE_T float
#define KERNEL(name) name##_f32
#define LOAD1(p, i) ((p)[i])
#define LOAD4(p, i) (*(__global const float4*)((p) + (i)))
#define STORE1(x, p, i) ((p)[i] = (x))
#endif
