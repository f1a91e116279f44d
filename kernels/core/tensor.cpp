#include "kernels/core/tensor.h"

#include <algorithm>
#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/context.h"
#include "kernels/core/status.h"

namespace porta::ops {
namespace {

// The kernels index elements with 32 bits.
constexpr uint64_t kIndexLimit = uint64_t{1} << 32;

// porta_ops.h's layout rule of a block-quantized tensor (the part CheckTensor does not share).
porta_status_t CheckBlockLayout(const porta_tensor_t* tensor, const char* name, const View& view) {
  if (view.rank == 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' is a block-quantized scalar; %s tensors need rank >= 1 (blocks of "
                "32 along the last dimension)",
                name, porta_dtype_name(view.dtype));
  }
  const uint32_t last = view.rank - 1;
  if (view.strides[last] != 1) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' (%s) dimension %u has stride %" PRId64
                "; the last dimension of a block-quantized tensor must have stride 1",
                name, porta_dtype_name(view.dtype), last, view.strides[last]);
  }
  if (view.shape[last] % PORTA_QBLOCK != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' (%s) dimension %u has size %" PRId64
                "; the last dimension of a block-quantized tensor must be a multiple of %d",
                name, porta_dtype_name(view.dtype), last, view.shape[last], PORTA_QBLOCK);
  }
  for (uint32_t d = 0; d < last; ++d) {
    if (view.strides[d] % PORTA_QBLOCK != 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' (%s) dimension %u has stride %" PRId64
                  "; the strides of a block-quantized tensor other than the last must be "
                  "multiples of %d (whole blocks) or 0",
                  name, porta_dtype_name(view.dtype), d, view.strides[d], PORTA_QBLOCK);
    }
  }
  if (tensor->offset % 2 != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' (%s) byte offset %" PRIu64
                " is odd; a block-quantized tensor starts at an even byte offset",
                name, porta_dtype_name(view.dtype), tensor->offset);
  }
  return PORTA_OK;
}

}  // namespace

bool IsBlockDtype(porta_dtype_t dtype) {
  return dtype == PORTA_DTYPE_Q4_0 || dtype == PORTA_DTYPE_Q4_1 || dtype == PORTA_DTYPE_Q8_0;
}

