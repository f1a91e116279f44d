// Element-wise operations on the porta_ew kernel: unary functions, binary functions with NumPy
// broadcasting or a scalar operand, casts, strided copies and concatenation.
#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/dtype_rules.h"
#include "kernels/ops/planners.h"

namespace porta::ops {
namespace {

// out[i] = op(a[i], b[i]) over out's index space; |a_strides| and |b_strides| are aligned to
// out's rank (0 where broadcast). |b| may be NULL (unary, scalar and copy forms).
porta_status_t PlanEw(Context& context, uint32_t op, uint32_t flags, float alpha, const View& out,
                      const View& a, const int64_t* a_strides, const View* b,
                      const int64_t* b_strides, std::vector<KernelLaunch>* launches) {
  if (out.numel == 0) return PORTA_OK;
  const int64_t* strides[3] = {out.strides, a_strides, b != nullptr ? b_strides : a_strides};
  const Split split = SplitSpace(Coalesce(out.shape, out.rank, strides, 3), 4);
  uint64_t n = 1;
  for (int64_t extent : split.inner_shape) n *= static_cast<uint64_t>(extent);
  const TuningChoice choice = Choose(context, Family::kEw, a.dtype, ElementBucket(out.numel));
  const uint32_t wg = WorkGroup(choice.params);
  const porta_dtype_t b_dtype = b != nullptr ? b->dtype : a.dtype;
  for (const std::vector<uint64_t>& offsets : split.offsets) {
    PortaEwParams p{};
    p.n = U32(n);
    p.op = op;
    p.dtypes = PORTA_PACK4(a.dtype, b_dtype, out.dtype, 0u);
    p.flags = flags;
    p.alpha = alpha;
    KernelLaunch launch(context, Family::kEw);
    p.a_offset = launch.Bind(a.buffer, a.dtype, a.offset + offsets[1]);
    p.b_offset = launch.Bind(b != nullptr ? b->buffer : a.buffer, b_dtype,
                             (b != nullptr ? b->offset : a.offset) + offsets[2]);
    p.out_offset = launch.Bind(out.buffer, out.dtype, out.offset + offsets[0]);
    for (int d = 0; d < 4; ++d) {
      p.shape[d] = U32(split.inner_shape[d]);
      p.out_strides[d] = U32(split.inner_strides[0][d]);
      p.a_strides[d] = U32(split.inner_strides[1][d]);
      p.b_strides[d] = U32(split.inner_strides[2][d]);
    }
    launch.params = choice.params;
    launch.wide = AnyWide({a.dtype, b_dtype, out.dtype});
    launch.SetParams(p);
    launch.block[0] = wg;
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(context, (n + wg - 1) / wg, launch.grid));
    launches->push_back(std::move(launch));
  }
  return PORTA_OK;
}

porta_status_t Unary(porta_ops_context_t handle, porta_stream_t stream, int32_t op,
                     const porta_tensor_t* x, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  if (op < PORTA_UNARY_NEG || op > PORTA_UNARY_SILU) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "unknown unary op %d", static_cast<int>(op));
  }
  View vx, vo;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &vx));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const porta_dtype_t dtypes[2] = {vx.dtype, vo.dtype};
  const char* names[2] = {"x", "out"};
  PORTA_OPS_RETURN_IF_ERROR(
      CheckOpDtypes(*context, PORTA_OP_UNARY, dtypes, names, 2, PORTA_ERROR_INVALID_ARGUMENT));
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, vx.shape, vx.rank, "x's shape"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vx, true));
  std::vector<KernelLaunch> launches;
  PORTA_OPS_RETURN_IF_ERROR(PlanEw(*context, static_cast<uint32_t>(op), 0, 0.0f, vo, vx, vx.strides,
                                   nullptr, nullptr, &launches));
  return EnqueueAll(*context, stream, launches);
}

