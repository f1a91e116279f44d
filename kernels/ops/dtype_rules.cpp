// Element-type rules of every operation, porta_ops_supported, and the dtype and tensor-view
// helpers of porta_ops.h.
#include "kernels/ops/dtype_rules.h"

#include <cinttypes>

#include "kernels/common/params.h"
#include "kernels/core/context.h"
#include "kernels/core/status.h"
#include "kernels/core/tensor.h"

namespace porta::ops {
namespace {

bool IsFloat(porta_dtype_t dtype) {
  return dtype == PORTA_DTYPE_F32 || dtype == PORTA_DTYPE_F16 || dtype == PORTA_DTYPE_BF16;
}

bool IsCopyable(porta_dtype_t dtype) {
  return IsFloat(dtype) || dtype == PORTA_DTYPE_I32;
}

std::string Named(const char* name, porta_dtype_t dtype) {
  return std::string(name) + " (" + porta_dtype_name(dtype) + ")";
}

// Each check returns "" or the complaint.
std::string NeedFloat(const char* name, porta_dtype_t dtype) {
  if (IsFloat(dtype)) return "";
  return Named(name, dtype) + " must be f32, f16 or bf16";
}

std::string NeedSame(const char* name, porta_dtype_t dtype, const char* other,
                     porta_dtype_t other_dtype) {
  if (dtype == other_dtype) return "";
  return Named(name, dtype) + " must have " + other + "'s dtype " + porta_dtype_name(other_dtype);
}

std::string NeedSameOrF32(const char* name, porta_dtype_t dtype, const char* other,
                          porta_dtype_t other_dtype) {
  if (dtype == other_dtype || dtype == PORTA_DTYPE_F32) return "";
  return Named(name, dtype) + " must be f32 or " + other + "'s dtype " +
         porta_dtype_name(other_dtype);
}

const char* OpName(porta_op_t op) {
  static const char* const kNames[] = {
      "matmul",  "unary",     "binary",  "cast",      "copy", "concat",    "reduce", "argmax",
      "softmax", "layernorm", "rmsnorm", "embedding", "rope", "attention", "conv2d", "pool2d"};
  const int index = static_cast<int>(op) - 1;
  return index >= 0 && index < 16 ? kNames[index] : "unknown";
}

// The one tensor of |op| that may be block-quantized (matmul's b, embedding's table, cast's x),
// or -1.
int BlockSlot(porta_op_t op) {
  switch (op) {
    case PORTA_OP_MATMUL:
      return 1;
    case PORTA_OP_EMBEDDING:
    case PORTA_OP_CAST:
      return 0;
    default:
      return -1;
  }
}

std::string First(std::initializer_list<std::string> problems) {
  for (const std::string& problem : problems) {
    if (!problem.empty()) return problem;
  }
  return "";
}

}  // namespace

bool OpTakesCount(porta_op_t op, uint32_t count) {
  switch (op) {
    case PORTA_OP_MATMUL:
    case PORTA_OP_CONV2D:
      return count == 3 || count == 4;
    case PORTA_OP_BINARY:
    case PORTA_OP_SOFTMAX:
      return count == 2 || count == 3;
    case PORTA_OP_ATTENTION:
      return count == 4 || count == 5;
    case PORTA_OP_LAYERNORM:
    case PORTA_OP_RMSNORM:
      return count >= 2 && count <= 4;
    case PORTA_OP_EMBEDDING:
    case PORTA_OP_ROPE:
      return count == 3;
    default:
      return count == 2;
  }
}

std::string DtypeRuleProblem(porta_op_t op, const porta_dtype_t* d, const char* const* n,
                             uint32_t count) {
  if (!OpTakesCount(op, count)) {
    return "operation " + std::to_string(static_cast<int>(op)) + " does not take " +
           std::to_string(count) + " tensors (see porta_ops_supported)";
  }
  const uint32_t last = count - 1;
  for (uint32_t i = 0; i < count; ++i) {
    if (!IsBlockDtype(d[i]) || static_cast<int>(i) == BlockSlot(op)) continue;
    return std::string(OpName(op)) + " does not take a block-quantized " + Named(n[i], d[i]) +
           "; only matmul's b, embedding's table and cast's x may be q4_0, q4_1 or q8_0";
  }
  switch (op) {
    case PORTA_OP_UNARY:
    case PORTA_OP_POOL2D:
      return First({NeedFloat(n[0], d[0]), NeedSame(n[1], d[1], n[0], d[0])});
    case PORTA_OP_BINARY:
      return First({NeedFloat(n[0], d[0]),
                    count == 3 ? NeedSame(n[1], d[1], n[0], d[0]) : std::string(),
                    NeedSame(n[last], d[last], n[0], d[0])});
    case PORTA_OP_CAST:
      if (IsBlockDtype(d[0])) {
        return IsFloat(d[1]) ? ""
                             : Named(n[1], d[1]) + " must be f32, f16 or bf16 to dequantize " +
                                   Named(n[0], d[0]);
      }
      for (uint32_t i = 0; i < 2; ++i) {
        if (!IsCopyable(d[i])) return Named(n[i], d[i]) + " must be f32, f16, bf16 or i32";
      }
      return "";
    case PORTA_OP_COPY:
    case PORTA_OP_CONCAT:
      if (!IsCopyable(d[0])) return Named(n[0], d[0]) + " must be f32, f16, bf16 or i32";
      return NeedSame(n[1], d[1], n[0], d[0]);
    case PORTA_OP_REDUCE:
      return First({NeedFloat(n[0], d[0]), NeedSameOrF32(n[1], d[1], n[0], d[0])});
    case PORTA_OP_ARGMAX:
      return First({NeedFloat(n[0], d[0]),
                    d[1] == PORTA_DTYPE_I32 ? std::string() : Named(n[1], d[1]) + " must be i32"});
    case PORTA_OP_SOFTMAX:
    case PORTA_OP_LAYERNORM:
    case PORTA_OP_RMSNORM: {
      std::string problem = First({NeedFloat(n[0], d[0]), NeedSame(n[last], d[last], n[0], d[0])});
      for (uint32_t i = 1; problem.empty() && i < last; ++i) problem = NeedFloat(n[i], d[i]);
      return problem;
    }
    case PORTA_OP_EMBEDDING:
      if (IsBlockDtype(d[0])) {
        return First({d[1] == PORTA_DTYPE_I32 ? std::string() : Named(n[1], d[1]) + " must be i32",
                      NeedFloat(n[2], d[2])});
      }
      return First({NeedFloat(n[0], d[0]),
                    d[1] == PORTA_DTYPE_I32 ? std::string() : Named(n[1], d[1]) + " must be i32",
                    NeedSame(n[2], d[2], n[0], d[0])});
    case PORTA_OP_ROPE:
      return First({NeedFloat(n[0], d[0]),
                    d[1] == PORTA_DTYPE_I32 ? std::string() : Named(n[1], d[1]) + " must be i32",
                    NeedSame(n[2], d[2], n[0], d[0])});
    case PORTA_OP_ATTENTION: {
      std::string problem;
      for (uint32_t i = 0; problem.empty() && i < count; ++i) problem = NeedFloat(n[i], d[i]);
      return problem;
    }
    case PORTA_OP_MATMUL:
      return First({NeedFloat(n[0], d[0]),
                    IsBlockDtype(d[1]) ? std::string() : NeedFloat(n[1], d[1]),
                    NeedSameOrF32(n[last], d[last], n[0], d[0]),
                    count == 4 ? NeedSame(n[2], d[2], n[last], d[last]) : std::string()});
    case PORTA_OP_CONV2D:
      return First({NeedFloat(n[0], d[0]), NeedFloat(n[1], d[1]),
                    count == 4 ? NeedFloat(n[2], d[2]) : std::string(),
                    NeedSame(n[last], d[last], n[0], d[0])});
  }
  return "unknown operation " + std::to_string(static_cast<int>(op));
}

porta_status_t CheckOpDtypes(const Context& context, porta_op_t op, const porta_dtype_t* dtypes,
                             const char* const* names, uint32_t count, porta_status_t rule_status) {
  for (uint32_t i = 0; i < count; ++i) {
    const std::string problem = DtypeProblem(context, dtypes[i]);
    if (!problem.empty()) return Fail(PORTA_ERROR_UNSUPPORTED, "%s: %s", names[i], problem.c_str());
  }
  const std::string rule = DtypeRuleProblem(op, dtypes, names, count);
  if (!rule.empty()) return Fail(rule_status, "%s", rule.c_str());
  if (context.format == 0) {
    return Fail(PORTA_ERROR_UNSUPPORTED, "%s", context.format_problem.c_str());
  }
  return PORTA_OK;
}

}  // namespace porta::ops

