// Porta operator library: portable tensor operations on every Porta device.
//
// libporta_ops is a client of porta.h only. It holds, per device, a context with the compiled
// kernels, the tuning table and a workspace pool, and enqueues each operation on a porta_stream_t
// in stream order without ever waiting on the host. The same call runs on the CPU, OpenCL, Vulkan,
// CUDA, HIP and Level Zero devices, and on any plugin device that accepts one of the kernel
// formats the library ships (host, opencl-c, spirv-kernel, spirv-shader, ptx/cubin, hsaco).
//
// Conventions are those of porta.h: every function returns a porta_status_t, the detail of a
// failure (which tensor, which dimension, which limit) is in porta_last_error_message(), input
// structs that may grow start with struct_size, and a call that fails enqueues nothing.
//
// Tensors are value structs with DLPack's meaning: a buffer, a byte offset, an element type, a
// rank of at most 8, a shape and strides counted in elements. A stride of 0 broadcasts; a
// dimension of size 0 is legal and makes the operation a no-op. Strides must not be negative.
// Every element a tensor can address must lie inside its buffer, and the kernels index with 32
// bits: the furthest element (byte offset / element size + the tensor's extent) must stay below
// 2^32. The byte offset must be a multiple of the element size.
//
// Block-quantized tensors (PORTA_DTYPE_Q4_0, Q4_1, Q8_0) store their elements in blocks of 32
// along the last dimension. Their strides are still counted in elements, with three rules: the
// last dimension has stride 1 and a size that is a multiple of 32, every other stride is a
// multiple of 32 (or 0 to broadcast), and the byte offset is a multiple of 2. Element
// (i0, ..., i{r-1}) lies in the block at byte offset + (e / 32) * block bytes, where
// e = i0 * strides[0] + ... + i{r-1} * strides[r-1], as position e % 32 of that block. The
// furthest byte must stay below 2^32.
//
// Numerics: every operation computes in f32 whatever its storage type (f16 and bf16 are loaded
// exactly and rounded to nearest even when stored); matrix products and reductions accumulate in
// f32. docs/ops.md lists the error bound the conformance suite holds each op and dtype to.
//
// Thread safety: a context may be used from any number of threads at once.
#ifndef PORTA_PORTA_OPS_H_
#define PORTA_PORTA_OPS_H_

#include <stddef.h>
#include <stdint.h>

#include "porta/porta.h"

