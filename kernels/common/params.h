// The parameter block of every operator-library kernel, written once and read by every kernel
// language: C++ (the op front ends and the host kernels), OpenCL C, CUDA/HIP and GLSL.
//
// Each block is an X-macro list of 32-bit fields: U(name) is a uint32, I(name) an int32, F(name)
// a float, A(name, n) an array of n uint32. A language instantiates the list with its own
// spelling (see PORTA_PARAMS_STRUCT below; GLSL declares it as its push-constant block). Every
// field is 4 bytes, so the layout is the same in C, std430 and OpenCL C with no padding, and no
// block exceeds 128 bytes (Vulkan's guaranteed push-constant size; kernels/core checks it).
//
// Launch contract shared by every kernel (docs/ops.md, "Kernel contract"):
// - Arguments: the kernel's buffers in the order listed below, each bound at byte offset 0, then
//   the parameter block as one scalar. Element offsets and strides in the block are in elements
//   of that tensor's dtype. An optional tensor that is absent is bound to the first buffer and
//   flagged absent in the block; the kernel must not touch it.
// - "Linear" kernels: block = (WG, 1, 1), WG a power of two <= PORTA_MAX_WG. The front end
//   launches G work-groups as a 2D grid (gx, gy, 1) with gx = min(G, 65535) and
//   gy = ceil(G / gx); the linear group index is g = group_id.y * gx + group_id.x and groups with
//   g >= G return at once. Unless a kernel says otherwise, thread t of group g handles item
//   g * WG + t, and items >= the block's count do nothing.
// - Index decomposition: a 4-entry shape s[0..3] is outermost first; item i maps to
//   (i0, i1, i2, i3) with i3 = i % s[3], i2 = (i / s[3]) % s[2], and so on. The element of a
//   tensor with offset o and strides st is o + i0*st[0] + i1*st[1] + i2*st[2] + i3*st[3].
// - dtype codes (PORTA_DT_*) equal porta_dtype_t. Loads convert to f32 (f16 and bf16 exactly,
//   i32 as a C int->float conversion); stores convert from f32 (f16 round-to-nearest-even, bf16
//   round-to-nearest-even with NaN kept NaN, i32 truncation toward zero). All arithmetic is f32.
#ifndef PORTA_KERNELS_COMMON_PARAMS_H_
#define PORTA_KERNELS_COMMON_PARAMS_H_

// Largest work-group any op kernel is launched with; local arrays are sized by it.
#define PORTA_MAX_WG 256

// Element types (the values of porta_dtype_t).
#define PORTA_DT_F32 1
#define PORTA_DT_F16 2
#define PORTA_DT_BF16 3
#define PORTA_DT_I32 4
#define PORTA_DT_I8 5
// Block-quantized types: 32 elements per block, GGML's layouts (include/porta/porta_ops.h). A
// kernel reaches them as bytes: the tensor's byte offset (even) plus a block index times the
// block size; the f16 fields and the quants are read as 16-bit words (blocks are 2-byte aligned).
#define PORTA_DT_Q4_0 6
#define PORTA_DT_Q4_1 7
#define PORTA_DT_Q8_0 8
#define PORTA_QBLOCK 32
#define PORTA_Q4_0_BYTES 18
#define PORTA_Q4_1_BYTES 20
#define PORTA_Q8_0_BYTES 34

// Operation codes of porta_ew (EW). Unary codes equal porta_unary_op_t; binary codes are
// PORTA_EW_BINARY + porta_binary_op_t.
#define PORTA_EW_NEG 1
#define PORTA_EW_ABS 2
#define PORTA_EW_EXP 3
#define PORTA_EW_LOG 4
#define PORTA_EW_SQRT 5
#define PORTA_EW_RSQRT 6
#define PORTA_EW_TANH 7
#define PORTA_EW_SIGMOID 8
#define PORTA_EW_RELU 9
#define PORTA_EW_GELU_ERF 10
#define PORTA_EW_GELU_TANH 11
#define PORTA_EW_SILU 12
// out = a converted to out's dtype (a cast).
#define PORTA_EW_IDENTITY 13
#define PORTA_EW_BINARY 32
#define PORTA_EW_ADD 33
#define PORTA_EW_SUB 34
#define PORTA_EW_MUL 35
#define PORTA_EW_DIV 36
#define PORTA_EW_MAX 37
#define PORTA_EW_MIN 38
#define PORTA_EW_POW 39
#define PORTA_EW_SWIGLU 40
// Bit-exact copy: a and out have the same dtype and the element's bits move unchanged (i32
// included). No conversion through f32.
#define PORTA_EW_COPY 64

