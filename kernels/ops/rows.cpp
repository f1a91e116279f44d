// Operations over the last axis, one work-group per row: softmax / log-softmax (porta_softmax)
// and layer / RMS normalization (porta_norm).
#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/dtype_rules.h"

namespace porta::ops {
namespace {

// The rows of a set of tensors sharing x's leading dimensions: per launch, a 3-entry row shape
// with each tensor's row strides and added offsets.
struct RowPiece {
  unsigned int row_shape[3] = {1, 1, 1};
  std::vector<std::vector<int64_t>> strides;  // [tensor][3]
  std::vector<uint64_t> offsets;              // [tensor]
  uint64_t rows = 1;
};

// |lead| leading dimensions with |count| stride arrays. With |keep_last| the last leading
// dimension stays the row shape's third entry unmerged (the causal query index).
std::vector<RowPiece> MakeRows(const int64_t* lead_shape, uint32_t lead,
                               const int64_t* const* strides, uint32_t count, bool keep_last) {
  const uint32_t merged = keep_last ? lead - 1 : lead;
  const Split split = SplitSpace(Coalesce(lead_shape, merged, strides, count), keep_last ? 2 : 3);
  std::vector<RowPiece> pieces;
  for (const std::vector<uint64_t>& offsets : split.offsets) {
    RowPiece piece;
    piece.offsets = offsets;
    piece.strides.assign(count, std::vector<int64_t>(3, 0));
    // Split right-aligns into 4 entries; the rows use the last 3 (or 2, then the kept axis).
    const int first = keep_last ? 2 : 1;
    for (int i = 0; i < (keep_last ? 2 : 3); ++i) {
      piece.row_shape[i] = U32(split.inner_shape[first + i]);
      for (uint32_t t = 0; t < count; ++t) piece.strides[t][i] = split.inner_strides[t][first + i];
    }
    if (keep_last) {
      piece.row_shape[2] = U32(lead_shape[lead - 1]);
      for (uint32_t t = 0; t < count; ++t) piece.strides[t][2] = strides[t][lead - 1];
    }
    piece.rows = uint64_t{piece.row_shape[0]} * piece.row_shape[1] * piece.row_shape[2];
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

porta_status_t Softmax(porta_ops_context_t handle, porta_stream_t stream,
                       const porta_softmax_desc_t* desc, const porta_tensor_t* x,
                       const porta_tensor_t* mask, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  PORTA_OPS_RETURN_IF_ERROR(CheckDesc(desc, "PORTA_SOFTMAX_DESC_INIT"));
  View vx, vm, vo;
  bool has_mask = false;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &vx));
  PORTA_OPS_RETURN_IF_ERROR(CheckOptionalTensor(*context, mask, "mask", &vm, &has_mask));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const porta_dtype_t dtypes[3] = {vx.dtype, has_mask ? vm.dtype : vo.dtype, vo.dtype};
  const char* names[3] = {"x", has_mask ? "mask" : "out", "out"};
  if (has_mask) {
    PORTA_OPS_RETURN_IF_ERROR(
        CheckOpDtypes(*context, PORTA_OP_SOFTMAX, dtypes, names, 3, PORTA_ERROR_INVALID_ARGUMENT));
  } else {
    PORTA_OPS_RETURN_IF_ERROR(
        CheckOpDtypes(*context, PORTA_OP_SOFTMAX, dtypes, names, 2, PORTA_ERROR_INVALID_ARGUMENT));
  }
  if (vx.rank < 1) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "x must have rank >= 1 (it is 0)");
  if (desc->causal != 0 && vx.rank < 2) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "causal softmax needs x of rank >= 2 (it is %u)",
                vx.rank);
  }
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, vx.shape, vx.rank, "x's shape"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vx, true));
  int64_t m_strides[PORTA_TENSOR_MAX_RANK] = {};
  if (has_mask) {
    PORTA_OPS_RETURN_IF_ERROR(BroadcastStrides(vm, vx.shape, vx.rank, m_strides));
    PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vm, false));
  }
  if (vx.numel == 0) return PORTA_OK;
  const uint32_t lead = vx.rank - 1;
  const int64_t cols = vx.shape[lead];
  const int64_t* strides[3] = {vx.strides, vo.strides, m_strides};
  const std::vector<RowPiece> pieces = MakeRows(vx.shape, lead, strides, 3, desc->causal != 0);
  const TuningChoice choice =
      Choose(*context, Family::kSoftmax, vx.dtype, ElementBucket(static_cast<uint64_t>(cols)));
  std::vector<KernelLaunch> launches;
  for (const RowPiece& piece : pieces) {
    PortaSoftmaxParams p{};
    p.rows = U32(piece.rows);
    p.cols = U32(cols);
    p.dtypes = PORTA_PACK4(vx.dtype, has_mask ? vm.dtype : vx.dtype, vo.dtype, 0u);
    p.flags = (has_mask ? PORTA_SM_FLAG_MASK : 0u) | (desc->causal ? PORTA_SM_FLAG_CAUSAL : 0u) |
              (desc->log ? PORTA_SM_FLAG_LOG : 0u);
    p.scale = desc->scale;
    p.causal_shift = desc->causal != 0 ? static_cast<int>(cols - vx.shape[vx.rank - 2]) : 0;
    KernelLaunch launch(*context, Family::kSoftmax);
    p.x_offset = launch.Bind(vx.buffer, vx.dtype, vx.offset + piece.offsets[0]);
    p.m_offset = has_mask ? launch.Bind(vm.buffer, vm.dtype, vm.offset + piece.offsets[2])
                          : launch.Bind(vx.buffer, vx.dtype, 0);
    p.out_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset + piece.offsets[1]);
    for (int i = 0; i < 3; ++i) {
      p.row_shape[i] = piece.row_shape[i];
      p.x_strides[i] = U32(piece.strides[0][i]);
      p.out_strides[i] = U32(piece.strides[1][i]);
      p.m_strides[i] = U32(piece.strides[2][i]);
    }
    p.x_strides[3] = U32(vx.strides[lead]);
    p.out_strides[3] = U32(vo.strides[lead]);
    p.m_strides[3] = U32(m_strides[lead]);
    launch.params = choice.params;
    launch.wide = AnyWide({vx.dtype, has_mask ? vm.dtype : vx.dtype, vo.dtype});
    launch.SetParams(p);
    launch.block[0] = WorkGroup(choice.params);
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(*context, piece.rows, launch.grid));
    launches.push_back(std::move(launch));
  }
  return EnqueueAll(*context, stream, launches);
}