porta_status_t Binary(porta_ops_context_t handle, porta_stream_t stream, int32_t op,
                      const porta_tensor_t* a, const porta_tensor_t* b, bool scalar_form,
                      double scalar, bool scalar_first, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  if (op < PORTA_BINARY_ADD || op > PORTA_BINARY_SWIGLU) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "unknown binary op %d", static_cast<int>(op));
  }
  View va, vb, vo;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, a, "a", &va));
  if (!scalar_form) PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, b, "b", &vb));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const porta_dtype_t dtypes[3] = {va.dtype, scalar_form ? vo.dtype : vb.dtype, vo.dtype};
  const char* names[3] = {"a", scalar_form ? "out" : "b", "out"};
  PORTA_OPS_RETURN_IF_ERROR(CheckOpDtypes(*context, PORTA_OP_BINARY, dtypes, names,
                                          scalar_form ? 2 : 3, PORTA_ERROR_INVALID_ARGUMENT));
  int64_t a_strides[PORTA_TENSOR_MAX_RANK] = {};
  int64_t b_strides[PORTA_TENSOR_MAX_RANK] = {};
  PORTA_OPS_RETURN_IF_ERROR(BroadcastStrides(va, vo.shape, vo.rank, a_strides));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, va, true));
  if (!scalar_form) {
    PORTA_OPS_RETURN_IF_ERROR(BroadcastStrides(vb, vo.shape, vo.rank, b_strides));
    PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vb, true));
  }
  uint32_t flags = 0;
  if (scalar_form) flags |= PORTA_EW_FLAG_SCALAR | (scalar_first ? PORTA_EW_FLAG_SCALAR_LEFT : 0u);
  std::vector<KernelLaunch> launches;
  PORTA_OPS_RETURN_IF_ERROR(PlanEw(*context, PORTA_EW_BINARY + static_cast<uint32_t>(op), flags,
                                   static_cast<float>(scalar), vo, va, a_strides,
                                   scalar_form ? nullptr : &vb, b_strides, &launches));
  return EnqueueAll(*context, stream, launches);
}

}  // namespace

porta_status_t PlanCopy(Context& context, const View& src, const View& dst,
                        std::vector<KernelLaunch>* launches) {
  for (uint32_t d = 0; d < dst.rank; ++d) {
    if (dst.shape[d] > 1 && dst.strides[d] == 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' has stride 0 in dimension %u (size %" PRId64
                  "): a broadcast view cannot be written",
                  dst.name, d, dst.shape[d]);
    }
  }
  const uint32_t op = src.dtype == dst.dtype ? PORTA_EW_COPY : PORTA_EW_IDENTITY;
  return PlanEw(context, op, 0, 0.0f, dst, src, src.strides, nullptr, nullptr, launches);
}

View ContiguousView(const View& like, porta_buffer_t buffer, uint64_t byte_offset,
                    const char* name) {
  View view = like;
  view.name = name;
  view.buffer = buffer;
  const uint64_t element = porta_dtype_size(like.dtype);
  view.offset = byte_offset / element;
  int64_t stride = 1;
  for (int d = static_cast<int>(like.rank) - 1; d >= 0; --d) {
    view.strides[d] = stride;
    stride *= like.shape[d] > 0 ? like.shape[d] : 1;
  }
  view.byte_begin = byte_offset;
  view.byte_end = byte_offset + like.numel * element;
  return view;
}

namespace {

porta_status_t CastOrCopy(porta_ops_context_t handle, porta_stream_t stream,
                          const porta_tensor_t* src, const porta_tensor_t* dst, bool cast) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  const char* src_name = cast ? "x" : "src";
  const char* dst_name = cast ? "out" : "dst";
  View vs, vd;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, src, src_name, &vs));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, dst, dst_name, &vd));
  const porta_dtype_t dtypes[2] = {vs.dtype, vd.dtype};
  const char* names[2] = {src_name, dst_name};
  PORTA_OPS_RETURN_IF_ERROR(CheckOpDtypes(*context, cast ? PORTA_OP_CAST : PORTA_OP_COPY, dtypes,
                                          names, 2, PORTA_ERROR_INVALID_ARGUMENT));
  PORTA_OPS_RETURN_IF_ERROR(
      RequireShape(vd, vs.shape, vs.rank, cast ? "x's shape" : "src's shape"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vd, vs, vs.dtype == vd.dtype));
  std::vector<KernelLaunch> launches;
  PORTA_OPS_RETURN_IF_ERROR(IsBlockDtype(vs.dtype) ? PlanDequantCast(*context, vs, vd, &launches)
                                                   : PlanCopy(*context, vs, vd, &launches));
  return EnqueueAll(*context, stream, launches);
}

