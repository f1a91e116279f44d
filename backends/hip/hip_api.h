// The HIP map of the GPU layer (backends/gpu/gpu_api.h): the module API's types and constants,
// and the operations whose shape differs from CUDA's. A device is an ordinal; HIP keeps one
// context per device, and calls act on the calling thread's current device.
#ifndef PORTA_BACKENDS_HIP_HIP_API_H_
#define PORTA_BACKENDS_HIP_HIP_API_H_

#include <hip/hip_runtime_api.h>

#include <string>
#include <vector>

#include "backends/gpu/gpu.h"
#include "backends/hip/hip_library.h"
#include "porta/porta_backend.h"

namespace porta::hip {

struct Api {
  using Library = hip::Library;
  using Result = hipError_t;
  using DeviceId = int;
  using DevicePtr = hipDeviceptr_t;
  using StreamHandle = hipStream_t;
  using EventHandle = hipEvent_t;
  using ModuleHandle = hipModule_t;
  using FunctionHandle = hipFunction_t;
  using GraphHandle = hipGraph_t;
  using GraphExecHandle = hipGraphExec_t;
  using GraphNodeHandle = hipGraphNode_t;
  using KernelNodeParams = hipKernelNodeParams;
  using Device = gpu::Device<Api>;
  // Nothing beyond the ordinal: the calls Porta makes name no context.
  struct DeviceState {};
  // hipMemcpyPeerAsync names each side by its ordinal.
  using PeerId = int;

  // The table's name, the name in messages, the vendor, and who reports devices.
  static constexpr const char* kName = "hip";
  static constexpr const char* kDisplayName = "HIP";
  static constexpr const char* kVendor = "AMD";
  static constexpr const char* kRuntime = "the HIP runtime";
  static constexpr const char* kGraphsSince = "HIP 5.2";
  static constexpr uint32_t kKernelFormats = PORTA_FORMAT_BIT(PORTA_FORMAT_HSACO);

  static constexpr Result kSuccess = hipSuccess;
  static constexpr Result kNotReady = hipErrorNotReady;

  static constexpr unsigned kStreamNonBlocking = hipStreamNonBlocking;
  static constexpr unsigned kEventDefault = hipEventDefault;
  static constexpr unsigned kEventDisableTiming = hipEventDisableTiming;
  static constexpr unsigned kHostAllocMapped = hipHostMallocMapped | hipHostMallocPortable;
  static constexpr unsigned kHostRegisterDefault = hipHostRegisterDefault;
  static constexpr hipDeviceAttribute_t kAttributes[gpu::kAttributeCount] = {
      hipDeviceAttributeMultiprocessorCount,
      hipDeviceAttributeMaxThreadsPerBlock,
      hipDeviceAttributeMaxBlockDimX,
      hipDeviceAttributeMaxBlockDimY,
      hipDeviceAttributeMaxBlockDimZ,
      hipDeviceAttributeMaxGridDimX,
      hipDeviceAttributeMaxGridDimY,
      hipDeviceAttributeMaxGridDimZ,
      hipDeviceAttributeWarpSize,
      hipDeviceAttributeIntegrated,
      hipDeviceAttributeMaxSharedMemoryPerBlock,
      hipDeviceAttributeCanMapHostMemory,
  };
  static constexpr hipFunction_attribute kFuncMaxThreadsPerBlock =
      HIP_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK;
  static constexpr hipFunction_attribute kFuncSharedSizeBytes =
      HIP_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES;
  // AMD GPUs have no opt-in beyond the per-block LDS limit, which the device reports.
  static constexpr bool kSharedMemoryOptIn = false;
  // HIP cannot tell a kernel's parameters.
  static constexpr bool kParamInfo = false;
  // HIP neither orders the launches of one executable graph on different streams nor promises
  // that a queued launch keeps its kernel arguments when a node's are changed: the layer orders
  // launches with an event and changes arguments only when no launch is pending.
  static constexpr bool kOrdersGraphReplays = false;

  static constexpr int kNativeStream = PORTA_NATIVE_HIP_STREAM;
  static constexpr int kNativeBufferPointer = PORTA_NATIVE_HIP_BUFFER_POINTER;
  static constexpr int kNativeBufferHostPointer = PORTA_NATIVE_HIP_BUFFER_HOST_POINTER;
  static constexpr const char* kNativeBufferHostPointerName =
      "PORTA_NATIVE_HIP_BUFFER_HOST_POINTER";

  PORTA_GPU_API_OPERATIONS()
};

}  // namespace porta::hip

#endif  // PORTA_BACKENDS_HIP_HIP_API_H_
