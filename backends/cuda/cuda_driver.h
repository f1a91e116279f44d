// The CUDA driver API, resolved at run time from libcuda.so.1: no link-time dependency on the
// driver or the CUDA runtime, so libporta loads on machines without an NVIDIA driver.
#ifndef PORTA_BACKENDS_CUDA_CUDA_DRIVER_H_
#define PORTA_BACKENDS_CUDA_CUDA_DRIVER_H_

#include <cuda.h>

#include <memory>
#include <string>

#include "porta/porta_backend.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::cuda {

// Every driver function the backend calls: X(symbol, base name). The member is named after the
// exported (versioned) symbol and has the type cuda.h declares for it; the base name is what
// cuGetProcAddress expects. Versioned symbols matter: the unsuffixed cuMemAlloc, for example, is
// the 32-bit-pointer ABI kept for old binaries.
#define PORTA_CUDA_FUNCTIONS(X)                                \
  X(cuDriverGetVersion, "cuDriverGetVersion")                  \
  X(cuGetErrorName, "cuGetErrorName")                          \
  X(cuGetErrorString, "cuGetErrorString")                      \
  X(cuDeviceGetCount, "cuDeviceGetCount")                      \
  X(cuDeviceGet, "cuDeviceGet")                                \
  X(cuDeviceGetName, "cuDeviceGetName")                        \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute")              \
  X(cuDeviceTotalMem_v2, "cuDeviceTotalMem")                   \
  X(cuMemGetInfo_v2, "cuMemGetInfo")                           \
  X(cuDeviceGetUuid_v2, "cuDeviceGetUuid")                     \
  X(cuDeviceCanAccessPeer, "cuDeviceCanAccessPeer")            \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")      \
  X(cuDevicePrimaryCtxRelease_v2, "cuDevicePrimaryCtxRelease") \
  X(cuCtxGetCurrent, "cuCtxGetCurrent")                        \
  X(cuCtxSetCurrent, "cuCtxSetCurrent")                        \
  X(cuCtxEnablePeerAccess, "cuCtxEnablePeerAccess")            \
  X(cuMemAlloc_v2, "cuMemAlloc")                               \
  X(cuMemFree_v2, "cuMemFree")                                 \
  X(cuMemHostAlloc, "cuMemHostAlloc")                          \
  X(cuMemFreeHost, "cuMemFreeHost")                            \
  X(cuMemHostGetDevicePointer_v2, "cuMemHostGetDevicePointer") \
  X(cuMemHostRegister_v2, "cuMemHostRegister")                 \
  X(cuMemHostUnregister, "cuMemHostUnregister")                \
  X(cuMemGetAddressRange_v2, "cuMemGetAddressRange")           \
  X(cuMemcpyHtoDAsync_v2, "cuMemcpyHtoDAsync")                 \
  X(cuMemcpyDtoHAsync_v2, "cuMemcpyDtoHAsync")                 \
  X(cuMemcpyDtoDAsync_v2, "cuMemcpyDtoDAsync")                 \
  X(cuMemcpyPeerAsync, "cuMemcpyPeerAsync")                    \
  X(cuMemsetD8Async, "cuMemsetD8Async")                        \
  X(cuMemsetD16Async, "cuMemsetD16Async")                      \
  X(cuMemsetD32Async, "cuMemsetD32Async")                      \
  X(cuStreamCreate, "cuStreamCreate")                          \
  X(cuStreamDestroy_v2, "cuStreamDestroy")                     \
  X(cuStreamSynchronize, "cuStreamSynchronize")                \
  X(cuStreamQuery, "cuStreamQuery")                            \
  X(cuStreamWaitEvent, "cuStreamWaitEvent")                    \
  X(cuLaunchHostFunc, "cuLaunchHostFunc")                      \
  X(cuEventCreate, "cuEventCreate")                            \
  X(cuEventDestroy_v2, "cuEventDestroy")                       \
  X(cuEventRecord, "cuEventRecord")                            \
  X(cuEventQuery, "cuEventQuery")                              \
  X(cuEventSynchronize, "cuEventSynchronize")                  \
  X(cuEventElapsedTime, "cuEventElapsedTime")                  \
  X(cuModuleLoadDataEx, "cuModuleLoadDataEx")                  \
  X(cuModuleUnload, "cuModuleUnload")                          \
  X(cuModuleGetFunction, "cuModuleGetFunction")                \
  X(cuFuncGetAttribute, "cuFuncGetAttribute")                  \
  X(cuFuncSetAttribute, "cuFuncSetAttribute")                  \
  X(cuLaunchKernel, "cuLaunchKernel")

// Driver functions of native graphs (CUDA 12.0+ for the _v2 kernel node calls), resolved like the
// ones above but optional: without them the backend declines native graphs and the runtime replays
// graph nodes one call at a time.
#define PORTA_CUDA_GRAPH_FUNCTIONS(X)                                    \
  X(cuGraphCreate, "cuGraphCreate")                                      \
  X(cuGraphDestroy, "cuGraphDestroy")                                    \
  X(cuGraphAddKernelNode_v2, "cuGraphAddKernelNode")                     \
  X(cuGraphAddMemcpyNode, "cuGraphAddMemcpyNode")                        \
  X(cuGraphAddMemsetNode, "cuGraphAddMemsetNode")                        \
  X(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags")          \
  X(cuGraphLaunch, "cuGraphLaunch")                                      \
  X(cuGraphExecKernelNodeSetParams_v2, "cuGraphExecKernelNodeSetParams") \
  X(cuGraphExecDestroy, "cuGraphExecDestroy")

// The resolved driver. Load() opens the library and calls cuInit; every other member is valid
// only after it returned true.
class Driver {
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

#define PORTA_CUDA_MEMBER(symbol, base) decltype(&::symbol) symbol = nullptr;
  PORTA_CUDA_FUNCTIONS(PORTA_CUDA_MEMBER)
  // Optional (CUDA 12.4+): lets launches check the argument list against the kernel's parameters.
  decltype(&::cuFuncGetParamInfo) cuFuncGetParamInfo = nullptr;
  PORTA_CUDA_GRAPH_FUNCTIONS(PORTA_CUDA_MEMBER)
#undef PORTA_CUDA_MEMBER
  // True when every function of PORTA_CUDA_GRAPH_FUNCTIONS was found.
  bool has_graphs() const {
    return has_graphs_;
  }

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
  int version_ = 0;
  bool has_graphs_ = false;
};

}  // namespace porta::cuda

#endif  // PORTA_BACKENDS_CUDA_CUDA_DRIVER_H_
