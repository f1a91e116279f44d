// Shared helpers of the Vulkan (GLSL) operator-library kernels: the work-group size and parameter
// block conventions, storage-buffer views with dtype load/store, f16/bf16 conversion, index
// decomposition, and the f32 math library (exp, log, exp2, sincos, erf, erfc, tanh, pow,
// NaN-propagating max/min, sigmoid, silu, gelu).
//
// Included right after `#version 450` and `#extension GL_GOOGLE_include_directive : require`.
// Compiled with -DPORTA_16BIT=0 (f32/i32 only; the SPIR-V declares no 16-bit capability) or
// -DPORTA_16BIT=1 (adds uint16_t views needing only StorageBuffer16BitAccess: every 16-bit value
// is converted with 32-bit integer arithmetic).
//
// The math functions are written with f32 adds and multiplies only (which Vulkan requires to be
// correctly rounded) rather than the GLSL built-ins, whose Vulkan precision is loose (exp: 3 + 2|x|
// ulp; log: 2^-21 absolute near 1; sin/cos: 2^-11 absolute), so every device gives the same few-ulp
// results. NaN tests use the bits, because Vulkan lets a compiler assume floats are not NaN.

#ifndef PORTA_16BIT
#error "compile with -DPORTA_16BIT=0 or -DPORTA_16BIT=1"
#endif
#if PORTA_16BIT
#extension GL_EXT_shader_16bit_storage : require
#endif

#define PORTA_KERNEL_LANG_GLSL
#include "common/params.h"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// --- Buffers -------------------------------------------------------------------------------------

// PORTA_BUFFER(qualifier, binding, name) declares aliasing views of one storage buffer: name_f
// (f32), name_i (i32) and, in the 16-bit variant, name_h (f16/bf16 bits). The 16-bit view is what
// lets a store of one 16-bit element leave its neighbour alone. PORTA_LOADER(name) and
// PORTA_STORER(name) then define name_load(dtype, index) -> float and
// name_store(dtype, index, float) with the contract's conversions.
#if PORTA_16BIT
#define PORTA_VIEW16(q, b, name) \
  layout(std430, set = 0, binding = b) q buffer name##_H { uint16_t name##_h[]; };
#define PORTA_READ16(name, i) uint(name##_h[i])
#define PORTA_WRITE16(name, i, bits) name##_h[i] = uint16_t(bits)
#else
#define PORTA_VIEW16(q, b, name)
#define PORTA_READ16(name, i) 0u
#define PORTA_WRITE16(name, i, bits)
#endif

#define PORTA_BUFFER(q, b, name)                                                       \
  layout(std430, set = 0, binding = b) q buffer name##_F { float name##_f[]; };        \
  layout(std430, set = 0, binding = b) q buffer name##_I { int name##_i[]; };          \
  PORTA_VIEW16(q, b, name)

#define PORTA_LOADER(name)                                        \
  float name##_load(uint dt, uint i) {                            \
    if (dt == PORTA_DT_F32) return name##_f[i];                   \
    if (dt == PORTA_DT_I32) return float(name##_i[i]);            \
    return porta_from16(dt, PORTA_READ16(name, i));               \
  }

#define PORTA_STORER(name)                                        \
  void name##_store(uint dt, uint i, float v) {                   \
    if (dt == PORTA_DT_F32) {                                     \
      name##_f[i] = v;                                            \
    } else if (dt == PORTA_DT_I32) {                              \
      name##_i[i] = int(v);                                       \
    } else {                                                      \
      PORTA_WRITE16(name, i, porta_to16(dt, v));                  \
    }                                                             \
  }

// PORTA_TEXEL_VIEW(binding, name) declares name_tex, the same buffer's memory read as 16-byte
// texels (uvec4, through texelFetch), which the Vulkan backend binds at binding 16 + |binding|;
// the kernel needs GL_EXT_samplerless_texture_functions. PORTA_TEXEL_VIEWS declares
// porta_texel_views (specialization constant 4): bit b is set when binding b's view is real. A
// buffer may have none (one the application imported, an offset off the texel alignment), and
// then the binding holds a 16-byte placeholder: kernels read a view only under its bit, and the
// driver drops the other path when it compiles the pipeline. Some drivers load texels much
// faster than storage buffers (lavapipe gathers them in vector code).
#define PORTA_TEXEL_VIEW(b, name) \
  layout(set = 0, binding = 16 + b) uniform utextureBuffer name##_tex;
