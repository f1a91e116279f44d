// libFuzzer entry for what the Vulkan backend does with a SPIR-V module's bytes before the driver
// sees them: the reflection (backends/vulkan/spirv_reflect.cpp) and the validator
// (backends/common/spirv_validate.cpp, structural check plus spirv-val where built with
// SPIRV-Tools). Any bytes must give a result or an error text, never a crash; a reflected entry
// point must be found by its own name.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "backends/vulkan/spirv_reflect.h"
#include "porta/sdk/spirv_validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy of the whole words, as ModuleLoad makes one.
  std::vector<uint32_t> words(size / 4);
  if (!words.empty()) std::memcpy(words.data(), data, words.size() * 4);

  porta::vulkan::SpirvModuleInfo info;
  std::string reflect_error;
  const bool reflected =
      porta::vulkan::ReflectSpirv(words.data(), words.size(), &info, &reflect_error);
  if (reflected) {
    for (const porta::vulkan::SpirvEntryPoint& entry : info.entry_points) {
      if (info.Find(entry.name) == nullptr) __builtin_trap();
    }
  } else if (reflect_error.empty()) {
    __builtin_trap();
  }

  porta::common::SpirvValidateOptions options;
  std::string error;
  const bool valid = porta::common::ValidateSpirv(words.data(), words.size(), options, &error);
  if (!valid && error.empty()) __builtin_trap();
  // The two walk the same instruction stream: a module the validator accepts has a header and
  // instruction lengths the reflection must accept too.
  if (valid && !reflected &&
      (reflect_error.rfind("malformed SPIR-V", 0) == 0 ||
       reflect_error.rfind("not a SPIR-V binary", 0) == 0 ||
       reflect_error.rfind("the SPIR-V binary is shorter", 0) == 0)) {
    __builtin_trap();
  }
  // The OpenCL / Level Zero path takes the caller's bytes as they are.
  options.environment = porta::common::SpirvEnvironment::kOpenCl;
  error.clear();
  if (!porta::common::ValidateSpirvBytes(data, size, options, &error) && error.empty()) {
    __builtin_trap();
  }
  return 0;
}
