// transformer_block: one pre-norm transformer block (attention + MLP) written once against the
// operator library and run unchanged on every device Porta finds. Prints, per device, the largest
// difference of its output from the CPU device's, and exits nonzero when a device fails or differs
// by more than the tolerance.
//
//   h   = x + Wo · attention(causal, split_heads(LN1(x) · Wqkv + bqkv)) + bo
//   out = h + W2 · gelu(LN2(h) · W1 + b1) + b2
//
// The heads are views: the fused QKV projection is [L, 3, H, Dh] in memory, and q, k and v are
// permuted strided views of it, which the attention kernel reads as they are.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porta/porta.h"
#include "porta/porta_ops.h"

enum {
  kTokens = 24,   // L
  kModel = 64,    // model width
  kHeads = 4,     // H
  kHeadDim = 16,  // Dh = kModel / kHeads
  kHidden = 256,  // MLP width
};

// Largest accepted difference from the CPU device. Every device computes in f32; the orders of
// accumulation differ, which moves results by a few ulp of values of order 1 through 8 matmuls.
#define TOLERANCE 1e-3

// Host copies of the inputs and weights.
typedef struct {
  float x[kTokens * kModel];
  float ln1_w[kModel], ln1_b[kModel], ln2_w[kModel], ln2_b[kModel];
  float w_qkv[kModel * 3 * kModel], b_qkv[3 * kModel];
  float w_o[kModel * kModel], b_o[kModel];
  float w_1[kModel * kHidden], b_1[kHidden];
  float w_2[kHidden * kModel], b_2[kModel];
} Weights;

// Byte offsets of every tensor inside the one device buffer, after the weights.
typedef struct {
  uint64_t normed, qkv, attn, merged, proj, h, normed2, hidden, mlp, out, end;
} Scratch;

static void Fill(float* values, size_t count, float scale, uint32_t* seed) {
  for (size_t i = 0; i < count; ++i) {
    *seed = *seed * 1664525u + 1013904223u;
    values[i] = scale * ((float)(*seed >> 8) / 8388608.0f - 1.0f);
  }
}

static int Fail(const char* device, const char* what, porta_status_t status) {
  fprintf(stderr, "transformer_block on %s: %s failed: %s: %s\n", device, what,
          porta_status_string(status), porta_last_error_message());
  return 1;
}

static porta_tensor_t Matrix(porta_buffer_t buffer, uint64_t offset, int64_t rows, int64_t cols) {
  const int64_t shape[2] = {rows, cols};
  return porta_tensor_contiguous(buffer, offset, PORTA_DTYPE_F32, 2, shape);
}

static porta_tensor_t Vector(porta_buffer_t buffer, uint64_t offset, int64_t count) {
  return porta_tensor_contiguous(buffer, offset, PORTA_DTYPE_F32, 1, &count);
}

