// Assembles module sources from the generated registry and the host kernel table.
#include "conformance/kernels/test_kernels.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "conformance/kernels/kernel_registry.h"

namespace porta_cts {
namespace {

// Binary formats first: they load fastest and exercise the vendor's native path, while text and
// host formats are the fallback every device has.
constexpr std::array<porta_kernel_format_t, 7> kPreferenceOrder = {
    PORTA_FORMAT_CUBIN,        PORTA_FORMAT_HSACO,    PORTA_FORMAT_PTX, PORTA_FORMAT_SPIRV_SHADER,
    PORTA_FORMAT_SPIRV_KERNEL, PORTA_FORMAT_OPENCL_C, PORTA_FORMAT_HOST};

// A source added with AddSuppliedKernel. Kept in a deque so that |entry_name| (which
// porta_module_source_t.entry_names points to) never moves.
struct SuppliedKernel {
  std::string kernel;
  const char* entry_name[1];
  porta_kernel_format_t format;
  std::vector<unsigned char> bytes;
};

std::deque<SuppliedKernel>& Supplied() {
  static std::deque<SuppliedKernel> supplied;
  return supplied;
}

void AppendSources(const char* kernel, porta_kernel_format_t format,
                   std::vector<porta_module_source_t>* out) {
  if (format == PORTA_FORMAT_HOST) {
#if defined(PORTA_CTS_HAVE_HOST_KERNELS)
    for (const porta_host_kernel_t& entry : internal::HostTestKernels()) {
      if (std::strcmp(entry.name, kernel) != 0) continue;
      porta_module_source_t source = {};
      source.format = PORTA_FORMAT_HOST;
      source.data = &entry;
      source.size = sizeof(entry);
      source.entry_names = &entry.name;
      source.entry_count = 1;
      out->push_back(source);
    }
#endif
    return;
  }
  for (const internal::RegisteredKernelSource& entry : internal::RegisteredKernelSources()) {
    if (entry.format != format || std::strcmp(entry.kernel[0], kernel) != 0) continue;
    porta_module_source_t source = {};
    source.format = format;
    source.data = entry.data;
    source.size = entry.size;
    source.build_options = entry.build_options;
    source.entry_names = entry.kernel;
    source.entry_count = 1;
    out->push_back(source);
  }
}

}  // namespace

std::vector<porta_module_source_t> TestModuleSources(const char* kernel) {
  std::vector<porta_module_source_t> sources;
  if (kernel == nullptr) return sources;
  for (const SuppliedKernel& supplied : Supplied()) {
    if (supplied.kernel != kernel) continue;
    porta_module_source_t source = {};
    source.format = supplied.format;
    source.data = supplied.bytes.data();
    source.size = supplied.bytes.size();
    source.entry_names = supplied.entry_name;
    source.entry_count = 1;
    sources.push_back(source);
  }
  for (porta_kernel_format_t format : kPreferenceOrder) AppendSources(kernel, format, &sources);
  return sources;
}

std::vector<porta_kernel_format_t> TestKernelFormats(const char* kernel) {
  std::vector<porta_kernel_format_t> formats;
  for (const porta_module_source_t& source : TestModuleSources(kernel)) {
    if (std::find(formats.begin(), formats.end(), source.format) == formats.end()) {
      formats.push_back(source.format);
    }
  }
  return formats;
}

std::string NativeSourceTag(const porta_module_source_t& source) {
  char tag[PORTA_NATIVE_TAG_SIZE] = {};
  if (source.format != PORTA_FORMAT_NATIVE ||
      porta_native_binary_tag(source.data, source.size, tag) != PORTA_OK) {
    return "";
  }
  return tag;
}

bool SourceFits(const porta_device_info_t& info, const porta_module_source_t& source) {
  if ((info.kernel_formats & PORTA_FORMAT_BIT(source.format)) == 0) return false;
  if (source.format != PORTA_FORMAT_NATIVE) return true;
  const std::string tag = NativeSourceTag(source);
  for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
    if (tag == info.native_tags[i]) return true;
  }
  return false;
}

porta_kernel_format_t TestKernelFormatFor(const porta_device_info_t& info, const char* kernel) {
  for (const porta_module_source_t& source : TestModuleSources(kernel)) {
    if (SourceFits(info, source)) return source.format;
  }
  return static_cast<porta_kernel_format_t>(0);
}

void AddSuppliedKernel(const std::string& kernel, porta_kernel_format_t format,
                       std::vector<unsigned char> bytes) {
  SuppliedKernel& supplied = Supplied().emplace_back();
  supplied.kernel = kernel;
  supplied.entry_name[0] = supplied.kernel.c_str();
  supplied.format = format;
  supplied.bytes = std::move(bytes);
}

bool IsSuppliedKernel(const char* kernel, porta_kernel_format_t format) {
  return std::any_of(Supplied().begin(), Supplied().end(), [&](const SuppliedKernel& supplied) {
    return supplied.format == format && supplied.kernel == kernel;
  });
}

porta_kernel_format_t KernelFormatFromName(const std::string& name) {
  for (uint32_t format = 1; format < PORTA_FORMAT_COUNT; ++format) {
    const auto value = static_cast<porta_kernel_format_t>(format);
    if (name == KernelFormatName(value)) return value;
  }
  return static_cast<porta_kernel_format_t>(0);
}

const char* KernelFormatName(porta_kernel_format_t format) {
  return porta_kernel_format_name(static_cast<int32_t>(format));
}

}  // namespace porta_cts