namespace {

// Generic names for porta_ops_supported's messages, by op and count.
void SupportedNames(porta_op_t op, uint32_t count, const char* names[5]) {
  static const char* const kGeneric[5] = {"tensor 0", "tensor 1", "tensor 2", "tensor 3",
                                          "tensor 4"};
  for (int i = 0; i < 5; ++i) names[i] = kGeneric[i];
  auto set = [&](std::initializer_list<const char*> list) {
    int i = 0;
    for (const char* name : list) names[i++] = name;
  };
  switch (op) {
    case PORTA_OP_MATMUL:
      count == 4 ? set({"a", "b", "bias", "out"}) : set({"a", "b", "out"});
      break;
    case PORTA_OP_BINARY:
      count == 3 ? set({"a", "b", "out"}) : set({"a", "out"});
      break;
    case PORTA_OP_COPY:
      set({"src", "dst"});
      break;
    case PORTA_OP_CONCAT:
      set({"inputs", "out"});
      break;
    case PORTA_OP_SOFTMAX:
      count == 3 ? set({"x", "mask", "out"}) : set({"x", "out"});
      break;
    case PORTA_OP_LAYERNORM:
    case PORTA_OP_RMSNORM:
      count == 4   ? set({"x", "weight", "bias", "out"})
      : count == 3 ? set({"x", "weight", "out"})
                   : set({"x", "out"});
      break;
    case PORTA_OP_EMBEDDING:
      set({"table", "indices", "out"});
      break;
    case PORTA_OP_ROPE:
      set({"x", "positions", "out"});
      break;
    case PORTA_OP_ATTENTION:
      count == 5 ? set({"q", "k", "v", "mask", "out"}) : set({"q", "k", "v", "out"});
      break;
    case PORTA_OP_CONV2D:
      count == 4 ? set({"x", "weight", "bias", "out"}) : set({"x", "weight", "out"});
      break;
    default:
      set({"x", "out"});
      break;
  }
}

}  // namespace

