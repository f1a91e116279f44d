// Reductions over any set of axes (sum, mean, max, min) and argmax over one axis, on the
// porta_reduce kernel. Long reductions with few outputs are split into parts whose partial results
// go to the workspace and are combined by a second launch.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <limits>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/dtype_rules.h"

namespace porta::ops {
namespace {

// Inner items one work-group of a split reduction takes.
constexpr uint64_t kPartChunk = 4096;

struct ReducePlan {
  uint32_t op = 0;
  View x;
  View out;
  // Kept (outer) and reduced (inner) dimensions of x, with out's strides for the kept ones.
  uint32_t outer_rank = 0;
  int64_t outer_shape[PORTA_TENSOR_MAX_RANK] = {};
  int64_t x_outer[PORTA_TENSOR_MAX_RANK] = {};
  int64_t out_outer[PORTA_TENSOR_MAX_RANK] = {};
  uint32_t inner_rank = 0;
  int64_t inner_shape[PORTA_TENSOR_MAX_RANK] = {};
  int64_t x_inner[PORTA_TENSOR_MAX_RANK] = {};
  uint64_t inner_n = 1;
};

// Copies the first min(rank, 4) entries of a coalesced space's dimensions, right-aligned.
void Fill4(const int64_t* shape, const std::vector<int64_t>& strides, uint32_t rank,
           unsigned int out_shape[4], unsigned int out_strides[4]) {
  for (int d = 0; d < 4; ++d) {
    out_shape[d] = 1;
    out_strides[d] = 0;
  }
  for (uint32_t i = 0; i < rank; ++i) {
    out_shape[4 - rank + i] = U32(shape[i]);
    out_strides[4 - rank + i] = U32(strides[i]);
  }
}

porta_status_t Plan(Context& context, const ReducePlan& plan, ScopedWorkspace* workspace,
                    std::vector<KernelLaunch>* launches) {
  const int64_t* outer_strides[2] = {plan.x_outer, plan.out_outer};
  const Coalesced outer = Coalesce(plan.outer_shape, plan.outer_rank, outer_strides, 2);
  const int64_t* inner_strides[1] = {plan.x_inner};
  const Coalesced inner = Coalesce(plan.inner_shape, plan.inner_rank, inner_strides, 1);
  if (inner.rank > 4) {
    return Fail(PORTA_ERROR_UNSUPPORTED,
                "the reduced axes of x form %u dimensions that cannot be merged (the kernel "
                "takes 4); make x contiguous first (porta_ops_copy)",
                inner.rank);
  }
  const Split split = SplitSpace(outer, 4);
  uint64_t outer_n = 1;
  for (int64_t extent : split.inner_shape) outer_n *= static_cast<uint64_t>(extent);
  const TuningChoice choice =
      Choose(context, Family::kReduce, plan.x.dtype, ElementBucket(plan.inner_n));
  const uint32_t wg = WorkGroup(choice.params);

  PortaReduceParams base{};
  base.op = plan.op;
  base.dtypes = PORTA_PACK4(plan.x.dtype, 0u, plan.out.dtype, 0u);
  base.outer_n = U32(outer_n);
  base.inner_n = U32(plan.inner_n);
  base.parts = 1;
  base.chunk = U32(std::max<uint64_t>(plan.inner_n, 1));
  base.scale = 1.0f;
  if (plan.op == PORTA_RED_MEAN) {
    base.scale = plan.inner_n == 0 ? std::numeric_limits<float>::quiet_NaN()
                                   : static_cast<float>(1.0 / static_cast<double>(plan.inner_n));
  }
  for (int d = 0; d < 4; ++d) {
    base.outer_shape[d] = U32(split.inner_shape[d]);
    base.x_outer_strides[d] = U32(split.inner_strides[0][d]);
    base.out_strides[d] = U32(split.inner_strides[1][d]);
  }
  Fill4(inner.shape, inner.rank > 0 ? inner.strides[0] : std::vector<int64_t>(), inner.rank,
        base.inner_shape, base.x_inner_strides);

  // Adds a launch of |p| reading x at element |x_at| and writing out at element |out_at|.
  auto add = [&](PortaReduceParams p, porta_buffer_t x, porta_dtype_t x_dtype, uint64_t x_at,
                 porta_buffer_t out, porta_dtype_t out_dtype, uint64_t out_at) -> porta_status_t {
    KernelLaunch launch(context, Family::kReduce);
    p.x_offset = launch.Bind(x, x_dtype, x_at);
    p.out_offset = launch.Bind(out, out_dtype, out_at);
    launch.params = choice.params;
    launch.wide = AnyWide({x_dtype, out_dtype});
    launch.SetParams(p);
    launch.block[0] = wg;
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(context, uint64_t{p.outer_n} * p.parts, launch.grid));
    launches->push_back(std::move(launch));
    return PORTA_OK;
  };