// EW flags.
// The binary op's second operand is the scalar |alpha| instead of tensor b.
#define PORTA_EW_FLAG_SCALAR 1u
// With PORTA_EW_FLAG_SCALAR: the scalar is the first operand (alpha - a, alpha / a, pow(alpha, a)).
#define PORTA_EW_FLAG_SCALAR_LEFT 2u

// Reduction codes of porta_reduce (REDUCE).
#define PORTA_RED_SUM 1
#define PORTA_RED_MEAN 2
#define PORTA_RED_MAX 3
#define PORTA_RED_MIN 4
#define PORTA_RED_ARGMAX 5
// REDUCE flag: write raw f32 partial results (see REDUCE below).
#define PORTA_RED_FLAG_PARTIAL 1u

// SOFTMAX flags.
#define PORTA_SM_FLAG_MASK 1u
#define PORTA_SM_FLAG_CAUSAL 2u
#define PORTA_SM_FLAG_LOG 4u

// NORM flags.
#define PORTA_NORM_FLAG_RMS 1u
#define PORTA_NORM_FLAG_WEIGHT 2u
#define PORTA_NORM_FLAG_BIAS 4u

// ROPE modes: GPT-NeoX pairs (i, i + rot/2); interleaved pairs (2i, 2i + 1) (GPT-J, LLaMA).
#define PORTA_ROPE_NEOX 0
#define PORTA_ROPE_INTERLEAVED 1

// ATTENTION flags.
#define PORTA_ATTN_FLAG_MASK 1u
#define PORTA_ATTN_FLAG_CAUSAL 2u

// MATMUL flags; the activation code (0 none, else a PORTA_EW_* unary code among RELU, GELU_ERF,
// GELU_TANH, SILU) sits in bits 8..15.
#define PORTA_MM_FLAG_BIAS 1u
#define PORTA_MM_FLAG_BETA 2u
// QMATVEC only: a may be rounded to Q8 blocks (porta_matmul_desc_t.quantize_a); kernels without
// such a path ignore it.
#define PORTA_MM_FLAG_QUANTIZE_A 4u

// QDEQUANT flag: rows come from an index tensor (embedding) instead of row_shape's order.
#define PORTA_QD_FLAG_GATHER 1u

// CONV2D flags.
#define PORTA_CONV_FLAG_BIAS 1u

// POOL2D modes and flags.
#define PORTA_POOL_MAX 0
#define PORTA_POOL_AVG 1
#define PORTA_POOL_FLAG_COUNT_PAD 1u

// Packs four dtype codes (or other bytes) into one field, first in the low byte.
#define PORTA_PACK4(a, b, c, d) ((a) | ((b) << 8) | ((c) << 16) | ((d) << 24))

// porta_ew — buffers: a, b, out. Linear kernel over n items; item i decomposes by |shape|.
//   op < PORTA_EW_BINARY: out[i] = f(a[i]). Binary: out[i] = f(a[i], b[i]), or with
//   PORTA_EW_FLAG_SCALAR f(a[i], alpha) / f(alpha, a[i]) (b unused). PORTA_EW_COPY: bits copied.
//   dtypes = PACK4(a, b, out, 0). Semantics (f32): gelu_erf(x) = 0.5x(1 + erf(x/sqrt2)),
//   gelu_tanh(x) = 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), silu(x) = x * sigmoid(x),
//   rsqrt(x) = 1/sqrt(x), max/min propagate NaN, pow follows C's powf (negative base with an
//   integral exponent keeps the sign rule; with a non-integral one it is NaN).
#define PORTA_EW_PARAMS(U, I, F, A) \
  U(n)                              \
  U(op)                             \
  U(dtypes)                         \
  U(flags)                          \
  A(shape, 4)                       \
  U(a_offset)                       \
  A(a_strides, 4)                   \
  U(b_offset)                       \
  A(b_strides, 4)                   \
  U(out_offset)                     \
  A(out_strides, 4)                 \
  F(alpha)