extern "C" {

PORTA_OPS_API size_t porta_dtype_size(int32_t dtype) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
    case PORTA_DTYPE_I32:
      return 4;
    case PORTA_DTYPE_F16:
    case PORTA_DTYPE_BF16:
      return 2;
    case PORTA_DTYPE_I8:
      return 1;
    case PORTA_DTYPE_Q4_0:
      return PORTA_Q4_0_BYTES;
    case PORTA_DTYPE_Q4_1:
      return PORTA_Q4_1_BYTES;
    case PORTA_DTYPE_Q8_0:
      return PORTA_Q8_0_BYTES;
    default:
      return 0;
  }
}

PORTA_OPS_API uint32_t porta_dtype_block_elements(int32_t dtype) {
  if (porta_dtype_size(dtype) == 0) return 0;
  return porta::ops::IsBlockDtype(static_cast<porta_dtype_t>(dtype)) ? PORTA_QBLOCK : 1;
}

PORTA_OPS_API const char* porta_dtype_name(int32_t dtype) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
      return "f32";
    case PORTA_DTYPE_F16:
      return "f16";
    case PORTA_DTYPE_BF16:
      return "bf16";
    case PORTA_DTYPE_I32:
      return "i32";
    case PORTA_DTYPE_I8:
      return "i8";
    case PORTA_DTYPE_Q4_0:
      return "q4_0";
    case PORTA_DTYPE_Q4_1:
      return "q4_1";
    case PORTA_DTYPE_Q8_0:
      return "q8_0";
    default:
      return "unknown";
  }
}

PORTA_OPS_API porta_tensor_t porta_tensor_contiguous(porta_buffer_t buffer, uint64_t offset,
                                                     porta_dtype_t dtype, uint32_t rank,
                                                     const int64_t* shape) {
  porta_tensor_t tensor{};
  tensor.buffer = buffer;
  tensor.offset = offset;
  tensor.dtype = dtype;
  tensor.rank = rank;
  int64_t stride = 1;
  for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
    if (d >= PORTA_TENSOR_MAX_RANK) continue;
    tensor.shape[d] = shape != nullptr ? shape[d] : 0;
    tensor.strides[d] = stride;
    stride *= tensor.shape[d] > 0 ? tensor.shape[d] : 1;
  }
  return tensor;
}