// Runs the block on |device| and writes its output to |result|.
static int RunBlock(porta_device_t device, const char* name, const Weights* weights,
                    float* result) {
  porta_ops_context_t ctx = NULL;
  porta_stream_t stream = NULL;
  porta_buffer_t buffer = NULL;
  int failed = 1;
  const uint64_t f = sizeof(float);
  Scratch at;
  at.normed = sizeof(Weights);
  at.qkv = at.normed + kTokens * kModel * f;
  at.attn = at.qkv + kTokens * 3 * kModel * f;
  at.merged = at.attn + kTokens * kModel * f;
  at.proj = at.merged + kTokens * kModel * f;
  at.h = at.proj + kTokens * kModel * f;
  at.normed2 = at.h + kTokens * kModel * f;
  at.hidden = at.normed2 + kTokens * kModel * f;
  at.mlp = at.hidden + kTokens * kHidden * f;
  at.out = at.mlp + kTokens * kModel * f;
  at.end = at.out + kTokens * kModel * f;
#define W(field) ((uint64_t)offsetof(Weights, field))

  porta_status_t status = porta_ops_context_create(device, NULL, &ctx);
  if (status != PORTA_OK) return Fail(name, "porta_ops_context_create", status);
  status = porta_stream_create(device, &stream);
  if (status == PORTA_OK) status = porta_buffer_alloc(device, at.end, PORTA_MEMORY_DEVICE, &buffer);
  if (status != PORTA_OK) {
    Fail(name, "creating the stream and buffer", status);
    goto done;
  }
  {
    // Every step is enqueued; the stream runs them in order, and the host waits only at the end.
    const porta_tensor_t x = Matrix(buffer, W(x), kTokens, kModel);
    const porta_tensor_t normed = Matrix(buffer, at.normed, kTokens, kModel);
    const porta_tensor_t qkv = Matrix(buffer, at.qkv, kTokens, 3 * kModel);
    porta_matmul_desc_t linear = PORTA_MATMUL_DESC_INIT;
    if ((status = porta_copy_host_to_device(stream, buffer, 0, weights, sizeof(Weights))) !=
        PORTA_OK) {
      Fail(name, "uploading the weights", status);
      goto done;
    }
    const porta_tensor_t ln1_w = Vector(buffer, W(ln1_w), kModel);
    const porta_tensor_t ln1_b = Vector(buffer, W(ln1_b), kModel);
    const porta_tensor_t w_qkv = Matrix(buffer, W(w_qkv), kModel, 3 * kModel);
    const porta_tensor_t b_qkv = Vector(buffer, W(b_qkv), 3 * kModel);
    if ((status = porta_ops_layernorm(ctx, stream, &x, &ln1_w, &ln1_b, 1e-5f, &normed)) !=
            PORTA_OK ||
        (status = porta_ops_matmul(ctx, stream, &linear, &normed, &w_qkv, &b_qkv, &qkv)) !=
            PORTA_OK) {
      Fail(name, "layernorm / qkv projection", status);
      goto done;
    }
    // qkv is [L, 3, H, Dh]; q, k, v are its slices along the "3" axis, permuted to [1, H, L, Dh].
    const int64_t split_shape[5] = {1, kTokens, 3, kHeads, kHeadDim};
    const porta_tensor_t split =
        porta_tensor_contiguous(buffer, at.qkv, PORTA_DTYPE_F32, 5, split_shape);
    const int32_t to_heads[5] = {0, 3, 1, 4, 2};  // [1, H, L, Dh, 3]
    porta_tensor_t heads, q, k, v;
    porta_tensor_t parts[3];
    if ((status = porta_tensor_permute(&split, to_heads, &heads)) != PORTA_OK) {
      Fail(name, "porta_tensor_permute", status);
      goto done;
    }
    for (int i = 0; i < 3; ++i) {
      if ((status = porta_tensor_slice(&heads, 4, i, i + 1, 1, &parts[i])) != PORTA_OK) {
        Fail(name, "porta_tensor_slice", status);
        goto done;
      }
      parts[i].rank = 4;  // drop the trailing size-1 axis
    }
    q = parts[0];
    k = parts[1];
    v = parts[2];
    // The attention output is written as [1, H, L, Dh] into a [L, H, Dh] buffer: heads merged.
    const int64_t merged_shape[4] = {1, kTokens, kHeads, kHeadDim};
    const porta_tensor_t merged_lhd =
        porta_tensor_contiguous(buffer, at.attn, PORTA_DTYPE_F32, 4, merged_shape);
    const int32_t lhd_to_hld[4] = {0, 2, 1, 3};
    porta_tensor_t attn_out;
    porta_attention_desc_t attention = PORTA_ATTENTION_DESC_INIT;
    attention.causal = 1;
    if ((status = porta_tensor_permute(&merged_lhd, lhd_to_hld, &attn_out)) != PORTA_OK ||
        (status = porta_ops_attention(ctx, stream, &attention, &q, &k, &v, NULL, &attn_out)) !=
            PORTA_OK) {
      Fail(name, "attention", status);
      goto done;
    }
    const porta_tensor_t attn = Matrix(buffer, at.attn, kTokens, kModel);
    const porta_tensor_t proj = Matrix(buffer, at.proj, kTokens, kModel);
    const porta_tensor_t h = Matrix(buffer, at.h, kTokens, kModel);
    const porta_tensor_t w_o = Matrix(buffer, W(w_o), kModel, kModel);
    const porta_tensor_t b_o = Vector(buffer, W(b_o), kModel);
    if ((status = porta_ops_matmul(ctx, stream, &linear, &attn, &w_o, &b_o, &proj)) != PORTA_OK ||
        (status = porta_ops_binary(ctx, stream, PORTA_BINARY_ADD, &x, &proj, &h)) != PORTA_OK) {
      Fail(name, "output projection / residual", status);
      goto done;
    }
    const porta_tensor_t normed2 = Matrix(buffer, at.normed2, kTokens, kModel);
    const porta_tensor_t hidden = Matrix(buffer, at.hidden, kTokens, kHidden);
    const porta_tensor_t mlp = Matrix(buffer, at.mlp, kTokens, kModel);
    const porta_tensor_t out = Matrix(buffer, at.out, kTokens, kModel);
    const porta_tensor_t ln2_w = Vector(buffer, W(ln2_w), kModel);
    const porta_tensor_t ln2_b = Vector(buffer, W(ln2_b), kModel);
    const porta_tensor_t w_1 = Matrix(buffer, W(w_1), kModel, kHidden);
    const porta_tensor_t b_1 = Vector(buffer, W(b_1), kHidden);
    const porta_tensor_t w_2 = Matrix(buffer, W(w_2), kHidden, kModel);
    const porta_tensor_t b_2 = Vector(buffer, W(b_2), kModel);
    porta_matmul_desc_t up = PORTA_MATMUL_DESC_INIT;
    up.activation = PORTA_UNARY_GELU_ERF;
    if ((status = porta_ops_layernorm(ctx, stream, &h, &ln2_w, &ln2_b, 1e-5f, &normed2)) !=
            PORTA_OK ||
        (status = porta_ops_matmul(ctx, stream, &up, &normed2, &w_1, &b_1, &hidden)) != PORTA_OK ||
        (status = porta_ops_matmul(ctx, stream, &linear, &hidden, &w_2, &b_2, &mlp)) != PORTA_OK ||
        (status = porta_ops_binary(ctx, stream, PORTA_BINARY_ADD, &h, &mlp, &out)) != PORTA_OK) {
      Fail(name, "MLP / residual", status);
      goto done;
    }
    if ((status = porta_copy_device_to_host(stream, result, buffer, at.out,
                                            kTokens * kModel * f)) != PORTA_OK ||
        (status = porta_stream_synchronize(stream)) != PORTA_OK) {
      Fail(name, "reading the result", status);
      goto done;
    }
    failed = 0;
  }
done:
  if (buffer != NULL) porta_buffer_free(buffer);
  if (stream != NULL) porta_stream_destroy(stream);
  porta_ops_context_destroy(ctx);
  return failed;
#undef W
}

