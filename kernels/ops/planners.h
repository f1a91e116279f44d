// Launch planners one op front end lends to others.
#ifndef PORTA_KERNELS_OPS_PLANNERS_H_
#define PORTA_KERNELS_OPS_PLANNERS_H_

#include <vector>

#include "kernels/core/launch.h"

namespace porta::ops {

// Plans the copy of |src| into |dst| (same shape): bit-exact when the dtypes are equal, a
// conversion otherwise. Fails when |dst| broadcasts (a stride-0 dimension of size > 1).
porta_status_t PlanCopy(Context& context, const View& src, const View& dst,
                        std::vector<KernelLaunch>* launches);

// Packs views into one workspace block: Place returns the byte offset (256-byte aligned) of a
// region of |bytes|.
class WorkspaceLayout {
 public:
  uint64_t Place(uint64_t bytes) {
    const uint64_t offset = (size_ + 255) / 256 * 256;
    size_ = offset + bytes;
    return offset;
  }
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
};

// A contiguous view of |like|'s shape and dtype at byte |offset| of |buffer|.
View ContiguousView(const View& like, porta_buffer_t buffer, uint64_t byte_offset,
                    const char* name);

// Block-quantized sources (kernels/ops/quant.cpp).

// Plans the dequantization of the block-quantized |src| into |dst| (same shape; f32, f16, bf16).
porta_status_t PlanDequantCast(Context& context, const View& src, const View& dst,
                               std::vector<KernelLaunch>* launches);

// Plans the embedding lookup out = table[indices] from a block-quantized table [V, D].
porta_status_t PlanDequantGather(Context& context, const View& table, const View& indices,
                                 const View& out, std::vector<KernelLaunch>* launches);

// The f32 copy of the block-quantized |b| that the quantized GEMM multiplies: b's shape, compact
// (broadcast dimensions keep stride 0), at offset 0 of |workspace|; byte_end is its size.
View PlanDequantPanelView(const View& b, porta_buffer_t workspace);

// Plans writing |panel| (from PlanDequantPanelView) from |b|.
porta_status_t PlanDequantPanel(Context& context, const View& b, const View& panel,
                                std::vector<KernelLaunch>* launches);

// A checked matrix product with a block-quantized, transposed b, as porta_ops_matmul has worked
// it out: A[m][k] at a_rs, a_cs; the batch split of (out, a, b) in elements.
struct QmatvecPlan {
  const View* a = nullptr;
  const View* b = nullptr;
  const View* bias = nullptr;  // NULL when absent
  const View* out = nullptr;
  uint64_t m = 0, n = 0, k = 0;
  int64_t a_rs = 0, a_cs = 0;
  const Split* split = nullptr;
  uint32_t flags = 0;
  float alpha = 1.0f, beta = 0.0f;
  Params tuning;
};

// Plans porta_qmatvec for |plan| (M at most the tuning's mmax).
porta_status_t PlanQmatvec(Context& context, const QmatvecPlan& plan,
                           std::vector<KernelLaunch>* launches);

}  // namespace porta::ops

#endif  // PORTA_KERNELS_OPS_PLANNERS_H_