// porta_reduce — buffers: x, out. Work-group per (output, part): G = outer_n * parts groups;
//   group g reduces output o = g / parts over the inner items [p * chunk, min(inner_n,
//   (p + 1) * chunk)) of part p = g % parts. An output o decomposes by outer_shape and reads
//   x[x_offset + sum(o_d * x_outer_strides[d]) + sum(r_d * x_inner_strides[d])] for inner item r
//   decomposed by inner_shape. dtypes = PACK4(x, 0, out, 0).
//   Normal mode (flags without PARTIAL, parts == 1): out[out_offset + sum(o_d * out_strides[d])]
//   gets sum * scale (SUM, MEAN), max, min (NaN propagates), or for ARGMAX the i32 index of the
//   first maximum along the inner items (a NaN counts as the maximum; the first NaN wins).
//   PARTIAL mode (SUM, MEAN, MAX, MIN only): out is f32 and out[out_offset + g] gets the raw
//   partial (a sum without scale, or max/min); an empty part writes 0 for sums, -inf for MAX and
//   +inf for MIN. A second launch with op, scale and the partials as x finishes the reduction.
#define PORTA_REDUCE_PARAMS(U, I, F, A) \
  U(op)                                 \
  U(dtypes)                             \
  U(flags)                              \
  U(outer_n)                            \
  U(inner_n)                            \
  U(parts)                              \
  U(chunk)                              \
  A(outer_shape, 4)                     \
  A(inner_shape, 4)                     \
  U(x_offset)                           \
  A(x_outer_strides, 4)                 \
  A(x_inner_strides, 4)                 \
  U(out_offset)                         \
  A(out_strides, 4)                     \
  F(scale)

// porta_softmax — buffers: x, mask, out. Work-group per row: G = rows; row r decomposes by
//   row_shape (3 entries, outermost first) into (r0, r1, r2); element c of the row is
//   x[x_offset + r0*xs[0] + r1*xs[1] + r2*xs[2] + c*xs[3]] (mask and out likewise).
//   v_c = x_c * scale + mask_c (mask when FLAG_MASK), and v_c = -inf where FLAG_CAUSAL and
//   c > r2 + causal_shift. out_c = exp(v_c - max) / sum(exp(v - max)); with FLAG_LOG,
//   out_c = v_c - max - log(sum). A row whose every v is -inf yields 0 (softmax) or -inf (log).
//   dtypes = PACK4(x, mask, out, 0).
#define PORTA_SOFTMAX_PARAMS(U, I, F, A) \
  U(rows)                                \
  U(cols)                                \
  U(dtypes)                              \
  U(flags)                               \
  A(row_shape, 3)                        \
  U(x_offset)                            \
  A(x_strides, 4)                        \
  U(m_offset)                            \
  A(m_strides, 4)                        \
  U(out_offset)                          \
  A(out_strides, 4)                      \
  F(scale)                               \
  I(causal_shift)

// porta_norm — buffers: x, weight, bias, out. Work-group per row, rows as in SOFTMAX.
//   LayerNorm: y = (x - mean) / sqrt(var + eps) with the biased variance; RMS (FLAG_RMS):
//   y = x / sqrt(mean(x^2) + eps). Then y * weight[c] (FLAG_WEIGHT) + bias[c] (FLAG_BIAS), with
//   weight element w_offset + c * w_stride, bias b_offset + c * b_stride.
//   dtypes = PACK4(x, weight, bias, out).
#define PORTA_NORM_PARAMS(U, I, F, A) \
  U(rows)                             \
  U(cols)                             \
  U(dtypes)                           \
  U(flags)                            \
  A(row_shape, 3)                     \
  U(x_offset)                         \
  A(x_strides, 4)                     \
  U(w_offset)                         \
  U(w_stride)                         \
  U(b_offset)                         \
  U(b_stride)                         \
  U(out_offset)                       \
  A(out_strides, 4)                   \
  F(eps)

