// Block-quantized weights (Q4_0, Q4_1, Q8_0): the launch planners behind porta_ops_matmul with a
// quantized b (the matrix-vector kernel porta_qmatvec for small M, and on the CPU device for
// larger M the f32 panel that porta_qdequant writes into workspace for BLAS; devices run the tile
// kernel on b itself, kernels/ops/matmul.cpp), porta_ops_embedding with a quantized table and
// porta_ops_cast from a quantized x (both porta_qdequant).
#include <algorithm>
#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/ops/planners.h"

namespace porta::ops {
namespace {

uint64_t BlockBytes(porta_dtype_t dtype) {
  return porta_dtype_size(dtype);
}

// Plans porta_qdequant over |rows| (up to 8 leading dimensions, shape and the source's and the
// destination's strides, the source's in elements) with |dim| elements per row, the source
// starting at byte |src_byte| of |src| and the destination at element |out_element| of |out|.
porta_status_t PlanDequantRows(Context& context, const View& src, uint64_t src_byte,
                               const int64_t* row_shape, uint32_t row_rank,
                               const int64_t* src_strides, const int64_t* out_strides, uint64_t dim,
                               const View& out, uint64_t out_element, int64_t out_column_stride,
                               std::vector<KernelLaunch>* launches) {
  const int64_t* strides[2] = {src_strides, out_strides};
  const Split split = SplitSpace(Coalesce(row_shape, row_rank, strides, 2), 3);
  const uint64_t rows =
      static_cast<uint64_t>(split.inner_shape[1] * split.inner_shape[2] * split.inner_shape[3]);
  const TuningChoice choice =
      Choose(context, Family::kQdequant, src.dtype, ElementBucket(rows * dim));
  const uint32_t wg = WorkGroup(choice.params);
  const uint64_t block_bytes = BlockBytes(src.dtype);
  for (const std::vector<uint64_t>& offsets : split.offsets) {
    PortaQdequantParams p{};
    p.n = U32(rows * dim);
    p.dim = U32(dim);
    p.dtypes = PORTA_PACK4(src.dtype, PORTA_DT_I32, out.dtype, 0u);
    KernelLaunch launch(context, Family::kQdequant);
    p.src_offset =
        launch.Bind(src.buffer, PORTA_DTYPE_I8, src_byte + offsets[0] / PORTA_QBLOCK * block_bytes);
    // No index tensor: the slot holds the source again, untouched.
    p.idx_offset = launch.Bind(src.buffer, PORTA_DTYPE_I8, 0);
    p.out_offset = launch.Bind(out.buffer, out.dtype, out_element + offsets[1]);
    for (int i = 0; i < 3; ++i) {
      p.row_shape[i] = U32(static_cast<uint64_t>(split.inner_shape[1 + i]));
      p.src_strides[i] = U32(static_cast<uint64_t>(split.inner_strides[0][1 + i]) / PORTA_QBLOCK);
      p.out_strides[i] = U32(static_cast<uint64_t>(split.inner_strides[1][1 + i]));
    }
    p.out_strides[3] = U32(static_cast<uint64_t>(out_column_stride));
    launch.params = choice.params;
    launch.wide = AnyWide({out.dtype});
    launch.SetParams(p);
    launch.block[0] = wg;
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(context, (rows * dim + wg - 1) / wg, launch.grid));
    launches->push_back(std::move(launch));
  }
  return PORTA_OK;
}

}  // namespace

porta_status_t PlanDequantCast(Context& context, const View& src, const View& dst,
                               std::vector<KernelLaunch>* launches) {
  if (src.numel == 0) return PORTA_OK;
  const uint32_t last = src.rank - 1;
  return PlanDequantRows(context, src, src.offset, src.shape, last, src.strides, dst.strides,
                         static_cast<uint64_t>(src.shape[last]), dst, dst.offset, dst.strides[last],
                         launches);
}

