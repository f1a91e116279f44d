#include "backends/level_zero/level_zero_library.h"

#include <cstdio>
#include <vector>

#include "porta/sdk/message.h"

namespace porta::level_zero {
namespace {

// Level Zero 1.x has no function that names a result, so the names are kept here.
const char* ResultName(ze_result_t result) {
  switch (result) {
#define PORTA_ZE_NAME(name) \
  case name:                \
    return #name;
    PORTA_ZE_NAME(ZE_RESULT_SUCCESS)
    PORTA_ZE_NAME(ZE_RESULT_NOT_READY)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_DEVICE_LOST)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_MODULE_BUILD_FAILURE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_MODULE_LINK_FAILURE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_DEVICE_IN_LOW_POWER_STATE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INSUFFICIENT_PERMISSIONS)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_NOT_AVAILABLE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNINITIALIZED)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNSUPPORTED_VERSION)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNSUPPORTED_FEATURE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_ARGUMENT)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_NULL_HANDLE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_NULL_POINTER)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_SIZE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNSUPPORTED_SIZE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_SYNCHRONIZATION_OBJECT)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_ENUMERATION)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNSUPPORTED_ENUMERATION)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_NATIVE_BINARY)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_KERNEL_NAME)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_INVALID_MODULE_UNLINKED)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_OVERLAPPING_REGIONS)
    PORTA_ZE_NAME(ZE_RESULT_ERROR_UNKNOWN)
#undef PORTA_ZE_NAME
    default:
      return "ZE_RESULT_UNKNOWN_CODE";
  }
}

}  // namespace

bool Library::Load(std::string* why) {
  const std::vector<std::string> names =
      common::LibraryNames("PORTA_LEVEL_ZERO_LIBRARY", {"libze_loader.so.1", "libze_loader.so"});
  std::string error;
  library_ = common::DynamicLibrary::Open(names, &error);
  if (library_ == nullptr) {
    *why = "cannot open the Level Zero loader (" + names.front() +
           "; is level-zero installed?): " + error;
    return false;
  }
  std::string missing;
  decltype(&::zeInit) init = nullptr;
  library_->Load(&init, "zeInit", &missing);
#define PORTA_ZE_RESOLVE(symbol) library_->Load(&symbol, #symbol, &missing);
  PORTA_ZE_FUNCTIONS(PORTA_ZE_RESOLVE)
#undef PORTA_ZE_RESOLVE
  if (!missing.empty()) {
    *why = library_->name() + " is not a usable Level Zero loader: it lacks " + missing;
    return false;
  }
  // GPU drivers only: NPU drivers also speak Level Zero but do not run SPIR-V compute kernels.
  const ze_result_t result = init(ZE_INIT_FLAG_GPU_ONLY);
  if (result != ZE_RESULT_SUCCESS) {
    *why = "zeInit failed in " + library_->name() + ": " + ErrorText(result);
    if (result == ZE_RESULT_ERROR_UNINITIALIZED) {
      *why += " (no Level Zero GPU driver is installed, or none found a device)";
    }
    return false;
  }
  return true;
}

std::string Library::ErrorText(ze_result_t result) {
  char code[32];
  std::snprintf(code, sizeof(code), " (0x%08x)", static_cast<unsigned>(result));
  return std::string(ResultName(result)) + code;
}

porta_status_t Library::Fail(ze_result_t result, const char* what, porta_be_msg msg) const {
  return common::Fail(msg, StatusOf(result), "%s failed: %s", what, ErrorText(result).c_str());
}

porta_status_t Library::StatusOf(ze_result_t result) {
  switch (result) {
    case ZE_RESULT_SUCCESS:
      return PORTA_OK;
    case ZE_RESULT_NOT_READY:
      return PORTA_NOT_READY;
    case ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY:
    case ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY:
      return PORTA_ERROR_OUT_OF_MEMORY;
    case ZE_RESULT_ERROR_MODULE_BUILD_FAILURE:
    case ZE_RESULT_ERROR_MODULE_LINK_FAILURE:
    case ZE_RESULT_ERROR_INVALID_NATIVE_BINARY:
      return PORTA_ERROR_BUILD_FAILED;
    case ZE_RESULT_ERROR_INVALID_KERNEL_NAME:
      return PORTA_ERROR_NOT_FOUND;
    case ZE_RESULT_ERROR_UNSUPPORTED_FEATURE:
    case ZE_RESULT_ERROR_UNSUPPORTED_VERSION:
      return PORTA_ERROR_UNSUPPORTED;
    case ZE_RESULT_ERROR_DEVICE_LOST:
    case ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET:
      return PORTA_ERROR_DEVICE_LOST;
    default:
      return PORTA_ERROR_BACKEND;
  }
}

void Library::Released(ze_result_t result, const char* what) const {
  if (result == ZE_RESULT_SUCCESS) return;
  common::Log(PORTA_LOG_WARNING, "level_zero: %s failed while releasing: %s", what,
              ErrorText(result).c_str());
}

}  // namespace porta::level_zero