// porta_gather — buffers: table, indices (i32), out. Linear kernel over n = n_idx * dim items;
//   item i is (j = i / dim, c = i % dim); j decomposes by idx_shape (3 entries). The index
//   v = indices[idx_offset + sum(j_d * idx_strides[d])]; out[out_offset + sum(j_d *
//   out_strides[d]) + c * out_strides[3]] = table[t_offset + v * t_strides[0] + c * t_strides[1]]
//   converted to out's dtype, or 0 when v < 0 or v >= vocab. dtypes = PACK4(table, I32, out, 0).
#define PORTA_GATHER_PARAMS(U, I, F, A) \
  U(n_idx)                              \
  U(dim)                                \
  U(vocab)                              \
  U(dtypes)                             \
  A(idx_shape, 3)                       \
  U(idx_offset)                         \
  A(idx_strides, 3)                     \
  U(t_offset)                           \
  A(t_strides, 2)                       \
  U(out_offset)                         \
  A(out_strides, 4)

// porta_rope — buffers: x, positions (i32), out. Linear kernel over n = rows * (head_dim / 2)
//   items, rows = shape[0] * shape[1] * shape[2]; item i is (row, k = i % (head_dim / 2)), the
//   row decomposing by shape[0..2] (shape[3] == head_dim). pos = positions[pos_offset +
//   i_seq * pos_stride] where i_seq is the row's index along axis seq_axis (0..2).
//   For k < rot_dims / 2 the pair (e0, e1) is (k, k + rot_dims/2) for NEOX and (2k, 2k + 1) for
//   INTERLEAVED; theta = pos * freq_scale * exp2(k * inv_freq_log2) with inv_freq_log2 =
//   -2 log2(base) / rot_dims; out[e0] = x0 cos - x1 sin, out[e1] = x0 sin + x1 cos.
//   For k >= rot_dims / 2 the pair (2k, 2k + 1) is copied unchanged. dtypes = PACK4(x, I32, out,
//   0).
#define PORTA_ROPE_PARAMS(U, I, F, A) \
  U(n)                                \
  U(mode)                             \
  U(rot_dims)                         \
  U(head_dim)                         \
  A(shape, 4)                         \
  U(seq_axis)                         \
  U(dtypes)                           \
  U(x_offset)                         \
  A(x_strides, 4)                     \
  U(out_offset)                       \
  A(out_strides, 4)                   \
  U(pos_offset)                       \
  U(pos_stride)                       \
  F(freq_scale)                       \
  F(inv_freq_log2)

// porta_attention — buffers: q, k, v, mask, out. Work-group per query row: G = B * Hq * Lq;
//   g decomposes as (b, h, i) with i fastest. Query head h reads key/value head
//   h / (Hq / Hkv). Element d of q row (b, h, i) is q[q_offset + b*qs[0] + h*qs[1] + i*qs[2] + d]
//   (the last dimension is contiguous for q, k, v, mask and out); k, v and out likewise with
//   their head and row indices, mask row (b, h, i) at m_offset + b*ms[0] + h*ms[1] + i*ms[2].
//   s_j = scale * dot(q_i, k_j) + mask_ij, -inf where CAUSAL and j > i + (Lk - Lq);
//   out_i = sum_j softmax(s)_j v_j, accumulated in f32; a row with every s_j = -inf yields 0.
//   D, Dv <= 256. dtypes = PACK4(q, k, v, out); flags carry the mask dtype in bits 8..15.
#define PORTA_ATTENTION_PARAMS(U, I, F, A) \
  U(B)                                     \
  U(Hq)                                    \
  U(Hkv)                                   \
  U(Lq)                                    \
  U(Lk)                                    \
  U(D)                                     \
  U(Dv)                                    \
  U(dtypes)                                \
  U(flags)                                 \
  U(q_offset)                              \
  A(q_strides, 3)                          \
  U(k_offset)                              \
  A(k_strides, 3)                          \
  U(v_offset)                              \
  A(v_strides, 3)                          \
  U(m_offset)                              \
  A(m_strides, 3)                          \
  U(o_offset)                              \
  A(o_strides, 3)                          \
  F(scale)