#define PORTA_TEXEL_VIEWS layout(constant_id = 4) const uint porta_texel_views = 0u;

// PORTA_QBUFFER(binding, name) declares a read-only view name_w of 32-bit words of a buffer holding
// a block-quantized tensor (params.h, PORTA_DT_Q4_0) and defines name_u16(at) (the 16-bit word at
// even byte |at|), name_half(at) (the f16 there, as f32) and name_qelement(dtype, block, pos)
// (element pos of the block at byte |block|). Word reads need no 16-bit storage capability.
#define PORTA_QBUFFER(b, name)                                                          \
  layout(std430, set = 0, binding = b) readonly buffer name##_W { uint name##_w[]; };   \
  uint name##_u16(uint at) { return (name##_w[at >> 2] >> ((at & 2u) * 8u)) & 0xffffu; } \
  float name##_half(uint at) { return porta_f16_to_f32(name##_u16(at)); }               \
  float name##_qelement(uint dt, uint block, uint pos) {                                \
    const float d = name##_half(block);                                                 \
    if (dt == PORTA_DT_Q8_0) {                                                          \
      const uint word = name##_u16(block + 2u + (pos & 30u));                           \
      return d * porta_q_i8((pos & 1u) != 0u ? word >> 8 : word & 255u);                \
    }                                                                                   \
    const uint header = dt == PORTA_DT_Q4_1 ? 4u : 2u;                                  \
    const uint j = pos & 15u;                                                           \
    const uint word = name##_u16(block + header + (j & 14u));                           \
    const uint byte_ = (j & 1u) != 0u ? word >> 8 : word & 255u;                        \
    const float q = float(pos < 16u ? byte_ & 15u : byte_ >> 4);                        \
    return dt == PORTA_DT_Q4_1 ? d * q + name##_half(block + 2u) : d * (q - 8.0);       \
  }

// Bytes of one block of a block-quantized dtype.
uint porta_q_block_bytes(uint dt) {
  return dt == PORTA_DT_Q4_0 ? PORTA_Q4_0_BYTES
                             : (dt == PORTA_DT_Q4_1 ? PORTA_Q4_1_BYTES : PORTA_Q8_0_BYTES);
}

// A byte taken as a two's-complement int8.
float porta_q_i8(uint byte_) { return float(int(byte_) - int((byte_ & 128u) << 1)); }

// Byte |k| of a PORTA_PACK4 field.
uint porta_byte(uint packed, uint k) { return (packed >> (8u * k)) & 0xffu; }

// --- f16 / bf16 ----------------------------------------------------------------------------------

float porta_f16_to_f32(uint h) {
  const uint sign = (h & 0x8000u) << 16;
  const uint e = (h >> 10) & 0x1fu;
  const uint m = h & 0x3ffu;
  if (e == 0u) {
    // Subnormal: m * 2^-24 is a normal f32, exact even where the device flushes f32 denormals.
    const float v = float(m) * 5.9604644775390625e-8;
    return sign != 0u ? -v : v;
  }
  if (e == 31u) return uintBitsToFloat(sign | 0x7f800000u | (m << 13));
  return uintBitsToFloat(sign | ((e + 112u) << 23) | (m << 13));
}

// Round to nearest even; NaN stays a quiet NaN with its sign and top payload bits.
uint porta_f32_to_f16(float v) {
  const uint x = floatBitsToUint(v);
  const uint sign = (x >> 16) & 0x8000u;
  const uint ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00u | ((ax >> 13) & 0x3ffu);
  // 65520 is the midpoint between 65504 (the largest f16) and 65536; the tie goes to even: inf.
  if (ax >= 0x477ff000u) return sign | 0x7c00u;
  if (ax >= 0x38800000u) {
    // Normal f16: rebias the exponent, then round the 13 dropped bits to nearest even.
    const uint r = ax - 0x38000000u;
    return sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13);
  }
  // Subnormal f16 (or zero): the count of 2^-24 units, rounded to even; 1024 encodes 2^-14.
  return sign | uint(roundEven(uintBitsToFloat(ax) * 16777216.0));
}

