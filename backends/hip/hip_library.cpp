#include "backends/hip/hip_library.h"

#include <sys/stat.h>

#include <cstdlib>
#include <vector>

#include "porta/sdk/message.h"

namespace porta::hip {

bool Library::Load(std::string* why) {
  std::vector<std::string> names = {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};
  const char* override_name = std::getenv("PORTA_HIP_LIBRARY");
  if (override_name != nullptr && override_name[0] != '\0') names = {override_name};
  std::string error;
  library_ = common::DynamicLibrary::Open(names, &error);
  if (library_ == nullptr) {
    *why = "cannot open the HIP runtime (" + names.front() + "; is ROCm installed?): " + error;
    return false;
  }
  std::string missing;
  decltype(&::hipInit) init = nullptr;
  library_->Load(&init, "hipInit", &missing);
  library_->Load(&get_error_name_, "hipGetErrorName", &missing);
  library_->Load(&get_error_string_, "hipGetErrorString", &missing);
  const auto resolve = [&](auto* fn, const char* symbol, std::string* absent) {
    fn->name = symbol;
    library_->Load(&fn->pointer, symbol, absent);
  };
#define PORTA_HIP_RESOLVE(member, symbol) resolve(&member, #symbol, &missing);
  PORTA_HIP_FUNCTIONS(PORTA_HIP_RESOLVE)
#undef PORTA_HIP_RESOLVE
  resolve(&mem_alloc, "hipMalloc", &missing);
  resolve(&host_alloc, "hipHostMalloc", &missing);
  resolve(&get_device_properties, "hipGetDeviceProperties", nullptr);
  resolve(&device_get_uuid, "hipDeviceGetUuid", nullptr);
  resolve(&launch_host_func, "hipLaunchHostFunc", nullptr);
  std::string graph_missing;
#define PORTA_HIP_RESOLVE_GRAPH(member, symbol) resolve(&member, #symbol, &graph_missing);
  PORTA_HIP_GRAPH_FUNCTIONS(PORTA_HIP_RESOLVE_GRAPH)
#undef PORTA_HIP_RESOLVE_GRAPH
  has_graphs_ = graph_missing.empty();
  if (!missing.empty()) {
    *why = library_->name() + " is not a usable HIP runtime: it lacks " + missing;
    return false;
  }
  const hipError_t init_error = init(0);
  if (init_error != hipSuccess) {
    *why = "hipInit failed in " + library_->name() + ": " + ErrorText(init_error);
    // Without the amdgpu kernel driver there is no /dev/kfd; saying so saves a user a search.
    struct stat info;
    if (stat("/dev/kfd", &info) != 0) *why += " (/dev/kfd is missing: no amdgpu kernel driver)";
    return false;
  }
  const hipError_t version_error = runtime_get_version(&version_);
  if (version_error != hipSuccess) {
    *why = "hipRuntimeGetVersion failed: " + ErrorText(version_error);
    return false;
  }
  return true;
}

std::string Library::ErrorText(hipError_t error) const {
  const char* name = get_error_name_ != nullptr ? get_error_name_(error) : nullptr;
  const char* text = get_error_string_ != nullptr ? get_error_string_(error) : nullptr;
  std::string out = name != nullptr ? name : "HIP error";
  out += " (" + std::to_string(static_cast<int>(error)) + ")";
  if (text != nullptr && (name == nullptr || std::string(name) != text)) {
    out += std::string(": ") + text;
  }
  return out;
}

porta_status_t Library::Fail(hipError_t error, const char* what, porta_be_msg msg) const {
  return common::Fail(msg, StatusOf(error), "%s failed: %s", what, ErrorText(error).c_str());
}

porta_status_t Library::StatusOf(hipError_t error) {
  switch (error) {
    case hipSuccess:
      return PORTA_OK;
    case hipErrorNotReady:
      return PORTA_NOT_READY;
    case hipErrorOutOfMemory:
      return PORTA_ERROR_OUT_OF_MEMORY;
    case hipErrorNotFound:
      return PORTA_ERROR_NOT_FOUND;
    case hipErrorNotSupported:
      return PORTA_ERROR_UNSUPPORTED;
    case hipErrorInvalidImage:
    case hipErrorNoBinaryForGpu:
    case hipErrorInvalidKernelFile:
    case hipErrorSharedObjectInitFailed:
      return PORTA_ERROR_BUILD_FAILED;
    case hipErrorIllegalAddress:
    case hipErrorLaunchFailure:
    case hipErrorAssert:
    case hipErrorLaunchTimeOut:
    case hipErrorECCNotCorrectable:
      return PORTA_ERROR_DEVICE_LOST;
    default:
      return PORTA_ERROR_BACKEND;
  }
}

void Library::Released(hipError_t result, const char* what) const {
  if (result == hipSuccess) return;
  common::Log(PORTA_LOG_WARNING, "hip: %s failed while releasing: %s", what,
              ErrorText(result).c_str());
}

}  // namespace porta::hip