porta_status_t PlanDequantGather(Context& context, const View& table, const View& indices,
                                 const View& out, std::vector<KernelLaunch>* launches) {
  const int64_t* strides[2] = {indices.strides, out.strides};
  const Split split = SplitSpace(Coalesce(indices.shape, indices.rank, strides, 2), 3);
  const uint64_t dim = static_cast<uint64_t>(table.shape[1]);
  const uint64_t n_idx =
      static_cast<uint64_t>(split.inner_shape[1] * split.inner_shape[2] * split.inner_shape[3]);
  const TuningChoice choice =
      Choose(context, Family::kQdequant, table.dtype, ElementBucket(out.numel));
  const uint32_t wg = WorkGroup(choice.params);
  for (const std::vector<uint64_t>& offsets : split.offsets) {
    PortaQdequantParams p{};
    p.n = U32(n_idx * dim);
    p.dim = U32(dim);
    p.vocab = U32(static_cast<uint64_t>(table.shape[0]));
    p.dtypes = PORTA_PACK4(table.dtype, PORTA_DT_I32, out.dtype, 0u);
    p.flags = PORTA_QD_FLAG_GATHER;
    KernelLaunch launch(context, Family::kQdequant);
    p.src_offset = launch.Bind(table.buffer, PORTA_DTYPE_I8, table.offset);
    p.idx_offset = launch.Bind(indices.buffer, indices.dtype, indices.offset + offsets[0]);
    p.out_offset = launch.Bind(out.buffer, out.dtype, out.offset + offsets[1]);
    for (int i = 0; i < 3; ++i) {
      p.row_shape[i] = U32(static_cast<uint64_t>(split.inner_shape[1 + i]));
      p.idx_strides[i] = U32(static_cast<uint64_t>(split.inner_strides[0][1 + i]));
      p.out_strides[i] = U32(static_cast<uint64_t>(split.inner_strides[1][1 + i]));
    }
    p.src_strides[0] = U32(static_cast<uint64_t>(table.strides[0]) / PORTA_QBLOCK);
    p.out_strides[3] = U32(static_cast<uint64_t>(out.strides[indices.rank]));
    launch.params = choice.params;
    launch.wide = AnyWide({out.dtype});
    launch.SetParams(p);
    launch.block[0] = wg;
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(context, (n_idx * dim + wg - 1) / wg, launch.grid));
    launches->push_back(std::move(launch));
  }
  return PORTA_OK;
}

View PlanDequantPanelView(const View& b, porta_buffer_t workspace) {
  View panel = b;
  panel.name = "b (dequantized)";
  panel.buffer = workspace;
  panel.dtype = PORTA_DTYPE_F32;
  panel.offset = 0;
  // Compact: broadcast (stride-0) dimensions stay broadcast, the rest is row-major.
  int64_t stride = 1;
  for (int d = static_cast<int>(b.rank) - 1; d >= 0; --d) {
    const bool broadcast = b.strides[d] == 0 && b.shape[d] > 1;
    panel.strides[d] = broadcast ? 0 : stride;
    if (!broadcast) stride *= std::max<int64_t>(1, b.shape[d]);
  }
  panel.byte_begin = 0;
  panel.byte_end = static_cast<uint64_t>(stride) * sizeof(float);
  return panel;
}

porta_status_t PlanDequantPanel(Context& context, const View& b, const View& panel,
                                std::vector<KernelLaunch>* launches) {
  if (b.numel == 0) return PORTA_OK;
  const uint32_t last = b.rank - 1;
  // Broadcast dimensions are written once: the panel holds them with stride 0.
  int64_t shape[PORTA_TENSOR_MAX_RANK] = {};
  for (uint32_t d = 0; d < last; ++d) shape[d] = b.strides[d] == 0 ? 1 : b.shape[d];
  return PlanDequantRows(context, b, b.offset, shape, last, b.strides, panel.strides,
                         static_cast<uint64_t>(b.shape[last]), panel, 0, 1, launches);
}

