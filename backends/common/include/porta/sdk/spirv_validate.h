// Validation of SPIR-V binaries before a backend hands them to a driver: drivers are not required
// to survive malformed SPIR-V (lavapipe crashes on a module without OpFunctionEnd), so a backend
// validates every module it loads and turns a bad one into PORTA_ERROR_BUILD_FAILED.
#ifndef PORTA_SDK_SPIRV_VALIDATE_H_
#define PORTA_SDK_SPIRV_VALIDATE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace porta::common {

// Whose rules a module is checked against: the client API environment it will run in.
enum class SpirvEnvironment {
  kVulkan1_2,  // Vulkan 1.2 (SPIR-V up to 1.5)
  kVulkan1_3,  // Vulkan 1.3 (SPIR-V up to 1.6)
  // Kernels for OpenCL (clCreateProgramWithIL) and Level Zero: SPIR-V's universal rules for the
  // version the module declares (drivers take several SPIR-V versions; their own extra rules are
  // theirs to check).
  kOpenCl,
};

struct SpirvValidateOptions {
  SpirvEnvironment environment = SpirvEnvironment::kVulkan1_2;
  // The device enabled scalarBlockLayout (VK_EXT_scalar_block_layout): buffer blocks may use
  // scalar alignment.
  bool scalar_block_layout = false;
};

// True when this build validates with SPIRV-Tools (spirv-val's rules); false when it was built
// without the library and ValidateSpirv runs the structural check only.
bool SpirvValidatorAvailable();

// Checks |word_count| 32-bit words of SPIR-V. Always runs a structural check (the 5-word header
// with the magic number in host byte order and a nonzero id bound; every instruction's word
// count nonzero and inside the binary; every OpFunction closed by an OpFunctionEnd and none
// nested), then, where SpirvValidatorAvailable(), the full validator for |options|. Returns
// false with the reason in |error| ("structural check: ..." or "spirv-val (<environment>): ...",
// both naming the word index where known). Never reads outside the words; thread-safe. A module
// that passed is remembered (by its full bytes and |options|, up to 64 MiB per process), so loading
// it again skips the validator, which costs about 0.3-0.5 ms per KiB of SPIR-V.
bool ValidateSpirv(const uint32_t* words, size_t word_count, const SpirvValidateOptions& options,
                   std::string* error);

// ValidateSpirv on |size| bytes at |data| (any alignment); a size that is 0 or not a multiple of
// 4 fails with the size named.
bool ValidateSpirvBytes(const void* data, size_t size, const SpirvValidateOptions& options,
                        std::string* error);

}  // namespace porta::common

#endif  // PORTA_SDK_SPIRV_VALIDATE_H_