porta_status_t Concat(porta_ops_context_t handle, porta_stream_t stream,
                      const porta_tensor_t* inputs, uint32_t count, int32_t axis,
                      const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  if (inputs == nullptr || count == 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "inputs is %s (count %u); concat needs at least one",
                inputs == nullptr ? "NULL" : "empty", count);
  }
  View vo;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const int32_t rank = static_cast<int32_t>(vo.rank);
  const int32_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "axis %d is outside out's rank %d", axis, rank);
  }
  std::vector<View> views(count);
  std::vector<std::string> names(count);
  int64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    names[i] = "inputs[" + std::to_string(i) + "]";
    PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, &inputs[i], names[i].c_str(), &views[i]));
    const porta_dtype_t dtypes[2] = {views[i].dtype, vo.dtype};
    const char* dtype_names[2] = {names[i].c_str(), "out"};
    PORTA_OPS_RETURN_IF_ERROR(CheckOpDtypes(*context, PORTA_OP_CONCAT, dtypes, dtype_names, 2,
                                            PORTA_ERROR_INVALID_ARGUMENT));
    if (views[i].rank != vo.rank) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "%s has rank %u; out has rank %u", names[i].c_str(),
                  views[i].rank, vo.rank);
    }
    for (int32_t d = 0; d < rank; ++d) {
      if (d != a && views[i].shape[d] != vo.shape[d]) {
        return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                    "%s dimension %d is %" PRId64 " but out's is %" PRId64
                    " (only axis %d may differ)",
                    names[i].c_str(), d, views[i].shape[d], vo.shape[d], a);
      }
    }
    total += views[i].shape[a];
    PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, views[i], false));
  }
  if (total != vo.shape[a]) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the inputs' sizes along axis %d add up to %" PRId64 " but out's is %" PRId64, a,
                total, vo.shape[a]);
  }
  std::vector<KernelLaunch> launches;
  int64_t start = 0;
  for (uint32_t i = 0; i < count; ++i) {
    View slice = vo;
    slice.shape[a] = views[i].shape[a];
    slice.offset = vo.offset + static_cast<uint64_t>(start * vo.strides[a]);
    slice.numel = views[i].numel;
    start += views[i].shape[a];
    PORTA_OPS_RETURN_IF_ERROR(PlanCopy(*context, views[i], slice, &launches));
  }
  return EnqueueAll(*context, stream, launches);
}

}  // namespace
}  // namespace porta::ops

using porta::ops::Guard;

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_unary(porta_ops_context_t context, porta_stream_t stream,
                                             porta_unary_op_t op, const porta_tensor_t* x,
                                             const porta_tensor_t* out) {
  return Guard("porta_ops_unary",
               [&] { return porta::ops::Unary(context, stream, porta::ops::RawEnum(op), x, out); });
}

PORTA_OPS_API porta_status_t porta_ops_binary(porta_ops_context_t context, porta_stream_t stream,
                                              porta_binary_op_t op, const porta_tensor_t* a,
                                              const porta_tensor_t* b, const porta_tensor_t* out) {
  return Guard("porta_ops_binary", [&] {
    return porta::ops::Binary(context, stream, porta::ops::RawEnum(op), a, b, false, 0.0, false,
                              out);
  });
}

PORTA_OPS_API porta_status_t porta_ops_binary_scalar(porta_ops_context_t context,
                                                     porta_stream_t stream, porta_binary_op_t op,
                                                     const porta_tensor_t* a, double scalar,
                                                     int32_t scalar_first,
                                                     const porta_tensor_t* out) {
  return Guard("porta_ops_binary_scalar", [&] {
    return porta::ops::Binary(context, stream, porta::ops::RawEnum(op), a, nullptr, true, scalar,
                              scalar_first != 0, out);
  });
}

PORTA_OPS_API porta_status_t porta_ops_cast(porta_ops_context_t context, porta_stream_t stream,
                                            const porta_tensor_t* x, const porta_tensor_t* out) {
  return Guard("porta_ops_cast",
               [&] { return porta::ops::CastOrCopy(context, stream, x, out, true); });
}

PORTA_OPS_API porta_status_t porta_ops_copy(porta_ops_context_t context, porta_stream_t stream,
                                            const porta_tensor_t* src, const porta_tensor_t* dst) {
  return Guard("porta_ops_copy",
               [&] { return porta::ops::CastOrCopy(context, stream, src, dst, false); });
}

PORTA_OPS_API porta_status_t porta_ops_concat(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_tensor_t* inputs, uint32_t count,
                                              int32_t axis, const porta_tensor_t* out) {
  return Guard("porta_ops_concat",
               [&] { return porta::ops::Concat(context, stream, inputs, count, axis, out); });
}

}  // extern "C"
