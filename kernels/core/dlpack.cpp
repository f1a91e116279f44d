// DLPack export and import of tensors (porta_dlpack.h). The operator library owns
// porta_tensor_t, so the conversion between it and DLPack's DLTensor lives here too; everything
// it needs from the runtime is public API (native handles, import, retain).
#include "porta/porta_dlpack.h"

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "kernels/core/status.h"

namespace porta::ops {
namespace {

// The buffer's memory is handle 0 of every built-in backend's buffer handles.
static_assert(PORTA_NATIVE_CPU_BUFFER_POINTER == 0 && PORTA_NATIVE_CUDA_BUFFER_POINTER == 0 &&
              PORTA_NATIVE_HIP_BUFFER_POINTER == 0 && PORTA_NATIVE_OPENCL_BUFFER_MEM == 0 &&
              PORTA_NATIVE_VULKAN_BUFFER == 0 && PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER == 0);

// DLPack 1.0's layout, which a 1.x consumer reads (on 64-bit targets).
static_assert(sizeof(void*) != 8 || (offsetof(DLManagedTensorVersioned, manager_ctx) == 8 &&
                                     offsetof(DLManagedTensorVersioned, deleter) == 16 &&
                                     offsetof(DLManagedTensorVersioned, flags) == 24 &&
                                     offsetof(DLManagedTensorVersioned, dl_tensor) == 32));

// |status| of a porta.h call, with the runtime's message prefixed (Forward) when it failed.
porta_status_t Call(porta_status_t status, const char* what) {
  return status == PORTA_OK ? PORTA_OK : Forward(status, what);
}

// The CPU device imports host memory aligned to this many bytes (porta_buffer_import).
constexpr uint64_t kCpuAlignment = 16;

struct DeviceKind {
  const char* backend;
  int32_t type;
  const char* name;
  // DLTensor.data is an address (the first element's on export), not an opaque handle.
  bool pointer;
};

constexpr DeviceKind kDevices[] = {
    {"cpu", kDLCPU, "kDLCPU", true},
    {"cuda", kDLCUDA, "kDLCUDA", true},
    {"hip", kDLROCM, "kDLROCM", true},
    {"level_zero", PORTA_DLPACK_DEVICE_ONEAPI, "kDLOneAPI", true},
    {"opencl", kDLOpenCL, "kDLOpenCL", false},
    {"vulkan", kDLVulkan, "kDLVulkan", false},
};

const DeviceKind* KindOfBackend(const char* backend) {
  for (const DeviceKind& kind : kDevices) {
    if (std::strcmp(kind.backend, backend) == 0) return &kind;
  }
  return nullptr;
}

const DeviceKind* KindOfType(int32_t type) {
  for (const DeviceKind& kind : kDevices) {
    if (kind.type == type) return &kind;
  }
  return nullptr;
}

// DLPack's name of a device type, for messages.
std::string DeviceTypeName(int32_t type) {
  if (const DeviceKind* kind = KindOfType(type)) return kind->name;
  switch (type) {
    case 3:
      return "kDLCUDAHost";
    case 8:
      return "kDLMetal";
    case 9:
      return "kDLVPI";
    case 11:
      return "kDLROCMHost";
    case 12:
      return "kDLExtDev";
    case 13:
      return "kDLCUDAManaged";
    case 15:
      return "kDLWebGPU";
    case 16:
      return "kDLHexagon";
    default:
      return "device type " + std::to_string(type);
  }
}

struct DTypeKind {
  porta_dtype_t dtype;
  uint8_t code;
  uint8_t bits;
};

constexpr DTypeKind kDTypes[] = {
    {PORTA_DTYPE_F32, kDLFloat, 32},   {PORTA_DTYPE_F16, kDLFloat, 16},
    {PORTA_DTYPE_BF16, kDLBfloat, 16}, {PORTA_DTYPE_I32, kDLInt, 32},
    {PORTA_DTYPE_I8, kDLInt, 8},
};

// "float64", "uint8", "float32x4": a DLPack element type as NumPy would name it.
std::string DTypeText(const DLDataType& type) {
  std::string name;
  switch (type.code) {
    case kDLInt:
      name = "int";
      break;
    case kDLUInt:
      name = "uint";
      break;
    case kDLFloat:
      name = "float";
      break;
    case kDLOpaqueHandle:
      name = "opaque handle ";
      break;
    case kDLBfloat:
      name = "bfloat";
      break;
    case kDLComplex:
      name = "complex";
      break;
    case 6:
      name = "bool";
      break;
    default:
      name = "type code " + std::to_string(type.code) + " of ";
  }
  name += std::to_string(type.bits);
  if (type.lanes != 1) name += "x" + std::to_string(type.lanes);
  return name;
}

// Bytes from the first element to the end of the furthest one; 0 without elements.
uint64_t SpanBytes(uint32_t rank, const int64_t* shape, const int64_t* strides, size_t element) {
  uint64_t furthest = 0;
  for (uint32_t i = 0; i < rank; ++i) {
    if (shape[i] == 0) return 0;
    furthest += static_cast<uint64_t>(shape[i] - 1) * static_cast<uint64_t>(strides[i]);
  }
  return (furthest + 1) * element;
}

//===------------------------------------------------------------------------------------------===//
// Export
//===------------------------------------------------------------------------------------------===//

// The producer's context of an exported tensor: the managed tensor itself (one of the two forms),
// the shape and strides it points to, and the buffer reference it holds.
struct Export {
  DLManagedTensorVersioned versioned{};
  DLManagedTensor unversioned{};
  int64_t shape[PORTA_TENSOR_MAX_RANK] = {};
  int64_t strides[PORTA_TENSOR_MAX_RANK] = {};
  porta_buffer_t buffer = nullptr;
};

void ReleaseExport(Export* context) {
  // Nothing to report to: the consumer's deleter returns nothing. The retain made the handle
  // valid until this free, so it cannot fail.
  porta_buffer_free(context->buffer);
  delete context;
}

void DeleteVersioned(DLManagedTensorVersioned* self) {
  if (self != nullptr) ReleaseExport(static_cast<Export*>(self->manager_ctx));
}

void DeleteUnversioned(DLManagedTensor* self) {
  if (self != nullptr) ReleaseExport(static_cast<Export*>(self->manager_ctx));
}

// Checks |tensor| and fills |tensor_out| with its DLTensor, pointing at |context|'s shape and
// strides, and takes the buffer reference |context| holds.
porta_status_t ExportTensor(const porta_tensor_t* tensor, const void* out, Export* context,
                            DLTensor* tensor_out) {
  if (tensor == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor is NULL");
  if (out == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "out is NULL");
  const int32_t dtype = RawEnum(tensor->dtype);
  const DTypeKind* type = nullptr;
  for (const DTypeKind& t : kDTypes) {
    if (t.dtype == dtype) type = &t;
  }
  if (type == nullptr) {
    const char* name = porta_dtype_name(dtype);
    if (porta_dtype_block_elements(dtype) > 1) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "tensor->dtype is %s, a block-quantized type, which DLPack cannot describe "
                  "(DLPack has f32, f16, bf16, i32 and i8 of Porta's types)",
                  name);
    }
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tensor->dtype %" PRId32 " is not a porta_dtype_t",
                dtype);
  }
  const size_t element = porta_dtype_size(dtype);
  if (tensor->rank > PORTA_TENSOR_MAX_RANK) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor->rank is %u; the limit is %d (PORTA_TENSOR_MAX_RANK)", tensor->rank,
                PORTA_TENSOR_MAX_RANK);
  }
  for (uint32_t i = 0; i < tensor->rank; ++i) {
    if (tensor->shape[i] < 0 || tensor->strides[i] < 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "dimension %u has size %" PRId64 " and stride %" PRId64
                  "; neither may be negative",
                  i, tensor->shape[i], tensor->strides[i]);
    }
  }
  if (tensor->offset % element != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "tensor->offset %" PRIu64 " is not a multiple of the %s element size (%zu)",
                tensor->offset, porta_dtype_name(dtype), element);
  }
  porta_device_t device = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(Call(porta_buffer_device(tensor->buffer, &device), "tensor->buffer"));
  uint64_t buffer_size = 0;
  PORTA_OPS_RETURN_IF_ERROR(Call(porta_buffer_size(tensor->buffer, &buffer_size), "size"));
  const uint64_t end =
      tensor->offset + SpanBytes(tensor->rank, tensor->shape, tensor->strides, element);
  if (end > buffer_size) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE,
                "the tensor ends at byte %" PRIu64 " of a buffer of %" PRIu64 " bytes", end,
                buffer_size);
  }
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  PORTA_OPS_RETURN_IF_ERROR(Call(porta_device_get_info(device, &info), "device info"));
  const DeviceKind* kind = KindOfBackend(info.backend);
  if (kind == nullptr) {
    return Fail(PORTA_ERROR_UNSUPPORTED,
                "the tensor is on a device of the %s backend, which has no DLPack device type "
                "(DLPack knows cpu, cuda, hip, level_zero, opencl and vulkan memory)",
                info.backend);
  }
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  PORTA_OPS_RETURN_IF_ERROR(
      Call(porta_buffer_get_native_handles(tensor->buffer, &native), "native handles"));
  if (native.count == 0 || native.handles[0] == 0) {
    return Fail(PORTA_ERROR_UNSUPPORTED, "the %s buffer has no native memory handle", info.backend);
  }
  PORTA_OPS_RETURN_IF_ERROR(Call(porta_buffer_retain(tensor->buffer), "tensor->buffer"));
  context->buffer = tensor->buffer;
  for (uint32_t i = 0; i < tensor->rank; ++i) {
    context->shape[i] = tensor->shape[i];
    context->strides[i] = tensor->strides[i];
  }
  DLTensor& t = *tensor_out;
  if (kind->pointer) {
    t.data = reinterpret_cast<void*>(static_cast<uintptr_t>(native.handles[0] + tensor->offset));
    t.byte_offset = 0;
  } else {
    t.data = reinterpret_cast<void*>(static_cast<uintptr_t>(native.handles[0]));
    t.byte_offset = tensor->offset;
  }
  t.device.device_type = static_cast<DLDeviceType>(kind->type);
  t.device.device_id = static_cast<int>(info.backend_device_index);
  t.ndim = static_cast<int>(tensor->rank);
  t.dtype.code = type->code;
  t.dtype.bits = type->bits;
  t.dtype.lanes = 1;
  t.shape = context->shape;
  t.strides = context->strides;
  return PORTA_OK;
}