porta_status_t CheckTensor(const Context& context, const porta_tensor_t* tensor, const char* name,
                           View* out) {
  if (tensor == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor '%s' is NULL", name);
  View view;
  view.name = name;
  const int32_t dtype = RawEnum(tensor->dtype);
  const size_t element = porta_dtype_size(dtype);
  if (element == 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor '%s' has unknown dtype %d", name,
                static_cast<int>(dtype));
  }
  view.dtype = static_cast<porta_dtype_t>(dtype);
  const std::string dtype_problem = DtypeProblem(context, view.dtype);
  if (!dtype_problem.empty()) {
    return Fail(PORTA_ERROR_UNSUPPORTED, "tensor '%s': %s", name, dtype_problem.c_str());
  }
  if (tensor->rank > PORTA_TENSOR_MAX_RANK) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor '%s' has rank %u; the limit is %d", name,
                tensor->rank, PORTA_TENSOR_MAX_RANK);
  }
  view.rank = tensor->rank;
  uint64_t numel = 1;
  uint64_t extent = 0;
  bool overflow = false;
  for (uint32_t d = 0; d < view.rank; ++d) {
    if (tensor->shape[d] < 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' dimension %u has negative size %" PRId64, name, d, tensor->shape[d]);
    }
    if (tensor->strides[d] < 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' dimension %u has negative stride %" PRId64
                  " (the operator library takes non-negative strides)",
                  name, d, tensor->strides[d]);
    }
    view.shape[d] = tensor->shape[d];
    view.strides[d] = tensor->strides[d];
    overflow =
        overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(view.shape[d]), &numel);
  }
  if (overflow) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, "tensor '%s' shape %s has more than 2^64 elements", name,
                ShapeText(view).c_str());
  }
  view.numel = numel;
  porta_device_t owner = nullptr;
  if (porta_buffer_device(tensor->buffer, &owner) != PORTA_OK) {
    return Forward(PORTA_ERROR_INVALID_HANDLE, std::string("tensor '") + name + "' buffer");
  }
  if (owner != context.device) {
    porta_device_info_t other = PORTA_DEVICE_INFO_INIT;
    porta_device_get_info(owner, &other);
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' lives on device '%s' (%s); the context's device is '%s' (%s)", name,
                other.name, other.backend, context.info.name, context.info.backend);
  }
  view.buffer = tensor->buffer;
  const bool blocked = IsBlockDtype(view.dtype);
  if (blocked) {
    PORTA_OPS_RETURN_IF_ERROR(CheckBlockLayout(tensor, name, view));
  } else if (tensor->offset % element != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' byte offset %" PRIu64 " is not a multiple of its element size %zu",
                name, tensor->offset, element);
  }
  view.offset = blocked ? tensor->offset : tensor->offset / element;
  if (numel > 0) {
    for (uint32_t d = 0; d < view.rank; ++d) {
      uint64_t span = 0;
      overflow = overflow ||
                 __builtin_mul_overflow(static_cast<uint64_t>(view.shape[d] - 1),
                                        static_cast<uint64_t>(view.strides[d]), &span) ||
                 __builtin_add_overflow(extent, span, &extent);
    }
    // One past the furthest byte the view reaches.
    uint64_t end = 0;
    if (blocked) {
      // The kernels address a block-quantized tensor by byte: its furthest byte must fit.
      uint64_t block_end = 0;
      if (overflow || __builtin_mul_overflow(extent / PORTA_QBLOCK + 1, element, &block_end) ||
          __builtin_add_overflow(view.offset, block_end, &end) || end > kIndexLimit) {
        return Fail(PORTA_ERROR_OUT_OF_RANGE,
                    "tensor '%s' (shape %s, byte offset %" PRIu64
                    ") reaches past byte 2^32 - 1; the kernels address bytes with 32 bits",
                    name, ShapeText(view).c_str(), view.offset);
      }
    } else {
      uint64_t last = 0;
      if (overflow || __builtin_add_overflow(view.offset, extent, &last) || last >= kIndexLimit) {
        return Fail(PORTA_ERROR_OUT_OF_RANGE,
                    "tensor '%s' (shape %s, offset %" PRIu64
                    " elements) reaches past element 2^32 - 1; the kernels index with 32 bits",
                    name, ShapeText(view).c_str(), view.offset);
      }
      end = (last + 1) * element;
    }
    uint64_t buffer_size = 0;
    if (porta_buffer_size(tensor->buffer, &buffer_size) != PORTA_OK) {
      return Forward(PORTA_ERROR_INVALID_HANDLE, std::string("tensor '") + name + "' buffer");
    }
    if (end > buffer_size) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE,
                  "tensor '%s' (shape %s, byte offset %" PRIu64 ") reaches byte %" PRIu64
                  " but its buffer has %" PRIu64 " bytes",
                  name, ShapeText(view).c_str(), tensor->offset, end, buffer_size);
    }
    // A kernel reaches its buffer argument through a binding that starts at 0, or on Vulkan at
    // the 256-byte boundary below the tensor (KernelLaunch::Bind), and spans at most
    // max_kernel_buffer_range_bytes.
    const uint64_t binding =
        context.format == PORTA_FORMAT_SPIRV_SHADER ? tensor->offset / 256 * 256 : 0;
    if (end - binding > context.info.max_kernel_buffer_range_bytes) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE,
                  "tensor '%s' (shape %s) spans %" PRIu64
                  " bytes of its buffer; a kernel on this device reaches at most %" PRIu64
                  " bytes through one buffer argument (max_kernel_buffer_range_bytes)",
                  name, ShapeText(view).c_str(), end - binding,
                  context.info.max_kernel_buffer_range_bytes);
    }
    view.byte_begin = tensor->offset;
    view.byte_end = end;
  }
  *out = view;
  return PORTA_OK;
}

porta_status_t CheckOptionalTensor(const Context& context, const porta_tensor_t* tensor,
                                   const char* name, View* out, bool* present) {
  *present = tensor != nullptr;
  if (tensor == nullptr) return PORTA_OK;
  return CheckTensor(context, tensor, name, out);
}

std::string ShapeText(const int64_t* shape, uint32_t rank) {
  std::string text = "[";
  for (uint32_t d = 0; d < rank; ++d) {
    if (d > 0) text += ", ";
    text += std::to_string(shape[d]);
  }
  return text + "]";
}

std::string ShapeText(const View& view) {
  return ShapeText(view.shape, view.rank);
}

porta_status_t RequireShape(const View& view, const int64_t* shape, uint32_t rank,
                            const char* what) {
  bool same = view.rank == rank;
  for (uint32_t d = 0; same && d < rank; ++d) same = view.shape[d] == shape[d];
  if (same) return PORTA_OK;
  return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor '%s' has shape %s; it must be %s, %s",
              view.name, ShapeText(view).c_str(), what, ShapeText(shape, rank).c_str());
}

porta_status_t BroadcastStrides(const View& in, const int64_t* shape, uint32_t rank,
                                int64_t* strides) {
  if (in.rank > rank) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor '%s' (shape %s) has more dimensions than the result's shape %s", in.name,
                ShapeText(in).c_str(), ShapeText(shape, rank).c_str());
  }
  const uint32_t lead = rank - in.rank;
  for (uint32_t d = 0; d < rank; ++d) {
    if (d < lead) {
      strides[d] = 0;
      continue;
    }
    const uint32_t src = d - lead;
    if (in.shape[src] == shape[d]) {
      strides[d] = shape[d] == 1 ? 0 : in.strides[src];
    } else if (in.shape[src] == 1) {
      strides[d] = 0;
    } else {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor '%s' (shape %s) does not broadcast to %s: its dimension %u has size "
                  "%" PRId64 " where %" PRId64 " (or 1) is needed",
                  in.name, ShapeText(in).c_str(), ShapeText(shape, rank).c_str(), src,
                  in.shape[src], shape[d]);
    }
  }
  return PORTA_OK;
}

