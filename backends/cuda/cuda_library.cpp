#include "backends/cuda/cuda_library.h"

#include <cstdlib>
#include <type_traits>
#include <vector>

#include "porta/sdk/message.h"

namespace porta::cuda {
namespace {

using GetProcAddressFn = decltype(&::cuGetProcAddress_v2);
using InitFn = decltype(&::cuInit);

// Names of the errors cuInit reports for a broken installation, for libraries (the toolkit's stub
// libcuda among them) whose cuGetErrorName does not answer.
const char* InitErrorName(CUresult result) {
  switch (result) {
    case CUDA_ERROR_NOT_INITIALIZED:
      return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_STUB_LIBRARY:
      return "CUDA_ERROR_STUB_LIBRARY: the library is the CUDA toolkit's link stub, not a driver";
    case CUDA_ERROR_DEVICE_UNAVAILABLE:
      return "CUDA_ERROR_DEVICE_UNAVAILABLE";
    case CUDA_ERROR_NO_DEVICE:
      return "CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
      return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
      return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
    default:
      return "CUDA error";
  }
}

}  // namespace

bool Library::Load(std::string* why) {
  std::vector<std::string> names = {"libcuda.so.1", "libcuda.so"};
  const char* override_name = std::getenv("PORTA_CUDA_LIBRARY");
  if (override_name != nullptr && override_name[0] != '\0') names = {override_name};
  std::string error;
  library_ = common::DynamicLibrary::Open(names, &error);
  if (library_ == nullptr) {
    *why = "cannot open the CUDA driver library (" + names.front() +
           "; is the NVIDIA driver installed?): " + error;
    return false;
  }

  std::string missing;
  InitFn init = nullptr;
  library_->Load(&init, "cuInit", &missing);
  library_->Load(&get_error_name_, "cuGetErrorName", &missing);
  library_->Load(&get_error_string_, "cuGetErrorString", &missing);
  if (!missing.empty()) {
    *why = library_->name() + " is not a CUDA driver library: it lacks " + missing;
    return false;
  }
  const CUresult init_result = init(0);
  if (init_result != CUDA_SUCCESS) {
    *why = "cuInit failed in " + library_->name() + ": " + ErrorText(init_result);
    return false;
  }

  // cuGetProcAddress (CUDA 12+) hands out the variant of each function that matches the
  // CUDA_VERSION this file was compiled against, which is exactly the ABI of cuda.h's
  // declarations; older drivers fall back to the versioned export names. The legacy-stream
  // variants are asked for because Porta always passes streams of its own.
  GetProcAddressFn get_proc = nullptr;
  library_->Load(&get_proc, "cuGetProcAddress_v2", nullptr);
  auto resolve = [&](auto* fn, const char* symbol, const char* base, std::string* absent) {
    fn->name = base;
    if (get_proc != nullptr) {
      void* pointer = nullptr;
      CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
      if (get_proc(base, &pointer, CUDA_VERSION, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &found) ==
              CUDA_SUCCESS &&
          found == CU_GET_PROC_ADDRESS_SUCCESS && pointer != nullptr) {
        fn->pointer = reinterpret_cast<decltype(fn->pointer)>(pointer);
        return;
      }
    }
    library_->Load(&fn->pointer, symbol, absent);
  };
#define PORTA_CUDA_RESOLVE(member, symbol, base) resolve(&member, #symbol, base, &missing);
  PORTA_CUDA_FUNCTIONS(PORTA_CUDA_RESOLVE)
#undef PORTA_CUDA_RESOLVE
  resolve(&func_get_param_info, "cuFuncGetParamInfo", "cuFuncGetParamInfo", nullptr);
  std::string graph_missing;
#define PORTA_CUDA_RESOLVE_GRAPH(member, symbol, base) \
  resolve(&member, #symbol, base, &graph_missing);
  PORTA_CUDA_GRAPH_FUNCTIONS(PORTA_CUDA_RESOLVE_GRAPH)
#undef PORTA_CUDA_RESOLVE_GRAPH
  has_graphs_ = graph_missing.empty();
  if (!missing.empty()) {
    *why = library_->name() + " is too old for Porta: it lacks " + missing;
    return false;
  }
  const CUresult version_result = driver_get_version(&version_);
  if (version_result != CUDA_SUCCESS) {
    *why = "cuDriverGetVersion failed: " + ErrorText(version_result);
    return false;
  }
  return true;
}

std::string Library::ErrorText(CUresult result) const {
  const char* name = nullptr;
  const char* text = nullptr;
  if (get_error_name_ == nullptr || get_error_name_(result, &name) != CUDA_SUCCESS) name = nullptr;
  if (get_error_string_ == nullptr || get_error_string_(result, &text) != CUDA_SUCCESS) {
    text = nullptr;
  }
  std::string out = name != nullptr ? name : InitErrorName(result);
  out += " (" + std::to_string(static_cast<int>(result)) + ")";
  if (text != nullptr) out += std::string(": ") + text;
  return out;
}

porta_status_t Library::Fail(CUresult result, const char* what, porta_be_msg msg) const {
  return common::Fail(msg, StatusOf(result), "%s failed: %s", what, ErrorText(result).c_str());
}

porta_status_t Library::StatusOf(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS:
      return PORTA_OK;
    case CUDA_ERROR_NOT_READY:
      return PORTA_NOT_READY;
    case CUDA_ERROR_OUT_OF_MEMORY:
      return PORTA_ERROR_OUT_OF_MEMORY;
    case CUDA_ERROR_NOT_FOUND:
      return PORTA_ERROR_NOT_FOUND;
    case CUDA_ERROR_NOT_SUPPORTED:
      return PORTA_ERROR_UNSUPPORTED;
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_INVALID_SOURCE:
      return PORTA_ERROR_BUILD_FAILED;
    // These leave the context unusable: every later call in it fails the same way, so they are
    // reported as the loss of the device (sticky on the stream).
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_NVLINK_UNCORRECTABLE:
    case CUDA_ERROR_CONTAINED:
    case CUDA_ERROR_TENSOR_MEMORY_LEAK:
    case CUDA_ERROR_DEVICE_UNAVAILABLE:
    case CUDA_ERROR_EXTERNAL_DEVICE:
      return PORTA_ERROR_DEVICE_LOST;
    default:
      return PORTA_ERROR_BACKEND;
  }
}

void Library::Released(CUresult result, const char* what) const {
  if (result == CUDA_SUCCESS) return;
  common::Log(PORTA_LOG_WARNING, "cuda: %s failed while releasing: %s", what,
              ErrorText(result).c_str());
}

}  // namespace porta::cuda