// porta_matmul — buffers: a, b, bias, out. Grid (ceil(N / TN), ceil(M / TM), batch0 * batch1),
//   block (TN / WN, TM / WM, 1) for the variant's tile (TM, TN, TK, WM, WN). Batch z decomposes
//   as (z0 = z / batch1, z1 = z % batch1). A[m][k] = a[a_offset + z0*a_bs[0] + z1*a_bs[1] +
//   m*a_rs + k*a_cs]; B[k][n] = b[b_offset + ... + k*b_rs + n*b_cs]; out[m][n] at
//   o_offset + z0*o_bs[0] + z1*o_bs[1] + m*o_rs + n*o_cs.
//   out = act(alpha * sum_k A B + beta * out (FLAG_BETA) + bias[bias_offset + n*bias_stride]
//   (FLAG_BIAS)), the sum accumulated in f32. dtypes = PACK4(a, b, out, bias).
//   A block-quantized b (PORTA_DT_Q4_0 ...; the front end passes one transposed, b_rs = 1) is
//   indexed the same way, b_offset counting elements from the tensor's first one; element e lies
//   at position e % 32 of the block at byte b_byte + (e / 32) * block bytes. b_byte is unused
//   for other dtypes, and the host kernel takes no block-quantized b.
#define PORTA_MATMUL_PARAMS(U, I, F, A) \
  U(M)                                  \
  U(N)                                  \
  U(K)                                  \
  U(batch0)                             \
  U(batch1)                             \
  U(dtypes)                             \
  U(flags)                              \
  U(a_offset)                           \
  U(a_rs)                               \
  U(a_cs)                               \
  A(a_bs, 2)                            \
  U(b_offset)                           \
  U(b_rs)                               \
  U(b_cs)                               \
  A(b_bs, 2)                            \
  U(b_byte)                             \
  U(o_offset)                           \
  U(o_rs)                               \
  U(o_cs)                               \
  A(o_bs, 2)                            \
  U(bias_offset)                        \
  U(bias_stride)                        \
  F(alpha)                              \
  F(beta)

// porta_qmatvec — buffers: a, b (block-quantized bytes), bias, out. The product of an f32, f16
//   or bf16 A[m][k] (as in PORTA_MATMUL_PARAMS) with a quantized matrix stored as N rows of K
//   (transpose_b): out[m][n] = act(alpha * sum_k A[m][k] W[n][k] + beta * out (FLAG_BETA) +
//   bias[n] (FLAG_BIAS)), accumulated in f32, with the flags and activation of MATMUL. Row n of
//   batch (z0, z1) starts at byte b_offset + (n * b_rs + z0 * b_bs[0] + z1 * b_bs[1]) * block
//   bytes (b_rs and b_bs in blocks), K is a multiple of 32, dtypes = PACK4(a, b, out, bias).
//   Linear kernel of G = ceil(N / rows) * ceil(M / m_per_group) * batch0 * batch1 groups; group g
//   is (row group r = g % ceil(N / rows), then m group, then batch z, z = z0 * batch1 + z1) and
//   computes rows [r * rows, r * rows + rows) of out for the m_per_group rows of A from
//   m group * m_per_group. Device kernels run with m_per_group 1 and split the WG work-items
//   into |rows| teams of WG / rows (rows divides WG); a team strides over its row's 8-element
//   units (unit u: block u / 4, part u % 4) and sums them in local memory. The host kernel
//   takes every m at once (m_per_group = M) so that each weight byte is read once.
// The largest M the tuning lets qmatvec take (its mmax); the host kernel sizes its sums by it.
#define PORTA_QMATVEC_MAX_M 64
#define PORTA_QMATVEC_PARAMS(U, I, F, A) \
  U(M)                                   \
  U(N)                                   \
  U(K)                                   \
  U(batch0)                              \
  U(batch1)                              \
  U(rows)                                \
  U(m_per_group)                         \
  U(dtypes)                              \
  U(flags)                               \
  U(a_offset)                            \
  U(a_rs)                                \
  U(a_cs)                                \
  A(a_bs, 2)                             \
  U(b_offset)                            \
  U(b_rs)                                \
  A(b_bs, 2)                             \
  U(o_offset)                            \
  U(o_rs)                                \
  U(o_cs)                                \
  A(o_bs, 2)                             \
  U(bias_offset)                         \
  U(bias_stride)                         \
  F(alpha)                               \
  F(beta)