#ifdef __cplusplus
extern "C" {
#endif

//===------------------------------------------------------------------------------------------===//
// Types
//===------------------------------------------------------------------------------------------===//

// Marks every function of the operator library; exported from libporta_ops.
#define PORTA_OPS_API PORTA_API_EXPORT

// Element types. Operations compute in f32; i32 carries indices and argmax results; i8 is
// reserved and refused by every operation today.
//
// The block-quantized types hold 32 elements per block, in GGML's packed little-endian layouts.
// d and m are f16; j runs over 0..15 for the 4-bit types and 0..31 for Q8_0:
//   Q4_0 {d; u8 qs[16]}, 18 bytes:
//     w[j] = d * ((qs[j] & 15) - 8), w[j + 16] = d * ((qs[j] >> 4) - 8)
//   Q4_1 {d; m; u8 qs[16]}, 20 bytes:
//     w[j] = d * (qs[j] & 15) + m, w[j + 16] = d * (qs[j] >> 4) + m
//   Q8_0 {d; i8 qs[32]}, 34 bytes:
//     w[j] = d * qs[j]
// They are storage for weights: porta_ops_matmul takes one as b (transposed), porta_ops_embedding
// as the table, porta_ops_cast as x (dequantization); every other operation refuses them.
typedef enum porta_dtype {
  PORTA_DTYPE_F32 = 1,
  PORTA_DTYPE_F16 = 2,
  PORTA_DTYPE_BF16 = 3,
  PORTA_DTYPE_I32 = 4,
  PORTA_DTYPE_I8 = 5,
  PORTA_DTYPE_Q4_0 = 6,
  PORTA_DTYPE_Q4_1 = 7,
  PORTA_DTYPE_Q8_0 = 8,
} porta_dtype_t;

#define PORTA_TENSOR_MAX_RANK 8

// A view of device memory: element (i0, ..., i{rank-1}) is at byte
// offset + (i0 * strides[0] + ... ) * element size inside |buffer|. Entries beyond |rank| are
// ignored. A rank of 0 is a scalar (one element).
typedef struct porta_tensor {
  porta_buffer_t buffer;
  uint64_t offset;
  porta_dtype_t dtype;
  uint32_t rank;
  int64_t shape[PORTA_TENSOR_MAX_RANK];
  int64_t strides[PORTA_TENSOR_MAX_RANK];
} porta_tensor_t;

// Per-device operator context: compiled kernels, tuning, workspace pool.
typedef struct porta_ops_context* porta_ops_context_t;

// Operations, as porta_ops_supported names them.
typedef enum porta_op {
  PORTA_OP_MATMUL = 1,
  PORTA_OP_UNARY = 2,
  PORTA_OP_BINARY = 3,
  PORTA_OP_CAST = 4,
  PORTA_OP_COPY = 5,
  PORTA_OP_CONCAT = 6,
  PORTA_OP_REDUCE = 7,
  PORTA_OP_ARGMAX = 8,
  PORTA_OP_SOFTMAX = 9,
  PORTA_OP_LAYERNORM = 10,
  PORTA_OP_RMSNORM = 11,
  PORTA_OP_EMBEDDING = 12,
  PORTA_OP_ROPE = 13,
  PORTA_OP_ATTENTION = 14,
  PORTA_OP_CONV2D = 15,
  PORTA_OP_POOL2D = 16,
} porta_op_t;

// Element-wise functions of one operand; also the activations of the matmul epilogue.
typedef enum porta_unary_op {
  PORTA_UNARY_NONE = 0,  // only as a matmul activation: none
  PORTA_UNARY_NEG = 1,
  PORTA_UNARY_ABS = 2,
  PORTA_UNARY_EXP = 3,
  PORTA_UNARY_LOG = 4,
  PORTA_UNARY_SQRT = 5,
  PORTA_UNARY_RSQRT = 6,
  PORTA_UNARY_TANH = 7,
  PORTA_UNARY_SIGMOID = 8,
  PORTA_UNARY_RELU = 9,
  // 0.5 x (1 + erf(x / sqrt(2))), the exact GELU (PyTorch's default, BERT's "gelu").
  PORTA_UNARY_GELU_ERF = 10,
  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), GPT-2's approximation.
  PORTA_UNARY_GELU_TANH = 11,
  // x * sigmoid(x).
  PORTA_UNARY_SILU = 12,
} porta_unary_op_t;

// Element-wise functions of two operands. MAX and MIN propagate NaN; POW follows C's powf.
// SWIGLU is silu(a) * b = a * sigmoid(a) * b, the gated unit of LLaMA-style feed-forward layers
// (PyTorch's F.silu(gate) * up, ggml's swiglu) in one pass.
typedef enum porta_binary_op {
  PORTA_BINARY_ADD = 1,
  PORTA_BINARY_SUB = 2,
  PORTA_BINARY_MUL = 3,
  PORTA_BINARY_DIV = 4,
  PORTA_BINARY_MAX = 5,
  PORTA_BINARY_MIN = 6,
  PORTA_BINARY_POW = 7,
  PORTA_BINARY_SWIGLU = 8,
} porta_binary_op_t;

// Reductions. MAX and MIN propagate NaN.
typedef enum porta_reduce_op {
  PORTA_REDUCE_SUM = 1,
  PORTA_REDUCE_MEAN = 2,
  PORTA_REDUCE_MAX = 3,
  PORTA_REDUCE_MIN = 4,
} porta_reduce_op_t;

// Options of porta_ops_context_create. Set struct_size (PORTA_OPS_CONTEXT_OPTIONS_INIT does).
typedef struct porta_ops_context_options {
  size_t struct_size;
  // Tuning rows that take precedence over the shipped table, in the table's text format (see
  // porta_ops_tuning_table). NULL for none: the device's tuning file is then loaded instead
  // (see "Tuning" below); rows given here replace it.
  const char* tuning_overlay;
  // PORTA_OPS_CONTEXT_* flags.
  uint32_t flags;
} porta_ops_context_options_t;

// Flags of porta_ops_context_options_t.flags.
// Do not load the device's tuning file (porta-tune and the conformance suite set it, so that
// their results do not depend on what an earlier tuning run left behind). The environment
// variable PORTA_OPS_TUNING_FILE=off does the same for every context.
#define PORTA_OPS_CONTEXT_NO_TUNING_FILE (1u << 0)

#define PORTA_OPS_CONTEXT_OPTIONS_INIT PORTA_STRUCT_INIT(porta_ops_context_options_t)