//===------------------------------------------------------------------------------------------===//
// Import
//===------------------------------------------------------------------------------------------===//

// The runtime's devices as "cpu:0, opencl:0, vulkan:0", for the no-match message.
std::string DeviceList(porta_runtime_t runtime) {
  uint32_t count = 0;
  if (porta_runtime_device_count(runtime, &count) != PORTA_OK || count == 0) return "no devices";
  std::string list;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    if (porta_runtime_device(runtime, i, &device) != PORTA_OK ||
        porta_device_get_info(device, &info) != PORTA_OK) {
      continue;
    }
    list += (list.empty() ? "" : ", ") + std::string(info.backend) + ":" +
            std::to_string(info.backend_device_index);
  }
  return list;
}

// Finds the device of |runtime| that DLPack's |device| names.
porta_status_t FindDevice(porta_runtime_t runtime, const DLDevice& device, porta_device_t* out,
                          const DeviceKind** out_kind) {
  const int32_t type = RawEnum(device.device_type);
  const DeviceKind* kind = KindOfType(type);
  uint32_t count = 0;
  PORTA_OPS_RETURN_IF_ERROR(Call(porta_runtime_device_count(runtime, &count), "runtime"));
  for (uint32_t i = 0; kind != nullptr && i < count; ++i) {
    porta_device_t candidate = nullptr;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    PORTA_OPS_RETURN_IF_ERROR(Call(porta_runtime_device(runtime, i, &candidate), "device"));
    PORTA_OPS_RETURN_IF_ERROR(Call(porta_device_get_info(candidate, &info), "device info"));
    if (std::strcmp(info.backend, kind->backend) == 0 && device.device_id >= 0 &&
        info.backend_device_index == static_cast<uint32_t>(device.device_id)) {
      *out = candidate;
      *out_kind = kind;
      return PORTA_OK;
    }
  }
  return Fail(PORTA_ERROR_NOT_FOUND,
              "DLPack device %s:%d has no Porta device (%s); this runtime has %s",
              DeviceTypeName(type).c_str(), device.device_id,
              kind ? (std::string("no ") + kind->backend + " device with backend_device_index " +
                      std::to_string(device.device_id))
                         .c_str()
                   : "Porta has no backend for that device type",
              DeviceList(runtime).c_str());
}