// The per-row variant (tuning mv=2, rows = WG): each work-item computes one row alone, with no
// local memory or barrier. OpenCL C, SPIR-V kernels, CUDA and HIP name it porta_qmatvec_rows;
// the Vulkan shader has one entry and takes it when flags holds PORTA_QMV_FLAG_ROWS.
#define PORTA_QMV_FLAG_ROWS (1u << 16)

// porta_qdequant — buffers: src (block-quantized bytes), indices (i32), out. Linear kernel over
//   n = rows * dim items; item i is (j = i / dim, c = i % dim), dim a multiple of 32, j
//   decomposing by row_shape (3 entries). The source row starts at block
//   sum(j_d * src_strides[d]) (strides in blocks), or with FLAG_GATHER at block
//   v * src_strides[0] for v = indices[idx_offset + sum(j_d * idx_strides[d])], where
//   v < 0 or v >= vocab gives 0. Element c of the row is position c % 32 of block row + c / 32,
//   at byte src_offset + block * block bytes. out[out_offset + sum(j_d * out_strides[d]) +
//   c * out_strides[3]] gets it converted to out's dtype. dtypes = PACK4(src, I32, out, 0).
#define PORTA_QDEQUANT_PARAMS(U, I, F, A) \
  U(n)                                    \
  U(dim)                                  \
  U(vocab)                                \
  U(dtypes)                               \
  U(flags)                                \
  A(row_shape, 3)                         \
  U(idx_offset)                           \
  A(idx_strides, 3)                       \
  U(src_offset)                           \
  A(src_strides, 3)                       \
  U(out_offset)                           \
  A(out_strides, 4)

// porta_conv2d — buffers: x, weight, bias, out. Linear kernel over n = N * Co * Ho * Wo items,
//   item (nb, co, oy, ox) with ox fastest. Weight is contiguous [Co, C / groups, KH, KW] at
//   w_offset, bias contiguous [Co] at bias_offset. Group gi = co / (Co / groups) reads input
//   channels gi * (C / groups) + c. Input pixel (iy, ix) = (oy*stride_h - pad_h + ky*dil_h,
//   ox*stride_w - pad_w + kx*dil_w); outside [0, H) x [0, W) it is 0. x and out are addressed
//   with 4 strides (n, c, y, x). dtypes = PACK4(x, weight, out, bias).
#define PORTA_CONV2D_PARAMS(U, I, F, A) \
  U(N)                                  \
  U(C)                                  \
  U(H)                                  \
  U(W)                                  \
  U(Co)                                 \
  U(KH)                                 \
  U(KW)                                 \
  U(Ho)                                 \
  U(Wo)                                 \
  U(stride_h)                           \
  U(stride_w)                           \
  U(pad_h)                              \
  U(pad_w)                              \
  U(dil_h)                              \
  U(dil_w)                              \
  U(groups)                             \
  U(dtypes)                             \
  U(flags)                              \
  U(x_offset)                           \
  A(x_strides, 4)                       \
  U(w_offset)                           \
  U(bias_offset)                        \
  U(o_offset)                           \
  A(o_strides, 4)