porta_status_t Norm(porta_ops_context_t handle, porta_stream_t stream, bool rms,
                    const porta_tensor_t* x, const porta_tensor_t* weight,
                    const porta_tensor_t* bias, float eps, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  View vx, vw, vb, vo;
  bool has_weight = false, has_bias = false;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &vx));
  PORTA_OPS_RETURN_IF_ERROR(CheckOptionalTensor(*context, weight, "weight", &vw, &has_weight));
  PORTA_OPS_RETURN_IF_ERROR(CheckOptionalTensor(*context, bias, "bias", &vb, &has_bias));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  porta_dtype_t dtypes[4];
  const char* names[4];
  uint32_t count = 0;
  dtypes[count] = vx.dtype;
  names[count++] = "x";
  // porta_ops_supported's convention: bias only after weight; a bias without a weight is checked
  // in the weight's place (the same float rule applies to both).
  if (has_weight) {
    dtypes[count] = vw.dtype;
    names[count++] = "weight";
  }
  if (has_bias) {
    dtypes[count] = vb.dtype;
    names[count++] = "bias";
  }
  dtypes[count] = vo.dtype;
  names[count++] = "out";
  const porta_op_t op = rms ? PORTA_OP_RMSNORM : PORTA_OP_LAYERNORM;
  PORTA_OPS_RETURN_IF_ERROR(
      CheckOpDtypes(*context, op, dtypes, names, count, PORTA_ERROR_INVALID_ARGUMENT));
  if (vx.rank < 1) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "x must have rank >= 1 (it is 0)");
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, vx.shape, vx.rank, "x's shape"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vx, true));
  const uint32_t lead = vx.rank - 1;
  const int64_t cols = vx.shape[lead];
  for (const View* param : {has_weight ? &vw : nullptr, has_bias ? &vb : nullptr}) {
    if (param == nullptr) continue;
    PORTA_OPS_RETURN_IF_ERROR(RequireShape(*param, &cols, 1, "[x's last dimension]"));
    PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, *param, false));
  }
  if (vx.numel == 0) return PORTA_OK;
  const int64_t* strides[2] = {vx.strides, vo.strides};
  const std::vector<RowPiece> pieces = MakeRows(vx.shape, lead, strides, 2, false);
  const TuningChoice choice =
      Choose(*context, Family::kNorm, vx.dtype, ElementBucket(static_cast<uint64_t>(cols)));
  std::vector<KernelLaunch> launches;
  for (const RowPiece& piece : pieces) {
    PortaNormParams p{};
    p.rows = U32(piece.rows);
    p.cols = U32(cols);
    p.dtypes = PORTA_PACK4(vx.dtype, has_weight ? vw.dtype : vx.dtype,
                           has_bias ? vb.dtype : vx.dtype, vo.dtype);
    p.flags = (rms ? PORTA_NORM_FLAG_RMS : 0u) | (has_weight ? PORTA_NORM_FLAG_WEIGHT : 0u) |
              (has_bias ? PORTA_NORM_FLAG_BIAS : 0u);
    p.eps = eps;
    KernelLaunch launch(*context, Family::kNorm);
    p.x_offset = launch.Bind(vx.buffer, vx.dtype, vx.offset + piece.offsets[0]);
    p.w_offset = has_weight ? launch.Bind(vw.buffer, vw.dtype, vw.offset)
                            : launch.Bind(vx.buffer, vx.dtype, 0);
    p.b_offset = has_bias ? launch.Bind(vb.buffer, vb.dtype, vb.offset)
                          : launch.Bind(vx.buffer, vx.dtype, 0);
    p.out_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset + piece.offsets[1]);
    for (int i = 0; i < 3; ++i) {
      p.row_shape[i] = piece.row_shape[i];
      p.x_strides[i] = U32(piece.strides[0][i]);
      p.out_strides[i] = U32(piece.strides[1][i]);
    }
    p.x_strides[3] = U32(vx.strides[lead]);
    p.out_strides[3] = U32(vo.strides[lead]);
    p.w_stride = has_weight ? U32(vw.strides[0]) : 0u;
    p.b_stride = has_bias ? U32(vb.strides[0]) : 0u;
    launch.params = choice.params;
    launch.wide = AnyWide(
        {vx.dtype, has_weight ? vw.dtype : vx.dtype, has_bias ? vb.dtype : vx.dtype, vo.dtype});
    launch.SetParams(p);
    launch.block[0] = WorkGroup(choice.params);
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(*context, piece.rows, launch.grid));
    launches.push_back(std::move(launch));
  }
  return EnqueueAll(*context, stream, launches);
}

}  // namespace
}  // namespace porta::ops