// Calls the deleter of a managed tensor Porta imported, once its buffer is gone.
void ReleaseVersioned(void* user_data) {
  auto* managed = static_cast<DLManagedTensorVersioned*>(user_data);
  if (managed->deleter != nullptr) managed->deleter(managed);
}

void ReleaseUnversioned(void* user_data) {
  auto* managed = static_cast<DLManagedTensor*>(user_data);
  if (managed->deleter != nullptr) managed->deleter(managed);
}

// Imports |t| (the DLTensor of |managed|, whose deleter |release| calls) into |out|. |exporter| is
// the buffer behind a managed tensor Porta exported itself, else NULL. On failure nothing is
// taken.
porta_status_t ImportTensor(porta_runtime_t runtime, const DLTensor& t, porta_release_fn release,
                            void* managed, porta_buffer_t exporter, porta_tensor_t* out) {
  if (t.ndim < 0 || t.ndim > PORTA_TENSOR_MAX_RANK) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the DLPack tensor has %d dimensions; Porta takes 0 to %d (PORTA_TENSOR_MAX_RANK)",
                t.ndim, PORTA_TENSOR_MAX_RANK);
  }
  const DTypeKind* type = nullptr;
  for (const DTypeKind& k : kDTypes) {
    if (k.code == t.dtype.code && k.bits == t.dtype.bits && t.dtype.lanes == 1) type = &k;
  }
  if (type == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the DLPack tensor's element type is %s, which Porta lacks (it takes float32, "
                "float16, bfloat16, int32 and int8, one lane each)",
                DTypeText(t.dtype).c_str());
  }
  const size_t element = porta_dtype_size(type->dtype);
  const uint32_t rank = static_cast<uint32_t>(t.ndim);
  if (rank > 0 && t.shape == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, "the DLPack tensor's shape is NULL");
  }
  porta_tensor_t tensor{};
  tensor.dtype = type->dtype;
  tensor.rank = rank;
  int64_t row_major = 1;
  bool empty = false;
  for (uint32_t i = rank; i-- > 0;) {
    const int64_t size = t.shape[i];
    const int64_t stride = t.strides ? t.strides[i] : row_major;
    if (size < 0 || stride < 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "dimension %u of the DLPack tensor has size %" PRId64 " and stride %" PRId64
                  "; Porta takes neither negative",
                  i, size, stride);
    }
    tensor.shape[i] = size;
    tensor.strides[i] = stride;
    row_major *= size;
    empty = empty || size == 0;
  }
  porta_device_t device = nullptr;
  const DeviceKind* kind = nullptr;
  PORTA_OPS_RETURN_IF_ERROR(FindDevice(runtime, t.device, &device, &kind));
  // A cl_mem or VkBuffer belongs to one runtime's context: DLPack's device index cannot tell a
  // Porta export of another runtime (whose device of that index has its own context) apart,
  // but the export itself can.
  porta_device_t exporting_device = nullptr;
  if (exporter != nullptr && !kind->pointer &&
      porta_buffer_device(exporter, &exporting_device) == PORTA_OK && exporting_device != device) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the DLPack tensor is a Porta export from another runtime's %s device %d, whose "
                "%s memory belongs to that runtime's context; import it with that runtime",
                kind->backend, t.device.device_id, DeviceTypeName(kind->type).c_str());
  }
  if (empty) {
    // No memory to share (and frameworks often give NULL data): a buffer of Porta's own.
    PORTA_OPS_RETURN_IF_ERROR(
        Call(porta_buffer_alloc(device, element, PORTA_MEMORY_DEVICE, &tensor.buffer),
             "allocating the buffer of an empty tensor"));
    release(managed);
    *out = tensor;
    return PORTA_OK;
  }
  if (t.data == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "the DLPack data is NULL");
  uint64_t base = reinterpret_cast<uintptr_t>(t.data);
  uint64_t offset = t.byte_offset;
  if (kind->pointer) {
    // The buffer starts at the first element; on the CPU device, whose buffers start 16-byte
    // aligned, at the 16-byte boundary at or below it (the same page, so mapped memory), with
    // the tensor's offset covering the difference.
    base += offset;
    if (base % element != 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "the DLPack tensor's first element at 0x%" PRIx64
                  " (data %p + byte_offset %" PRIu64
                  ") is not aligned to its %zu-byte element size",
                  base, t.data, t.byte_offset, element);
    }
    offset = std::strcmp(kind->backend, "cpu") == 0 ? base % kCpuAlignment : 0;
    base -= offset;
  } else if (offset % element != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the DLPack byte_offset %" PRIu64 " is not a multiple of the %s element size (%zu)",
                offset, porta_dtype_name(type->dtype), element);
  }
  tensor.offset = offset;
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  std::snprintf(native.backend, sizeof(native.backend), "%s", kind->backend);
  native.count = 1;
  native.handles[0] = base;
  porta_buffer_import_desc_t desc = PORTA_BUFFER_IMPORT_DESC_INIT;
  desc.native = &native;
  desc.size = offset + SpanBytes(rank, tensor.shape, tensor.strides, element);
  // The CPU device's memory is the host's: host-visible, so that it can be mapped.
  desc.kind =
      std::strcmp(kind->backend, "cpu") == 0 ? PORTA_MEMORY_HOST_VISIBLE : PORTA_MEMORY_DEVICE;
  desc.release = release;
  desc.release_user_data = managed;
  PORTA_OPS_RETURN_IF_ERROR(
      Call(porta_buffer_import(device, &desc, &tensor.buffer), "importing the memory"));
  *out = tensor;
  return PORTA_OK;
}