// Matrix product options. Set struct_size (PORTA_MATMUL_DESC_INIT does; it also sets alpha 1).
typedef struct porta_matmul_desc {
  size_t struct_size;
  // Nonzero: a holds [..., K, M] (b holds [..., N, K]) and is used transposed.
  int32_t transpose_a;
  int32_t transpose_b;
  // out = activation(alpha * op(a) @ op(b) + beta * out + bias). With beta 0, out is not read.
  float alpha;
  float beta;
  // PORTA_UNARY_NONE, RELU, GELU_ERF, GELU_TANH or SILU.
  porta_unary_op_t activation;
  // Nonzero allows the device, when b is block-quantized and M is small enough for the
  // matrix-vector path, to round a to 8-bit blocks first (per 32 values along K: a scale
  // max|a| / 127 and values rounded to nearest, as llama.cpp's Q8 activations) and take integer
  // dot products, which is about twice as fast on CPUs. Each product then differs from the one
  // with a as given by at most half a rounding step of a per element (docs/ops.md gives the
  // bound). Devices without such kernels ignore it (today all but the CPU device). Zero: a is
  // used as given.
  int32_t quantize_a;
} porta_matmul_desc_t;

#ifdef __cplusplus
#define PORTA_MATMUL_DESC_INIT \
  { sizeof(porta_matmul_desc_t), 0, 0, 1.0f, 0.0f, PORTA_UNARY_NONE, 0 }
#else
#define PORTA_MATMUL_DESC_INIT \
  { .struct_size = sizeof(porta_matmul_desc_t), .alpha = 1.0f }
#endif

// Softmax options. Set struct_size (PORTA_SOFTMAX_DESC_INIT does; it also sets scale 1).
typedef struct porta_softmax_desc {
  size_t struct_size;
  // Multiplies x before the mask is added.
  float scale;
  // Nonzero: element (..., i, j) is masked (-inf) when j > i + (S - L), with L = x.shape[-2]
  // and S = x.shape[-1] (the diagonal aligned to the bottom right, as a KV cache needs; the
  // same as a lower triangle when L == S). Needs rank >= 2.
  int32_t causal;
  // Nonzero: log-softmax.
  int32_t log;
} porta_softmax_desc_t;

#ifdef __cplusplus
#define PORTA_SOFTMAX_DESC_INIT \
  { sizeof(porta_softmax_desc_t), 1.0f, 0, 0 }
#else
#define PORTA_SOFTMAX_DESC_INIT \
  { .struct_size = sizeof(porta_softmax_desc_t), .scale = 1.0f }
#endif

// Rotary position embedding layouts.
typedef enum porta_rope_mode {
  // Pairs (i, i + rot/2): GPT-NeoX, Hugging Face's rotate_half.
  PORTA_ROPE_MODE_NEOX = 0,
  // Pairs (2i, 2i + 1): GPT-J, Meta's LLaMA, GGUF llama models.
  PORTA_ROPE_MODE_INTERLEAVED = 1,
} porta_rope_mode_t;

// Rotary embedding options. Set struct_size (PORTA_ROPE_DESC_INIT does; theta_base 10000,
// freq_scale 1).
typedef struct porta_rope_desc {
  size_t struct_size;
  porta_rope_mode_t mode;
  // Leading dimensions of the head rotated; 0 means all of it. Even, at most the head size.
  uint32_t rotary_dims;
  // theta(pos, i) = pos * freq_scale * theta_base^(-2i / rotary_dims).
  float theta_base;
  float freq_scale;
  // Axis of x that indexes the sequence (positions[s] is the position of x's index s there).
  int32_t seq_axis;
} porta_rope_desc_t;

#ifdef __cplusplus
#define PORTA_ROPE_DESC_INIT \
  { sizeof(porta_rope_desc_t), PORTA_ROPE_MODE_NEOX, 0u, 10000.0f, 1.0f, 1 }
#else
#define PORTA_ROPE_DESC_INIT                                                              \
  {                                                                                       \
    .struct_size = sizeof(porta_rope_desc_t), .theta_base = 10000.0f, .freq_scale = 1.0f, \
    .seq_axis = 1                                                                         \
  }
#endif

// Attention options. Set struct_size (PORTA_ATTENTION_DESC_INIT does).
typedef struct porta_attention_desc {
  size_t struct_size;
  // Multiplies q·k; 0 means 1 / sqrt(head size).
  float scale;
  // Nonzero: key j is hidden from query i when j > i + (Lk - Lq) (bottom-right aligned).
  int32_t causal;
} porta_attention_desc_t;