porta_status_t PlanQmatvec(Context& context, const QmatvecPlan& plan,
                           std::vector<KernelLaunch>* launches) {
  const View& va = *plan.a;
  const View& vb = *plan.b;
  const View& vo = *plan.out;
  const bool host = context.format == PORTA_FORMAT_HOST;
  uint64_t rows = static_cast<uint64_t>(plan.tuning.Get("rows", 4));
  if (host && (plan.flags & PORTA_MM_FLAG_QUANTIZE_A) != 0) {
    // Each host call rounds its rows of A to Q8 before its products: a quarter of the weight rows
    // per compute unit spreads that over enough products and still balances the threads.
    const uint64_t units = std::max<uint64_t>(1, context.info.compute_units);
    rows = std::max<uint64_t>(rows, plan.n / (4 * units));
  }
  const uint64_t wg = host ? 1 : static_cast<uint64_t>(plan.tuning.Get("wg", 64));
  const uint64_t m_per_group = host ? plan.m : 1;
  const uint64_t row_groups = (plan.n + rows - 1) / rows;
  const uint64_t m_groups = (plan.m + m_per_group - 1) / m_per_group;
  const uint64_t block_bytes = BlockBytes(vb.dtype);
  const uint32_t br = vb.rank, orank = vo.rank;
  for (const std::vector<uint64_t>& offsets : plan.split->offsets) {
    const uint64_t batch0 = static_cast<uint64_t>(plan.split->inner_shape[2]);
    const uint64_t batch1 = static_cast<uint64_t>(plan.split->inner_shape[3]);
    PortaQmatvecParams p{};
    p.M = U32(plan.m);
    p.N = U32(plan.n);
    p.K = U32(plan.k);
    p.batch0 = U32(batch0);
    p.batch1 = U32(batch1);
    p.rows = U32(rows);
    p.m_per_group = U32(m_per_group);
    p.dtypes = PORTA_PACK4(va.dtype, vb.dtype, vo.dtype,
                           plan.bias != nullptr ? plan.bias->dtype : vo.dtype);
    p.flags = plan.flags | (!host && plan.tuning.Get("mv", 1) == 2 ? PORTA_QMV_FLAG_ROWS : 0u);
    p.alpha = plan.alpha;
    p.beta = plan.beta;
    KernelLaunch launch(context, Family::kQmatvec);
    p.a_offset = launch.Bind(va.buffer, va.dtype, va.offset + offsets[1]);
    p.b_offset =
        launch.Bind(vb.buffer, PORTA_DTYPE_I8, vb.offset + offsets[2] / PORTA_QBLOCK * block_bytes);
    p.bias_offset = plan.bias != nullptr
                        ? launch.Bind(plan.bias->buffer, plan.bias->dtype, plan.bias->offset)
                        : launch.Bind(va.buffer, va.dtype, 0);
    p.o_offset = launch.Bind(vo.buffer, vo.dtype, vo.offset + offsets[0]);
    p.a_rs = U32(static_cast<uint64_t>(plan.a_rs));
    p.a_cs = U32(static_cast<uint64_t>(plan.a_cs));
    p.b_rs = U32(static_cast<uint64_t>(vb.strides[br - 2]) / PORTA_QBLOCK);
    p.o_rs = U32(static_cast<uint64_t>(vo.strides[orank - 2]));
    p.o_cs = U32(static_cast<uint64_t>(vo.strides[orank - 1]));
    for (int d = 0; d < 2; ++d) {
      p.o_bs[d] = U32(static_cast<uint64_t>(plan.split->inner_strides[0][2 + d]));
      p.a_bs[d] = U32(static_cast<uint64_t>(plan.split->inner_strides[1][2 + d]));
      p.b_bs[d] = U32(static_cast<uint64_t>(plan.split->inner_strides[2][2 + d]) / PORTA_QBLOCK);
    }
    if (plan.bias != nullptr) p.bias_stride = U32(static_cast<uint64_t>(plan.bias->strides[0]));
    launch.params = plan.tuning;
    launch.wide = AnyWide({va.dtype, vo.dtype});
    launch.SetParams(p);
    launch.block[0] = U32(wg);
    const uint64_t groups = row_groups * m_groups * batch0 * batch1;
    if (groups >= (uint64_t{1} << 32)) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE,
                  "a quantized product of %" PRIu64 " x %" PRIu64 " in %" PRIu64
                  " batches needs %" PRIu64 " work-groups; the kernels count them in 32 bits",
                  plan.m, plan.n, batch0 * batch1, groups);
    }
    PORTA_OPS_RETURN_IF_ERROR(LinearGrid(context, groups, launch.grid));
    launches->push_back(std::move(launch));
  }
  return PORTA_OK;
}

}  // namespace porta::ops
