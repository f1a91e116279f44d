// Scaled dot-product attention as one fused kernel (porta_attention). Tensors whose last
// dimension is not contiguous are first copied into the workspace (and the output copied back),
// since the kernel reads rows as contiguous vectors.
#include <cinttypes>
#include <cmath>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/core/tuning.h"
#include "kernels/ops/dtype_rules.h"
#include "kernels/ops/planners.h"

namespace porta::ops {
namespace {

constexpr int64_t kMaxHead = 256;
constexpr int64_t kMaxDirectHead = 64;

bool LastContiguous(const View& view, const int64_t* strides) {
  return view.shape[3] <= 1 || strides[3] == 1;
}

porta_status_t Attention(porta_ops_context_t handle, porta_stream_t stream,
                         const porta_attention_desc_t* desc, const porta_tensor_t* q,
                         const porta_tensor_t* k, const porta_tensor_t* v,
                         const porta_tensor_t* mask, const porta_tensor_t* out) {
  Context* context = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(BeginOp(handle, stream, &context));
  PORTA_OPS_RETURN_IF_ERROR(CheckDesc(desc, "PORTA_ATTENTION_DESC_INIT"));
  View vq, vk, vv, vm, vo;
  bool has_mask = false;
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, q, "q", &vq));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, k, "k", &vk));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, v, "v", &vv));
  PORTA_OPS_RETURN_IF_ERROR(CheckOptionalTensor(*context, mask, "mask", &vm, &has_mask));
  PORTA_OPS_RETURN_IF_ERROR(CheckTensor(*context, out, "out", &vo));
  {
    const porta_dtype_t with_mask[5] = {vq.dtype, vk.dtype, vv.dtype, vm.dtype, vo.dtype};
    const char* mask_names[5] = {"q", "k", "v", "mask", "out"};
    const porta_dtype_t without[4] = {vq.dtype, vk.dtype, vv.dtype, vo.dtype};
    const char* names[4] = {"q", "k", "v", "out"};
    PORTA_OPS_RETURN_IF_ERROR(has_mask ? CheckOpDtypes(*context, PORTA_OP_ATTENTION, with_mask,
                                                       mask_names, 5, PORTA_ERROR_INVALID_ARGUMENT)
                                       : CheckOpDtypes(*context, PORTA_OP_ATTENTION, without, names,
                                                       4, PORTA_ERROR_INVALID_ARGUMENT));
  }
  for (const View* view : {&vq, &vk, &vv, &vo}) {
    if (view->rank != 4) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' must have rank 4 ([B, H, L, D]); it has rank %u", view->name,
                  view->rank);
    }
  }
  const int64_t B = vq.shape[0], Hq = vq.shape[1], Lq = vq.shape[2], D = vq.shape[3];
  const int64_t Hkv = vk.shape[1], Lk = vk.shape[2], Dv = vv.shape[3];
  const int64_t k_shape[4] = {B, Hkv, Lk, D};
  const int64_t v_shape[4] = {B, Hkv, Lk, Dv};
  const int64_t o_shape[4] = {B, Hq, Lq, Dv};
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vk, k_shape, 4, "[B, Hkv, Lk, D] with q's B and D"));
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vv, v_shape, 4, "[B, Hkv, Lk, Dv] with k's B, Hkv, Lk"));
  PORTA_OPS_RETURN_IF_ERROR(RequireShape(vo, o_shape, 4, "[B, Hq, Lq, Dv]"));
  if ((Hkv == 0 && Hq != 0) || (Hkv != 0 && Hq % Hkv != 0)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "q has %" PRId64 " heads, which is not a multiple of k's and v's %" PRId64, Hq,
                Hkv);
  }
  if (D > kMaxHead || Dv > kMaxHead) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "head sizes D = %" PRId64 " and Dv = %" PRId64 " must be at most %" PRId64, D, Dv,
                kMaxHead);
  }
  const int64_t scores_shape[4] = {B, Hq, Lq, Lk};
  int64_t m_strides[4] = {};
  if (has_mask) {
    PORTA_OPS_RETURN_IF_ERROR(BroadcastStrides(vm, scores_shape, 4, m_strides));
    PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vm, false));
  }
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vq, true));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vk, false));
  PORTA_OPS_RETURN_IF_ERROR(CheckOverlap(vo, vv, false));
  if (vo.numel == 0) return PORTA_OK;

  // Views the kernel can read: the last dimension contiguous.
  WorkspaceLayout layout;
  struct Staged {
    View* view;
    int64_t* strides;
    uint64_t offset = 0;
    bool needed = false;
  };
  View mask_full;
  if (has_mask) {
    // The broadcast mask as a [B, Hq, Lq, Lk] view, so a copy can make it contiguous.
    mask_full = vm;
    mask_full.rank = 4;
    for (int d = 0; d < 4; ++d) {
      mask_full.shape[d] = scores_shape[d];
      mask_full.strides[d] = m_strides[d];
    }
    mask_full.numel = static_cast<uint64_t>(B * Hq * Lq * Lk);
  }
  Staged staged[5] = {{&vq, vq.strides},
                      {&vk, vk.strides},
                      {&vv, vv.strides},
                      {&vo, vo.strides},
                      {&mask_full, m_strides}};
  const int count = has_mask ? 5 : 4;
  for (int i = 0; i < count; ++i) {
    if (LastContiguous(*staged[i].view, staged[i].strides) || staged[i].view->numel == 0) continue;
    staged[i].needed = true;
    staged[i].offset =
        layout.Place(staged[i].view->numel * porta_dtype_size(staged[i].view->dtype));
  }
  ScopedWorkspace workspace(*context, stream);
  std::vector<KernelLaunch> launches;
  View kernel_views[5] = {vq, vk, vv, vo, mask_full};
  if (layout.size() > 0) {
    PORTA_OPS_RETURN_IF_ERROR(workspace.Acquire(layout.size()));
    for (int i = 0; i < count; ++i) {
      if (!staged[i].needed) continue;
      kernel_views[i] = ContiguousView(*staged[i].view, workspace.buffer(), staged[i].offset,
                                       staged[i].view->name);
      if (i != 3)
        PORTA_OPS_RETURN_IF_ERROR(PlanCopy(*context, *staged[i].view, kernel_views[i], &launches));
    }
  }
  const View& kq = kernel_views[0];
  const View& kk = kernel_views[1];
  const View& kv = kernel_views[2];
  const View& ko = kernel_views[3];
  const View& km = kernel_views[4];
  const int64_t* km_strides = staged[4].needed ? km.strides : m_strides;

  PortaAttentionParams p{};
  p.B = U32(B);
  p.Hq = U32(Hq);
  p.Hkv = U32(Hkv);
  p.Lq = U32(Lq);
  p.Lk = U32(Lk);
  p.D = U32(D);
  p.Dv = U32(Dv);
  p.dtypes = PORTA_PACK4(kq.dtype, kk.dtype, kv.dtype, ko.dtype);
  p.flags = (has_mask ? PORTA_ATTN_FLAG_MASK : 0u) | (desc->causal ? PORTA_ATTN_FLAG_CAUSAL : 0u) |
            ((has_mask ? static_cast<uint32_t>(km.dtype) : 0u) << 8);
  p.scale = desc->scale != 0.0f
                ? desc->scale
                : (D > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(D))) : 1.0f);
  KernelLaunch launch(*context, Family::kAttention);
  p.q_offset = launch.Bind(kq.buffer, kq.dtype, kq.offset);
  p.k_offset = launch.Bind(kk.buffer, kk.dtype, kk.offset);
  p.v_offset = launch.Bind(kv.buffer, kv.dtype, kv.offset);
  p.m_offset =
      has_mask ? launch.Bind(km.buffer, km.dtype, km.offset) : launch.Bind(kq.buffer, kq.dtype, 0);
  p.o_offset = launch.Bind(ko.buffer, ko.dtype, ko.offset);
  for (int d = 0; d < 3; ++d) {
    p.q_strides[d] = U32(kq.strides[d]);
    p.k_strides[d] = U32(kk.strides[d]);
    p.v_strides[d] = U32(kv.strides[d]);
    p.o_strides[d] = U32(ko.strides[d]);
    p.m_strides[d] = U32(has_mask ? km_strides[d] : 0);
  }
  TuningChoice choice =
      Choose(*context, Family::kAttention, vq.dtype, ElementBucket(static_cast<uint64_t>(Lk)));
  // Vulkan's direct variant keeps a head in registers (up to kMaxDirectHead elements) and gives
  // each subgroup 8 query rows of a head; longer heads, and fewer than 8 query rows (decoding,
  // where 7 of the 8 lanes would idle), take the work-group kernel at its generic parameters.
  if (choice.params.Get("direct", 0) != 0 && context->format == PORTA_FORMAT_SPIRV_SHADER &&
      (D > kMaxDirectHead || Dv > kMaxDirectHead || Lq < 8)) {
    choice.params = GenericParams(Family::kAttention, context->info, context->format);
  }
  launch.params = choice.params;
  launch.wide =
      AnyWide({kq.dtype, kk.dtype, kv.dtype, ko.dtype, has_mask ? km.dtype : PORTA_DTYPE_F32});
  launch.SetParams(p);
  launch.block[0] = WorkGroup(choice.params);
  // A work-group per query row; with direct=1 a work-item per query row (OpenCL C), or a
  // subgroup of 8 per 8 rows of one head (Vulkan).
  const uint64_t rows = static_cast<uint64_t>(B * Hq * Lq);
  uint64_t groups = rows;
  if (choice.params.Get("direct", 0) != 0) {
    groups = context->format == PORTA_FORMAT_SPIRV_SHADER
                 ? static_cast<uint64_t>(B * Hq) * static_cast<uint64_t>((Lq + 7) / 8)
                 : (rows + launch.block[0] - 1) / launch.block[0];
  }
  PORTA_OPS_RETURN_IF_ERROR(LinearGrid(*context, groups, launch.grid));
  launches.push_back(std::move(launch));
  if (staged[3].needed) PORTA_OPS_RETURN_IF_ERROR(PlanCopy(*context, ko, vo, &launches));
  return EnqueueAll(*context, stream, launches);
}

}  // namespace
}  // namespace porta::ops

extern "C" PORTA_OPS_API porta_status_t porta_ops_attention(
    porta_ops_context_t context, porta_stream_t stream, const porta_attention_desc_t* desc,
    const porta_tensor_t* q, const porta_tensor_t* k, const porta_tensor_t* v,
    const porta_tensor_t* mask, const porta_tensor_t* out) {
  return porta::ops::Guard("porta_ops_attention", [&] {
    return porta::ops::Attention(context, stream, desc, q, k, v, mask, out);
  });
}
