// The CTS test kernels (README.md in this folder defines them): every format this build produced,
// ready to hand to porta_module_load.
#ifndef PORTA_CONFORMANCE_KERNELS_TEST_KERNELS_H_
#define PORTA_CONFORMANCE_KERNELS_TEST_KERNELS_H_

#include <string>
#include <vector>

#include "porta/porta.h"

namespace porta_cts {

// Returns every source of test kernel |kernel|: those added with AddSuppliedKernel first, then
// those built into this binary, one per registered file, in preference order (cubin, hsaco, ptx,
// spirv-shader, spirv-kernel, opencl-c, host). Each
// source's entry_names is {kernel}. The pointers refer to static data and stay valid for the
// life of the process. Empty when no format of |kernel| was built.
std::vector<porta_module_source_t> TestModuleSources(const char* kernel);

// True when porta_module_load may take |source| on the device |info| describes: the device
// accepts its format and, for a native source, lists its tag.
bool SourceFits(const porta_device_info_t& info, const porta_module_source_t& source);

// The tag of a PORTA_FORMAT_NATIVE source, or "" when it has none (porta_native_binary_tag).
std::string NativeSourceTag(const porta_module_source_t& source);

// Returns the format in which porta_module_load runs |kernel| on the device |info| describes: the
// format of the first source of TestModuleSources that fits it. 0 when none does.
porta_kernel_format_t TestKernelFormatFor(const porta_device_info_t& info, const char* kernel);

// Adds |bytes| as a source of test kernel |kernel| in |format| (not PORTA_FORMAT_HOST), tried
// before every source built into porta-cts (porta-cts --kernel-file). A vendor whose device
// accepts none of the shipped formats supplies its `gate` and `fault` kernels this way, and a
// device that runs native binaries its kernels as PORTA_FORMAT_NATIVE files (header included).
// Call before the tests run; not thread-safe.
void AddSuppliedKernel(const std::string& kernel, porta_kernel_format_t format,
                       std::vector<unsigned char> bytes);

// True when the source of |kernel| in |format| came from AddSuppliedKernel.
bool IsSuppliedKernel(const char* kernel, porta_kernel_format_t format);

// Returns the distinct formats in which |kernel| was built, in the same preference order.
std::vector<porta_kernel_format_t> TestKernelFormats(const char* kernel);

// Returns the short name of a kernel format as the documentation spells it ("opencl-c",
// "spirv-shader"), or "unknown".
const char* KernelFormatName(porta_kernel_format_t format);

// Returns the format whose KernelFormatName is |name|, or 0 when none is.
porta_kernel_format_t KernelFormatFromName(const std::string& name);

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_KERNELS_TEST_KERNELS_H_