#define PORTA_ATTENTION_DESC_INIT PORTA_STRUCT_INIT(porta_attention_desc_t)

// 2D convolution options (NCHW). Set struct_size (PORTA_CONV2D_DESC_INIT does; strides,
// dilations and groups 1).
typedef struct porta_conv2d_desc {
  size_t struct_size;
  uint32_t stride[2];
  uint32_t padding[2];
  uint32_t dilation[2];
  uint32_t groups;
} porta_conv2d_desc_t;

#ifdef __cplusplus
#define PORTA_CONV2D_DESC_INIT \
  { sizeof(porta_conv2d_desc_t), {1u, 1u}, {0u, 0u}, {1u, 1u}, 1u }
#else
#define PORTA_CONV2D_DESC_INIT                                                            \
  {                                                                                       \
    .struct_size = sizeof(porta_conv2d_desc_t), .stride = {1u, 1u}, .dilation = {1u, 1u}, \
    .groups = 1u                                                                          \
  }
#endif

typedef enum porta_pool_mode {
  PORTA_POOL_MODE_MAX = 0,
  PORTA_POOL_MODE_AVG = 1,
} porta_pool_mode_t;

// 2D pooling options (NCHW). Set struct_size (PORTA_POOL2D_DESC_INIT does; kernel 2x2, stride
// 2, dilation 1, count_include_pad 1, as PyTorch's defaults for a 2x2 pool).
typedef struct porta_pool2d_desc {
  size_t struct_size;
  porta_pool_mode_t mode;
  uint32_t kernel[2];
  uint32_t stride[2];
  // At most half the kernel size in each dimension.
  uint32_t padding[2];
  // MAX only; AVG needs 1.
  uint32_t dilation[2];
  // AVG: nonzero divides by the whole window, zero by the positions inside the input.
  int32_t count_include_pad;
} porta_pool2d_desc_t;

#ifdef __cplusplus
#define PORTA_POOL2D_DESC_INIT \
  { sizeof(porta_pool2d_desc_t), PORTA_POOL_MODE_MAX, {2u, 2u}, {2u, 2u}, {0u, 0u}, {1u, 1u}, 1 }
#else
#define PORTA_POOL2D_DESC_INIT                                                          \
  {                                                                                     \
    .struct_size = sizeof(porta_pool2d_desc_t), .kernel = {2u, 2u}, .stride = {2u, 2u}, \
    .dilation = {1u, 1u}, .count_include_pad = 1                                        \
  }
#endif

//===------------------------------------------------------------------------------------------===//
// Tensors
//===------------------------------------------------------------------------------------------===//

// Bytes of one element of |dtype|, or for a block-quantized type the bytes of one block (18, 20
// or 34); 0 for a value that is not a porta_dtype_t.
PORTA_OPS_API size_t porta_dtype_size(int32_t dtype);

// Elements per block: 32 for the block-quantized types, 1 for the others, 0 for a value that is
// not a porta_dtype_t. A tensor of n elements (n a multiple of this) takes
// n / porta_dtype_block_elements(d) * porta_dtype_size(d) bytes.
PORTA_OPS_API uint32_t porta_dtype_block_elements(int32_t dtype);

// "f32", "f16", "bf16", "i32", "i8", "q4_0", "q4_1", "q8_0", or "unknown".
PORTA_OPS_API const char* porta_dtype_name(int32_t dtype);

// Returns a contiguous (row-major) tensor of |rank| dimensions |shape| at |offset| in |buffer|.
// Nothing is checked here; the operations check every tensor they get.
PORTA_OPS_API porta_tensor_t porta_tensor_contiguous(porta_buffer_t buffer, uint64_t offset,
                                                     porta_dtype_t dtype, uint32_t rank,
                                                     const int64_t* shape);

// Writes the view of |tensor| restricted to indices start, start + step, ... below stop along
// |axis| (negative axes count from the end). Returns PORTA_ERROR_INVALID_ARGUMENT naming the
// axis for a bad axis, a step below 1, or start > stop; PORTA_ERROR_OUT_OF_RANGE when stop
// exceeds the dimension.
PORTA_OPS_API porta_status_t porta_tensor_slice(const porta_tensor_t* tensor, int32_t axis,
                                                int64_t start, int64_t stop, int64_t step,
                                                porta_tensor_t* out);

