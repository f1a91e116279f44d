// 2D convolution (porta_conv2d) and max / average pooling (porta_pool2d), NCHW. The convolution
// reads its weight and bias as contiguous arrays; other layouts are copied into the workspace
// first.
#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/dtype_rules.h"
#include "kernels/ops/planners.h"

namespace porta::ops {
namespace {

// Output size of a window sweep; fails when the window does not fit the padded input.
porta_status_t OutputSize(const char* window, int64_t input, int64_t kernel, int64_t stride,
                          int64_t pad, int64_t dilation, int64_t* out) {
  const int64_t span = dilation * (kernel - 1) + 1;
  if (input + 2 * pad < span) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "%s (size %" PRId64 ", dilation %" PRId64 ") spans %" PRId64
                " but the padded input has %" PRId64 ": the output would be empty",
                window, kernel, dilation, span, input + 2 * pad);
  }
  *out = (input + 2 * pad - span) / stride + 1;
  return PORTA_OK;
}

bool IsContiguous(const View& view) {
  int64_t stride = 1;
  for (int d = static_cast<int>(view.rank) - 1; d >= 0; --d) {
    if (view.shape[d] > 1 && view.strides[d] != stride) return false;
    stride *= view.shape[d];
  }
  return true;
}

porta_status_t CheckWindow(const char* what, const uint32_t values[2], uint32_t minimum) {
  for (int i = 0; i < 2; ++i) {
    if (values[i] < minimum || values[i] > 65535) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "desc->%s[%d] is %u; it must be in [%u, 65535]",
                  what, i, values[i], minimum);
    }
  }
  return PORTA_OK;
}

