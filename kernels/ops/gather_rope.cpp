// Embedding gather (porta_gather; porta_qdequant for a block-quantized table) and rotary
// position embedding (porta_rope).
#include <cinttypes>
#include <cmath>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/dtype_rules.h"
#include "kernels/ops/planners.h"

namespace porta::ops {
namespace {

porta_status_t Embedding(porta_ops_context_t handle, porta_stream_t stream,
                         const porta_tensor_t* table, const porta_tensor_t* indices,
                         const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  View vt, vi, vo;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, table, "table", &vt));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, indices, "indices", &vi));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const porta_dtype_t dtypes[3] = {vt.dtype, vi.dtype, vo.dtype};
  const char* names[3] = {"table", "indices", "out"};
  PORTA_OPS_RETURN_IF_ERROR(
      CheckOpDtypes(*context, PORTA_OP_EMBEDDING, dtypes, names, 3, PORTA_ERROR_INVALID_ARGUMENT));
  if (vt.rank != 2) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "table must be [V, D] (rank 2); it has rank %u",
                vt.rank);
  }
  if (vi.rank + 1 > PORTA_TENSOR_MAX_RANK) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "indices has rank %u; out (indices' shape plus D) would exceed rank %d", vi.rank,
                PORTA_TENSOR_MAX_RANK);
  }
  int64_t expected[PORTA_TENSOR_MAX_RANK] = {};
  for (uint32_t d = 0; d < vi.rank; ++d) expected[d] = vi.shape[d];
  expected[vi.rank] = vt.shape[1];
  PORTA_OPS_RETURN_IF_ERROR(
      RequireShape(vo, expected, vi.rank + 1, "indices' shape followed by D"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vt, false));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vi, false));
  if (vo.numel == 0) return PORTA_OK;
  if (IsBlockDtype(vt.dtype)) {
    std::vector<KernelLaunch> launches;
    PORTA_OPS_RETURN_IF_ERROR(PlanDequantGather(*context, vt, vi, vo, &launches));
    return EnqueueAll(*context, stream, launches);
  }
  const int64_t* strides[2] = {vi.strides, vo.strides};
  const Split split = SplitSpace(Coalesce(vi.shape, vi.rank, strides, 2), 3);
  const uint64_t dim = static_cast<uint64_t>(vt.shape[1]);
  const uint64_t n_idx =
      static_cast<uint64_t>(split.inner_shape[1] * split.inner_shape[2] * split.inner_shape[3]);
  const TuningChoice choice = Choose(*context, Family::kGather, vt.dtype, ElementBucket(vo.numel));
  const uint32_t wg = WorkGroup(choice.params);
  std::vector<KernelLaunch> launches;
  for (const std::vector<uint64_t>& offsets : split.offsets) {
    PortaGatherParams p{};
    p.n_idx = U32(n_idx);
    p.dim = U32(dim);
    p.vocab = U32(static_cast<uint64_t>(vt.shape[0]));
    p.dtypes = PORTA_PACK4(vt.dtype, PORTA_DT_I32, vo.dtype, 0u);
    KernelLaunch launch(*context, Family::kGather);
    p.t_offset = launch.Bind(vt.buffer, vt.dtype, vt.offset);
    p.idx_offset = launch.Bind(vi.buffer, vi.dtype, vi.offset + offsets[0]);
    p.out_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset + offsets[1]);
    for (int i = 0; i < 3; ++i) {
      p.idx_shape[i] = U32(split.inner_shape[1 + i]);
      p.idx_strides[i] = U32(split.inner_strides[0][1 + i]);
      p.out_strides[i] = U32(split.inner_strides[1][1 + i]);
    }
    p.out_strides[3] = U32(vo.strides[vi.rank]);
    p.t_strides[0] = U32(vt.strides[0]);
    p.t_strides[1] = U32(vt.strides[1]);
    launch.params = choice.params;
    launch.wide = AnyWide({vt.dtype, vo.dtype});
    launch.SetParams(p);
    launch.block[0] = wg;
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(*context, (n_idx * dim + wg - 1) / wg, launch.grid));
    launches.push_back(std::move(launch));
  }
  return EnqueueAll(*context, stream, launches);
}