// Writes the view of |tensor| with its dimensions reordered: dimension d of the result is
// dimension perm[d] of |tensor|. |perm| has tensor->rank entries and is a permutation
// (PORTA_ERROR_INVALID_ARGUMENT otherwise).
PORTA_OPS_API porta_status_t porta_tensor_permute(const porta_tensor_t* tensor, const int32_t* perm,
                                                  porta_tensor_t* out);

//===------------------------------------------------------------------------------------------===//
// Context
//===------------------------------------------------------------------------------------------===//

// Creates the operator context of |device|. Kernels are built when an operation first needs
// them, so creation is cheap. |options| may be NULL. Loads the device's tuning file (see
// "Tuning"); a file that cannot be used is reported by porta_ops_tuning_file_status, never an
// error here. Returns PORTA_ERROR_INVALID_ARGUMENT with the line number when the tuning overlay
// does not parse, and for flags that are not PORTA_OPS_CONTEXT_* flags.
PORTA_OPS_API porta_status_t porta_ops_context_create(porta_device_t device,
                                                      const porta_ops_context_options_t* options,
                                                      porta_ops_context_t* out_context);

// Destroys |context|. Work already enqueued keeps the buffers and kernels it uses alive until it
// completes; the context itself must not be used by another thread during or after the call.
PORTA_OPS_API porta_status_t porta_ops_context_destroy(porta_ops_context_t context);

// Answers whether the context's device can run |op| with the element types |dtypes| (the
// operation's tensors in the order its function takes them, optional ones left out; see
// docs/ops.md). Returns PORTA_OK, or PORTA_ERROR_UNSUPPORTED with a message naming what is
// missing: a capability such as PORTA_CAP_FP16, a kernel format, or a type combination the op
// does not define. PORTA_ERROR_INVALID_ARGUMENT for an unknown op or a wrong dtype count.
PORTA_OPS_API porta_status_t porta_ops_supported(porta_ops_context_t context, porta_op_t op,
                                                 const porta_dtype_t* dtypes, uint32_t dtype_count);

// The tuning table compiled into the library, as text: one row per line, '#' comments,
// columns `backend vendor architecture device op dtype bucket parameters...` (docs/ops.md).
PORTA_OPS_API const char* porta_ops_tuning_table(void);

// Replaces the context's overlay rows (which take precedence over the shipped table) with
// |rows| in the table's format; NULL or "" removes them (rows loaded from the tuning file
// included). Affects operations enqueued after the call. Returns PORTA_ERROR_INVALID_ARGUMENT with
// the line number when a row does not parse.
PORTA_OPS_API porta_status_t porta_ops_set_tuning_overlay(porta_ops_context_t context,
                                                          const char* rows);

//===------------------------------------------------------------------------------------------===//
// Tuning: the per-device overlay file, and what a tuner needs to search the parameter space.
//
// porta-tune measures candidate parameter sets on a device and writes the winners to the
// device's tuning file, under the cache folder the runtime's kernel cache uses ($PORTA_CACHE_DIR,
// else $XDG_CACHE_HOME/porta, else $HOME/.cache/porta), one file per device. The file's header
// records the library version, a hash of the kernels the library embeds, the device (backend,
// vendor, name, architecture) and its driver version. porta_ops_context_create loads the file of
// its device unless PORTA_OPS_CONTEXT_NO_TUNING_FILE, PORTA_OPS_TUNING_FILE=off or a
// tuning_overlay says otherwise; its rows are then the context's overlay. A file that does not
// parse or fails its checksum (corrupt), that names another device (foreign), or that another
// library version, kernel build or driver wrote (stale) is ignored, never partly used;
// porta_ops_tuning_file_status says why.
//
// Families, dtypes and buckets are named as in the table: "matmul", "f32", "large".
//===------------------------------------------------------------------------------------------===//

typedef enum porta_ops_tuning_file_state {
  // Not looked for: turned off, or there is no cache folder.
  PORTA_OPS_TUNING_FILE_OFF = 0,
  // There is no file for this device.
  PORTA_OPS_TUNING_FILE_ABSENT = 1,
  // Loaded: its rows are the context's overlay.
  PORTA_OPS_TUNING_FILE_LOADED = 2,
  // Present but refused (corrupt, foreign or stale); |reason| says which and why.
  PORTA_OPS_TUNING_FILE_IGNORED = 3,
} porta_ops_tuning_file_state_t;

#define PORTA_OPS_PATH_SIZE 1024