using porta::ops::Guard;

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_softmax(porta_ops_context_t context, porta_stream_t stream,
                                               const porta_softmax_desc_t* desc,
                                               const porta_tensor_t* x, const porta_tensor_t* mask,
                                               const porta_tensor_t* out) {
  return Guard("porta_ops_softmax",
               [&] { return porta::ops::Softmax(context, stream, desc, x, mask, out); });
}

PORTA_OPS_API porta_status_t porta_ops_layernorm(porta_ops_context_t context, porta_stream_t stream,
                                                 const porta_tensor_t* x,
                                                 const porta_tensor_t* weight,
                                                 const porta_tensor_t* bias, float eps,
                                                 const porta_tensor_t* out) {
  return Guard("porta_ops_layernorm",
               [&] { return porta::ops::Norm(context, stream, false, x, weight, bias, eps, out); });
}

PORTA_OPS_API porta_status_t porta_ops_rmsnorm(porta_ops_context_t context, porta_stream_t stream,
                                               const porta_tensor_t* x,
                                               const porta_tensor_t* weight,
                                               const porta_tensor_t* bias, float eps,
                                               const porta_tensor_t* out) {
  return Guard("porta_ops_rmsnorm",
               [&] { return porta::ops::Norm(context, stream, true, x, weight, bias, eps, out); });
}

}  // extern "C"