porta_status_t CheckImportArguments(porta_runtime_t runtime, const void* managed,
                                    const porta_tensor_t* out) {
  if (runtime == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "runtime is NULL");
  if (managed == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "managed is NULL");
  if (out == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "out is NULL");
  return PORTA_OK;
}

}  // namespace
}  // namespace porta::ops

using porta::ops::Fail;
using porta::ops::Guard;

extern "C" {

PORTA_OPS_API porta_status_t porta_tensor_to_dlpack(const porta_tensor_t* tensor,
                                                    DLManagedTensorVersioned** out) {
  return Guard("porta_tensor_to_dlpack", [&]() -> porta_status_t {
    auto context = std::make_unique<porta::ops::Export>();
    DLManagedTensorVersioned& managed = context->versioned;
    PORTA_OPS_RETURN_IF_ERROR(
        porta::ops::ExportTensor(tensor, out, context.get(), &managed.dl_tensor));
    managed.version.major = PORTA_DLPACK_MAJOR_VERSION;
    managed.version.minor = PORTA_DLPACK_MINOR_VERSION;
    managed.manager_ctx = context.get();
    managed.deleter = porta::ops::DeleteVersioned;
    managed.flags = 0;
    *out = &context.release()->versioned;
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_tensor_to_dlpack_unversioned(const porta_tensor_t* tensor,
                                                                DLManagedTensor** out) {
  return Guard("porta_tensor_to_dlpack_unversioned", [&]() -> porta_status_t {
    auto context = std::make_unique<porta::ops::Export>();
    DLManagedTensor& managed = context->unversioned;
    PORTA_OPS_RETURN_IF_ERROR(
        porta::ops::ExportTensor(tensor, out, context.get(), &managed.dl_tensor));
    managed.manager_ctx = context.get();
    managed.deleter = porta::ops::DeleteUnversioned;
    *out = &context.release()->unversioned;
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_tensor_from_dlpack(porta_runtime_t runtime,
                                                      DLManagedTensorVersioned* managed,
                                                      porta_tensor_t* out) {
  return Guard("porta_tensor_from_dlpack", [&]() -> porta_status_t {
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::CheckImportArguments(runtime, managed, out));
    if (managed->version.major != PORTA_DLPACK_MAJOR_VERSION) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "the managed tensor is DLPack %u.%u; Porta reads DLPack %u.x",
                  managed->version.major, managed->version.minor, PORTA_DLPACK_MAJOR_VERSION);
    }
    if (managed->flags & DLPACK_FLAG_BITMASK_READ_ONLY) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "the DLPack tensor is read-only (DLPACK_FLAG_BITMASK_READ_ONLY) and Porta "
                  "buffers are writable; copy it first");
    }
    porta_buffer_t exporter = managed->deleter == porta::ops::DeleteVersioned
                                  ? static_cast<porta::ops::Export*>(managed->manager_ctx)->buffer
                                  : nullptr;
    return porta::ops::ImportTensor(runtime, managed->dl_tensor, porta::ops::ReleaseVersioned,
                                    managed, exporter, out);
  });
}

PORTA_OPS_API porta_status_t porta_tensor_from_dlpack_unversioned(porta_runtime_t runtime,
                                                                  DLManagedTensor* managed,
                                                                  porta_tensor_t* out) {
  return Guard("porta_tensor_from_dlpack_unversioned", [&]() -> porta_status_t {
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::CheckImportArguments(runtime, managed, out));
    porta_buffer_t exporter = managed->deleter == porta::ops::DeleteUnversioned
                                  ? static_cast<porta::ops::Export*>(managed->manager_ctx)->buffer
                                  : nullptr;
    return porta::ops::ImportTensor(runtime, managed->dl_tensor, porta::ops::ReleaseUnversioned,
                                    managed, exporter, out);
  });
}

}  // extern "C"
