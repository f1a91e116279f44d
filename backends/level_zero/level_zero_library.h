// The Level Zero core API, resolved at run time from the loader (libze_loader.so.1) so that
// libporta loads on machines without Intel's GPU stack.
#ifndef PORTA_BACKENDS_LEVEL_ZERO_LEVEL_ZERO_LIBRARY_H_
#define PORTA_BACKENDS_LEVEL_ZERO_LEVEL_ZERO_LIBRARY_H_

#include <level_zero/ze_api.h>

#include <memory>
#include <string>

#include "porta/porta_backend.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::level_zero {

// Every Level Zero function the backend calls (all in the 1.0 core API), by exported name.
#define PORTA_ZE_FUNCTIONS(X)                \
  X(zeDriverGet)                             \
  X(zeDriverGetApiVersion)                   \
  X(zeDriverGetProperties)                   \
  X(zeDriverGetExtensionFunctionAddress)     \
  X(zeDeviceGet)                             \
  X(zeDeviceGetProperties)                   \
  X(zeDeviceGetComputeProperties)            \
  X(zeDeviceGetModuleProperties)             \
  X(zeDeviceGetMemoryProperties)             \
  X(zeDeviceGetMemoryAccessProperties)       \
  X(zeDeviceGetCommandQueueGroupProperties)  \
  X(zeDeviceCanAccessPeer)                   \
  X(zeContextCreate)                         \
  X(zeContextDestroy)                        \
  X(zeCommandQueueCreate)                    \
  X(zeCommandQueueDestroy)                   \
  X(zeCommandQueueExecuteCommandLists)       \
  X(zeCommandQueueSynchronize)               \
  X(zeCommandListCreate)                     \
  X(zeCommandListDestroy)                    \
  X(zeCommandListClose)                      \
  X(zeCommandListReset)                      \
  X(zeCommandListAppendBarrier)              \
  X(zeCommandListAppendMemoryCopy)           \
  X(zeCommandListAppendMemoryFill)           \
  X(zeCommandListAppendWaitOnEvents)         \
  X(zeCommandListAppendWriteGlobalTimestamp) \
  X(zeCommandListAppendLaunchKernel)         \
  X(zeFenceCreate)                           \
  X(zeFenceDestroy)                          \
  X(zeFenceHostSynchronize)                  \
  X(zeFenceQueryStatus)                      \
  X(zeFenceReset)                            \
  X(zeEventPoolCreate)                       \
  X(zeEventPoolDestroy)                      \
  X(zeEventCreate)                           \
  X(zeEventDestroy)                          \
  X(zeEventHostSynchronize)                  \
  X(zeEventQueryStatus)                      \
  X(zeEventHostReset)                        \
  X(zeMemAllocDevice)                        \
  X(zeMemAllocHost)                          \
  X(zeMemAllocShared)                        \
  X(zeMemFree)                               \
  X(zeMemGetAddressRange)                    \
  X(zeModuleCreate)                          \
  X(zeModuleDestroy)                         \
  X(zeModuleBuildLogGetString)               \
  X(zeModuleBuildLogDestroy)                 \
  X(zeKernelCreate)                          \
  X(zeKernelDestroy)                         \
  X(zeKernelGetProperties)                   \
  X(zeKernelSetGroupSize)                    \
  X(zeKernelSetArgumentValue)

// The resolved loader. Load() opens it and calls zeInit; the members are valid only after it
// returned true.
class Library {
 public:
  // Opens the loader (PORTA_LEVEL_ZERO_LIBRARY, when set, replaces the default names), resolves
  // every function and initializes the GPU drivers. Returns false with the reason in |why|.
  bool Load(std::string* why);

  // "zeMemAllocDevice failed: ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY (0x70000003)" in |msg|,
  // returning the mapped status.
  porta_status_t Fail(ze_result_t result, const char* what, porta_be_msg msg) const;
  static std::string ErrorText(ze_result_t result);
  // Logs a warning naming |what| when a call made to release something failed (release slots
  // return nothing, so the log is where that failure is told).
  void Released(ze_result_t result, const char* what) const;
  // The Porta status of a result; device loss becomes DEVICE_LOST.
  static porta_status_t StatusOf(ze_result_t result);

  const std::string& library_name() const { return library_->name(); }

#define PORTA_ZE_MEMBER(symbol) decltype(&::symbol) symbol = nullptr;
  PORTA_ZE_FUNCTIONS(PORTA_ZE_MEMBER)
#undef PORTA_ZE_MEMBER

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
};

}  // namespace porta::level_zero

#endif  // PORTA_BACKENDS_LEVEL_ZERO_LEVEL_ZERO_LIBRARY_H_