  // Split the items of each output into parts when there are few outputs (one work-group per
  // output would leave the device idle) or very long ones (a work-item would loop more than
  // 16384 times; lavapipe stops an invocation after 65535 loop iterations).
  const uint64_t parts = std::min<uint64_t>(256, (plan.inner_n + kPartChunk - 1) / kPartChunk);
  const bool few_outputs =
      outer_n < 16 * uint64_t{std::max<uint32_t>(1, context.info.compute_units)};
  const bool long_rows = plan.inner_n > uint64_t{wg} * 16384;
  const bool split_parts = plan.op != PORTA_RED_ARGMAX && split.offsets.size() == 1 && parts > 1 &&
                           (few_outputs || long_rows);
  if (!split_parts) {
    for (const std::vector<uint64_t>& offsets : split.offsets) {
      PORTA_OPS_RETURN_IF_ERROR(add(base, plan.x.buffer, plan.x.dtype, plan.x.offset + offsets[0],
                                    plan.out.buffer, plan.out.dtype, plan.out.offset + offsets[1]));
    }
    return PORTA_OK;
  }
  PORTA_OPS_RETURN_IF_ERROR(workspace->Acquire(outer_n * parts * sizeof(float)));
  PortaReduceParams first = base;
  first.flags = PORTA_RED_FLAG_PARTIAL;
  first.parts = U32(parts);
  first.chunk = U32((plan.inner_n + parts - 1) / parts);
  first.dtypes = PORTA_PACK4(plan.x.dtype, 0u, PORTA_DT_F32, 0u);
  PORTA_OPS_RETURN_IF_ERROR(add(first, plan.x.buffer, plan.x.dtype,
                                plan.x.offset + split.offsets[0][0], workspace->buffer(),
                                PORTA_DTYPE_F32, 0));
  // The partials are [outer_n, parts], contiguous.
  PortaReduceParams second = base;
  second.dtypes = PORTA_PACK4(PORTA_DT_F32, 0u, plan.out.dtype, 0u);
  second.inner_n = U32(parts);
  second.chunk = U32(parts);
  second.op = plan.op == PORTA_RED_MEAN ? PORTA_RED_MEAN : plan.op;
  uint64_t stride = parts;
  for (int d = 3; d >= 0; --d) {
    second.x_outer_strides[d] = U32(stride);
    stride *= second.outer_shape[d];
  }
  for (int d = 0; d < 4; ++d) {
    second.inner_shape[d] = d == 3 ? U32(parts) : 1u;
    second.x_inner_strides[d] = d == 3 ? 1u : 0u;
  }
  return add(second, workspace->buffer(), PORTA_DTYPE_F32, 0, plan.out.buffer, plan.out.dtype,
             plan.out.offset + split.offsets[0][1]);
}

// Splits x's axes into kept and reduced ones and checks out's shape.
porta_status_t Describe(const View& x, const View& out, const bool reduced[], bool keep_dims,
                        ReducePlan* plan) {
  int64_t expected[PORTA_TENSOR_MAX_RANK] = {};
  uint32_t expected_rank = 0;
  for (uint32_t d = 0; d < x.rank; ++d) {
    if (reduced[d]) {
      if (keep_dims) expected[expected_rank++] = 1;
    } else {
      expected[expected_rank++] = x.shape[d];
    }
  }
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(
      out, expected, expected_rank,
      keep_dims ? "x's shape with the reduced axes 1" : "x's shape without the reduced axes"));
  uint32_t out_dim = 0;
  for (uint32_t d = 0; d < x.rank; ++d) {
    if (reduced[d]) {
      plan->inner_shape[plan->inner_rank] = x.shape[d];
      plan->x_inner[plan->inner_rank++] = x.strides[d];
      plan->inner_n *= static_cast<uint64_t>(x.shape[d]);
      if (keep_dims) ++out_dim;
    } else {
      plan->outer_shape[plan->outer_rank] = x.shape[d];
      plan->x_outer[plan->outer_rank] = x.strides[d];
      plan->out_outer[plan->outer_rank++] = out.strides[out_dim++];
    }
  }
  return PORTA_OK;
}

