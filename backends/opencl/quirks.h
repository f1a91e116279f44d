// Vendor and driver workarounds of the OpenCL backend, kept apart from performance tuning: an
// entry here changes what is correct to do on a device, never what is fastest.
#ifndef PORTA_BACKENDS_OPENCL_QUIRKS_H_
#define PORTA_BACKENDS_OPENCL_QUIRKS_H_

#include <string>

namespace porta::opencl {

// Workaround flags of a quirk entry.
enum QuirkFlags : unsigned {
  // clEnqueueFillBuffer is missing or gives wrong results: fills run as a kernel.
  kQuirkNoFillBuffer = 1u << 0,
  // Program binaries returned by the driver do not reload reliably: skip the on-disk cache.
  kQuirkNoProgramBinaries = 1u << 1,
  // The driver allocates a buffer's memory at its first use and aborts the process when that
  // allocation fails: every buffer is created with CL_MEM_ALLOC_HOST_PTR, which makes the driver
  // allocate inside clCreateBuffer, where a failure is an error code.
  kQuirkLazyAllocation = 1u << 2,
};

// The workarounds that apply to one device: the union of every matching entry.
struct Quirks {
  unsigned flags = 0;
  // Appended to every program build, before the caller's options.
  std::string build_options;
  // One line per matching entry, for the debug log.
  std::string reasons;
};

// Identifies a device for matching: the strings as the driver reports them.
struct QuirkKey {
  std::string platform_name;
  std::string vendor;
  std::string device_name;
  std::string driver_version;
  std::string device_version;
};

// Returns the workarounds for |key|. Entries match on substrings of the platform name, vendor,
// device name and driver version (an empty pattern matches anything).
Quirks LookUpQuirks(const QuirkKey& key);

}  // namespace porta::opencl

#endif  // PORTA_BACKENDS_OPENCL_QUIRKS_H_
