// The CTS test kernels (README.md in this folder defines them): every format this build produced,
// ready to hand to porta_module_load.
#ifndef PORTA_CONFORMANCE_KERNELS_TEST_KERNELS_H_
#define PORTA_CONFORMANCE_KERNELS_TEST_KERNELS_H_

#include <vector>

#include "porta/porta.h"

namespace porta_cts {

// Returns every source of test kernel |kernel| built into this binary, one per registered file,
// in preference order (cubin, hsaco, ptx, spirv-shader, spirv-kernel, opencl-c, host). Each
// source's entry_names is {kernel}. The pointers refer to static data and stay valid for the
// life of the process. Empty when no format of |kernel| was built.
std::vector<porta_module_source_t> TestModuleSources(const char* kernel);

// Returns the format in which porta_module_load runs |kernel| on a device that accepts the
// formats of |kernel_formats| (a porta_device_info_t.kernel_formats mask): the first source of
// TestModuleSources the device accepts. 0 when it accepts none.
porta_kernel_format_t TestKernelFormatFor(uint32_t kernel_formats, const char* kernel);

// Returns the distinct formats in which |kernel| was built, in the same preference order.
std::vector<porta_kernel_format_t> TestKernelFormats(const char* kernel);

// Returns the short name of a kernel format as the documentation spells it ("opencl-c",
// "spirv-shader"), or "unknown".
const char* KernelFormatName(porta_kernel_format_t format);

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_KERNELS_TEST_KERNELS_H_
