// The CUDA driver API, resolved at run time from libcuda.so.1: no link-time dependency on the
// driver or the CUDA runtime, so libporta loads on machines without an NVIDIA driver. The loader
// half of the CUDA map of the GPU layer (backends/gpu/gpu_api.h).
#ifndef PORTA_BACKENDS_CUDA_CUDA_LIBRARY_H_
#define PORTA_BACKENDS_CUDA_CUDA_LIBRARY_H_

#include <cuda.h>

#include <memory>
#include <string>

#include "backends/gpu/gpu_api.h"
#include "porta/porta_backend.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::cuda {

// Every driver function the backend calls: X(member, symbol, base name). The member is the GPU
// layer's name for the operation (the HIP map uses the same names); it has the type cuda.h
// declares for the exported, versioned |symbol|; |base| is what cuGetProcAddress expects and what
// messages name. Versioned symbols matter: the unsuffixed cuMemAlloc, for example, is the
// 32-bit-pointer ABI kept for old binaries.
#define PORTA_CUDA_FUNCTIONS(X)                                                         \
  X(driver_get_version, cuDriverGetVersion, "cuDriverGetVersion")                       \
  X(device_get_count, cuDeviceGetCount, "cuDeviceGetCount")                             \
  X(device_get, cuDeviceGet, "cuDeviceGet")                                             \
  X(device_get_name, cuDeviceGetName, "cuDeviceGetName")                                \
  X(device_get_attribute, cuDeviceGetAttribute, "cuDeviceGetAttribute")                 \
  X(device_total_mem, cuDeviceTotalMem_v2, "cuDeviceTotalMem")                          \
  X(mem_get_info, cuMemGetInfo_v2, "cuMemGetInfo")                                      \
  X(device_get_uuid, cuDeviceGetUuid_v2, "cuDeviceGetUuid")                             \
  X(device_can_access_peer, cuDeviceCanAccessPeer, "cuDeviceCanAccessPeer")             \
  X(primary_ctx_retain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")           \
  X(primary_ctx_release, cuDevicePrimaryCtxRelease_v2, "cuDevicePrimaryCtxRelease")     \
  X(ctx_get_current, cuCtxGetCurrent, "cuCtxGetCurrent")                                \
  X(ctx_set_current, cuCtxSetCurrent, "cuCtxSetCurrent")                                \
  X(ctx_enable_peer_access, cuCtxEnablePeerAccess, "cuCtxEnablePeerAccess")             \
  X(mem_alloc, cuMemAlloc_v2, "cuMemAlloc")                                             \
  X(mem_free, cuMemFree_v2, "cuMemFree")                                                \
  X(host_alloc, cuMemHostAlloc, "cuMemHostAlloc")                                       \
  X(host_free, cuMemFreeHost, "cuMemFreeHost")                                          \
  X(host_get_device_pointer, cuMemHostGetDevicePointer_v2, "cuMemHostGetDevicePointer") \
  X(host_register, cuMemHostRegister_v2, "cuMemHostRegister")                           \
  X(host_unregister, cuMemHostUnregister, "cuMemHostUnregister")                        \
  X(mem_get_address_range, cuMemGetAddressRange_v2, "cuMemGetAddressRange")             \
  X(memcpy_htod_async, cuMemcpyHtoDAsync_v2, "cuMemcpyHtoDAsync")                       \
  X(memcpy_dtoh_async, cuMemcpyDtoHAsync_v2, "cuMemcpyDtoHAsync")                       \
  X(memcpy_dtod_async, cuMemcpyDtoDAsync_v2, "cuMemcpyDtoDAsync")                       \
  X(memcpy_peer_async, cuMemcpyPeerAsync, "cuMemcpyPeerAsync")                          \
  X(memset_d8_async, cuMemsetD8Async, "cuMemsetD8Async")                                \
  X(memset_d16_async, cuMemsetD16Async, "cuMemsetD16Async")                             \
  X(memset_d32_async, cuMemsetD32Async, "cuMemsetD32Async")                             \
  X(stream_create, cuStreamCreate, "cuStreamCreate")                                    \
  X(stream_destroy, cuStreamDestroy_v2, "cuStreamDestroy")                              \
  X(stream_synchronize, cuStreamSynchronize, "cuStreamSynchronize")                     \
  X(stream_query, cuStreamQuery, "cuStreamQuery")                                       \
  X(stream_wait_event, cuStreamWaitEvent, "cuStreamWaitEvent")                          \
  X(launch_host_func, cuLaunchHostFunc, "cuLaunchHostFunc")                             \
  X(event_create, cuEventCreate, "cuEventCreate")                                       \
  X(event_destroy, cuEventDestroy_v2, "cuEventDestroy")                                 \
  X(event_record, cuEventRecord, "cuEventRecord")                                       \
  X(event_query, cuEventQuery, "cuEventQuery")                                          \
  X(event_synchronize, cuEventSynchronize, "cuEventSynchronize")                        \
  X(event_elapsed_time, cuEventElapsedTime, "cuEventElapsedTime")                       \
  X(module_load, cuModuleLoadDataEx, "cuModuleLoadDataEx")                              \
  X(module_unload, cuModuleUnload, "cuModuleUnload")                                    \
  X(module_get_function, cuModuleGetFunction, "cuModuleGetFunction")                    \
  X(func_get_attribute, cuFuncGetAttribute, "cuFuncGetAttribute")                       \
  X(func_set_attribute, cuFuncSetAttribute, "cuFuncSetAttribute")                       \
  X(launch_kernel, cuLaunchKernel, "cuLaunchKernel")

// Driver functions of native graphs (CUDA 12.0+ for the _v2 kernel node calls), resolved like the
// ones above but optional: without them the backend declines native graphs and the runtime replays
// graph nodes one call at a time.
#define PORTA_CUDA_GRAPH_FUNCTIONS(X)                                              \
  X(graph_create, cuGraphCreate, "cuGraphCreate")                                  \
  X(graph_destroy, cuGraphDestroy, "cuGraphDestroy")                               \
  X(graph_add_kernel_node, cuGraphAddKernelNode_v2, "cuGraphAddKernelNode")        \
  X(graph_add_memcpy_node, cuGraphAddMemcpyNode, "cuGraphAddMemcpyNode")           \
  X(graph_add_memset_node, cuGraphAddMemsetNode, "cuGraphAddMemsetNode")           \
  X(graph_instantiate, cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags") \
  X(graph_launch, cuGraphLaunch, "cuGraphLaunch")                                  \
  X(graph_exec_kernel_node_set_params, cuGraphExecKernelNodeSetParams_v2,          \
    "cuGraphExecKernelNodeSetParams")                                              \
  X(graph_exec_destroy, cuGraphExecDestroy, "cuGraphExecDestroy")

// The resolved driver. Load() opens the library and calls cuInit; every other member is valid
// only after it returned true.
class Library {
 public:
  // Opens |library_names| in order (PORTA_CUDA_LIBRARY, when set, replaces them), resolves every
  // function and initializes the driver. Returns false with the reason in |why| (the library and
  // dlerror, the missing symbols, or cuInit's error name and code).
  bool Load(std::string* why);

  // "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory" in |msg|, and the Porta
  // status |result| maps to. |what| names the failing call and may carry context.
  porta_status_t Fail(CUresult result, const char* what, porta_be_msg msg) const;
  // "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory".
  std::string ErrorText(CUresult result) const;
  // Logs a warning naming |what| when a call made to release something failed (release slots
  // return nothing, so the log is where that failure is told).
  void Released(CUresult result, const char* what) const;
  // The Porta status of a driver result; faults that poison the context become DEVICE_LOST.
  static porta_status_t StatusOf(CUresult result);

  // Driver API version (12040 for CUDA 12.4), as cuDriverGetVersion reports it.
  int version() const { return version_; }
  const std::string& library_name() const { return library_->name(); }

#define PORTA_CUDA_MEMBER(member, symbol, base) gpu::Function<decltype(&::symbol)> member;
  PORTA_CUDA_FUNCTIONS(PORTA_CUDA_MEMBER)
  // Optional (CUDA 12.4+): lets launches check the argument list against the kernel's parameters.
  PORTA_CUDA_MEMBER(func_get_param_info, cuFuncGetParamInfo, "cuFuncGetParamInfo")
  PORTA_CUDA_GRAPH_FUNCTIONS(PORTA_CUDA_MEMBER)
#undef PORTA_CUDA_MEMBER
  // True when every function of PORTA_CUDA_GRAPH_FUNCTIONS was found.
  bool has_graphs() const {
    return has_graphs_;
  }

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
  // Resolved first, for the text of cuInit's error.
  decltype(&::cuGetErrorName) get_error_name_ = nullptr;
  decltype(&::cuGetErrorString) get_error_string_ = nullptr;
  int version_ = 0;
  bool has_graphs_ = false;
};

}  // namespace porta::cuda

#endif  // PORTA_BACKENDS_CUDA_CUDA_LIBRARY_H_