// What the context found when it looked for its device's tuning file. Set struct_size
// (PORTA_OPS_TUNING_FILE_INFO_INIT does).
typedef struct porta_ops_tuning_file_info {
  size_t struct_size;
  porta_ops_tuning_file_state_t state;
  // Rows the file held (LOADED only), whatever porta_ops_set_tuning_overlay did since.
  uint32_t row_count;
  // The device's file, whether or not it exists; "" without a cache folder.
  char path[PORTA_OPS_PATH_SIZE];
  // Why the file is not used ("" when LOADED), e.g. "stale: written with driver '23.1'; now
  // '24.0' (run porta-tune again)".
  char reason[PORTA_OPS_PATH_SIZE];
} porta_ops_tuning_file_info_t;

#define PORTA_OPS_TUNING_FILE_INFO_INIT PORTA_STRUCT_INIT(porta_ops_tuning_file_info_t)

// Fills |info| with what context creation found. PORTA_ERROR_INVALID_ARGUMENT when |info| is
// NULL or its struct_size is too small.
PORTA_OPS_API porta_status_t porta_ops_tuning_file_status(porta_ops_context_t context,
                                                          porta_ops_tuning_file_info_t* info);

// Writes |rows| (the table's format) as the device's tuning file, with the header of this
// library, its kernels, the device and its driver. The file is written to a temporary name and
// renamed into place, so a reader (or an interrupted writer) never sees half a file. The context
// itself is unchanged (porta_ops_set_tuning_overlay changes it). PORTA_ERROR_INVALID_ARGUMENT
// when a row does not parse or is invalid on the device (the line and why);
// PORTA_ERROR_UNSUPPORTED without a cache folder; PORTA_ERROR_BACKEND for an I/O error, with
// the path and the system's reason.
PORTA_OPS_API porta_status_t porta_ops_tuning_file_write(porta_ops_context_t context,
                                                         const char* rows);

// Deletes the device's tuning file. PORTA_OK also when there was none; PORTA_ERROR_BACKEND when
// it cannot be removed.
PORTA_OPS_API porta_status_t porta_ops_tuning_file_remove(porta_ops_context_t context);

// What the dispatcher uses for |family| with inputs of |dtype| in |bucket|, the way an
// operation would choose it now. Set struct_size (PORTA_OPS_TUNING_CHOICE_INIT does).
typedef struct porta_ops_tuning_choice {
  size_t struct_size;
  // "tm=64 tn=64 tk=16 wm=4 wn=4", "wg=128".
  char params[256];
  // "overlay line 12" (of the tuning file or the rows given), "table line 30" (of
  // porta_ops_tuning_table()), or "generic default".
  char source[64];
} porta_ops_tuning_choice_t;

#define PORTA_OPS_TUNING_CHOICE_INIT PORTA_STRUCT_INIT(porta_ops_tuning_choice_t)

// Fills |choice|. PORTA_ERROR_INVALID_ARGUMENT naming the argument for an unknown family, dtype
// or bucket, or a NULL |choice|.
PORTA_OPS_API porta_status_t porta_ops_tuning_choice(porta_ops_context_t context,
                                                     const char* family, const char* dtype,
                                                     const char* bucket,
                                                     porta_ops_tuning_choice_t* choice);

// Writes the parameter sets worth measuring for |family| with inputs of |dtype| in |bucket| on the
// context's device, one per line ("tm=32 tn=64 tk=16 wm=8 wn=4\n"), each valid on the device, as a
// NUL-terminated string truncated to |buffer_size|; |out_required| (may be NULL) receives the size
// needed with the NUL. An empty string: nothing to search (e.g. the CPU device's matmul, which
// ignores tiles). The lists are short on purpose: a driver that compiles at run time (PoCL) takes
// about a minute per new matmul tile. Parameters the bucket's shape does not exercise (qmatvec's
// mmax and gemm, used only for M > 1) keep the values of what the dispatcher chooses now.
// PORTA_ERROR_INVALID_ARGUMENT for an unknown family, dtype or bucket.
PORTA_OPS_API porta_status_t porta_ops_tuning_candidates(porta_ops_context_t context,
                                                         const char* family, const char* dtype,
                                                         const char* bucket, char* buffer,
                                                         size_t buffer_size, size_t* out_required);

// Writes the problem |bucket| of |family| is tuned at into |dims|: matmul {M, N, K}; softmax,
// norm and reduce {rows, row length, 1} (reduce sums each row); ew {elements, 1, 1}; qmatvec
// {M, N, K} with M = 1 (gemv only; the tuner measures Q8_0 weights); attention {heads, sequence
// length, head size} (causal self-attention of one batch, small only).
// PORTA_ERROR_NOT_FOUND when the family has no tuning shape for that bucket,
// PORTA_ERROR_INVALID_ARGUMENT for a NULL argument.
PORTA_OPS_API porta_status_t porta_ops_tuning_shape(const char* family, const char* bucket,
                                                    int64_t dims[3]);

