// The portability layer of the operator-library kernels: the kernel families in this directory are
// written once against these macros and helpers and compile unchanged as OpenCL C 1.2 (run-time
// source and SPIR-V) and as CUDA or HIP (kernels/cuda/ops.cu). Only spelling differs per language
// here; every algorithm lives in the family files. Everything is f32 (no fp64: NPUs lack it), and
// every float literal carries an f suffix so that no double sneaks in.
#ifndef PORTA_KERNELS_OPENCL_PRELUDE_H_
#define PORTA_KERNELS_OPENCL_PRELUDE_H_

#if defined(__OPENCL_C_VERSION__)

#define PK_KERNEL __kernel void
// The matmul variants know their work-group shape; telling the compiler lets it specialise.
#define PK_KERNEL_WG(x, y) __kernel __attribute__((reqd_work_group_size(x, y, 1))) void
#define PK_GLOBAL __global
// PK_SHARED declares a work-group array; PK_LOCAL qualifies a pointer to one.
#define PK_SHARED __local
#define PK_LOCAL __local
#define PK_FN static inline
#define PK_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define PK_LID0 ((uint)get_local_id(0))
#define PK_LID1 ((uint)get_local_id(1))
#define PK_LSIZE0 ((uint)get_local_size(0))
#define PK_GROUP0 ((uint)get_group_id(0))
#define PK_GROUP1 ((uint)get_group_id(1))
#define PK_GROUP2 ((uint)get_group_id(2))
#define PK_NGROUPS0 ((uint)get_num_groups(0))

#define pk_as_uint(x) as_uint(x)
#define pk_as_float(x) as_float(x)
#define PK_EXP(x) exp(x)
#define PK_EXP2(x) exp2(x)
#define PK_LOG(x) log(x)
#define PK_SQRT(x) sqrt(x)
#define PK_RSQRT(x) rsqrt(x)
#define PK_TANH(x) tanh(x)
#define PK_ERF(x) erf(x)
#define PK_POW(x, y) pow(x, y)
#define PK_FABS(x) fabs(x)
#define PK_SIN(x) sin(x)
#define PK_COS(x) cos(x)
#define PK_INF INFINITY
#define PK_NAN NAN

// vload_half/vstore_half_rte are core OpenCL 1.2: half pointers need no cl_khr_fp16.
PK_FN float pk_load_f16(PK_GLOBAL const uchar* p, uint i) {
  return vload_half(i, (PK_GLOBAL const half*)p);
}
PK_FN void pk_store_f16(PK_GLOBAL uchar* p, uint i, float v) {
  vstore_half_rte(v, i, (PK_GLOBAL half*)p);
}

// Eight consecutive elements i.. of an f32, f16 or bf16 tensor as a float8, and the sum of a
// float8's lanes: for the direct kernels (matmul_direct.cl, attention_direct.cl), which exist in
// OpenCL C only and keep their sums in vector registers on CPU devices.
PK_FN float8 pk_f32x8(PK_GLOBAL const uchar* p, uint i) {
  return vload8(0, (PK_GLOBAL const float*)p + i);
}
PK_FN float8 pk_f16x8(PK_GLOBAL const uchar* p, uint i) {
  return vload_half8(0, (PK_GLOBAL const half*)p + i);
}
PK_FN float8 pk_bf16x8(PK_GLOBAL const uchar* p, uint i) {
  return as_float8(convert_uint8(vload8(0, (PK_GLOBAL const ushort*)p + i)) << 16);
}
PK_FN float pk_sum8(float8 v) {
  const float4 h = v.lo + v.hi;
  const float2 q = h.lo + h.hi;
  return q.x + q.y;
}

#else  // CUDA or HIP

#if defined(__HIP__) || defined(__HIPCC__)
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#else
#include <cuda_fp16.h>
#endif

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;

#define PK_KERNEL extern "C" __global__ void
#define PK_KERNEL_WG(x, y) extern "C" __global__ void __launch_bounds__((x) * (y))
#define PK_GLOBAL
#define PK_SHARED __shared__
#define PK_LOCAL
#define PK_FN static __device__ inline
#define PK_BARRIER() __syncthreads()
#define PK_LID0 ((uint)threadIdx.x)
#define PK_LID1 ((uint)threadIdx.y)
#define PK_LSIZE0 ((uint)blockDim.x)
#define PK_GROUP0 ((uint)blockIdx.x)
#define PK_GROUP1 ((uint)blockIdx.y)
#define PK_GROUP2 ((uint)blockIdx.z)
#define PK_NGROUPS0 ((uint)gridDim.x)

