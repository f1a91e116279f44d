// The CUDA map of the GPU layer (backends/gpu/gpu_api.h): the driver API's types and constants,
// and the operations whose shape differs from HIP's. Devices use their primary context.
#ifndef PORTA_BACKENDS_CUDA_CUDA_API_H_
#define PORTA_BACKENDS_CUDA_CUDA_API_H_

#include <cuda.h>

#include <string>
#include <vector>

#include "backends/cuda/cuda_library.h"
#include "backends/gpu/gpu.h"
#include "porta/porta_backend.h"

namespace porta::cuda {

struct Api {
  using Library = cuda::Library;
  using Result = CUresult;
  using DeviceId = CUdevice;
  using DevicePtr = CUdeviceptr;
  using StreamHandle = CUstream;
  using EventHandle = CUevent;
  using ModuleHandle = CUmodule;
  using FunctionHandle = CUfunction;
  using GraphHandle = CUgraph;
  using GraphExecHandle = CUgraphExec;
  using GraphNodeHandle = CUgraphNode;
  using KernelNodeParams = CUDA_KERNEL_NODE_PARAMS;
  using Device = gpu::Device<Api>;
  // The device's primary context, shared with any CUDA runtime code in the process.
  struct DeviceState {
    CUcontext context = nullptr;
  };
  // cuMemcpyPeerAsync names each side by its context.
  using PeerId = CUcontext;

  // The table's name, the name in messages, the vendor, and who reports devices.
  static constexpr const char* kName = "cuda";
  static constexpr const char* kDisplayName = "CUDA";
  static constexpr const char* kVendor = "NVIDIA";
  static constexpr const char* kRuntime = "the CUDA driver";
  static constexpr const char* kGraphsSince = "CUDA 12";
  static constexpr uint32_t kKernelFormats =
      PORTA_FORMAT_BIT(PORTA_FORMAT_PTX) | PORTA_FORMAT_BIT(PORTA_FORMAT_CUBIN);

  static constexpr Result kSuccess = CUDA_SUCCESS;
  static constexpr Result kNotReady = CUDA_ERROR_NOT_READY;

  static constexpr unsigned kStreamNonBlocking = CU_STREAM_NON_BLOCKING;
  static constexpr unsigned kEventDefault = CU_EVENT_DEFAULT;
  static constexpr unsigned kEventDisableTiming = CU_EVENT_DISABLE_TIMING;
  static constexpr unsigned kHostAllocMapped = CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE;
  static constexpr unsigned kHostRegisterDefault = 0;
  static constexpr CUdevice_attribute kAttributes[gpu::kAttributeCount] = {
      CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
      CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
      CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X,
      CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
      CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z,
      CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X,
      CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
      CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z,
      CU_DEVICE_ATTRIBUTE_WARP_SIZE,
      CU_DEVICE_ATTRIBUTE_INTEGRATED,
      CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
      CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY,
  };
  static constexpr CUfunction_attribute kFuncMaxThreadsPerBlock =
      CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK;
  static constexpr CUfunction_attribute kFuncSharedSizeBytes = CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES;
  // Beyond CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK (48 KiB) a function must be opted in,
  // up to ..._PER_BLOCK_OPTIN.
  static constexpr bool kSharedMemoryOptIn = true;
  static constexpr CUfunction_attribute kFuncMaxDynamicSharedSizeBytes =
      CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
  // cuFuncGetParamInfo (CUDA 12.4+, optional) tells a kernel's parameters; it answers
  // kParamInfoEnd for the first index past the last one.
  static constexpr bool kParamInfo = true;
  static constexpr Result kParamInfoEnd = CUDA_ERROR_INVALID_VALUE;
  // The driver orders the launches of one executable graph, on any streams, and a launch keeps
  // the kernel arguments it was queued with when a node's are changed later.
  static constexpr bool kOrdersGraphReplays = true;

  static constexpr int kNativeStream = PORTA_NATIVE_CUDA_STREAM;
  static constexpr int kNativeBufferPointer = PORTA_NATIVE_CUDA_BUFFER_POINTER;
  static constexpr int kNativeBufferHostPointer = PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER;
  static constexpr const char* kNativeBufferHostPointerName =
      "PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER";

  PORTA_GPU_API_OPERATIONS()
};

}  // namespace porta::cuda

#endif  // PORTA_BACKENDS_CUDA_CUDA_API_H_
