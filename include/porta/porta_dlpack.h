// Porta DLPack interop: hand a Porta tensor to another framework (NumPy, PyTorch, JAX, CuPy)
// without a copy, and use a framework's tensor as a Porta tensor without a copy.
//
// DLPack is the common in-memory tensor format of those frameworks: a DLTensor (data, device,
// dtype, shape, strides in elements, byte offset) inside a managed tensor whose deleter the
// consumer calls when it no longer needs the memory. This header speaks DLPack 1.0's versioned
// DLManagedTensorVersioned, and the unversioned DLManagedTensor of earlier DLPack versions for
// consumers that have only that. It includes <dlpack/dlpack.h> (on Debian and Ubuntu the
// libdlpack-dev package). When that header predates DLPack 1.0 (Debian 12 ships 0.6), this header
// declares the 1.0 additions itself, with the layout the DLPack 1.0 specification fixes:
// DLPackVersion, DLManagedTensorVersioned and the DLPACK_FLAG_BITMASK_* flags.
//
// Devices, both ways (device_id is the device's backend_device_index in porta_device_info_t):
//   Porta backend   DLPack device type   DLTensor.data                DLTensor.byte_offset
//   cpu             kDLCPU               host address                 0 on export*
//   cuda            kDLCUDA              CUdeviceptr                  0 on export*
//   hip             kDLROCM              device pointer               0 on export*
//   level_zero      kDLOneAPI (14)       device/shared/host pointer   0 on export*
//   opencl          kDLOpenCL            cl_mem                       the tensor's offset
//   vulkan          kDLVulkan            VkBuffer                     the tensor's offset
// (* pointer devices: export points data at the first element, as NumPy and PyTorch do; import
// accepts any split between data and byte_offset.) Element types, both ways: f32, f16
// (kDLFloat 32/16), bf16 (kDLBfloat 16), i32, i8 (kDLInt 32/8), one lane each. The
// block-quantized types have no DLPack form and are refused; so is every DLPack type Porta lacks
// (f64, u8, i64, bool, complex, vectors of lanes > 1).
//
// Every function returns a porta_status_t and leaves the detail of a failure in
// porta_last_error_message(). The functions live in libporta_ops (link Porta::ops, or
// pkg-config porta-ops).
#ifndef PORTA_PORTA_DLPACK_H_
#define PORTA_PORTA_DLPACK_H_

#include <dlpack/dlpack.h>
#include <stdint.h>

#include "porta/porta.h"
#include "porta/porta_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

//===------------------------------------------------------------------------------------------===//
// Types
//===------------------------------------------------------------------------------------------===//

// The DLPack version this header produces: DLManagedTensorVersioned.version on export.
#define PORTA_DLPACK_MAJOR_VERSION 1u
#define PORTA_DLPACK_MINOR_VERSION 0u

// DLPack 1.0's device type of oneAPI (SYCL/Level Zero) memory; DLPack 0.6's enum lacks it.
#define PORTA_DLPACK_DEVICE_ONEAPI ((DLDeviceType)14)

#if !defined(DLPACK_MAJOR_VERSION)
// <dlpack/dlpack.h> predates DLPack 1.0: declare the 1.0 additions, laid out as DLPack 1.0 lays
// them out, so that a consumer built against DLPack 1.x reads these structs as its own.
#define PORTA_DLPACK_DECLARES_VERSIONED 1

// Version of a DLManagedTensorVersioned.
typedef struct {
  uint32_t major;
  uint32_t minor;
} DLPackVersion;

// The tensor must not be written through (DLManagedTensorVersioned.flags).
#define DLPACK_FLAG_BITMASK_READ_ONLY (1ull << 0)
// The producer copied the data to make this tensor (DLManagedTensorVersioned.flags).
#define DLPACK_FLAG_BITMASK_IS_COPIED (1ull << 1)

// DLPack 1.0's managed tensor: a version, the producer's context, the deleter the consumer calls
// once (with the tensor itself) when done, flags, and the tensor.
typedef struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(struct DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
} DLManagedTensorVersioned;
#endif

