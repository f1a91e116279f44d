// The HIP runtime API, resolved at run time from libamdhip64 so that libporta loads on machines
// without ROCm: the loader half of the HIP map of the GPU layer (backends/gpu/gpu_api.h). Only the
// module ("driver-style") half of HIP is used: code objects are loaded from memory, nothing is
// registered at static-initialization time.
#ifndef PORTA_BACKENDS_HIP_HIP_LIBRARY_H_
#define PORTA_BACKENDS_HIP_HIP_LIBRARY_H_

#include <hip/hip_runtime_api.h>

#include <memory>
#include <string>

#include "backends/gpu/gpu_api.h"
#include "porta/porta_backend.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::hip {

// Every HIP function the backend calls: X(member, symbol). The member is the GPU layer's name for
// the operation (the CUDA map uses the same names) and has the type the header declares for the
// exported |symbol|, which is also the name messages give the call.
#define PORTA_HIP_FUNCTIONS(X)                            \
  X(driver_get_version, hipDriverGetVersion)              \
  X(runtime_get_version, hipRuntimeGetVersion)            \
  X(get_device_count, hipGetDeviceCount)                  \
  X(device_get_name, hipDeviceGetName)                    \
  X(device_get_attribute, hipDeviceGetAttribute)          \
  X(device_total_mem, hipDeviceTotalMem)                  \
  X(mem_get_info, hipMemGetInfo)                          \
  X(device_can_access_peer, hipDeviceCanAccessPeer)       \
  X(device_enable_peer_access, hipDeviceEnablePeerAccess) \
  X(set_device, hipSetDevice)                             \
  X(get_device, hipGetDevice)                             \
  X(mem_free, hipFree)                                    \
  X(host_free, hipHostFree)                               \
  X(host_get_device_pointer, hipHostGetDevicePointer)     \
  X(host_register, hipHostRegister)                       \
  X(host_unregister, hipHostUnregister)                   \
  X(mem_get_address_range, hipMemGetAddressRange)         \
  X(memcpy_htod_async, hipMemcpyHtoDAsync)                \
  X(memcpy_dtoh_async, hipMemcpyDtoHAsync)                \
  X(memcpy_dtod_async, hipMemcpyDtoDAsync)                \
  X(memcpy_peer_async, hipMemcpyPeerAsync)                \
  X(memset_d8_async, hipMemsetD8Async)                    \
  X(memset_d16_async, hipMemsetD16Async)                  \
  X(memset_d32_async, hipMemsetD32Async)                  \
  X(stream_create, hipStreamCreateWithFlags)              \
  X(stream_destroy, hipStreamDestroy)                     \
  X(stream_synchronize, hipStreamSynchronize)             \
  X(stream_query, hipStreamQuery)                         \
  X(stream_wait_event, hipStreamWaitEvent)                \
  X(event_create, hipEventCreateWithFlags)                \
  X(event_destroy, hipEventDestroy)                       \
  X(event_record, hipEventRecord)                         \
  X(event_query, hipEventQuery)                           \
  X(event_synchronize, hipEventSynchronize)               \
  X(event_elapsed_time, hipEventElapsedTime)              \
  X(module_load, hipModuleLoadData)                       \
  X(module_unload, hipModuleUnload)                       \
  X(module_get_function, hipModuleGetFunction)            \
  X(func_get_attribute, hipFuncGetAttribute)              \
  X(launch_kernel, hipModuleLaunchKernel)

// The graph functions of native graphs (HIP 5.2 has them all), resolved like the ones above but
// optional: without them the backend declines native graphs and the runtime replays graph nodes
// one call at a time.
#define PORTA_HIP_GRAPH_FUNCTIONS(X)                                    \
  X(graph_create, hipGraphCreate)                                       \
  X(graph_destroy, hipGraphDestroy)                                     \
  X(graph_add_kernel_node, hipGraphAddKernelNode)                       \
  X(graph_add_memcpy_node, hipGraphAddMemcpyNode1D)                     \
  X(graph_add_memset_node, hipGraphAddMemsetNode)                       \
  X(graph_instantiate, hipGraphInstantiateWithFlags)                    \
  X(graph_launch, hipGraphLaunch)                                       \
  X(graph_exec_kernel_node_set_params, hipGraphExecKernelNodeSetParams) \
  X(graph_exec_destroy, hipGraphExecDestroy)

// The resolved library. Load() opens it and calls hipInit; every member is valid only after it
// returned true (the optional ones may still be null).
class Library {
 public:
  // Opens libamdhip64 (PORTA_HIP_LIBRARY, when set, replaces the default names), resolves every
  // function and initializes HIP. Returns false with the reason in |why|.
  bool Load(std::string* why);

  // "hipMalloc failed: hipErrorOutOfMemory (2): out of memory" in |msg|, returning the mapped
  // status.
  porta_status_t Fail(hipError_t error, const char* what, porta_be_msg msg) const;
  std::string ErrorText(hipError_t error) const;
  // Logs a warning naming |what| when a call made to release something failed (release slots
  // return nothing, so the log is where that failure is told).
  void Released(hipError_t result, const char* what) const;
  // The Porta status of a HIP error; faults that poison the device become DEVICE_LOST.
  static porta_status_t StatusOf(hipError_t error);

  // HIP runtime version (50221153 for ROCm 5.2).
  int version() const { return version_; }
  const std::string& library_name() const { return library_->name(); }

#define PORTA_HIP_MEMBER(member, symbol) gpu::Function<decltype(&::symbol)> member;
  PORTA_HIP_FUNCTIONS(PORTA_HIP_MEMBER)
  PORTA_HIP_GRAPH_FUNCTIONS(PORTA_HIP_MEMBER)
  // Optional: ROCm 5.2's runtime declares it but does not export it. Without it host functions
  // take the runtime's fallback (synchronize, then call).
  PORTA_HIP_MEMBER(launch_host_func, hipLaunchHostFunc)
  PORTA_HIP_MEMBER(device_get_uuid, hipDeviceGetUuid)  // optional
#undef PORTA_HIP_MEMBER
  // True when every function of PORTA_HIP_GRAPH_FUNCTIONS was found.
  bool has_graphs() const {
    return has_graphs_;
  }
  // The C++ header overloads these with templates, so their types are spelled out.
  gpu::Function<hipError_t (*)(void** ptr, size_t size)> mem_alloc;
  gpu::Function<hipError_t (*)(void** ptr, size_t size, unsigned int flags)> host_alloc;
  // Optional. hipGetDeviceProperties keeps the layout of the ROCm 5 header under this exported
  // name in later releases (which add hipGetDevicePropertiesR0600 beside it); it is the only
  // source of the gfx architecture name.
  gpu::Function<hipError_t (*)(hipDeviceProp_t* prop, int device)> get_device_properties;

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
  decltype(&::hipGetErrorName) get_error_name_ = nullptr;
  decltype(&::hipGetErrorString) get_error_string_ = nullptr;
  int version_ = 0;
  bool has_graphs_ = false;
};

}  // namespace porta::hip

#endif  // PORTA_BACKENDS_HIP_HIP_LIBRARY_H_
