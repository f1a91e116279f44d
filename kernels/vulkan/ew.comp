// porta_ew (kernels/common/params.h): elementwise unary and binary ops, casts and bit copies over
// strided, broadcast views. A linear kernel: one invocation per item.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_EW_PARAMS) } p;

PORTA_BUFFER(readonly, 0, a)
PORTA_BUFFER(readonly, 1, b)
PORTA_BUFFER(, 2, o)
PORTA_LOADER(a)
PORTA_LOADER(b)
PORTA_STORER(o)

float unary(uint op, float x) {
  switch (op) {
    case PORTA_EW_NEG: return -x;
    case PORTA_EW_ABS: return abs(x);
    case PORTA_EW_EXP: return porta_exp(x);
    case PORTA_EW_LOG: return porta_log(x);
    case PORTA_EW_SQRT: return porta_sqrt(x);
    case PORTA_EW_RSQRT: return porta_div(1.0, porta_sqrt(x));
    case PORTA_EW_TANH: return porta_tanh(x);
    case PORTA_EW_SIGMOID: return porta_sigmoid(x);
    case PORTA_EW_RELU: return porta_relu(x);
    case PORTA_EW_GELU_ERF: return porta_gelu_erf(x);
    case PORTA_EW_GELU_TANH: return porta_gelu_tanh(x);
    case PORTA_EW_SILU: return porta_silu(x);
    default: return x;  // PORTA_EW_IDENTITY: the conversion is the load and the store
  }
}

float binary(uint op, float x, float y) {
  switch (op) {
    case PORTA_EW_ADD: return x + y;
    case PORTA_EW_SUB: return x - y;
    case PORTA_EW_MUL: return x * y;
    case PORTA_EW_DIV: return porta_div(x, y);
    case PORTA_EW_MAX: return porta_max(x, y);
    case PORTA_EW_MIN: return porta_min(x, y);
    case PORTA_EW_SWIGLU: return porta_silu(x) * y;
    default: return porta_pow(x, y);
  }
}

// Moves the element's bits: 4 bytes through the i32 views, 2 through the 16-bit ones.
void copy_bits(uint dt, uint io, uint ia) {
  if (dt == PORTA_DT_F32 || dt == PORTA_DT_I32) {
    o_i[io] = a_i[ia];
  } else {
    PORTA_WRITE16(o, io, PORTA_READ16(a, ia));
  }
}

void main() {
  uint item;
  if (!porta_linear_item(p.n, item)) return;
  const uvec4 c = porta_coords4(item, PORTA_U4(p.shape));
  const uint ia = p.a_offset + porta_dot4(c, PORTA_U4(p.a_strides));
  const uint io = p.out_offset + porta_dot4(c, PORTA_U4(p.out_strides));
  const uint dta = porta_byte(p.dtypes, 0u);
  const uint dto = porta_byte(p.dtypes, 2u);
  // A same-dtype cast is a copy too; going through f32 would round i32 values above 2^24.
  if (p.op == PORTA_EW_COPY || (p.op == PORTA_EW_IDENTITY && dta == dto)) {
    copy_bits(dto, io, ia);
    return;
  }
  const float x = a_load(dta, ia);
  float r;
  if (p.op < PORTA_EW_BINARY) {
    r = unary(p.op, x);
  } else if ((p.flags & PORTA_EW_FLAG_SCALAR) == 0u) {
    const uint ib = p.b_offset + porta_dot4(c, PORTA_U4(p.b_strides));
    r = binary(p.op, x, b_load(porta_byte(p.dtypes, 1u), ib));
  } else if ((p.flags & PORTA_EW_FLAG_SCALAR_LEFT) != 0u) {
    r = binary(p.op, p.alpha, x);
  } else {
    r = binary(p.op, x, p.alpha);
  }
  o_store(dto, io, r);
}
