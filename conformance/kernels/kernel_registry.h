// Internal interface between the generated kernel registry, the host kernels and
// test_kernels.cpp. Tests use test_kernels.h instead.
#ifndef PORTA_CONFORMANCE_KERNELS_KERNEL_REGISTRY_H_
#define PORTA_CONFORMANCE_KERNELS_KERNEL_REGISTRY_H_

#include <cstddef>
#include <span>

#include "porta/porta.h"

namespace porta_cts::internal {

// One file registered with porta_cts_add_kernel_source, embedded into the binary.
struct RegisteredKernelSource {
  // A one-element array so that porta_module_source_t.entry_names can point into the table.
  const char* kernel[1];
  porta_kernel_format_t format;
  const unsigned char* data;
  std::size_t size;
  // NULL when the registration gave no BUILD_OPTIONS.
  const char* build_options;
};

// Every registered file, in registration order. Defined in the generated
// registered_kernel_sources.cpp.
std::span<const RegisteredKernelSource> RegisteredKernelSources();

// The host-format test kernels (conformance/kernels/host), one entry per kernel.
std::span<const porta_host_kernel_t> HostTestKernels();

}  // namespace porta_cts::internal

#endif  // PORTA_CONFORMANCE_KERNELS_KERNEL_REGISTRY_H_