#define pk_as_uint(x) __float_as_uint(x)
#define pk_as_float(x) __uint_as_float(x)
#define PK_EXP(x) expf(x)
#define PK_EXP2(x) exp2f(x)
#define PK_LOG(x) logf(x)
#define PK_SQRT(x) sqrtf(x)
#define PK_RSQRT(x) rsqrtf(x)
#define PK_TANH(x) tanhf(x)
#define PK_ERF(x) erff(x)
#define PK_POW(x, y) powf(x, y)
#define PK_FABS(x) fabsf(x)
#define PK_SIN(x) sinf(x)
#define PK_COS(x) cosf(x)
#define PK_INF __int_as_float(0x7f800000)
#define PK_NAN __int_as_float(0x7fc00000)

PK_FN float pk_load_f16(const uchar* p, uint i) {
  return __half2float(__ushort_as_half(((const ushort*)p)[i]));
}
PK_FN void pk_store_f16(uchar* p, uint i, float v) {
  ((ushort*)p)[i] = __half_as_ushort(__float2half_rn(v));
}

#endif

#define PK_UNROLL _Pragma("unroll")

// The entry name of a matmul variant, porta_matmul_t{TM}x{TN}x{TK}_w{WM}x{WN}; the extra level
// expands macro arguments before pasting.
#define PK_MATMUL_NAME_(tm, tn, tk, wm, wn) porta_matmul_t##tm##x##tn##x##tk##_w##wm##x##wn
#define PK_MATMUL_NAME(tm, tn, tk, wm, wn) PK_MATMUL_NAME_(tm, tn, tk, wm, wn)

// ---- Element access -----------------------------------------------------------------------------

// Byte k of a PORTA_PACK4 field.
PK_FN uint pk_byte(uint packed, uint k) {
  return (packed >> (8u * k)) & 255u;
}

PK_FN float pk_bf16_to_f32(uint h) {
  return pk_as_float(h << 16);
}

