// SPIR-V validation: Porta's own structural check, then SPIRV-Tools' validator where the build
// has it (PORTA_HAVE_SPIRV_TOOLS, set by backends/common/CMakeLists.txt).
#include "porta/sdk/spirv_validate.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#ifdef PORTA_HAVE_SPIRV_TOOLS
#include <spirv-tools/libspirv.h>
#endif

namespace porta::common {
namespace {

constexpr uint32_t kMagic = 0x07230203u;
constexpr size_t kHeaderWords = 5;
constexpr uint32_t kOpFunction = 54;
constexpr uint32_t kOpFunctionEnd = 56;

bool Fail(std::string* error, const char* format, size_t a, unsigned b = 0) {
  char text[192];
  std::snprintf(text, sizeof(text), format, a, b);
  *error = std::string("structural check: ") + text;
  return false;
}

// The checks that keep a driver from reading past the binary or through an unclosed function;
// the only check in a build without SPIRV-Tools.
bool CheckStructure(const uint32_t* words, size_t count, std::string* error) {
  if (count < kHeaderWords) {
    return Fail(error, "the binary has %zu words, fewer than the 5-word header", count);
  }
  if (words[0] != kMagic) {
    return Fail(error, "word 0 is 0x%08zx, not the SPIR-V magic number 0x%08x", words[0], kMagic);
  }
  if (words[3] == 0) return Fail(error, "the id bound (word %zu) is 0", 3);
  bool in_function = false;
  size_t function_start = 0;
  for (size_t pos = kHeaderWords; pos < count;) {
    const uint32_t length = words[pos] >> 16;
    const uint32_t opcode = words[pos] & 0xffffu;
    if (length == 0) {
      return Fail(error, "the instruction at word %zu (opcode %u) has a word count of 0", pos,
                  opcode);
    }
    if (length > count - pos) {
      return Fail(error, "the instruction at word %zu (opcode %u) runs past the end of the binary",
                  pos, opcode);
    }
    if (opcode == kOpFunction) {
      if (in_function) {
        return Fail(error, "OpFunction at word %zu opens a function inside another", pos);
      }
      in_function = true;
      function_start = pos;
    } else if (opcode == kOpFunctionEnd) {
      if (!in_function) return Fail(error, "OpFunctionEnd at word %zu closes no function", pos);
      in_function = false;
    }
    pos += length;
  }
  if (in_function) {
    return Fail(error, "the function opened at word %zu has no OpFunctionEnd", function_start);
  }
  return true;
}

#ifdef PORTA_HAVE_SPIRV_TOOLS
struct ContextDeleter {
  void operator()(spv_context context) const { spvContextDestroy(context); }
};
struct OptionsDeleter {
  void operator()(spv_validator_options options) const { spvValidatorOptionsDestroy(options); }
};
struct DiagnosticDeleter {
  void operator()(spv_diagnostic diagnostic) const { spvDiagnosticDestroy(diagnostic); }
};

// Modules (with the options they were checked under) that passed the validator in this process,
// compared byte for byte, so a hit is never a different module with the same hash. Bounded: once
// it holds kMaxBytes it starts over.
class ValidatedModules {
 public:
  static ValidatedModules& Get() {
    static ValidatedModules* modules = new ValidatedModules();
    return *modules;
  }
  bool Contains(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_.count(key) != 0;
  }
  void Add(std::string key) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (bytes_ + key.size() > kMaxBytes) {
      keys_.clear();
      bytes_ = 0;
    }
    bytes_ += key.size();
    keys_.insert(std::move(key));
  }