porta_status_t Reduce(porta_ops_context_t handle, porta_stream_t stream, uint32_t op,
                      const porta_tensor_t* x, const int32_t* axes, uint32_t axis_count,
                      bool keep_dims, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  ReducePlan plan;
  plan.op = op;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &plan.x));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &plan.out));
  const porta_dtype_t dtypes[2] = {plan.x.dtype, plan.out.dtype};
  const char* names[2] = {"x", "out"};
  PORTA_OPS_RETURN_IF_ERROR(
      CheckOpDtypes(*context, op == PORTA_RED_ARGMAX ? PORTA_OP_ARGMAX : PORTA_OP_REDUCE, dtypes,
                    names, 2, PORTA_ERROR_INVALID_ARGUMENT));
  bool reduced[PORTA_TENSOR_MAX_RANK] = {};
  const int32_t rank = static_cast<int32_t>(plan.x.rank);
  if (axis_count > 0 && axes == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "axes is NULL but axis_count is %u", axis_count);
  }
  if (axis_count == 0) {
    for (int32_t d = 0; d < rank; ++d) reduced[d] = true;
  }
  for (uint32_t i = 0; i < axis_count; ++i) {
    const int32_t axis = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (axis < 0 || axis >= rank) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "axis %d is outside x's rank %d", axes[i], rank);
    }
    if (reduced[axis]) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "axis %d appears twice in axes", axes[i]);
    }
    reduced[axis] = true;
  }
  PORTA_OPS_RETURN_IF_ERROR(Describe(plan.x, plan.out, reduced, keep_dims, &plan));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(plan.out, plan.x, false));
  if (plan.out.numel == 0) return PORTA_OK;
  if (plan.inner_n == 0 && op != PORTA_RED_SUM && op != PORTA_RED_MEAN) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "x (shape %s) has a reduced axis of size 0; %s of nothing is undefined",
                ShapeText(plan.x).c_str(),
                op == PORTA_RED_MAX ? "max" : (op == PORTA_RED_MIN ? "min" : "argmax"));
  }
  ScopedWorkspace workspace(*context, stream);
  std::vector<KernelLaunch> launches;
  PORTA_OPS_RETURN_IF_ERROR(Plan(*context, plan, &workspace, &launches));
  return EnqueueAll(*context, stream, launches);
}

}  // namespace
}  // namespace porta::ops

using porta::ops::Guard;

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_reduce(porta_ops_context_t context, porta_stream_t stream,
                                              porta_reduce_op_t op, const porta_tensor_t* x,
                                              const int32_t* axes, uint32_t axis_count,
                                              int32_t keep_dims, const porta_tensor_t* out) {
  return Guard("porta_ops_reduce", [&]() -> porta_status_t {
    const int32_t raw = porta::ops::RawEnum(op);
    if (raw < PORTA_REDUCE_SUM || raw > PORTA_REDUCE_MIN) {
      return porta::ops::Fail(PORTA_ERROR_INVALID_ARGUMENT, "unknown reduce op %d", raw);
    }
    static constexpr uint32_t kCodes[] = {0, PORTA_RED_SUM, PORTA_RED_MEAN, PORTA_RED_MAX,
                                          PORTA_RED_MIN};
    return porta::ops::Reduce(context, stream, kCodes[raw], x, axes, axis_count, keep_dims != 0,
                              out);
  });
}

PORTA_OPS_API porta_status_t porta_ops_argmax(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_tensor_t* x, int32_t axis,
                                              int32_t keep_dims, const porta_tensor_t* out) {
  return Guard("porta_ops_argmax", [&] {
    return porta::ops::Reduce(context, stream, PORTA_RED_ARGMAX, x, &axis, 1, keep_dims != 0, out);
  });
}

}  // extern "C"