int main(void) {
  static Weights weights;
  uint32_t seed = 42;
  Fill(weights.x, kTokens * kModel, 1.0f, &seed);
  for (int i = 0; i < kModel; ++i) {
    weights.ln1_w[i] = 1.0f + 0.1f * sinf((float)i);
    weights.ln2_w[i] = 1.0f - 0.1f * cosf((float)i);
  }
  Fill(weights.ln1_b, kModel, 0.1f, &seed);
  Fill(weights.ln2_b, kModel, 0.1f, &seed);
  Fill(weights.w_qkv, kModel * 3 * kModel, 0.125f, &seed);
  Fill(weights.b_qkv, 3 * kModel, 0.05f, &seed);
  Fill(weights.w_o, kModel * kModel, 0.125f, &seed);
  Fill(weights.b_o, kModel, 0.05f, &seed);
  Fill(weights.w_1, kModel * kHidden, 0.125f, &seed);
  Fill(weights.b_1, kHidden, 0.05f, &seed);
  Fill(weights.w_2, kHidden * kModel, 0.0625f, &seed);
  Fill(weights.b_2, kModel, 0.05f, &seed);

  porta_runtime_t runtime = NULL;
  porta_status_t status = porta_runtime_create(NULL, &runtime);
  if (status != PORTA_OK) return Fail("(runtime)", "porta_runtime_create", status);
  uint32_t count = 0;
  porta_runtime_device_count(runtime, &count);
  // The reference is the CPU device's result; without one, the first device's.
  static float results[16][kTokens * kModel];
  char names[16][PORTA_NAME_SIZE + 80];
  int reference = -1, failures = 0;
  if (count > 16) count = 16;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = NULL;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    porta_runtime_device(runtime, i, &device);
    porta_device_get_info(device, &info);
    snprintf(names[i], sizeof(names[i]), "%s (%s)", info.name, info.backend);
    if (RunBlock(device, names[i], &weights, results[i]) != 0) {
      ++failures;
      names[i][0] = '\0';
      continue;
    }
    if (strcmp(info.backend, "cpu") == 0 || reference < 0) reference = (int)i;
  }
  for (uint32_t i = 0; reference >= 0 && i < count; ++i) {
    if (names[i][0] == '\0') continue;
    double largest = 0.0;
    for (int e = 0; e < kTokens * kModel; ++e) {
      const double diff = fabs((double)results[i][e] - (double)results[reference][e]);
      if (!(diff <= largest)) largest = diff;  // a NaN counts as the largest difference
    }
    const int ok = largest <= TOLERANCE;
    printf("transformer_block on %s: %s (largest difference from %s: %.3g)\n", names[i],
           ok ? "OK" : "MISMATCH", names[reference], largest);
    if (!ok) ++failures;
  }
  porta_runtime_destroy(runtime);
  if (count == 0) fprintf(stderr, "transformer_block: no device found\n");
  return failures == 0 && count > 0 ? 0 : 1;
}
