// Every kernel format separately: the runtime loads the first accepted source, so without this a
// broken second format (say opencl-c on a device that also takes spirv-kernel) would go unseen.
#include <string>
#include <vector>

#include "conformance/cts.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

class KernelFormatTest : public StreamTest {};

constexpr const char* kTestKernels[] = {"vector_add", "scale_add", "reduce_sum", "index_2d",
                                        "fault"};

// True when the device takes a source of |kernel| in |format| (for native: one with its tag).
bool FitsInFormat(const porta_device_info_t& info, const char* kernel,
                  porta_kernel_format_t format) {
  for (const porta_module_source_t& source : TestModuleSources(kernel)) {
    if (source.format == format && SourceFits(info, source)) return true;
  }
  return false;
}

// Loads |kernel| from the sources of one format only.
porta_status_t LoadInFormat(porta_device_t device, const char* kernel, porta_kernel_format_t format,
                            ModuleHandle* module, porta_kernel_t* out_kernel) {
  std::vector<porta_module_source_t> sources;
  for (const porta_module_source_t& source : TestModuleSources(kernel)) {
    if (source.format == format) sources.push_back(source);
  }
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources.data();
  desc.source_count = static_cast<uint32_t>(sources.size());
  porta_status_t status = porta_module_load(device, &desc, module->out());
  if (status != PORTA_OK) return status;
  return porta_module_get_kernel(module->get(), kernel, out_kernel);
}

TEST_P(KernelFormatTest, EveryKernelLoadsInEveryAcceptedFormat) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  for (const char* name : kTestKernels) {
    for (porta_kernel_format_t format : TestKernelFormats(name)) {
      if (!FitsInFormat(info_, name, format)) continue;
      SCOPED_TRACE(std::string(name) + " as " + KernelFormatName(format));
      ModuleHandle module;
      porta_kernel_t kernel = nullptr;
      EXPECT_PORTA_OK(LoadInFormat(device_, name, format, &module, &kernel));
    }
  }
}

TEST_P(KernelFormatTest, VectorAddRunsInEveryAcceptedFormat) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  const uint32_t block = BlockSizeFor(info_, 64);
  for (porta_kernel_format_t format : TestKernelFormats("vector_add")) {
    if (!FitsInFormat(info_, "vector_add", format)) continue;
    SCOPED_TRACE(KernelFormatName(format));
    ModuleHandle module;
    porta_kernel_t kernel = nullptr;
    ASSERT_PORTA_OK(LoadInFormat(device_, "vector_add", format, &module, &kernel));
    EXPECT_TRUE(RunVectorAdd(device_, stream_.get(), kernel, 777, block, 3));
  }
}

PORTA_CTS_INSTANTIATE(KernelFormatTest);

}  // namespace
}  // namespace porta_cts