// Round to nearest even; a NaN keeps its sign and top payload bits and is made quiet, since
// rounding could otherwise carry a NaN's payload into infinity.
PK_FN uint pk_f32_to_bf16(float v) {
  const uint u = pk_as_uint(v);
  if (v != v) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

PK_FN float pk_load_bf16(PK_GLOBAL const uchar* p, uint i) {
  return pk_bf16_to_f32(((PK_GLOBAL const ushort*)p)[i]);
}
PK_FN void pk_store_bf16(PK_GLOBAL uchar* p, uint i, float v) {
  ((PK_GLOBAL ushort*)p)[i] = (ushort)pk_f32_to_bf16(v);
}

// Element i of a tensor of dtype dt, as f32.
PK_FN float pk_load(PK_GLOBAL const uchar* p, uint dt, uint i) {
  if (dt == PORTA_DT_F16) return pk_load_f16(p, i);
  if (dt == PORTA_DT_BF16) return pk_load_bf16(p, i);
  if (dt == PORTA_DT_I32) return (float)((PK_GLOBAL const int*)p)[i];
  return ((PK_GLOBAL const float*)p)[i];
}

// Stores v as element i of a tensor of dtype dt (i32: truncation toward zero, as a C cast).
PK_FN void pk_store(PK_GLOBAL uchar* p, uint dt, uint i, float v) {
  if (dt == PORTA_DT_F16) {
    pk_store_f16(p, i, v);
  } else if (dt == PORTA_DT_BF16) {
    pk_store_bf16(p, i, v);
  } else if (dt == PORTA_DT_I32) {
    ((PK_GLOBAL int*)p)[i] = (int)v;
  } else {
    ((PK_GLOBAL float*)p)[i] = v;
  }
}

PK_FN int pk_load_i32(PK_GLOBAL const uchar* p, uint i) {
  return ((PK_GLOBAL const int*)p)[i];
}
PK_FN void pk_store_i32(PK_GLOBAL uchar* p, uint i, int v) {
  ((PK_GLOBAL int*)p)[i] = v;
}

PK_FN uint pk_dtype_bytes(uint dt) {
  return dt == PORTA_DT_F16 || dt == PORTA_DT_BF16 ? 2u : 4u;
}

// Moves element si of src to element di of dst, both of dtype dt, bits unchanged.
PK_FN void pk_copy_bits(PK_GLOBAL uchar* dst, uint di, PK_GLOBAL const uchar* src, uint si,
                        uint dt) {
  if (pk_dtype_bytes(dt) == 2u) {
    ((PK_GLOBAL ushort*)dst)[di] = ((PK_GLOBAL const ushort*)src)[si];
  } else {
    ((PK_GLOBAL uint*)dst)[di] = ((PK_GLOBAL const uint*)src)[si];
  }
}

// Element si of src (dtype sdt) stored as element di of dst (dtype ddt): the bits themselves when
// the types agree (exact for every value, i32 and NaN payloads included), else through f32.
PK_FN void pk_copy_convert(PK_GLOBAL uchar* dst, uint ddt, uint di, PK_GLOBAL const uchar* src,
                           uint sdt, uint si) {
  if (ddt == sdt) {
    pk_copy_bits(dst, di, src, si, sdt);
  } else {
    pk_store(dst, ddt, di, pk_load(src, sdt, si));
  }
}

// ---- Block-quantized types ----------------------------------------------------------------------
// A quantized tensor is bytes: blocks of 18 (Q4_0), 20 (Q4_1) or 34 (Q8_0) bytes at even byte
// addresses, read as 16-bit words (params.h, PORTA_DT_Q4_0).

PK_FN uint pk_q_block_bytes(uint dt) {
  return dt == PORTA_DT_Q4_0 ? PORTA_Q4_0_BYTES
                             : (dt == PORTA_DT_Q4_1 ? PORTA_Q4_1_BYTES : PORTA_Q8_0_BYTES);
}

// The 16-bit word at (even) byte |at|.
PK_FN uint pk_q_u16(PK_GLOBAL const uchar* p, uint at) {
  return ((PK_GLOBAL const ushort*)p)[at >> 1];
}

// The f16 at (even) byte |at|, as f32.
PK_FN float pk_q_half(PK_GLOBAL const uchar* p, uint at) {
  return pk_load_f16(p, at >> 1);
}

// A byte taken as a two's-complement int8.
PK_FN float pk_q_i8(uint byte) {
  return (float)((int)byte - (int)((byte & 128u) << 1));
}

// Element |pos| (0..31) of the block of type dt at byte |block|.
PK_FN float pk_q_element(PK_GLOBAL const uchar* p, uint dt, uint block, uint pos) {
  const float d = pk_q_half(p, block);
  if (dt == PORTA_DT_Q8_0) {
    const uint word = pk_q_u16(p, block + 2u + (pos & 30u));
    return d * pk_q_i8((pos & 1u) != 0u ? word >> 8 : word & 255u);
  }
  const uint header = dt == PORTA_DT_Q4_1 ? 4u : 2u;
  const uint j = pos & 15u;
  const uint word = pk_q_u16(p, block + header + (j & 14u));
  const uint byte = (j & 1u) != 0u ? word >> 8 : word & 255u;
  const float q = (float)(pos < 16u ? byte & 15u : byte >> 4);
  return dt == PORTA_DT_Q4_1 ? d * q + pk_q_half(p, block + 2u) : d * (q - 8.0f);
}

// ---- Math ---------------------------------------------------------------------------------------

PK_FN int pk_isnan(float x) {
  return x != x;
}
PK_FN uint pk_minu(uint a, uint b) {
  return a < b ? a : b;
}

// max/min that return NaN when either operand is NaN (C's fmaxf/fminf return the other one).
PK_FN float pk_max(float a, float b) {
  return (a > b || a != a) ? a : b;
}
PK_FN float pk_min(float a, float b) {
  return (a < b || a != a) ? a : b;
}

// The unary functions of porta_ew (PORTA_EW_* codes below PORTA_EW_BINARY); 0 and IDENTITY
// return x, which makes this the matmul activation too. Written once for T = float and, in OpenCL
// C, for T = float8 (pk_unary8: the built-in math functions take vectors, and a scalar operand
// widens); RELU is written so that NaN passes through.
#define PK_UNARY_FN(NAME, T)                                                                    \
  PK_FN T NAME(uint op, T x) {                                                                  \
    switch (op) {                                                                               \
      case PORTA_EW_NEG:                                                                        \
        return -x;                                                                              \
      case PORTA_EW_ABS:                                                                        \
        return PK_FABS(x);                                                                      \
      case PORTA_EW_EXP:                                                                        \
        return PK_EXP(x);                                                                       \
      case PORTA_EW_LOG:                                                                        \
        return PK_LOG(x);                                                                       \
      case PORTA_EW_SQRT:                                                                       \
        return PK_SQRT(x);                                                                      \
      case PORTA_EW_RSQRT:                                                                      \
        return PK_RSQRT(x);                                                                     \
      case PORTA_EW_TANH:                                                                       \
        return PK_TANH(x);                                                                      \
      case PORTA_EW_SIGMOID:                                                                    \
        return 1.0f / (1.0f + PK_EXP(-x));                                                      \
      case PORTA_EW_RELU:                                                                       \
        return x < 0.0f ? 0.0f : x;                                                             \
      case PORTA_EW_GELU_ERF:                                                                   \
        return 0.5f * x * (1.0f + PK_ERF(x * 0.70710678118654752f));                            \
      case PORTA_EW_GELU_TANH:                                                                  \
        return 0.5f * x * (1.0f + PK_TANH(0.79788456080286536f * (x + 0.044715f * x * x * x))); \
      case PORTA_EW_SILU:                                                                       \
        return x / (1.0f + PK_EXP(-x));                                                         \
      default:                                                                                  \
        return x;                                                                               \
    }                                                                                           \
  }

PK_UNARY_FN(pk_unary, float)
#if defined(__OPENCL_C_VERSION__)
PK_UNARY_FN(pk_unary8, float8)
#endif

// The binary functions of porta_ew (op - PORTA_EW_BINARY = porta_binary_op_t).
PK_FN float pk_binary(uint op, float x, float y) {
  switch (op) {
    case PORTA_EW_ADD:
      return x + y;
    case PORTA_EW_SUB:
      return x - y;
    case PORTA_EW_MUL:
      return x * y;
    case PORTA_EW_DIV:
      return x / y;
    case PORTA_EW_MAX:
      return pk_max(x, y);
    case PORTA_EW_MIN:
      return pk_min(x, y);
    case PORTA_EW_SWIGLU:
      return x / (1.0f + PK_EXP(-x)) * y;
    default:
      return PK_POW(x, y);
  }
}

// ---- Indexing -----------------------------------------------------------------------------------

// i / d, with the remainder in *r. Spelled i - q * d: clang-15 rewrites a matching / and % pair
// with freeze instructions, which llvm-spirv-15 cannot translate, so no kernel uses both.
PK_FN uint pk_divmod(uint i, uint d, uint* r) {
  const uint q = i / d;
  *r = i - q * d;
  return q;
}

// Splits i by a 3- or 4-entry shape, outermost first (params.h, "Index decomposition"). The
// outermost index is not reduced modulo its extent, so items past the shape stay distinct.
PK_FN void pk_unravel3(uint i, const uint* shape, uint* idx) {
  idx[0] = pk_divmod(pk_divmod(i, shape[2], &idx[2]), shape[1], &idx[1]);
}
PK_FN void pk_unravel4(uint i, const uint* shape, uint* idx) {
  pk_unravel3(pk_divmod(i, shape[3], &idx[3]), shape, idx);
}
PK_FN uint pk_dot3(const uint* idx, const uint* strides) {
  return idx[0] * strides[0] + idx[1] * strides[1] + idx[2] * strides[2];
}
PK_FN uint pk_dot4(const uint* idx, const uint* strides) {
  return pk_dot3(idx, strides) + idx[3] * strides[3];
}
// Element offset of item i of a 4-entry shape in a tensor with these strides.
PK_FN uint pk_offset4(uint i, const uint* shape, const uint* strides) {
  uint idx[4];
  pk_unravel4(i, shape, idx);
  return pk_dot4(idx, strides);
}

// ---- Grid ---------------------------------------------------------------------------------------

// The linear work-group index of the 2D grid convention (params.h, "Linear kernels").
PK_FN uint pk_group_linear(void) {
  return PK_GROUP1 * PK_NGROUPS0 + PK_GROUP0;
}

// This work-item's item g * WG + lid of a linear kernel, saturated at 0xffffffff; callers
// return when it is >= their item count (which is below 2^32, so the saturated value is too).
PK_FN uint pk_linear_item(void) {
  const uint g = pk_group_linear();
  const uint lid = PK_LID0;
  if (g > (0xffffffffu - lid) / PK_LSIZE0) return 0xffffffffu;
  return g * PK_LSIZE0 + lid;
}

// ---- Attention ----------------------------------------------------------------------------------

// Query row g of an attention (PORTA_ATTENTION_PARAMS; rows ordered b, h, i with i fastest): the
// element offsets of its q row, of its head's k and v rows (key 0; heads shared by Hq / Hkv query
// heads), of its mask row and its out row, and the keys it attends to (Lk, or with the causal
// flag those up to i + Lk - Lq, none when that is negative).
typedef struct {
  uint q, k, v, m, o, keys;
} PkAttentionRow;

PK_FN PkAttentionRow pk_attention_row(const PortaAttentionParams* p, uint g) {
  uint i;
  uint h;
  const uint b = pk_divmod(pk_divmod(g, p->Lq, &i), p->Hq, &h);
  const uint hk = h / (p->Hq / p->Hkv);
  PkAttentionRow r;
  r.q = p->q_offset + b * p->q_strides[0] + h * p->q_strides[1] + i * p->q_strides[2];
  r.k = p->k_offset + b * p->k_strides[0] + hk * p->k_strides[1];
  r.v = p->v_offset + b * p->v_strides[0] + hk * p->v_strides[1];
  r.m = p->m_offset + b * p->m_strides[0] + h * p->m_strides[1] + i * p->m_strides[2];
  r.o = p->o_offset + b * p->o_strides[0] + h * p->o_strides[1] + i * p->o_strides[2];
  r.keys = p->Lk;
  if ((p->flags & PORTA_ATTN_FLAG_CAUSAL) != 0u) {
    const int limit = (int)i + (int)p->Lk - (int)p->Lq + 1;
    r.keys = limit <= 0 ? 0u : pk_minu(r.keys, (uint)limit);
  }
  return r;
}

// ---- Matmul tiles -------------------------------------------------------------------------------

// Element e of a TK x X tile stored k-major (tile[k * X + x]) reads matrix element (k0 + k, x0 + x)
// at base + (x0 + x) * xs + (k0 + k) * ks, and is 0 past x_end or k_end. Consecutive e walk
// whichever axis is contiguous in memory, so neighbouring work-items read neighbouring addresses.
// Returns the source index, or 0xffffffff for a zero, and the tile slot in *slot.
PK_FN uint pk_tile_source(uint e, uint X, uint TK, uint base, uint xs, uint ks, uint x0, uint x_end,
                          uint k0, uint k_end, uint* slot) {
  uint k_r;
  uint x_r;
  const uint x_q = pk_divmod(e, TK, &k_r);
  const uint k_q = pk_divmod(e, X, &x_r);
  const int k_fast = ks == 1u || xs != 1u;
  const uint x = k_fast ? x_q : x_r;
  const uint k = k_fast ? k_r : k_q;
  *slot = k * X + x;
  return x0 + x < x_end && k0 + k < k_end ? base + (x0 + x) * xs + (k0 + k) * ks : 0xffffffffu;
}

// The matmul epilogue (PORTA_MATMUL_PARAMS) of the output element at oi, in column n:
// alpha * sum, plus beta * out (FLAG_BETA) and bias[n] (FLAG_BIAS), through the activation, stored
// in out's dtype.
PK_FN void pk_matmul_store(PK_GLOBAL uchar* out, PK_GLOBAL const uchar* bias,
                           const PortaMatmulParams* p, uint oi, uint n, float sum) {
  const uint dto = pk_byte(p->dtypes, 2u);
  const uint act = pk_byte(p->flags, 1u);
  float r = p->alpha * sum;
  if ((p->flags & PORTA_MM_FLAG_BETA) != 0u) r += p->beta * pk_load(out, dto, oi);
  if ((p->flags & PORTA_MM_FLAG_BIAS) != 0u) {
    r += pk_load(bias, pk_byte(p->dtypes, 3u), p->bias_offset + n * p->bias_stride);
  }
  pk_store(out, dto, oi, act == 0u ? r : pk_unary(act, r));
}

// ---- Work-group reductions ----------------------------------------------------------------------
// Tree reductions over a power-of-two work-group of wg <= PORTA_MAX_WG items through buf
// (PORTA_MAX_WG floats of local memory). Every work-item must call them; all get the result, and
// buf may be reused at once (the trailing barrier orders the read of buf[0] before any rewrite).
//
// Kernels with barriers never return early, not even from a whole surplus work-group of the 2D
// grid, and never put a barrier under a condition: PoCL 3.1 compiles such kernels into endless
// loops for work-groups of 2 to 8 items. Surplus groups run with zero work instead.

PK_FN float pk_group_sum(PK_LOCAL float* buf, uint lid, uint wg, float v) {
  buf[lid] = v;
  PK_BARRIER();
  for (uint s = wg >> 1; s > 0u; s >>= 1) {
    if (lid < s) buf[lid] += buf[lid + s];
    PK_BARRIER();
  }
  const float r = buf[0];
  PK_BARRIER();
  return r;
}

PK_FN float pk_group_max(PK_LOCAL float* buf, uint lid, uint wg, float v) {
  buf[lid] = v;
  PK_BARRIER();
  for (uint s = wg >> 1; s > 0u; s >>= 1) {
    if (lid < s) buf[lid] = pk_max(buf[lid], buf[lid + s]);
    PK_BARRIER();
  }
  const float r = buf[0];
  PK_BARRIER();
  return r;
}

#endif  // PORTA_KERNELS_OPENCL_PRELUDE_H_