PORTA_OPS_API porta_status_t porta_tensor_slice(const porta_tensor_t* tensor, int32_t axis,
                                                int64_t start, int64_t stop, int64_t step,
                                                porta_tensor_t* out) {
  return porta::ops::Guard("porta_tensor_slice", [&]() -> porta_status_t {
    using porta::ops::Fail;
    if (tensor == nullptr || out == nullptr) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "%s is NULL", tensor == nullptr ? "tensor" : "out");
    }
    const int32_t rank = static_cast<int32_t>(tensor->rank);
    if (tensor->rank > PORTA_TENSOR_MAX_RANK) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor has rank %u; the limit is %d", tensor->rank,
                  PORTA_TENSOR_MAX_RANK);
    }
    const int32_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "axis %d is outside a rank-%d tensor", axis, rank);
    }
    if (step < 1 || start < 0 || start > stop) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "axis %d: slice [%" PRId64 ", %" PRId64 ") step %" PRId64
                  " needs 0 <= start <= stop and step >= 1",
                  axis, start, stop, step);
    }
    if (stop > tensor->shape[a]) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE, "axis %d: stop %" PRId64 " exceeds the size %" PRId64,
                  axis, stop, tensor->shape[a]);
    }
    const int32_t dtype = porta::ops::RawEnum(tensor->dtype);
    const size_t element = porta_dtype_size(dtype);
    if (element == 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor has unknown dtype %d", dtype);
    }
    porta_tensor_t view = *tensor;
    // A block-quantized tensor moves its offset by whole blocks (porta_ops.h's tensor rule).
    const int64_t per_block = porta_dtype_block_elements(dtype);
    int64_t skip = 0, skip_bytes = 0, stride = 0;
    const bool skip_overflow = __builtin_mul_overflow(start, tensor->strides[a], &skip);
    if (!skip_overflow && skip % per_block != 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "axis %d: start %" PRId64
                  " does not begin a block of the block-quantized %s "
                  "tensor (element %" PRId64 " is not a multiple of %" PRId64 ")",
                  axis, start, porta_dtype_name(dtype), skip, per_block);
    }
    if (skip_overflow ||
        __builtin_mul_overflow(skip / per_block, static_cast<int64_t>(element), &skip_bytes) ||
        __builtin_add_overflow(view.offset, static_cast<uint64_t>(skip_bytes), &view.offset) ||
        __builtin_mul_overflow(tensor->strides[a], step, &stride)) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE,
                  "axis %d: start %" PRId64 " or step %" PRId64 " times the stride %" PRId64
                  " overflows 64 bits",
                  axis, start, step, tensor->strides[a]);
    }
    view.shape[a] = stop == start ? 0 : (stop - start - 1) / step + 1;
    view.strides[a] = stride;
    *out = view;
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_tensor_permute(const porta_tensor_t* tensor, const int32_t* perm,
                                                  porta_tensor_t* out) {
  return porta::ops::Guard("porta_tensor_permute", [&]() -> porta_status_t {
    using porta::ops::Fail;
    if (tensor == nullptr || perm == nullptr || out == nullptr) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "%s is NULL",
                  tensor == nullptr ? "tensor" : (perm == nullptr ? "perm" : "out"));
    }
    if (tensor->rank > PORTA_TENSOR_MAX_RANK) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor has rank %u; the limit is %d", tensor->rank,
                  PORTA_TENSOR_MAX_RANK);
    }
    bool seen[PORTA_TENSOR_MAX_RANK] = {};
    porta_tensor_t view = *tensor;
    for (uint32_t d = 0; d < tensor->rank; ++d) {
      const int32_t from = perm[d];
      if (from < 0 || from >= static_cast<int32_t>(tensor->rank) || seen[from]) {
        return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                    "perm[%u] = %d: perm must hold each of 0..%u exactly once", d, from,
                    tensor->rank - 1);
      }
      seen[from] = true;
      view.shape[d] = tensor->shape[from];
      view.strides[d] = tensor->strides[from];
    }
    *out = view;
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_ops_supported(porta_ops_context_t context, porta_op_t op,
                                                 const porta_dtype_t* dtypes,
                                                 uint32_t dtype_count) {
  return porta::ops::Guard("porta_ops_supported", [&]() -> porta_status_t {
    using porta::ops::Fail;
    porta::ops::Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::LookupContext(context, &found));
    const int32_t raw_op = porta::ops::RawEnum(op);
    if (raw_op < PORTA_OP_MATMUL || raw_op > PORTA_OP_POOL2D) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "unknown op %d", raw_op);
    }
    const porta_op_t checked_op = static_cast<porta_op_t>(raw_op);
    if (dtypes == nullptr || dtype_count == 0 || dtype_count > 5) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "dtypes must list 2 to 5 dtypes (got %s, count %u)",
                  dtypes == nullptr ? "NULL" : "an array", dtype_count);
    }
    if (!porta::ops::OpTakesCount(checked_op, dtype_count)) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "dtype_count %u does not fit op %d (docs/ops.md lists each op's tensors)",
                  dtype_count, raw_op);
    }
    porta_dtype_t checked[5];
    for (uint32_t i = 0; i < dtype_count; ++i) {
      const int32_t raw = porta::ops::RawEnum(dtypes[i]);
      if (porta_dtype_size(raw) == 0) {
        return Fail(PORTA_ERROR_INVALID_ARGUMENT, "dtypes[%u] is %d, not a porta_dtype_t", i, raw);
      }
      checked[i] = static_cast<porta_dtype_t>(raw);
    }
    const char* names[5];
    SupportedNames(checked_op, dtype_count, names);
    return porta::ops::CheckOpDtypes(*found, checked_op, checked, names, dtype_count,
                                     PORTA_ERROR_UNSUPPORTED);
  });
}

}  // extern "C"
