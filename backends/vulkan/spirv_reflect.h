// Just enough SPIR-V reflection to map Porta's launch arguments onto a compute pipeline: entry
// point names, fixed work-group sizes, specialization constant ids, the storage buffers and
// uniform texel buffers of descriptor set 0 and the size of the push-constant block.
#ifndef PORTA_BACKENDS_VULKAN_SPIRV_REFLECT_H_
#define PORTA_BACKENDS_VULKAN_SPIRV_REFLECT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace porta::vulkan {

// A uniform texel buffer at binding kTexelBindingBase + i is a read-only view of buffer argument i
// in 16-byte texels (VK_FORMAT_R32G32B32A32_UINT), for i < kMaxTexelViews.
inline constexpr uint32_t kTexelBindingBase = 16;
inline constexpr uint32_t kMaxTexelViews = 16;

// One GLCompute entry point of a module.
struct SpirvEntryPoint {
  std::string name;
  // Work-group size from OpExecutionMode LocalSize; all zero when the module sets none.
  uint32_t local_size[3] = {0, 0, 0};
  // Storage-buffer bindings of descriptor set 0 this entry point may use, ascending. From the
  // entry point's interface list in SPIR-V 1.4+, otherwise every binding of the module (earlier
  // versions do not list buffers in the interface).
  std::vector<uint32_t> bindings;
  // Bit i is set when the entry point may read binding kTexelBindingBase + i, a texel view of
  // buffer argument i (from the interface list or module-wide, as |bindings|).
  uint32_t texel_views = 0;
  // Bytes of the push-constant block the entry point may read (0 when none); module-wide below
  // SPIR-V 1.4 for the same reason.
  uint32_t push_constant_bytes = 0;
};

// What the backend needs from a compute module.
struct SpirvModuleInfo {
  uint32_t version = 0;
  std::vector<SpirvEntryPoint> entry_points;
  // Bit i is set when the module declares a specialization constant with SpecId i (i < 32).
  uint32_t spec_id_mask = 0;

  // The entry point called |name|, or nullptr.
  const SpirvEntryPoint* Find(const std::string& name) const;
};

// Parses a SPIR-V binary of |word_count| 32-bit words. Returns false with the reason in |error|
// when it is malformed or uses resources Porta cannot bind (a descriptor set other than 0, a
// binding that is not a single storage buffer or a texel view at kTexelBindingBase + i).
bool ReflectSpirv(const uint32_t* words, size_t word_count, SpirvModuleInfo* info,
                  std::string* error);

}  // namespace porta::vulkan

#endif  // PORTA_BACKENDS_VULKAN_SPIRV_REFLECT_H_