//===------------------------------------------------------------------------------------------===//
// Operations. Each enqueues its work on |stream| (a stream of the context's device) and returns
// without waiting. |out| must not partially overlap an input (the same view is fine for
// element-wise operations: they may run in place).
//===------------------------------------------------------------------------------------------===//

// out = activation(alpha * op(a) @ op(b) + beta * out + bias). a is [..., M, K] and b
// [..., K, N] (transposed: [..., K, M] and [..., N, K]); their batch dimensions broadcast to
// out's [..., M, N]. bias (may be NULL) is [N]. a and b are f32, f16 or bf16 (they may differ);
// out is f32 or a's type; bias has out's type.
// b may also be block-quantized (Q4_0, Q4_1, Q8_0) when transpose_b is nonzero: b is then
// [..., N, K] with K a multiple of 32 (a weight as GGUF stores it), and a stays f32, f16 or bf16.
PORTA_OPS_API porta_status_t porta_ops_matmul(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_matmul_desc_t* desc,
                                              const porta_tensor_t* a, const porta_tensor_t* b,
                                              const porta_tensor_t* bias,
                                              const porta_tensor_t* out);

// out = op(x). x and out have the same shape and type (f32, f16 or bf16).
PORTA_OPS_API porta_status_t porta_ops_unary(porta_ops_context_t context, porta_stream_t stream,
                                             porta_unary_op_t op, const porta_tensor_t* x,
                                             const porta_tensor_t* out);

// out = op(a, b) with NumPy broadcasting: a's and b's shapes, aligned at the last dimension,
// broadcast to out's shape. a, b and out have one type (f32, f16 or bf16).
PORTA_OPS_API porta_status_t porta_ops_binary(porta_ops_context_t context, porta_stream_t stream,
                                              porta_binary_op_t op, const porta_tensor_t* a,
                                              const porta_tensor_t* b, const porta_tensor_t* out);

// out = op(a, scalar), or op(scalar, a) when |scalar_first| is nonzero. The scalar is rounded
// to f32.
PORTA_OPS_API porta_status_t porta_ops_binary_scalar(porta_ops_context_t context,
                                                     porta_stream_t stream, porta_binary_op_t op,
                                                     const porta_tensor_t* a, double scalar,
                                                     int32_t scalar_first,
                                                     const porta_tensor_t* out);

// Converts x into out's type (f32, f16, bf16, i32 in any combination; float to i32 truncates
// toward zero). Same shapes. A block-quantized x dequantizes into an f32, f16 or bf16 out.
PORTA_OPS_API porta_status_t porta_ops_cast(porta_ops_context_t context, porta_stream_t stream,
                                            const porta_tensor_t* x, const porta_tensor_t* out);

// Copies src into dst element by element, bit-exact: same type and shape, any strides (a
// permuted or sliced src becomes contiguous in a contiguous dst). dst must not broadcast.
PORTA_OPS_API porta_status_t porta_ops_copy(porta_ops_context_t context, porta_stream_t stream,
                                            const porta_tensor_t* src, const porta_tensor_t* dst);

// Concatenates |count| tensors along |axis| into out (all of one type and rank, equal except
// along |axis|, where out's size is the sum).
PORTA_OPS_API porta_status_t porta_ops_concat(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_tensor_t* inputs, uint32_t count,
                                              int32_t axis, const porta_tensor_t* out);

// Reduces x over |axes| (|axis_count| distinct axes, negative ones counting from the end; none
// means every axis). out keeps the reduced axes with size 1 when |keep_dims| is nonzero and
// drops them otherwise. x is f32, f16 or bf16; out has x's type or f32. The mean of nothing is
// NaN, the sum of nothing 0; MAX and MIN over an empty axis are PORTA_ERROR_INVALID_ARGUMENT.
PORTA_OPS_API porta_status_t porta_ops_reduce(porta_ops_context_t context, porta_stream_t stream,
                                              porta_reduce_op_t op, const porta_tensor_t* x,
                                              const int32_t* axes, uint32_t axis_count,
                                              int32_t keep_dims, const porta_tensor_t* out);