float porta_bf16_to_f32(uint h) { return uintBitsToFloat(h << 16); }

// Four f16 values packed in two words (low half first) as f32. The hardware conversion (a single
// instruction where there is one) is exact for normal values, infinities and NaNs but may flush
// subnormals, so those are rebuilt exactly (m * 2^-24) with selects: on lavapipe four times
// faster than porta_f16_to_f32's integer path.
vec4 porta_f16x4_to_f32(uvec2 w) {
  const vec4 converted = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
  const uvec4 h = uvec4(w.x & 0xffffu, w.x >> 16, w.y & 0xffffu, w.y >> 16);
  const vec4 magnitude = vec4(h & 0x3ffu) * 5.9604644775390625e-8;
  const vec4 subnormal = mix(magnitude, -magnitude, notEqual(h & 0x8000u, uvec4(0u)));
  return mix(converted, subnormal, equal(h & 0x7c00u, uvec4(0u)));
}

// Four bf16 values packed in two words (low half first) as f32.
vec4 porta_bf16x4_to_f32(uvec2 w) {
  return uintBitsToFloat(uvec4(w.x << 16, w.x & 0xffff0000u, w.y << 16, w.y & 0xffff0000u));
}

uint porta_f32_to_bf16(float v) {
  const uint u = floatBitsToUint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

float porta_from16(uint dt, uint bits) {
  return dt == PORTA_DT_BF16 ? porta_bf16_to_f32(bits) : porta_f16_to_f32(bits);
}

uint porta_to16(uint dt, float v) {
  return dt == PORTA_DT_BF16 ? porta_f32_to_bf16(v) : porta_f32_to_f16(v);
}

// --- Indexing ------------------------------------------------------------------------------------

#define PORTA_U4(a) uvec4((a)[0], (a)[1], (a)[2], (a)[3])
#define PORTA_U3(a) uvec3((a)[0], (a)[1], (a)[2])

// Item i of a 4-entry shape (outermost first) as its coordinates.
uvec4 porta_coords4(uint i, uvec4 s) {
  uvec4 c;
  c.w = i % s.w;
  i /= s.w;
  c.z = i % s.z;
  i /= s.z;
  c.y = i % s.y;
  c.x = i / s.y;
  return c;
}

uvec3 porta_coords3(uint i, uvec3 s) {
  uvec3 c;
  c.z = i % s.z;
  i /= s.z;
  c.y = i % s.y;
  c.x = i / s.y;
  return c;
}

uint porta_dot4(uvec4 c, uvec4 st) { return c.x * st.x + c.y * st.y + c.z * st.z + c.w * st.w; }
uint porta_dot3(uvec3 c, uvec3 st) { return c.x * st.x + c.y * st.y + c.z * st.z; }

// The linear index of this work-group in the front end's (gx, gy) grid.
uint porta_group_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// Linear kernels: the item this invocation handles among n, written to |item|; false when it has
// none. Written so that no intermediate wraps even for n close to 2^32.
bool porta_linear_item(uint n, out uint item) {
  const uint wg = gl_WorkGroupSize.x;
  const uint g = porta_group_index();
  const uint groups = n / wg + ((n % wg) != 0u ? 1u : 0u);
  item = 0u;
  if (g >= groups) return false;
  const uint base = g * wg;
  if (gl_LocalInvocationID.x >= n - base) return false;
  item = base + gl_LocalInvocationID.x;
  return true;
}

// --- Math ----------------------------------------------------------------------------------------
//
// Max errors measured on lavapipe against long double (every 32nd float of +-[4.7e-10, 11], or
// 2^20 points over the stated range), with results below 1e-37 (flushed subnormals) left out:
//   erf 1.26 ulp; erfc 3.8 ulp; tanh 1.52 ulp; gelu_erf 4.8 ulp; exp 1.16 ulp; log 0.80 ulp
//   (all positive floats); exp2 1.10 ulp on [-150, 128]; sin/cos 2.4 ulp, 1.8 * 2^-24 absolute
//   on [-2000, 2000]; sigmoid 2.5 ulp, silu 2.7 ulp on [-20, 20]; pow 1.6 ulp for |x| <= 10,
//   |y| <= 8, 5.0 ulp for x in [0.5, 2], |y| <= 40. gelu_tanh inherits the f32 rounding of its
//   inner polynomial u, amplified by |2u|: 175 ulp at x = -9.8 (where the result is 5e-36).

#define PORTA_INF uintBitsToFloat(0x7f800000u)
#define PORTA_NAN uintBitsToFloat(0x7fc00000u)

bool porta_isnan(float x) { return (floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u; }
bool porta_isinf(float x) { return (floatBitsToUint(x) & 0x7fffffffu) == 0x7f800000u; }
bool porta_signbit(float x) { return (floatBitsToUint(x) & 0x80000000u) != 0u; }

// |mag| with the sign of |sgn|.
float porta_copysign(float mag, float sgn) {
  return uintBitsToFloat((floatBitsToUint(mag) & 0x7fffffffu) |
                         (floatBitsToUint(sgn) & 0x80000000u));
}

// max/min that return a NaN operand (C's fmaxf/fminf would drop it).
float porta_max(float a, float b) { return porta_isnan(a) ? a : (porta_isnan(b) ? b : max(a, b)); }
float porta_min(float a, float b) { return porta_isnan(a) ? a : (porta_isnan(b) ? b : min(a, b)); }

// IEEE x / y. Vulkan only bounds x / y for |y| in [2^-126, 2^126]: zero, subnormal (treated as
// zero, as a flushing device would), infinite and huge divisors are spelled out.
float porta_div(float x, float y) {
  const float ay = abs(y);
  if (ay >= 1.17549435e-38 && ay <= 8.50705917e37) return x / y;
  if (porta_isnan(x) || porta_isnan(y)) return PORTA_NAN;
  const uint sign = (floatBitsToUint(x) ^ floatBitsToUint(y)) & 0x80000000u;
  if (porta_isinf(y)) return porta_isinf(x) ? PORTA_NAN : uintBitsToFloat(sign);
  if (ay < 1.17549435e-38) return x == 0.0 ? PORTA_NAN : uintBitsToFloat(sign | 0x7f800000u);
  return (x * 0.0625) / (y * 0.0625);
}

// sqrt with the IEEE special cases (GLSL leaves x < 0 undefined).
float porta_sqrt(float x) {
  if (porta_isnan(x) || x == 0.0 || x == PORTA_INF) return x;
  return x < 0.0 ? PORTA_NAN : sqrt(x);
}

// p * 2^k for k in [-252, 254], in two steps so that neither factor leaves the normal range.
float porta_scale2(float p, int k) {
  const int k1 = k / 2;
  const int k2 = k - k1;
  return p * uintBitsToFloat(uint(k1 + 127) << 23) * uintBitsToFloat(uint(k2 + 127) << 23);
}

// ln 2 split so that n * PORTA_LN2_HI is exact for |n| < 2^9 (15 significant bits).
const float PORTA_LN2_HI = 0.693145751953125;
const float PORTA_LN2_LO = 1.42860676533e-6;

// e^(x + e) for a small correction e (pow's extra bits): Cody-Waite reduction to |r| <= ln2/2,
// then the degree-7 Taylor polynomial (truncation below 2^-27 relative).
float porta_exp_ext(float x, float e) {
  if (porta_isnan(x)) return x;
  if (x > 88.7228317) return PORTA_INF;  // the largest float whose exp is finite
  if (x < -103.972084) return 0.0;       // below half the smallest subnormal
  const float n = roundEven(x * 1.44269504);
  precise const float r = ((x - n * PORTA_LN2_HI) - n * PORTA_LN2_LO) + e;
  const float q =
      1.0 + r * (0.5 + r * (1.66666667e-1 +
                            r * (4.16666667e-2 +
                                 r * (8.33333333e-3 + r * (1.38888889e-3 + r * 1.98412698e-4)))));
  return porta_scale2(1.0 + r * q, int(n));
}

float porta_exp(float x) { return porta_exp_ext(x, 0.0); }

// Kahan-compensated running sum: acc.x is the sum and acc.y the negated low part it lost, so the
// total is acc.x - acc.y. Keeps an invocation's long sequential sums (small WG, long rows) within
// a few ulp. An infinite sum carries no low bits (inf - inf would turn it into NaN).
void porta_kahan_add(inout vec2 acc, float v) {
  precise const float y = v - acc.y;
  precise const float t = acc.x + y;
  precise const float lost = (t - acc.x) - y;
  acc = vec2(t, porta_isinf(t) ? 0.0 : lost);
}

float porta_kahan_total(vec2 acc) {
  precise const float total = acc.x - acc.y;
  return total;
}

// a - b as hi + lo exactly (Knuth's TwoSum).
vec2 porta_diff2(float a, float b) {
  precise const float hi = a - b;
  precise const float bb = hi - a;
  precise const float lo = (a - (hi - bb)) - (b + bb);
  return vec2(hi, porta_isinf(hi) ? 0.0 : lo);
}

// e^(a - b) from the exact difference: rounding a - b to f32 would cost up to |a - b| 2^-24
// relative.
float porta_exp_diff(float a, float b) {
  const vec2 d = porta_diff2(a, b);
  return porta_exp_ext(d.x, d.y);
}

// 2^x: exact reduction to |r| <= 1/2, then the degree-7 Taylor polynomial of e^(r ln 2).
float porta_exp2(float x) {
  if (porta_isnan(x)) return x;
  if (x >= 128.0) return PORTA_INF;
  if (x < -150.0) return 0.0;
  const float n = roundEven(x);
  const float r = x - n;
  const float q =
      6.93147182e-1 +
      r * (2.40226507e-1 +
           r * (5.55041097e-2 +
                r * (9.61812865e-3 +
                     r * (1.33335579e-3 + r * (1.54035297e-4 + r * 1.52527336e-5)))));
  return porta_scale2(1.0 + r * q, int(n));
}

// log of a finite x > 0 as k ln2 + f - c, where k * PORTA_LN2_HI and f are exact: x = 2^k m with
// m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f) and log(1 + f) = f - (f^2/2 - s (f^2/2 +
// R(s^2))), R the atanh series (fdlibm's arrangement, which keeps the division's rounding away
// from the leading terms; c also carries k * PORTA_LN2_LO).
void porta_log_terms(float x, out float kf, out float f, out float c) {
  uint u = floatBitsToUint(x);
  int k = int(u >> 23) - 127;
  if ((u >> 23) == 0u) {
    // Subnormal: its bits as an integer are x * 2^149, a normal float even under flush-to-zero.
    u = floatBitsToUint(float(u));
    k = int(u >> 23) - 127 - 149;
  }
  const uint mant = u & 0x7fffffu;
  float m;
  if (mant >= 0x3504f3u) {
    m = uintBitsToFloat(mant | 0x3f000000u);
    k += 1;
  } else {
    m = uintBitsToFloat(mant | 0x3f800000u);
  }
  kf = float(k);
  f = m - 1.0;
  const float s = f / (2.0 + f);
  const float z = s * s;
  const float r =
      z * (6.66666667e-1 +
           z * (4.0e-1 + z * (2.85714286e-1 + z * (2.22222222e-1 + z * 1.81818182e-1))));
  precise const float hfsq = 0.5 * f * f;
  precise const float corr = hfsq - (s * (hfsq + r) + kf * PORTA_LN2_LO);
  c = corr;
}

float porta_log(float x) {
  if (porta_isnan(x)) return x;
  if ((floatBitsToUint(x) & 0x7fffffffu) == 0u) return -PORTA_INF;
  if (porta_signbit(x)) return PORTA_NAN;
  if (porta_isinf(x)) return x;
  float kf, f, c;
  porta_log_terms(x, kf, f, c);
  precise const float result = kf * PORTA_LN2_HI - (c - f);
  return result;
}

// (sin x, cos x): Cody-Waite reduction by pi/2 in four parts (the first three of 8 bits, so
// n * part is exact for |x| < ~1e5), then Taylor polynomials on [-pi/4, pi/4].
vec2 porta_sincos(float x) {
  if (porta_isnan(x) || porta_isinf(x)) return vec2(PORTA_NAN);
  const float n = roundEven(x * 0.636619772);
  precise const float r = (((x - n * 1.5703125) - n * uintBitsToFloat(0x39fd0000u)) -
                           n * uintBitsToFloat(0x35aa0000u)) -
                          n * uintBitsToFloat(0x30885a31u);
  const float z = r * r;
  const float s =
      r + r * z * (-1.66666667e-1 + z * (8.33333333e-3 + z * (-1.98412698e-4 + z * 2.75573192e-6)));
  const float c =
      1.0 - 0.5 * z +
      z * z * (4.16666667e-2 + z * (-1.38888889e-3 + z * (2.48015873e-5 + z * -2.75573192e-7)));
  const uint q = uint(int(n)) & 3u;
  if (q == 0u) return vec2(s, c);
  if (q == 1u) return vec2(c, -s);
  if (q == 2u) return vec2(-s, -c);
  return vec2(-c, s);
}

// erfc(x) for x >= 0.5 with relative accuracy, given e = exp(-x^2): e * g(x), with g a
// Chebyshev-interpolation fit of erfc(x) e^(x^2) on [0.5, 2.5) in x and of x erfc(x) e^(x^2) on
// [2.5, inf) in t = 1/x^2. Callers compute e from an exact square: x^2's rounding would scale the
// relative error by 2 x^2.
float porta_erfc_scaled(float x, float e) {
  if (x >= 10.0) return 0.0;  // erfc(10) = 2e-45: below the smallest f32 subnormal's half
  if (x < 2.5) {
    const float u = x - 1.5;
    const float g6 =
        1.890680986e-3 +
        u * (-6.632265286e-4 +
             u * (2.147382911e-4 +
                  u * (-7.021189958e-5 + u * (3.012266097e-5 + u * -9.051850611e-6))));
    const float g =
        3.215854168e-1 +
        u * (-1.636229157e-1 +
             u * (7.615113258e-2 +
                  u * (-3.293093294e-2 +
                       u * (1.337626297e-2 + u * (-5.145650357e-3 + u * g6)))));
    return e * g;
  }
  const float u = (1.0 / (x * x) - 0.08) * 12.5;
  const float h4 =
      3.976521475e-5 +
      u * (-8.194938346e-6 +
           u * (1.936919261e-6 + u * (-6.404366104e-7 + u * 1.886038348e-7)));
  const float h =
      5.439016223e-1 +
      u * (-1.835128292e-2 + u * (1.659234520e-3 + u * (-2.267177333e-4 + u * h4)));
  return e * h / x;
}

// exp(-x^2 * scale) for scale 1 or 1/2 as exp(-xh^2 scale) exp(-(x - xh)(x + xh) scale), with
// xh = x cut to 12 bits so that xh^2 is exact.
float porta_exp_neg_square(float x, float scale) {
  const float xh = uintBitsToFloat(floatBitsToUint(x) & 0xfffff000u);
  precise const float d = (x - xh) * (x + xh);
  return porta_exp(-(xh * xh) * scale) * porta_exp(-d * scale);
}

float porta_erfc_tail(float x) { return porta_erfc_scaled(x, porta_exp_neg_square(x, 1.0)); }

// erf: x + x q(x^2) on |x| < 1 (q a Chebyshev-interpolation fit of erf(x)/x - 1, so the leading
// term is exact), 1 - erfc(|x|) beyond.
float porta_erf(float x) {
  const float ax = abs(x);
  float r;
  if (ax < 1.0) {
    const float t = ax * ax;
    const float q =
        1.283791661e-1 +
        t * (-3.761262596e-1 +
             t * (1.128359437e-1 +
                  t * (-2.685421146e-2 +
                       t * (5.189087242e-3 + t * (-8.016864303e-4 + t * 7.875874871e-5)))));
    r = ax + ax * q;
  } else {
    r = 1.0 - porta_erfc_tail(ax);
  }
  return porta_copysign(r, x);
}

float porta_erfc(float x) {
  if (x >= 0.5) return porta_erfc_tail(x);
  if (x <= -1.0) return 2.0 - porta_erfc_tail(-x);
  return 1.0 - porta_erf(x);
}

// tanh: x + x^3 Q(x^2) on |x| < 0.55 (Q fitted like erf's q), 1 - 2 / (e^(2|x|) + 1) beyond,
// which tends to 1 instead of inf / inf.
float porta_tanh(float x) {
  const float ax = abs(x);
  float r;
  if (ax < 0.55) {
    const float t = ax * ax;
    const float q =
        -3.333333433e-1 +
        t * (1.333332360e-1 +
             t * (-5.396470055e-2 +
                  t * (2.181844972e-2 + t * (-8.526332676e-3 + t * 2.526390599e-3))));
    r = ax + ax * t * q;
  } else {
    r = 1.0 - porta_div(2.0, porta_exp(2.0 * ax) + 1.0);
  }
  return porta_copysign(r, x);
}

// max(x, 0) that keeps NaN.
float porta_relu(float x) { return porta_isnan(x) ? x : max(x, 0.0); }

float porta_sigmoid(float x) { return porta_div(1.0, 1.0 + porta_exp(-x)); }
float porta_silu(float x) { return x * porta_sigmoid(x); }

// 0.5 x (1 + erf(x / sqrt2)); for x / sqrt2 <= -0.5 the bracket is erfc(|x| / sqrt2), which keeps
// its relative accuracy where 1 + erf would cancel, with exp(-x^2 / 2) taken from x itself.
float porta_gelu_erf(float x) {
  const float z = x * 0.707106781;
  if (z > -0.5 || porta_isnan(x)) return 0.5 * x * (1.0 + porta_erf(z));
  return 0.5 * x * porta_erfc_scaled(-z, porta_exp_neg_square(-x, 0.5));
}

// 0.5 x (1 + tanh(u)) = x sigmoid(2u): the same value without 1 + tanh's cancellation for x < 0.
float porta_gelu_tanh(float x) {
  const float u = 0.797884561 * (x + 0.044715 * x * x * x);
  return x * porta_sigmoid(2.0 * u);
}

// C powf: pow(x, +-0) = 1 and pow(1, y) = 1 even for NaN, a negative base needs an integral
// exponent (odd ones keep the sign), and the zero/infinity cases of C99 F.9.4.4. Finite cases are
// exp(y log|x|) with y log|x| carried in two floats.
float porta_pow(float x, float y) {
  if (y == 0.0 || x == 1.0) return 1.0;
  if (porta_isnan(x) || porta_isnan(y)) return PORTA_NAN;
  const float ax = abs(x);
  const float ay = abs(y);
  if (porta_isinf(y)) {
    if (ax == 1.0) return 1.0;
    return (ax < 1.0) == (y < 0.0) ? PORTA_INF : 0.0;
  }
  const bool y_int = floor(y) == y;
  // Every float of magnitude >= 2^24 is even.
  const bool y_odd = y_int && ay < 16777216.0 && (uint(ay) & 1u) != 0u;
  const bool neg = porta_signbit(x);
  if (porta_isinf(x) || ax == 0.0) {
    // |x| = inf behaves like 1 / (|x| = 0): the magnitude is inf when y and log|x| agree in sign.
    const float mag = (y < 0.0) == (ax == 0.0) ? PORTA_INF : 0.0;
    return neg && y_odd ? -mag : mag;
  }
  if (neg && !y_int) return PORTA_NAN;
  // log|x| = hi + lo and y * hi = p + perr exactly (Fast2Sum, Dekker's product), so the rounding of
  // log|x| and of the product is not magnified by |y log x|.
  float kf, f, c;
  porta_log_terms(ax, kf, f, c);
  precise const float a = kf * PORTA_LN2_HI;
  precise const float s1 = a + f;
  precise const float e1 = f - (s1 - a);
  precise const float hi = s1 - c;
  precise const float lo = e1 + ((s1 - hi) - c);
  precise const float p = y * hi;
  float r;
  if (abs(p) > 150.0) {
    r = porta_exp(p);  // overflows or underflows whatever the low bits
  } else {
    precise const float yc = 4097.0 * y;
    precise const float yh = yc - (yc - y);
    precise const float yl = y - yh;
    precise const float hc = 4097.0 * hi;
    precise const float hh = hc - (hc - hi);
    precise const float hl = hi - hh;
    precise const float perr = (((yh * hh - p) + yh * hl) + yl * hh) + yl * hl;
    r = porta_exp_ext(p, perr + y * lo);
  }
  return neg && y_odd ? -r : r;
}
