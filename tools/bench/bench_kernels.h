// The empty kernel porta-bench launches on any device: one kernel named "empty", without
// arguments, in every kernel format this build has it in (host and OpenCL C always, Vulkan SPIR-V
// always; OpenCL-flavour SPIR-V, cubin, PTX and HSACO where the build found their compilers:
// tools/bench/kernels/). Loaded through porta.h alone, so the rows that launch it run on every
// device, plugins included.
#ifndef PORTA_TOOLS_BENCH_BENCH_KERNELS_H_
#define PORTA_TOOLS_BENCH_BENCH_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "porta/porta.h"

namespace porta::bench {

// The empty kernel as a Vulkan compute shader, entry point "empty", local size
// (kEmptyShaderBlock, 1, 1); the Vulkan rows launch it too. Built from `#version 450 /
// layout(local_size_x = 64) in; / void main() {}` with glslc, the entry point renamed as
// cmake/PortaCompileGlsl.cmake does and debug names stripped; kept as words so porta-bench needs
// no shader compiler.
extern const uint32_t kEmptyShaderSpirv[];
extern const size_t kEmptyShaderSpirvSize;  // bytes
constexpr uint32_t kEmptyShaderBlock = 64;

// The empty kernel loaded on one device, and how to launch it. Destroys its module.
class EmptyKernel {
 public:
  // Loads the empty kernel on |device| in the first format of this order that |info| declares in
  // kernel_formats and that this build has the kernel in: host, cubin, hsaco, ptx, spirv-shader,
  // opencl-c, spirv-kernel (the host function first, so that a host device's rows can compare
  // with calling it; then each GPU API's own binary before the text a driver must compile).
  // When the device accepts none of them, loaded() is false and nothing else is done. Throws
  // Failure when porta_module_load or porta_module_get_kernel fails in the chosen format: a
  // device that declares a format must load a kernel that does nothing in it.
  EmptyKernel(porta_device_t device, const porta_device_info_t& info);
  ~EmptyKernel();
  EmptyKernel(const EmptyKernel&) = delete;
  EmptyKernel& operator=(const EmptyKernel&) = delete;

  // The format the constructor loads the kernel in on a device with |info|, without loading it;
  // 0 when the device accepts none of the formats.
  static porta_kernel_format_t FormatFor(const porta_device_info_t& info);

  bool loaded() const { return kernel_ != nullptr; }
  porta_kernel_t kernel() const { return kernel_; }
  // The format the kernel was loaded in (0 when not loaded).
  porta_kernel_format_t format() const { return format_; }
  // One work-group of the shape every format accepts: 64 work items (the Vulkan shader's fixed
  // local size), fewer where the device's limits are lower.
  const porta_launch_config_t& config() const { return config_; }
  // The C function a host-format kernel calls (null in every other format), for rows that
  // compare a launch with calling the function directly.
  porta_host_kernel_fn host_function() const { return host_function_; }

 private:
  porta_module_t module_ = nullptr;
  porta_kernel_t kernel_ = nullptr;
  porta_kernel_format_t format_ = static_cast<porta_kernel_format_t>(0);
  porta_launch_config_t config_ = PORTA_LAUNCH_CONFIG_INIT;
  porta_host_kernel_fn host_function_ = nullptr;
};

// "host, cubin, ...": the formats this build has the empty kernel in, in the order EmptyKernel
// tries them, for the note that says why a device has no launch rows.
std::string EmptyKernelFormats();

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_KERNELS_H_