// out (i32) = the index of the first maximum of x along |axis| (a NaN counts as the maximum).
PORTA_OPS_API porta_status_t porta_ops_argmax(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_tensor_t* x, int32_t axis,
                                              int32_t keep_dims, const porta_tensor_t* out);

// out = softmax(x * scale + mask) over the last axis (log-softmax with desc->log). mask (may be
// NULL) broadcasts to x's shape; x, mask and out are f32, f16 or bf16, x and out of one type.
// A row that is entirely masked gives 0 (softmax) or -inf (log-softmax).
PORTA_OPS_API porta_status_t porta_ops_softmax(porta_ops_context_t context, porta_stream_t stream,
                                               const porta_softmax_desc_t* desc,
                                               const porta_tensor_t* x, const porta_tensor_t* mask,
                                               const porta_tensor_t* out);

// Layer normalization over the last axis: (x - mean) / sqrt(var + eps) * weight + bias, with the
// biased variance. weight and bias (each may be NULL) are [last dimension].
PORTA_OPS_API porta_status_t porta_ops_layernorm(porta_ops_context_t context, porta_stream_t stream,
                                                 const porta_tensor_t* x,
                                                 const porta_tensor_t* weight,
                                                 const porta_tensor_t* bias, float eps,
                                                 const porta_tensor_t* out);

// RMS normalization over the last axis: x / sqrt(mean(x^2) + eps) * weight + bias.
PORTA_OPS_API porta_status_t porta_ops_rmsnorm(porta_ops_context_t context, porta_stream_t stream,
                                               const porta_tensor_t* x,
                                               const porta_tensor_t* weight,
                                               const porta_tensor_t* bias, float eps,
                                               const porta_tensor_t* out);

// out[..., :] = table[indices[...], :]. table is [V, D]; indices (i32) has any shape and out is
// indices' shape plus D. An index outside [0, V) gives a row of zeros (the device cannot report
// it without stalling the stream). table may be block-quantized (D a multiple of 32); out is
// then f32, f16 or bf16, and otherwise has table's type.
PORTA_OPS_API porta_status_t porta_ops_embedding(porta_ops_context_t context, porta_stream_t stream,
                                                 const porta_tensor_t* table,
                                                 const porta_tensor_t* indices,
                                                 const porta_tensor_t* out);

// Rotary position embedding of x (rank 2 to 4, the last axis one head) into out (same shape and
// type; may be x itself). positions (i32) is [x.shape[seq_axis]].
PORTA_OPS_API porta_status_t porta_ops_rope(porta_ops_context_t context, porta_stream_t stream,
                                            const porta_rope_desc_t* desc, const porta_tensor_t* x,
                                            const porta_tensor_t* positions,
                                            const porta_tensor_t* out);

// Scaled dot-product attention as one fused kernel: out = softmax(scale q k^T + mask) v. q is
// [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv], out [B, Hq, Lq, Dv], with Hq a multiple
// of Hkv (grouped-query: query head h uses key/value head h / (Hq / Hkv)) and D, Dv <= 256
// (PORTA_ERROR_INVALID_ARGUMENT naming the sizes and the limit otherwise).
// mask (may be NULL) broadcasts to [B, Hq, Lq, Lk]. Any strides (views of a [B, L, H, D] layout
// work as they are).
PORTA_OPS_API porta_status_t porta_ops_attention(porta_ops_context_t context, porta_stream_t stream,
                                                 const porta_attention_desc_t* desc,
                                                 const porta_tensor_t* q, const porta_tensor_t* k,
                                                 const porta_tensor_t* v,
                                                 const porta_tensor_t* mask,
                                                 const porta_tensor_t* out);

// 2D convolution, NCHW: x [N, C, H, W], weight [Co, C / groups, KH, KW], bias (may be NULL)
// [Co], out [N, Co, Ho, Wo] with Ho = (H + 2 pad - dil (KH - 1) - 1) / stride + 1.
PORTA_OPS_API porta_status_t porta_ops_conv2d(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_conv2d_desc_t* desc,
                                              const porta_tensor_t* x, const porta_tensor_t* weight,
                                              const porta_tensor_t* bias,
                                              const porta_tensor_t* out);

// 2D max or average pooling, NCHW: x [N, C, H, W], out [N, C, Ho, Wo], Ho as for conv2d.
PORTA_OPS_API porta_status_t porta_ops_pool2d(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_pool2d_desc_t* desc,
                                              const porta_tensor_t* x, const porta_tensor_t* out);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // PORTA_PORTA_OPS_H_