porta_status_t Rope(porta_ops_context_t handle, porta_stream_t stream,
                    const porta_rope_desc_t* desc, const porta_tensor_t* x,
                    const porta_tensor_t* positions, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  PORTA_OPS_RETURN_IF_ERROR(CheckDesc(desc, "PORTA_ROPE_DESC_INIT"));
  View vx, vp, vo;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &vx));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, positions, "positions", &vp));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const porta_dtype_t dtypes[3] = {vx.dtype, vp.dtype, vo.dtype};
  const char* names[3] = {"x", "positions", "out"};
  PORTA_OPS_RETURN_IF_ERROR(
      CheckOpDtypes(*context, PORTA_OP_ROPE, dtypes, names, 3, PORTA_ERROR_INVALID_ARGUMENT));
  if (vx.rank < 2 || vx.rank > 4) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "x must have rank 2 to 4; it has rank %u", vx.rank);
  }
  const int32_t mode = RawEnum(desc->mode);
  if (mode != PORTA_ROPE_MODE_NEOX && mode != PORTA_ROPE_MODE_INTERLEAVED) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "desc->mode %d is not a porta_rope_mode_t", mode);
  }
  const int32_t rank = static_cast<int32_t>(vx.rank);
  const int32_t seq_axis = desc->seq_axis < 0 ? desc->seq_axis + rank : desc->seq_axis;
  if (seq_axis < 0 || seq_axis >= rank - 1) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "desc->seq_axis %d must name one of x's first %d axes (the last is the head)",
                desc->seq_axis, rank - 1);
  }
  const int64_t head = vx.shape[rank - 1];
  const int64_t rot = desc->rotary_dims == 0 ? head : static_cast<int64_t>(desc->rotary_dims);
  if (head % 2 != 0 || rot % 2 != 0 || rot > head) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the head size %" PRId64 " and rotary_dims %" PRId64
                " must be even, with rotary_dims <= the head size",
                head, rot);
  }
  if (!(desc->theta_base > 0.0f) || !std::isfinite(desc->theta_base)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "desc->theta_base %g must be a positive number",
                static_cast<double>(desc->theta_base));
  }
  const int64_t seq = vx.shape[seq_axis];
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vp, &seq, 1, "[x.shape[seq_axis]]"));
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, vx.shape, vx.rank, "x's shape"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vx, true));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vp, false));
  if (vx.numel == 0) return PORTA_OK;
  const int pad = 4 - rank;
  PortaRopeParams p{};
  p.mode = mode == PORTA_ROPE_MODE_NEOX ? PORTA_ROPE_NEOX : PORTA_ROPE_INTERLEAVED;
  p.rot_dims = U32(static_cast<uint64_t>(rot));
  p.head_dim = U32(static_cast<uint64_t>(head));
  p.seq_axis = U32(static_cast<uint64_t>(seq_axis + pad));
  p.dtypes = PORTA_PACK4(vx.dtype, PORTA_DT_I32, vo.dtype, 0u);
  KernelLaunch launch(*context, Family::kRope);
  p.x_offset = launch.Bind(vx.buffer, vx.dtype, vx.offset);
  p.pos_offset = launch.Bind(vp.buffer, vp.dtype, vp.offset);
  p.out_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset);
  p.pos_stride = U32(vp.strides[0]);
  p.freq_scale = desc->freq_scale;
  p.inv_freq_log2 = static_cast<float>(-2.0 * std::log2(static_cast<double>(desc->theta_base)) /
                                       static_cast<double>(rot));
  uint64_t rows = 1;
  for (int d = 0; d < 4; ++d) {
    const bool real = d >= pad;
    p.shape[d] = real ? U32(static_cast<uint64_t>(vx.shape[d - pad])) : 1u;
    p.x_strides[d] = real ? U32(static_cast<uint64_t>(vx.strides[d - pad])) : 0u;
    p.out_strides[d] = real ? U32(static_cast<uint64_t>(vo.strides[d - pad])) : 0u;
    if (d < 3) rows *= p.shape[d];
  }
  p.n = U32(rows * static_cast<uint64_t>(head / 2));
  const TuningChoice choice = Choose(*context, Family::kRope, vx.dtype, ElementBucket(vx.numel));
  launch.params = choice.params;
  launch.wide = AnyWide({vx.dtype, vo.dtype});
  launch.SetParams(p);
  launch.block[0] = WorkGroup(choice.params);
  PORTA_OPS_RETURN_IF_ERROR(
      LinearGrid(*context, (uint64_t{p.n} + launch.block[0] - 1) / launch.block[0], launch.grid));
  return EnqueueAll(*context, stream, {launch});
}

}  // namespace
}  // namespace porta::ops

using porta::ops::Guard;

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_embedding(porta_ops_context_t context, porta_stream_t stream,
                                                 const porta_tensor_t* table,
                                                 const porta_tensor_t* indices,
                                                 const porta_tensor_t* out) {
  return Guard("porta_ops_embedding",
               [&] { return porta::ops::Embedding(context, stream, table, indices, out); });
}

PORTA_OPS_API porta_status_t porta_ops_rope(porta_ops_context_t context, porta_stream_t stream,
                                            const porta_rope_desc_t* desc, const porta_tensor_t* x,
                                            const porta_tensor_t* positions,
                                            const porta_tensor_t* out) {
  return Guard("porta_ops_rope",
               [&] { return porta::ops::Rope(context, stream, desc, x, positions, out); });
}

}  // extern "C"
