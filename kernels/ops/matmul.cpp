// Batched matrix products with broadcast batch dimensions, transpose flags, alpha/beta and a
// bias + activation epilogue (porta_matmul_<tile>). The tile comes from the tuning table; the
// host target ignores it and computes the whole product in one work-group (through BLAS).
// A block-quantized b takes porta_qmatvec when M is at most the tuning's mmax; a larger M takes
// the tile kernel, which dequantizes b's tiles as it stages them, or on the host an f32 panel of
// b in workspace (porta_qdequant) for BLAS.
#include <algorithm>
#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/dtype_rules.h"
#include "kernels/ops/planners.h"

namespace porta::ops {
namespace {

const char* MatmulBucket(int64_t m, int64_t n, int64_t k) {
  if (m == 1 || n == 1) return "gemv";
  return static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) <
                 static_cast<double>(1 << 21)
             ? "small"
             : "large";
}

// Whether the product goes through a k-contiguous copy of b: on the direct OpenCL C tiles
// (kernels/opencl/matmul_direct.cl), whose dot-product path needs a f32 a and b k-contiguous,
// when b is one matrix (no batch) that is not k-contiguous and big enough (at least 2^16
// elements, M >= 16) for the copy to pay.
bool PackForDirectTile(const Context& context, const Params& tile, const View& va, const View& vb,
                       int64_t a_cs, int64_t b_rs, int64_t m, int64_t n, int64_t k) {
  return context.format == PORTA_FORMAT_OPENCL_C && tile.Get("tk", 0) == 0 &&
         va.dtype == PORTA_DTYPE_F32 && a_cs == 1 && b_rs != 1 &&
         (vb.dtype == PORTA_DTYPE_F32 || vb.dtype == PORTA_DTYPE_F16 ||
          vb.dtype == PORTA_DTYPE_BF16) &&
         m >= 16 && k >= 8 && n * k >= (int64_t{1} << 16) &&
         vb.numel == static_cast<uint64_t>(n * k);
}

// The batch dimensions of |view| (all but the last two) as a view of their own.
View BatchView(const View& view) {
  View batch = view;
  batch.rank = view.rank - 2;
  return batch;
}

porta_status_t Matmul(porta_ops_context_t handle, porta_stream_t stream,
                      const porta_matmul_desc_t* desc, const porta_tensor_t* a,
                      const porta_tensor_t* b, const porta_tensor_t* bias,
                      const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  PORTA_OPS_RETURN_IF_ERROR(CheckDesc(desc, "PORTA_MATMUL_DESC_INIT"));
  const int32_t act = RawEnum(desc->activation);
  if (act != PORTA_UNARY_NONE && act != PORTA_UNARY_RELU && act != PORTA_UNARY_GELU_ERF &&
      act != PORTA_UNARY_GELU_TANH && act != PORTA_UNARY_SILU) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "desc->activation %d is not NONE, RELU, GELU_ERF, GELU_TANH or SILU", act);
  }
  View va, vb, vbias, vo;
  bool has_bias = false;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, a, "a", &va));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, b, "b", &vb));
  PORTA_OPS_RETURN_IF_ERROR(CheckOptionalTensor(*context, bias, "bias", &vbias, &has_bias));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  {
    const porta_dtype_t with_bias[4] = {va.dtype, vb.dtype, vbias.dtype, vo.dtype};
    const char* bias_names[4] = {"a", "b", "bias", "out"};
    const porta_dtype_t without[3] = {va.dtype, vb.dtype, vo.dtype};
    const char* names[3] = {"a", "b", "out"};
    PORTA_OPS_RETURN_IF_ERROR(has_bias ? CheckOpDtypes(*context, PORTA_OP_MATMUL, with_bias,
                                                       bias_names, 4, PORTA_ERROR_INVALID_ARGUMENT)
                                       : CheckOpDtypes(*context, PORTA_OP_MATMUL, without, names, 3,
                                                       PORTA_ERROR_INVALID_ARGUMENT));
  }
  for (const View* view : {&va, &vb, &vo}) {
    if (view->rank < 2) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' must have rank >= 2 (a matrix or a batch of them); it has rank %u",
                  view->name, view->rank);
    }
  }
  const bool quantized_b = IsBlockDtype(vb.dtype);
  if (quantized_b && desc->transpose_b == 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "b is block-quantized (%s); porta_ops_matmul takes such a b only transposed: "
                "[..., N, K] with desc->transpose_b nonzero",
                porta_dtype_name(vb.dtype));
  }
  const uint32_t ar = va.rank, br = vb.rank, orank = vo.rank;
  // A[m][k] and B[k][n] as (size, stride) pairs, after the transpose flags.
  const int64_t m = desc->transpose_a ? va.shape[ar - 1] : va.shape[ar - 2];
  const int64_t k = desc->transpose_a ? va.shape[ar - 2] : va.shape[ar - 1];
  const int64_t a_rs = desc->transpose_a ? va.strides[ar - 1] : va.strides[ar - 2];
  const int64_t a_cs = desc->transpose_a ? va.strides[ar - 2] : va.strides[ar - 1];
  const int64_t kb = desc->transpose_b ? vb.shape[br - 1] : vb.shape[br - 2];
  const int64_t n = desc->transpose_b ? vb.shape[br - 2] : vb.shape[br - 1];
  int64_t b_rs = desc->transpose_b ? vb.strides[br - 1] : vb.strides[br - 2];
  int64_t b_cs = desc->transpose_b ? vb.strides[br - 2] : vb.strides[br - 1];
  if (kb != k) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "a (shape %s%s) has K = %" PRId64 " but b (shape %s%s) has K = %" PRId64,
                ShapeText(va).c_str(), desc->transpose_a ? ", transposed" : "", k,
                ShapeText(vb).c_str(), desc->transpose_b ? ", transposed" : "", kb);
  }
  if (vo.shape[orank - 2] != m || vo.shape[orank - 1] != n) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "out has shape %s; its last two dimensions must be [M, N] = [%" PRId64 ", %" PRId64
                "]",
                ShapeText(vo).c_str(), m, n);
  }
  const View out_batch = BatchView(vo);
  int64_t a_batch[PORTA_TENSOR_MAX_RANK] = {};
  int64_t b_batch[PORTA_TENSOR_MAX_RANK] = {};
  PORTA_OPS_RETURN_IF_ERROR(
      BroadcastStrides(BatchView(va), out_batch.shape, out_batch.rank, a_batch));
  PORTA_OPS_RETURN_IF_ERROR(
      BroadcastStrides(BatchView(vb), out_batch.shape, out_batch.rank, b_batch));
  // NumPy's rule: out's batch shape is exactly the broadcast of a's and b's.
  for (uint32_t i = 0; i < out_batch.rank; ++i) {
    const uint32_t from_end = out_batch.rank - i;
    const int64_t a_dim = from_end <= ar - 2 ? va.shape[ar - 2 - from_end] : 1;
    const int64_t b_dim = from_end <= br - 2 ? vb.shape[br - 2 - from_end] : 1;
    const int64_t expected = a_dim == 1 ? b_dim : a_dim;
    if (out_batch.shape[i] != expected) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "out's batch dimension %u is %" PRId64
                  " but a's and b's batch shapes "
                  "broadcast to %" PRId64 " there",
                  i, out_batch.shape[i], expected);
    }
  }
  if (has_bias) PORTA_OPS_RETURN_IF_ERROR(RequireShape(vbias, &n, 1, "[N]"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, va, false));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vb, false));
  if (has_bias) PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vbias, false));
  for (uint32_t d = orank - 2; d < orank; ++d) {
    if (vo.shape[d] > 1 && vo.strides[d] == 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "out has stride 0 in dimension %u: a broadcast view cannot be written", d);
    }
  }
  if (vo.numel == 0) return PORTA_OK;

  const float beta = desc->beta;
  const uint32_t flags = (has_bias ? PORTA_MM_FLAG_BIAS : 0u) |
                         (beta != 0.0f ? PORTA_MM_FLAG_BETA : 0u) |
                         (static_cast<uint32_t>(act) << 8);
  std::vector<KernelLaunch> launches;
  ScopedWorkspace workspace(*context, stream);
  if (quantized_b) {
    const TuningChoice qchoice =
        Choose(*context, Family::kQmatvec, vb.dtype, m == 1 ? "gemv" : "small");
    if (m <= qchoice.params.Get("mmax", 1) || k == 0) {
      const int64_t* batch_strides[3] = {out_batch.strides, a_batch, b_batch};
      const Split split =
          SplitSpace(Coalesce(out_batch.shape, out_batch.rank, batch_strides, 3), 2);
      QmatvecPlan plan;
      plan.a = &va;
      plan.b = &vb;
      plan.bias = has_bias ? &vbias : nullptr;
      plan.out = &vo;
      plan.m = static_cast<uint64_t>(m);
      plan.n = static_cast<uint64_t>(n);
      plan.k = static_cast<uint64_t>(k);
      plan.a_rs = a_rs;
      plan.a_cs = a_cs;
      plan.split = &split;
      plan.flags = flags | (desc->quantize_a != 0 ? PORTA_MM_FLAG_QUANTIZE_A : 0u);
      plan.alpha = desc->alpha;
      plan.beta = beta;
      plan.tuning = qchoice.params;
      PORTA_OPS_RETURN_IF_ERROR(PlanQmatvec(*context, plan, &launches));
      return EnqueueAll(*context, stream, launches);
    }
    // The GEMM kernels index b's elements (not its bytes) with 32 bits.
    uint64_t b_elements = 1;
    for (uint32_t d = 0; d < br; ++d) {
      b_elements += static_cast<uint64_t>(vb.shape[d] - 1) * static_cast<uint64_t>(vb.strides[d]);
    }
    if (b_elements > (uint64_t{1} << 32)) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE,
                  "b (%s, shape %s) spans %" PRIu64
                  " elements; a quantized product with M = %" PRId64
                  " above the matrix-vector limit %" PRId64
                  " indexes b's elements with 32 bits (split b, or M)",
                  porta_dtype_name(vb.dtype), ShapeText(vb).c_str(), b_elements, m,
                  qchoice.params.Get("mmax", 1));
    }
    // The tile kernels dequantize b's tiles as they stage them; with the tuning's gemm=2 (where
    // that is slower) and on the host (BLAS) the GEMM takes an f32 copy of b instead, made first
    // in the same stream.
    if (context->format == PORTA_FORMAT_HOST || qchoice.params.Get("gemm", 1) == 2) {
      View panel = PlanDequantPanelView(vb, nullptr);
      PORTA_OPS_RETURN_IF_ERROR(workspace.Acquire(panel.byte_end));
      panel.buffer = workspace.buffer();
      PORTA_OPS_RETURN_IF_ERROR(PlanDequantPanel(*context, vb, panel, &launches));
      vb = panel;
      b_rs = vb.strides[br - 1];
      b_cs = vb.strides[br - 2];
      PORTA_OPS_RETURN_IF_ERROR(
          BroadcastStrides(BatchView(vb), out_batch.shape, out_batch.rank, b_batch));
    }
  }
  const TuningChoice choice = Choose(*context, Family::kMatmul, va.dtype, MatmulBucket(m, n, k));
  const Params& tile = choice.params;
  // (A dequantized b already holds the workspace, k-contiguous: it is never copied again.)
  if (workspace.buffer() == nullptr &&
      PackForDirectTile(*context, tile, va, vb, a_cs, b_rs, m, n, k)) {
    // The direct OpenCL C tile reads a k-contiguous b in long unit-stride runs; an n-contiguous
    // one it reads a row per k, which at a power-of-two N keeps hitting the same cache sets
    // and a new page at every k. A k-contiguous copy of b, made first in the same stream, costs
    // one pass over b.
    const int32_t dk = static_cast<int32_t>(desc->transpose_b ? br - 1 : br - 2);
    const int32_t dn = static_cast<int32_t>(desc->transpose_b ? br - 2 : br - 1);
    // The copy: b as [N][K], contiguous, at the workspace's start (porta_matmul_pack).
    View panel = vb;
    panel.name = "b";
    panel.offset = 0;
    panel.shape[dk] = k;
    panel.shape[dn] = n;
    panel.strides[dk] = 1;
    panel.strides[dn] = k;
    panel.byte_begin = 0;
    panel.byte_end = vb.numel * porta_dtype_size(vb.dtype);
    PORTA_OPS_RETURN_IF_ERROR(workspace.Acquire(panel.byte_end));
    panel.buffer = workspace.buffer();
    PortaMatmulParams p{};
    p.K = U32(static_cast<uint64_t>(k));
    p.N = U32(static_cast<uint64_t>(n));
    p.dtypes = PORTA_PACK4(va.dtype, vb.dtype, vb.dtype, vb.dtype);
    p.b_rs = U32(b_rs);
    p.b_cs = U32(b_cs);
    KernelLaunch pack(*context, Family::kMatmul);
    pack.Bind(va.buffer, va.dtype, 0);  // unused (a)
    p.b_offset = pack.Bind(vb.buffer, vb.dtype, vb.offset);
    pack.Bind(va.buffer, va.dtype, 0);  // unused (bias)
    p.o_offset = pack.Bind(panel.buffer, vb.dtype, 0);
    pack.params = tile;
    pack.params.Set("pack", 1);
    pack.SetParams(p);
    // A work-item per 8 x 8 block, 8 x 8 work-items per group.
    pack.grid[0] = U32((static_cast<uint64_t>(k) + 63) / 64);
    pack.grid[1] = U32((static_cast<uint64_t>(n) + 63) / 64);
    pack.block[0] = 8;
    pack.block[1] = 8;
    launches.push_back(std::move(pack));
    vb = panel;
    b_rs = 1;
    b_cs = k;
    PORTA_OPS_RETURN_IF_ERROR(
        BroadcastStrides(BatchView(vb), out_batch.shape, out_batch.rank, b_batch));
  }
  const bool fused_b = IsBlockDtype(vb.dtype);

  const int64_t* batch_strides[3] = {out_batch.strides, a_batch, b_batch};
  const Split split = SplitSpace(Coalesce(out_batch.shape, out_batch.rank, batch_strides, 3), 2);
  const bool host = context->format == PORTA_FORMAT_HOST;
  const int64_t tm = tile.Get("tm", 32), tn = tile.Get("tn", 32);
  const int64_t wm = tile.Get("wm", 2), wn = tile.Get("wn", 2);
  const uint64_t grid_x = host ? 1 : static_cast<uint64_t>((n + tn - 1) / tn);
  // The host kernel may split the rows among one work-group per compute unit (see
  // kernels/cpu/matmul_host.cpp); below 64 rows a split gains nothing.
  const uint64_t host_groups =
      std::min<uint64_t>(std::max<uint32_t>(1, context->info.compute_units),
                         std::max<uint64_t>(1, static_cast<uint64_t>(m) / 64));
  const uint64_t grid_y = host ? host_groups : static_cast<uint64_t>((m + tm - 1) / tm);
  if (grid_x > context->info.max_grid_dims[0] || grid_y > context->info.max_grid_dims[1]) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE,
                "a %" PRId64 " x %" PRId64 " product with tile %s needs a %" PRIu64 " x %" PRIu64
                " grid; the device allows %u x %u",
                m, n, MatmulTileName(tile).c_str(), grid_x, grid_y, context->info.max_grid_dims[0],
                context->info.max_grid_dims[1]);
  }
  const uint64_t batch0 = static_cast<uint64_t>(split.inner_shape[2]);
  const uint64_t batch1 = static_cast<uint64_t>(split.inner_shape[3]);
  // Batches beyond the grid's z limit go to separate launches along batch0.
  const uint64_t max_z = std::max<uint32_t>(1, context->info.max_grid_dims[2]);
  if (batch1 > max_z) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE,
                "%" PRIu64
                " batched products in one dimension exceed the device's grid z limit "
                "%" PRIu64,
                batch1, max_z);
  }
  const uint64_t rows_per_launch = std::max<uint64_t>(1, max_z / batch1);
  for (const std::vector<uint64_t>& offsets : split.offsets) {
    for (uint64_t first = 0; first < batch0; first += rows_per_launch) {
      const uint64_t count = std::min(rows_per_launch, batch0 - first);
      PortaMatmulParams p{};
      p.M = U32(static_cast<uint64_t>(m));
      p.N = U32(static_cast<uint64_t>(n));
      p.K = U32(static_cast<uint64_t>(k));
      p.batch0 = U32(count);
      p.batch1 = U32(batch1);
      p.dtypes = PORTA_PACK4(va.dtype, vb.dtype, vo.dtype, has_bias ? vbias.dtype : vo.dtype);
      p.flags = flags;
      p.alpha = desc->alpha;
      p.beta = beta;
      KernelLaunch launch(*context, Family::kMatmul);
      p.a_offset = launch.Bind(va.buffer, va.dtype,
                               va.offset + offsets[1] + first * split.inner_strides[1][2]);
      if (fused_b) {
        // b_offset counts elements from the tensor's first one, b_byte locates that one.
        p.b_byte = launch.Bind(vb.buffer, PORTA_DTYPE_I8, vb.offset);
        p.b_offset = U32(offsets[2] + first * split.inner_strides[2][2]);
      } else {
        p.b_offset = launch.Bind(vb.buffer, vb.dtype,
                                 vb.offset + offsets[2] + first * split.inner_strides[2][2]);
      }
      p.bias_offset = has_bias ? launch.Bind(vbias.buffer, vbias.dtype, vbias.offset)
                               : launch.Bind(va.buffer, va.dtype, 0);
      p.o_offset = launch.Bind(vo.buffer, vo.dtype,
                               vo.offset + offsets[0] + first * split.inner_strides[0][2]);
      p.a_rs = U32(a_rs);
      p.a_cs = U32(a_cs);
      p.b_rs = U32(b_rs);
      p.b_cs = U32(b_cs);
      p.o_rs = U32(vo.strides[orank - 2]);
      p.o_cs = U32(vo.strides[orank - 1]);
      for (int d = 0; d < 2; ++d) {
        p.o_bs[d] = U32(split.inner_strides[0][2 + d]);
        p.a_bs[d] = U32(split.inner_strides[1][2 + d]);
        p.b_bs[d] = U32(split.inner_strides[2][2 + d]);
      }
      if (has_bias) {
        p.bias_stride = U32(vbias.strides[0]);
      }
      launch.params = tile;
      launch.wide = AnyWide({va.dtype, vb.dtype, vo.dtype});
      launch.SetParams(p);
      launch.grid[0] = U32(grid_x);
      launch.grid[1] = U32(grid_y);
      launch.grid[2] = host ? 1u : U32(count * batch1);
      launch.block[0] = host ? 1u : U32(static_cast<uint64_t>(tn / wn));
      launch.block[1] = host ? 1u : U32(static_cast<uint64_t>(tm / wm));
      launches.push_back(std::move(launch));
    }
  }
  return EnqueueAll(*context, stream, launches);
}

}  // namespace
}  // namespace porta::ops

extern "C" PORTA_OPS_API porta_status_t
porta_ops_matmul(porta_ops_context_t context, porta_stream_t stream,
                 const porta_matmul_desc_t* desc, const porta_tensor_t* a, const porta_tensor_t* b,
                 const porta_tensor_t* bias, const porta_tensor_t* out) {
  return porta::ops::Guard("porta_ops_matmul", [&] {
    return porta::ops::Matmul(context, stream, desc, a, b, bias, out);
  });
}
