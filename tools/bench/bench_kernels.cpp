// The empty kernel in every format porta-bench has it in (see bench_kernels.h).
#include "tools/bench/bench_kernels.h"

#include <algorithm>
#include <vector>

#include "tools/bench/bench_util.h"

// The compiled formats, embedded by tools/CMakeLists.txt (porta_embed_files), each where its
// compiler was found; the OpenCL C text always.
#define PORTA_BENCH_EMBEDDED(symbol)   \
  extern const unsigned char symbol[]; \
  extern const size_t symbol##_size
PORTA_BENCH_EMBEDDED(porta_bench_empty_cl);
#ifdef PORTA_BENCH_EMPTY_SPIRV_KERNEL
PORTA_BENCH_EMBEDDED(porta_bench_empty_spv);
#endif
#ifdef PORTA_BENCH_EMPTY_CUBIN
PORTA_BENCH_EMBEDDED(porta_bench_empty_cubin);
#endif
#ifdef PORTA_BENCH_EMPTY_PTX
PORTA_BENCH_EMBEDDED(porta_bench_empty_ptx);
#endif
#ifdef PORTA_BENCH_EMPTY_HSACO
PORTA_BENCH_EMBEDDED(porta_bench_empty_hsaco);
#endif
#undef PORTA_BENCH_EMBEDDED

namespace porta::bench {

const uint32_t kEmptyShaderSpirv[] = {
    0x07230203, 0x00010000, 0x00070000, 0x0000000b, 0x00000000, 0x00020011, 0x00000001, 0x0006000b,
    0x00000001, 0x4c534c47, 0x6474732e, 0x3035342e, 0x00000000, 0x0003000e, 0x00000000, 0x00000001,
    0x0005000f, 0x00000005, 0x00000002, 0x74706d65, 0x00000079, 0x00060010, 0x00000002, 0x00000011,
    0x00000040, 0x00000001, 0x00000001, 0x00040047, 0x00000003, 0x0000000b, 0x00000019, 0x00020013,
    0x00000004, 0x00030021, 0x00000005, 0x00000004, 0x00040015, 0x00000006, 0x00000020, 0x00000000,
    0x00040017, 0x00000007, 0x00000006, 0x00000003, 0x0004002b, 0x00000006, 0x00000008, 0x00000040,
    0x0004002b, 0x00000006, 0x00000009, 0x00000001, 0x0006002c, 0x00000007, 0x00000003, 0x00000008,
    0x00000009, 0x00000009, 0x00050036, 0x00000004, 0x00000002, 0x00000000, 0x00000005, 0x000200f8,
    0x0000000a, 0x000100fd, 0x00010038};
const size_t kEmptyShaderSpirvSize = sizeof(kEmptyShaderSpirv);

namespace {

int32_t EmptyHostKernel(const porta_host_group_t* group) {
  return group == nullptr ? 1 : 0;
}

const porta_host_kernel_t kHostKernels[] = {{"empty", EmptyHostKernel}};

// The empty kernel's sources in the order EmptyKernel tries them.
std::vector<porta_module_source_t> Sources() {
  auto source = [](porta_kernel_format_t format, const void* data, size_t size) {
    porta_module_source_t entry = {};
    entry.format = format;
    entry.data = data;
    entry.size = size;
    return entry;
  };
  std::vector<porta_module_source_t> sources;
  sources.push_back(source(PORTA_FORMAT_HOST, kHostKernels, sizeof(kHostKernels)));
#ifdef PORTA_BENCH_EMPTY_CUBIN
  sources.push_back(
      source(PORTA_FORMAT_CUBIN, porta_bench_empty_cubin, porta_bench_empty_cubin_size));
#endif
#ifdef PORTA_BENCH_EMPTY_HSACO
  sources.push_back(
      source(PORTA_FORMAT_HSACO, porta_bench_empty_hsaco, porta_bench_empty_hsaco_size));
#endif
#ifdef PORTA_BENCH_EMPTY_PTX
  sources.push_back(source(PORTA_FORMAT_PTX, porta_bench_empty_ptx, porta_bench_empty_ptx_size));
#endif
  sources.push_back(source(PORTA_FORMAT_SPIRV_SHADER, kEmptyShaderSpirv, kEmptyShaderSpirvSize));
  sources.push_back(source(PORTA_FORMAT_OPENCL_C, porta_bench_empty_cl, porta_bench_empty_cl_size));
#ifdef PORTA_BENCH_EMPTY_SPIRV_KERNEL
  sources.push_back(
      source(PORTA_FORMAT_SPIRV_KERNEL, porta_bench_empty_spv, porta_bench_empty_spv_size));
#endif
  return sources;
}

}  // namespace

EmptyKernel::EmptyKernel(porta_device_t device, const porta_device_info_t& info) {
  const porta_kernel_format_t format = FormatFor(info);
  for (const porta_module_source_t& source : Sources()) {
    if (source.format != format) continue;
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = &source;
    desc.source_count = 1;
    Check(porta_module_load(device, &desc, &module_), "porta_module_load (the empty kernel)");
    const porta_status_t status = porta_module_get_kernel(module_, "empty", &kernel_);
    if (status != PORTA_OK) {
      // The destructor does not run for a constructor that throws.
      const std::string text = FailureText(status, "porta_module_get_kernel");
      porta_module_destroy(module_);
      throw Failure(text);
    }
    format_ = source.format;
    if (format_ == PORTA_FORMAT_HOST) host_function_ = EmptyHostKernel;
    // The shader's local size is fixed; other formats take the same size where the device
    // allows it.
    config_.block[0] = format_ == PORTA_FORMAT_SPIRV_SHADER
                           ? kEmptyShaderBlock
                           : std::max(1u, std::min({kEmptyShaderBlock, info.max_work_group_size,
                                                    info.max_work_group_dims[0]}));
    return;
  }
}

EmptyKernel::~EmptyKernel() {
  if (module_ != nullptr) porta_module_destroy(module_);
}

porta_kernel_format_t EmptyKernel::FormatFor(const porta_device_info_t& info) {
  for (const porta_module_source_t& source : Sources()) {
    if ((info.kernel_formats & PORTA_FORMAT_BIT(source.format)) != 0) return source.format;
  }
  return static_cast<porta_kernel_format_t>(0);
}

std::string EmptyKernelFormats() {
  std::string text;
  for (const porta_module_source_t& source : Sources()) {
    if (!text.empty()) text += ", ";
    text += porta_kernel_format_name(source.format);
  }
  return text;
}

}  // namespace porta::bench