porta_status_t Conv2d(porta_ops_context_t handle, porta_stream_t stream,
                      const porta_conv2d_desc_t* desc, const porta_tensor_t* x,
                      const porta_tensor_t* weight, const porta_tensor_t* bias,
                      const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  PORTA_OPS_RETURN_IF_ERROR(CheckDesc(desc, "PORTA_CONV2D_DESC_INIT"));
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("stride", desc->stride, 1));
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("padding", desc->padding, 0));
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("dilation", desc->dilation, 1));
  View vx, vw, vb, vo;
  bool has_bias = false;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &vx));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, weight, "weight", &vw));
  PORTA_OPS_RETURN_IF_ERROR(CheckOptionalTensor(*context, bias, "bias", &vb, &has_bias));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  {
    const porta_dtype_t with_bias[4] = {vx.dtype, vw.dtype, vb.dtype, vo.dtype};
    const char* bias_names[4] = {"x", "weight", "bias", "out"};
    const porta_dtype_t without[3] = {vx.dtype, vw.dtype, vo.dtype};
    const char* names[3] = {"x", "weight", "out"};
    PORTA_OPS_RETURN_IF_ERROR(has_bias ? CheckOpDtypes(*context, PORTA_OP_CONV2D, with_bias,
                                                       bias_names, 4, PORTA_ERROR_INVALID_ARGUMENT)
                                       : CheckOpDtypes(*context, PORTA_OP_CONV2D, without, names, 3,
                                                       PORTA_ERROR_INVALID_ARGUMENT));
  }
  for (const View* view : {&vx, &vw, &vo}) {
    if (view->rank != 4) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor '%s' must have rank 4; it has rank %u",
                  view->name, view->rank);
    }
  }
  const int64_t N = vx.shape[0], C = vx.shape[1], H = vx.shape[2], W = vx.shape[3];
  const int64_t Co = vw.shape[0], KH = vw.shape[2], KW = vw.shape[3];
  const int64_t groups = desc->groups;
  if (groups < 1 || C % groups != 0 || Co % groups != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "desc->groups %" PRId64 " must be >= 1 and divide x's %" PRId64
                " channels and weight's %" PRId64 " output channels",
                groups, C, Co);
  }
  if (vw.shape[1] != C / groups) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "weight (shape %s) dimension 1 is %" PRId64 "; it must be C / groups = %" PRId64,
                ShapeText(vw).c_str(), vw.shape[1], C / groups);
  }
  if (KH < 1 || KW < 1) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "weight (shape %s) has an empty kernel window",
                ShapeText(vw).c_str());
  }
  int64_t Ho = 0, Wo = 0;
  PORTA_OPS_RETURN_IF_ERROR(OutputSize("weight's kernel height", H, KH, desc->stride[0],
                                       desc->padding[0], desc->dilation[0], &Ho));
  PORTA_OPS_RETURN_IF_ERROR(OutputSize("weight's kernel width", W, KW, desc->stride[1],
                                       desc->padding[1], desc->dilation[1], &Wo));
  const int64_t o_shape[4] = {N, Co, Ho, Wo};
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, o_shape, 4, "[N, Co, Ho, Wo]"));
  if (has_bias) PORTA_OPS_RETURN_IF_ERROR(RequireShape(vb, &Co, 1, "[Co]"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vx, false));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vw, false));
  if (has_bias) PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vb, false));
  if (vo.numel == 0) return PORTA_OK;

  ScopedWorkspace workspace(*context, stream);
  std::vector<KernelLaunch> launches;
  View kw = vw, kb = vb;
  const bool copy_weight = !IsContiguous(vw);
  const bool copy_bias = has_bias && !IsContiguous(vb);
  if (copy_weight || copy_bias) {
    WorkspaceLayout layout;
    const uint64_t w_at = copy_weight ? layout.Place(vw.numel * porta_dtype_size(vw.dtype)) : 0;
    const uint64_t b_at = copy_bias ? layout.Place(vb.numel * porta_dtype_size(vb.dtype)) : 0;
    PORTA_OPS_RETURN_IF_ERROR(workspace.Acquire(layout.size()));
    if (copy_weight) {
      kw = ContiguousView(vw, workspace.buffer(), w_at, "weight");
      PORTA_OPS_RETURN_IF_ERROR(PlanCopy(*context, vw, kw, &launches));
    }
    if (copy_bias) {
      kb = ContiguousView(vb, workspace.buffer(), b_at, "bias");
      PORTA_OPS_RETURN_IF_ERROR(PlanCopy(*context, vb, kb, &launches));
    }
  }
  PortaConv2dParams p{};
  p.N = U32(N);
  p.C = U32(C);
  p.H = U32(H);
  p.W = U32(W);
  p.Co = U32(Co);
  p.KH = U32(KH);
  p.KW = U32(KW);
  p.Ho = U32(Ho);
  p.Wo = U32(Wo);
  p.stride_h = desc->stride[0];
  p.stride_w = desc->stride[1];
  p.pad_h = desc->padding[0];
  p.pad_w = desc->padding[1];
  p.dil_h = desc->dilation[0];
  p.dil_w = desc->dilation[1];
  p.groups = U32(groups);
  p.dtypes = PORTA_PACK4(vx.dtype, kw.dtype, vo.dtype, has_bias ? kb.dtype : vo.dtype);
  p.flags = has_bias ? PORTA_CONV_FLAG_BIAS : 0u;
  KernelLaunch launch(*context, Family::kConv2d);
  p.x_offset = launch.Bind(vx.buffer, vx.dtype, vx.offset);
  p.w_offset = launch.Bind(kw.buffer, kw.dtype, kw.offset);
  p.bias_offset =
      has_bias ? launch.Bind(kb.buffer, kb.dtype, kb.offset) : launch.Bind(vx.buffer, vx.dtype, 0);
  p.o_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset);
  for (int d = 0; d < 4; ++d) {
    p.x_strides[d] = U32(vx.strides[d]);
    p.o_strides[d] = U32(vo.strides[d]);
  }
  const TuningChoice choice = Choose(*context, Family::kConv2d, vx.dtype, ElementBucket(vo.numel));
  launch.params = choice.params;
  launch.wide = AnyWide({vx.dtype, kw.dtype, vo.dtype, has_bias ? kb.dtype : vo.dtype});
  launch.SetParams(p);
  launch.block[0] = WorkGroup(choice.params);
  PORTA_OPS_RETURN_IF_ERROR(
      LinearGrid(*context, (vo.numel + launch.block[0] - 1) / launch.block[0], launch.grid));
  launches.push_back(std::move(launch));
  return EnqueueAll(*context, stream, launches);
}