porta_status_t CheckOverlap(const View& out, const View& in, bool identical_ok) {
  if (out.buffer != in.buffer || out.numel == 0 || in.numel == 0) return PORTA_OK;
  if (out.byte_end <= in.byte_begin || in.byte_end <= out.byte_begin) return PORTA_OK;
  bool identical =
      out.offset * porta_dtype_size(out.dtype) == in.offset * porta_dtype_size(in.dtype) &&
      out.dtype == in.dtype && out.rank == in.rank;
  for (uint32_t d = 0; identical && d < out.rank; ++d) {
    identical = out.shape[d] == in.shape[d] && out.strides[d] == in.strides[d];
  }
  if (identical && identical_ok) return PORTA_OK;
  return Fail(PORTA_ERROR_INVALID_ARGUMENT,
              "tensor '%s' overlaps input '%s' in the same buffer%s; use separate memory", out.name,
              in.name,
              identical ? " (this op cannot run in place)" : " without being the same view");
}

Coalesced Coalesce(const int64_t* shape, uint32_t rank, const int64_t* const* strides,
                   uint32_t count) {
  Coalesced result;
  result.strides.assign(count, std::vector<int64_t>());
  for (uint32_t d = 0; d < rank; ++d) {
    if (shape[d] == 1) continue;
    if (result.rank > 0) {
      const uint32_t last = result.rank - 1;
      bool mergeable = true;
      for (uint32_t t = 0; t < count && mergeable; ++t) {
        mergeable = result.strides[t][last] == strides[t][d] * shape[d];
      }
      if (mergeable) {
        result.shape[last] *= shape[d];
        for (uint32_t t = 0; t < count; ++t) result.strides[t][last] = strides[t][d];
        continue;
      }
    }
    result.shape[result.rank++] = shape[d];
    for (uint32_t t = 0; t < count; ++t) result.strides[t].push_back(strides[t][d]);
  }
  return result;
}

Split SplitSpace(const Coalesced& space, uint32_t max_rank) {
  Split split;
  const uint32_t count = static_cast<uint32_t>(space.strides.size());
  const uint32_t inner = std::min(space.rank, max_rank);
  const uint32_t outer = space.rank - inner;
  split.inner_strides.assign(count, std::vector<int64_t>(4, 0));
  for (uint32_t i = 0; i < inner; ++i) {
    const uint32_t dst = 4 - inner + i;
    split.inner_shape[dst] = space.shape[outer + i];
    for (uint32_t t = 0; t < count; ++t) split.inner_strides[t][dst] = space.strides[t][outer + i];
  }
  uint64_t launches = 1;
  for (uint32_t d = 0; d < outer; ++d) launches *= static_cast<uint64_t>(space.shape[d]);
  split.offsets.reserve(launches);
  std::vector<int64_t> index(outer, 0);
  for (uint64_t l = 0; l < launches; ++l) {
    std::vector<uint64_t> offsets(count, 0);
    for (uint32_t t = 0; t < count; ++t) {
      for (uint32_t d = 0; d < outer; ++d) {
        offsets[t] += static_cast<uint64_t>(index[d] * space.strides[t][d]);
      }
    }
    split.offsets.push_back(std::move(offsets));
    for (int d = static_cast<int>(outer) - 1; d >= 0; --d) {
      if (++index[d] < space.shape[d]) break;
      index[d] = 0;
    }
  }
  return split;
}

uint32_t FloorPow2(uint64_t value) {
  uint32_t result = 1;
  while (uint64_t{result} * 2 <= value && result < (1u << 30)) result *= 2;
  return result;
}

porta_status_t LinearGrid(const Context& context, uint64_t groups, uint32_t grid[3]) {
  const uint64_t max_x = std::min<uint64_t>(65535, context.info.max_grid_dims[0]);
  const uint64_t gx = std::max<uint64_t>(1, std::min(groups, max_x));
  const uint64_t gy = (groups + gx - 1) / gx;
  if (gy > context.info.max_grid_dims[1]) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE,
                "%" PRIu64 " work-groups exceed the device's grid (%u x %u)", groups,
                context.info.max_grid_dims[0], context.info.max_grid_dims[1]);
  }
  grid[0] = static_cast<uint32_t>(gx);
  grid[1] = static_cast<uint32_t>(std::max<uint64_t>(1, gy));
  grid[2] = 1;
  return PORTA_OK;
}

}  // namespace porta::ops