// porta_pool2d — buffers: x, out. Linear kernel over n = N * C * Ho * Wo items (ox fastest).
//   Window position (iy, ix) = (oy*stride_h - pad_h + ky*dil_h, ox*stride_w - pad_w + kx*dil_w).
//   MAX: the largest in-bounds value (NaN propagates). AVG: the sum of in-bounds values divided
//   by KH * KW with FLAG_COUNT_PAD, else by the number of in-bounds positions.
//   dtypes = PACK4(x, 0, out, 0).
#define PORTA_POOL2D_PARAMS(U, I, F, A) \
  U(N)                                  \
  U(C)                                  \
  U(H)                                  \
  U(W)                                  \
  U(Ho)                                 \
  U(Wo)                                 \
  U(KH)                                 \
  U(KW)                                 \
  U(stride_h)                           \
  U(stride_w)                           \
  U(pad_h)                              \
  U(pad_w)                              \
  U(dil_h)                              \
  U(dil_w)                              \
  U(mode)                               \
  U(flags)                              \
  U(dtypes)                             \
  U(x_offset)                           \
  A(x_strides, 4)                       \
  U(o_offset)                           \
  A(o_strides, 4)

// Declares the parameter block |list| as a C/C++/OpenCL C/CUDA struct called |name|.
#if !defined(PORTA_KERNEL_LANG_GLSL)
#if defined(__OPENCL_C_VERSION__)
#define PORTA_PARAM_U(x) uint x;
#define PORTA_PARAM_I(x) int x;
#define PORTA_PARAM_F(x) float x;
#define PORTA_PARAM_A(x, n) uint x[n];
#else
#define PORTA_PARAM_U(x) unsigned int x;
#define PORTA_PARAM_I(x) int x;
#define PORTA_PARAM_F(x) float x;
#define PORTA_PARAM_A(x, n) unsigned int x[n];
#endif
#define PORTA_PARAMS_STRUCT(name, list)                              \
  typedef struct name {                                              \
    list(PORTA_PARAM_U, PORTA_PARAM_I, PORTA_PARAM_F, PORTA_PARAM_A) \
  } name;

PORTA_PARAMS_STRUCT(PortaEwParams, PORTA_EW_PARAMS)
PORTA_PARAMS_STRUCT(PortaReduceParams, PORTA_REDUCE_PARAMS)
PORTA_PARAMS_STRUCT(PortaSoftmaxParams, PORTA_SOFTMAX_PARAMS)
PORTA_PARAMS_STRUCT(PortaNormParams, PORTA_NORM_PARAMS)
PORTA_PARAMS_STRUCT(PortaGatherParams, PORTA_GATHER_PARAMS)
PORTA_PARAMS_STRUCT(PortaRopeParams, PORTA_ROPE_PARAMS)
PORTA_PARAMS_STRUCT(PortaAttentionParams, PORTA_ATTENTION_PARAMS)
PORTA_PARAMS_STRUCT(PortaMatmulParams, PORTA_MATMUL_PARAMS)
PORTA_PARAMS_STRUCT(PortaConv2dParams, PORTA_CONV2D_PARAMS)
PORTA_PARAMS_STRUCT(PortaPool2dParams, PORTA_POOL2D_PARAMS)
PORTA_PARAMS_STRUCT(PortaQmatvecParams, PORTA_QMATVEC_PARAMS)
PORTA_PARAMS_STRUCT(PortaQdequantParams, PORTA_QDEQUANT_PARAMS)
#else
// GLSL: `layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_EW_PARAMS) } p;`
#define PORTA_PARAM_U(x) uint x;
#define PORTA_PARAM_I(x) int x;
#define PORTA_PARAM_F(x) float x;
#define PORTA_PARAM_A(x, n) uint x[n];
#define PORTA_GLSL_PARAMS(list) list(PORTA_PARAM_U, PORTA_PARAM_I, PORTA_PARAM_F, PORTA_PARAM_A)
#endif

#endif  // PORTA_KERNELS_COMMON_PARAMS_H_