 private:
  static constexpr size_t kMaxBytes = size_t{64} << 20;
  std::mutex mutex_;
  std::unordered_set<std::string> keys_;
  size_t bytes_ = 0;
};

bool RunValidator(const uint32_t* words, size_t count, const SpirvValidateOptions& options,
                  std::string* error) {
  spv_target_env env = SPV_ENV_VULKAN_1_2;
  const char* env_name = "Vulkan 1.2";
  switch (options.environment) {
    case SpirvEnvironment::kVulkan1_2:
      break;
    case SpirvEnvironment::kVulkan1_3:
      env = SPV_ENV_VULKAN_1_3;
      env_name = "Vulkan 1.3";
      break;
    case SpirvEnvironment::kOpenCl: {
      static constexpr spv_target_env kUniversal[] = {SPV_ENV_UNIVERSAL_1_0, SPV_ENV_UNIVERSAL_1_1,
                                                      SPV_ENV_UNIVERSAL_1_2, SPV_ENV_UNIVERSAL_1_3,
                                                      SPV_ENV_UNIVERSAL_1_4, SPV_ENV_UNIVERSAL_1_5,
                                                      SPV_ENV_UNIVERSAL_1_6};
      static constexpr const char* kUniversalNames[] = {"SPIR-V 1.0", "SPIR-V 1.1", "SPIR-V 1.2",
                                                        "SPIR-V 1.3", "SPIR-V 1.4", "SPIR-V 1.5",
                                                        "SPIR-V 1.6"};
      // The version word is 0x00MMmm00; a version the table lacks is checked as the newest, which
      // refuses it with the reason.
      const uint32_t minor = (words[1] >> 8) & 0xffu;
      const size_t index = (words[1] >> 16) == 1 && minor < 7 ? minor : 6;
      env = kUniversal[index];
      env_name = kUniversalNames[index];
      break;
    }
  }
  std::unique_ptr<spv_context_t, ContextDeleter> context(spvContextCreate(env));
  std::unique_ptr<spv_validator_options_t, OptionsDeleter> validator(spvValidatorOptionsCreate());
  if (!context || !validator) {
    *error = std::string("spirv-val (") + env_name + "): could not create the validator";
    return false;
  }
  if (options.environment != SpirvEnvironment::kOpenCl) {
    // VK_KHR_relaxed_block_layout is core since Vulkan 1.1.
    spvValidatorOptionsSetRelaxBlockLayout(validator.get(), true);
    spvValidatorOptionsSetScalarBlockLayout(validator.get(), options.scalar_block_layout);
  }
  spv_const_binary_t binary{words, count};
  spv_diagnostic raw = nullptr;
  const spv_result_t result = spvValidateWithOptions(context.get(), validator.get(), &binary, &raw);
  std::unique_ptr<spv_diagnostic_t, DiagnosticDeleter> diagnostic(raw);
  if (result == SPV_SUCCESS) return true;
  *error = std::string("spirv-val (") + env_name + "): ";
  if (diagnostic && diagnostic->error != nullptr) {
    // spirv-val appends the offending instruction on its own line: keep one line.
    std::string text = diagnostic->error;
    const size_t newline = text.find('\n');
    if (newline != std::string::npos) {
      std::string instruction = text.substr(newline + 1);
      text.resize(newline);
      const size_t first = instruction.find_first_not_of(" \t\n");
      const size_t last = instruction.find_last_not_of(" \t\n");
      if (first != std::string::npos) {
        text += " (instruction: " + instruction.substr(first, last - first + 1) + ")";
      }
    }
    *error += text;
    if (!diagnostic->isTextSource) {
      *error += " (at word " + std::to_string(diagnostic->position.index) + ")";
    }
  } else {
    *error += "invalid module (result " + std::to_string(static_cast<int>(result)) + ")";
  }
  return false;
}
#endif

}  // namespace

bool SpirvValidatorAvailable() {
#ifdef PORTA_HAVE_SPIRV_TOOLS
  return true;
#else
  return false;
#endif
}

bool ValidateSpirv(const uint32_t* words, size_t word_count, const SpirvValidateOptions& options,
                   std::string* error) {
  if (!CheckStructure(words, word_count, error)) return false;
#ifdef PORTA_HAVE_SPIRV_TOOLS
  // The ops library loads the same large modules in every context it creates; each is validated
  // once per process.
  std::string key(reinterpret_cast<const char*>(words), word_count * sizeof(uint32_t));
  key.push_back(static_cast<char>(options.environment));
  key.push_back(options.scalar_block_layout ? 1 : 0);
  if (ValidatedModules::Get().Contains(key)) return true;
  if (!RunValidator(words, word_count, options, error)) return false;
  ValidatedModules::Get().Add(std::move(key));
  return true;
#else
  (void)options;
  return true;
#endif
}

bool ValidateSpirvBytes(const void* data, size_t size, const SpirvValidateOptions& options,
                        std::string* error) {
  if (data == nullptr || size == 0 || size % 4 != 0) {
    *error = "structural check: a SPIR-V module is a nonempty sequence of 32-bit words; got " +
             std::to_string(size) + " bytes";
    return false;
  }
  // The caller's bytes need not be 4-byte aligned.
  std::vector<uint32_t> words(size / 4);
  std::memcpy(words.data(), data, size);
  return ValidateSpirv(words.data(), words.size(), options, error);
}

}  // namespace porta::common