//===------------------------------------------------------------------------------------------===//
// API
//===------------------------------------------------------------------------------------------===//

// Exports |tensor| as a new DLPack 1.0 managed tensor written to |out|, without copying: the
// DLTensor addresses the same memory (see the table above for what data holds per backend).
// The managed tensor holds a reference to the tensor's buffer (porta_buffer_retain), so the
// application may free the buffer at once; its memory lives until the consumer calls the
// deleter, exactly once, from any thread. The shape and strides are copied into the managed
// tensor's own allocation (strides in elements, as in porta_tensor_t); flags are 0 (writable,
// not a copy). DLPack has no stream: synchronize the streams that write the tensor before the
// consumer reads it, and the consumer's work before Porta reuses the memory.
// Returns PORTA_ERROR_INVALID_ARGUMENT for a NULL |tensor| or |out|, a rank above
// PORTA_TENSOR_MAX_RANK, a negative size or stride, or a block-quantized dtype (naming it);
// PORTA_ERROR_INVALID_HANDLE for a freed buffer; PORTA_ERROR_UNSUPPORTED for a device whose
// backend has no DLPack device type (a plugin's) or no native buffer handle.
PORTA_OPS_API porta_status_t porta_tensor_to_dlpack(const porta_tensor_t* tensor,
                                                    DLManagedTensorVersioned** out);

// As porta_tensor_to_dlpack, as the unversioned DLManagedTensor of DLPack before 1.0, for
// consumers that ask for that (Python's __dlpack__ without max_version).
PORTA_OPS_API porta_status_t porta_tensor_to_dlpack_unversioned(const porta_tensor_t* tensor,
                                                                DLManagedTensor** out);

// Imports the DLPack tensor |managed| as a Porta tensor written to |out|, without copying: its
// memory is wrapped with porta_buffer_import on the device of |runtime| whose backend matches
// the DLPack device type and whose backend_device_index is device_id. On success Porta owns
// |managed|: out->buffer is a new buffer the caller frees with porta_buffer_free, and the DLPack
// deleter runs once that buffer and the work queued on it are gone (from whichever thread drops
// the last use). On failure nothing is taken: the caller still owns |managed| and calls its
// deleter. A tensor without elements gets a buffer of its own (one element's bytes), and its
// deleter runs before the call returns. NULL strides mean row-major. On pointer devices (cpu,
// cuda, hip, level_zero) the buffer starts at the first element (data + byte_offset), which must
// be aligned to the element size; on the CPU device, whose imported memory must be 16-byte
// aligned, it starts at the 16-byte boundary at or below the first element, and out->offset
// covers the difference (so the buffer's first bytes may be the neighbour's: use the tensor, not
// the whole buffer). On opencl and vulkan the buffer is the cl_mem or VkBuffer and out->offset is
// byte_offset. A cl_mem or VkBuffer belongs to one context, which DLPack's device_id does not
// name: pass the runtime whose device made the memory (a Porta export from another runtime is
// refused; for other producers the driver's check is all there is).
// Returns PORTA_ERROR_INVALID_ARGUMENT for NULL arguments, a major version other than 1, a
// negative or too large rank, a negative size or stride, a dtype Porta lacks (naming it), a
// first element not aligned to the element size, NULL data, a read-only tensor
// (DLPACK_FLAG_BITMASK_READ_ONLY: Porta buffers are writable; copy it first), or an OpenCL or
// Vulkan Porta export of another runtime; PORTA_ERROR_NOT_FOUND
// naming the DLPack device and the runtime's devices when no device matches; and
// porta_buffer_import's errors when the device refuses the memory.
PORTA_OPS_API porta_status_t porta_tensor_from_dlpack(porta_runtime_t runtime,
                                                      DLManagedTensorVersioned* managed,
                                                      porta_tensor_t* out);

// As porta_tensor_from_dlpack, for the unversioned DLManagedTensor of DLPack before 1.0.
PORTA_OPS_API porta_status_t porta_tensor_from_dlpack_unversioned(porta_runtime_t runtime,
                                                                  DLManagedTensor* managed,
                                                                  porta_tensor_t* out);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // PORTA_PORTA_DLPACK_H_
