// The HIP runtime API, resolved at run time from libamdhip64 so that libporta loads on machines
// without ROCm. Only the module ("driver-style") half of HIP is used: code objects are loaded
// from memory, nothing is registered at static-initialization time.
#ifndef PORTA_BACKENDS_HIP_HIP_LIBRARY_H_
#define PORTA_BACKENDS_HIP_HIP_LIBRARY_H_

#include <hip/hip_runtime_api.h>

#include <memory>
#include <string>

#include "porta/porta_backend.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::hip {

// Every HIP function the backend calls, by exported name; each member has the type the header
// declares for it.
#define PORTA_HIP_FUNCTIONS(X) \
  X(hipDriverGetVersion)       \
  X(hipRuntimeGetVersion)      \
  X(hipGetErrorName)           \
  X(hipGetErrorString)         \
  X(hipGetDeviceCount)         \
  X(hipDeviceGetName)          \
  X(hipDeviceGetAttribute)     \
  X(hipDeviceTotalMem)         \
  X(hipMemGetInfo)             \
  X(hipDeviceCanAccessPeer)    \
  X(hipDeviceEnablePeerAccess) \
  X(hipSetDevice)              \
  X(hipGetDevice)              \
  X(hipFree)                   \
  X(hipHostFree)               \
  X(hipHostGetDevicePointer)   \
  X(hipHostRegister)           \
  X(hipHostUnregister)         \
  X(hipMemGetAddressRange)     \
  X(hipMemcpyHtoDAsync)        \
  X(hipMemcpyDtoHAsync)        \
  X(hipMemcpyDtoDAsync)        \
  X(hipMemcpyPeerAsync)        \
  X(hipMemsetD8Async)          \
  X(hipMemsetD16Async)         \
  X(hipMemsetD32Async)         \
  X(hipStreamCreateWithFlags)  \
  X(hipStreamDestroy)          \
  X(hipStreamSynchronize)      \
  X(hipStreamQuery)            \
  X(hipStreamWaitEvent)        \
  X(hipEventCreateWithFlags)   \
  X(hipEventDestroy)           \
  X(hipEventRecord)            \
  X(hipEventQuery)             \
  X(hipEventSynchronize)       \
  X(hipEventElapsedTime)       \
  X(hipModuleLoadData)         \
  X(hipModuleUnload)           \
  X(hipModuleGetFunction)      \
  X(hipFuncGetAttribute)       \
  X(hipModuleLaunchKernel)

// The graph functions of native graphs (HIP 5.2 has them all), resolved like the ones above but
// optional: without them the backend declines native graphs and the runtime replays graph nodes
// one call at a time.
#define PORTA_HIP_GRAPH_FUNCTIONS(X) \
  X(hipGraphCreate)                  \
  X(hipGraphDestroy)                 \
  X(hipGraphAddKernelNode)           \
  X(hipGraphAddMemcpyNode1D)         \
  X(hipGraphAddMemsetNode)           \
  X(hipGraphInstantiateWithFlags)    \
  X(hipGraphLaunch)                  \
  X(hipGraphExecKernelNodeSetParams) \
  X(hipGraphExecDestroy)

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

#define PORTA_HIP_MEMBER(symbol) decltype(&::symbol) symbol = nullptr;
  PORTA_HIP_FUNCTIONS(PORTA_HIP_MEMBER)
  PORTA_HIP_GRAPH_FUNCTIONS(PORTA_HIP_MEMBER)
#undef PORTA_HIP_MEMBER
  // True when every function of PORTA_HIP_GRAPH_FUNCTIONS was found.
  bool has_graphs() const {
    return has_graphs_;
  }
  // Optional: ROCm 5.2's runtime declares it but does not export it. Without it host functions
  // take the runtime's fallback (synchronize, then call).
  decltype(&::hipLaunchHostFunc) hipLaunchHostFunc = nullptr;
  // The C++ header overloads these with templates, so their types are spelled out.
  hipError_t (*hipMalloc)(void** ptr, size_t size) = nullptr;
  hipError_t (*hipHostMalloc)(void** ptr, size_t size, unsigned int flags) = nullptr;
  // Optional. hipGetDeviceProperties keeps the layout of the ROCm 5 header under this exported
  // name in later releases (which add hipGetDevicePropertiesR0600 beside it); it is the only
  // source of the gfx architecture name.
  hipError_t (*hipGetDeviceProperties)(hipDeviceProp_t* prop, int device) = nullptr;
  decltype(&::hipDeviceGetUuid) hipDeviceGetUuid = nullptr;

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
  int version_ = 0;
  bool has_graphs_ = false;
};

}  // namespace porta::hip

#endif  // PORTA_BACKENDS_HIP_HIP_LIBRARY_H_