porta_status_t Pool2d(porta_ops_context_t handle, porta_stream_t stream,
                      const porta_pool2d_desc_t* desc, const porta_tensor_t* x,
                      const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  PORTA_OPS_RETURN_IF_ERROR(CheckDesc(desc, "PORTA_POOL2D_DESC_INIT"));
  const int32_t mode = RawEnum(desc->mode);
  if (mode != PORTA_POOL_MODE_MAX && mode != PORTA_POOL_MODE_AVG) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "desc->mode %d is not a porta_pool_mode_t", mode);
  }
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("kernel", desc->kernel, 1));
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("stride", desc->stride, 1));
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("padding", desc->padding, 0));
  PORTA_OPS_RETURN_IF_ERROR(CheckWindow("dilation", desc->dilation, 1));
  for (int i = 0; i < 2; ++i) {
    if (desc->padding[i] * 2 > desc->kernel[i]) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "desc->padding[%d] = %u exceeds half the kernel size %u", i, desc->padding[i],
                  desc->kernel[i]);
    }
    if (mode == PORTA_POOL_MODE_AVG && desc->dilation[i] != 1) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "desc->dilation[%d] = %u: average pooling takes no dilation", i,
                  desc->dilation[i]);
    }
  }
  View vx, vo;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, x, "x", &vx));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  const porta_dtype_t dtypes[2] = {vx.dtype, vo.dtype};
  const char* names[2] = {"x", "out"};
  PORTA_OPS_RETURN_IF_ERROR(
      CheckOpDtypes(*context, PORTA_OP_POOL2D, dtypes, names, 2, PORTA_ERROR_INVALID_ARGUMENT));
  if (vx.rank != 4) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "x must have rank 4 ([N, C, H, W]); it has rank %u",
                vx.rank);
  }
  int64_t Ho = 0, Wo = 0;
  PORTA_OPS_RETURN_IF_ERROR(OutputSize("desc->kernel[0]", vx.shape[2], desc->kernel[0],
                                       desc->stride[0], desc->padding[0], desc->dilation[0], &Ho));
  PORTA_OPS_RETURN_IF_ERROR(OutputSize("desc->kernel[1]", vx.shape[3], desc->kernel[1],
                                       desc->stride[1], desc->padding[1], desc->dilation[1], &Wo));
  const int64_t o_shape[4] = {vx.shape[0], vx.shape[1], Ho, Wo};
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, o_shape, 4, "[N, C, Ho, Wo]"));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vx, false));
  if (vo.numel == 0) return PORTA_OK;
  PortaPool2dParams p{};
  p.N = U32(vx.shape[0]);
  p.C = U32(vx.shape[1]);
  p.H = U32(vx.shape[2]);
  p.W = U32(vx.shape[3]);
  p.Ho = U32(Ho);
  p.Wo = U32(Wo);
  p.KH = desc->kernel[0];
  p.KW = desc->kernel[1];
  p.stride_h = desc->stride[0];
  p.stride_w = desc->stride[1];
  p.pad_h = desc->padding[0];
  p.pad_w = desc->padding[1];
  p.dil_h = desc->dilation[0];
  p.dil_w = desc->dilation[1];
  p.mode = mode == PORTA_POOL_MODE_MAX ? PORTA_POOL_MAX : PORTA_POOL_AVG;
  p.flags = desc->count_include_pad ? PORTA_POOL_FLAG_COUNT_PAD : 0u;
  p.dtypes = PORTA_PACK4(vx.dtype, 0u, vo.dtype, 0u);
  KernelLaunch launch(*context, Family::kPool2d);
  p.x_offset = launch.Bind(vx.buffer, vx.dtype, vx.offset);
  p.o_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset);
  for (int d = 0; d < 4; ++d) {
    p.x_strides[d] = U32(vx.strides[d]);
    p.o_strides[d] = U32(vo.strides[d]);
  }
  const TuningChoice choice = Choose(*context, Family::kPool2d, vx.dtype, ElementBucket(vo.numel));
  launch.params = choice.params;
  launch.wide = AnyWide({vx.dtype, vo.dtype});
  launch.SetParams(p);
  launch.block[0] = WorkGroup(choice.params);
  PORTA_OPS_RETURN_IF_ERROR(
      LinearGrid(*context, (vo.numel + launch.block[0] - 1) / launch.block[0], launch.grid));
  return EnqueueAll(*context, stream, {launch});
}

}  // namespace
}  // namespace porta::ops

using porta::ops::Guard;

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_conv2d(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_conv2d_desc_t* desc,
                                              const porta_tensor_t* x, const porta_tensor_t* weight,
                                              const porta_tensor_t* bias,
                                              const porta_tensor_t* out) {
  return Guard("porta_ops_conv2d",
               [&] { return porta::ops::Conv2d(context, stream, desc, x, weight, bias, out); });
}

PORTA_OPS_API porta_status_t porta_ops_pool2d(porta_ops_context_t context, porta_stream_t stream,
                                              const porta_pool2d_desc_t* desc,
                                              const porta_tensor_t* x, const porta_tensor_t* out) {
  return Guard("porta_ops_pool2d",
               [&] { return porta::ops::Pool2d(context, stream, desc, x, out); });
}

}  // extern "C"
