#include "backends/opencl/quirks.h"

#include <string_view>

namespace porta::opencl {
namespace {

struct QuirkEntry {
  const char* platform;
  const char* vendor;
  const char* device;
  const char* driver_version;
  unsigned flags;
  const char* build_options;
  const char* reason;
};

// Each entry names the public report it comes from. Matching is by substring because drivers
// decorate their names ("Apple M2 Max", "AMD Radeon Pro 5500M Compute Engine").
constexpr QuirkEntry kQuirkTable[] = {
    {"Apple", "", "", "", kQuirkNoFillBuffer, "",
     "Apple's OpenCL leaves clEnqueueFillBuffer results unpredictable on Apple silicon and on "
     "AMD GPUs under macOS (KNLMeansCL PR #60, clEsperanto/CLIc issue #213)"},
    {"Portable Computing Language", "", "", "0.13", kQuirkNoFillBuffer, "",
     "PoCL 0.13 leaks the buffer that clEnqueueFillBuffer fills (pocl issue #419)"},
    {"Portable Computing Language", "", "", "", kQuirkLazyAllocation, "",
     "PoCL allocates a buffer at its first use and fails the assertion 'p->mem_ptr != NULL' in "
     "pocl_create_migration_commands when that allocation fails (seen with PoCL 3.1 under an "
     "address-space limit); with CL_MEM_ALLOC_HOST_PTR it allocates in clCreateBuffer instead"},
};

bool Contains(std::string_view haystack, const char* needle) {
  return needle[0] == '\0' || haystack.find(needle) != std::string_view::npos;
}

}  // namespace

Quirks LookUpQuirks(const QuirkKey& key) {
  Quirks quirks;
  for (const QuirkEntry& entry : kQuirkTable) {
    if (!Contains(key.platform_name, entry.platform) || !Contains(key.vendor, entry.vendor) ||
        !Contains(key.device_name, entry.device) ||
        !Contains(key.driver_version, entry.driver_version)) {
      continue;
    }
    quirks.flags |= entry.flags;
    if (entry.build_options[0] != '\0') {
      if (!quirks.build_options.empty()) quirks.build_options += ' ';
      quirks.build_options += entry.build_options;
    }
    quirks.reasons += entry.reason;
    quirks.reasons += '\n';
  }
  // OpenCL 1.1 devices on a newer platform reject clEnqueueFillBuffer with CL_INVALID_OPERATION
  // (NVIDIA's pre-Kepler GPUs, KhronosGroup/OpenCL-Registry issue #73); a rule on the reported
  // version covers every such device instead of an entry per product.
  if (key.device_version.rfind("OpenCL 1.0", 0) == 0 ||
      key.device_version.rfind("OpenCL 1.1", 0) == 0) {
    quirks.flags |= kQuirkNoFillBuffer;
    quirks.reasons += "device reports " + key.device_version + ", before clEnqueueFillBuffer\n";
  }
  return quirks;
}

}  // namespace porta::opencl
