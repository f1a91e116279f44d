// Modules, kernels and launches: how Porta's argument list maps onto a compute pipeline. The
// runtime has checked each launch against the device's limits and each argument's kind and
// offset; what is checked here is what the kernel's SPIR-V declares and the device's own binding
// rules.
//
// Buffer arguments become storage buffers of descriptor set 0 (binding i for the i-th buffer);
// scalar arguments are packed in order into one push-constant block, each at an offset aligned
// to its own size; specialization constants 0, 1, 2 carry the work-group size and 3 the dynamic
// local memory size in bytes. A kernel may also read buffer argument i through a uniform texel
// buffer at binding 16 + i (16-byte texels, VK_FORMAT_R32G32B32A32_UINT); specialization constant
// 4 then tells it which of those views are real (bit i), since a buffer the application imported
// or an offset off the texel alignment can have none (that binding holds a 16-byte placeholder).
// Pipelines are cached per kernel and per launch signature.
#include <cinttypes>
#include <cstring>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/message.h"
#include "porta/sdk/spirv_validate.h"

extern const unsigned char porta_vulkan_shader_fill_spv[];
extern const std::size_t porta_vulkan_shader_fill_spv_size;

namespace porta::vulkan {
namespace {

using common::Fail;

constexpr uint32_t kLocalMemorySpecId = 3;
constexpr uint32_t kTexelViewsSpecId = 4;
constexpr uint32_t kSpecCount = 5;

// Where scalar |size| bytes go in the push-constant block: aligned to their own size when that
// is a power of two up to 16 (as std430 lays out scalars and vectors), else to 4.
uint32_t ScalarAlignment(uint32_t size) {
  return (size <= 16 && (size & (size - 1)) == 0) ? size : 4;
}

porta_status_t CreatePipeline(Kernel* kernel, const Layout* layout, const uint32_t spec[kSpecCount],
                              VkPipeline* out, porta_be_msg msg) {
  Module* module = kernel->module;
  Device* device = module->device;
  VkSpecializationMapEntry entries[kSpecCount];
  uint32_t entry_count = 0;
  for (uint32_t id = 0; id < kSpecCount; ++id) {
    // Only constants the module declares: the map must not name ids the shader lacks.
    if (module->info.spec_id_mask & (1u << id)) {
      entries[entry_count++] = {id, id * 4, 4};
    }
  }
  VkSpecializationInfo specialization{entry_count, entries, kSpecCount * sizeof(uint32_t), spec};
  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module->shader;
  info.stage.pName = kernel->entry->name.c_str();
  info.stage.pSpecializationInfo = entry_count > 0 ? &specialization : nullptr;
  info.layout = layout->pipeline_layout;
  const VkResult result = device->vk.vkCreateComputePipelines(
      device->device, device->pipeline_cache, 1, &info, nullptr, out);
  if (result == VK_ERROR_DEVICE_LOST) return device->Check(result, "vkCreateComputePipelines", msg);
  if (result != VK_SUCCESS) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED,
                "vulkan: creating the compute pipeline of kernel '%s' failed with %s (%d)",
                kernel->entry->name.c_str(), ResultName(result), static_cast<int>(result));
  }
  device->pipeline_cache_dirty.store(true);
  return PORTA_OK;
}

// The texel views of the buffer arguments |kernel| declares views of, in binding order, into
// |views|; |*real| gets bit i for each argument i whose view is of its buffer (the others hold
// the placeholder).
porta_status_t TexelViews(Kernel* kernel, const porta_be_arg_t* args, uint32_t arg_count,
                          std::vector<VkBufferView>* views, uint32_t* real, porta_be_msg msg) {
  Device* device = kernel->module->device;
  const uint32_t declared = kernel->entry->texel_views;
  views->clear();
  *real = 0;
  if (declared == 0) return PORTA_OK;
  uint32_t index = 0;
  for (uint32_t i = 0; i < arg_count; ++i) {
    if (args[i].kind != PORTA_ARG_BUFFER) continue;
    if (index < kMaxTexelViews && (declared & (1u << index))) {
      VkBufferView view = VK_NULL_HANDLE;
      porta_status_t status =
          device->TexelView(reinterpret_cast<Buffer*>(args[i].buffer), args[i].offset, &view, msg);
      if (status != PORTA_OK) return status;
      if (view != VK_NULL_HANDLE) {
        *real |= 1u << index;
      } else {
        status = device->DummyView(&view, msg);
        if (status != PORTA_OK) return status;
      }
      views->push_back(view);
    }
    ++index;
  }
  return PORTA_OK;
}

// Checks a launch against what the kernel's SPIR-V declares and finds (or creates) its
// pipeline. Packs the scalars into |push| (push_bytes long) and gathers the texel views into
// |views|.
porta_status_t PreparePipeline(Kernel* kernel, const porta_launch_config_t* config,
                               const porta_be_arg_t* args, uint32_t arg_count,
                               std::vector<uint8_t>* push, std::vector<VkBufferView>* views,
                               Kernel::Pipeline* out, porta_be_msg msg) {
  Device* device = kernel->module->device;
  const SpirvEntryPoint& entry = *kernel->entry;
  const char* name = entry.name.c_str();
  const VkPhysicalDeviceLimits& limits = device->physical->properties.limits;

  std::string key(reinterpret_cast<const char*>(config->block), sizeof(config->block));
  key.append(reinterpret_cast<const char*>(&config->local_memory_bytes),
             sizeof(config->local_memory_bytes));
  uint32_t buffer_count = 0;
  uint32_t push_offset = 0;
  push->clear();
  for (uint32_t i = 0; i < arg_count; ++i) {
    const porta_be_arg_t& arg = args[i];
    if (arg.kind == PORTA_ARG_BUFFER) {
      key.push_back('b');
      const uint64_t alignment = limits.minStorageBufferOffsetAlignment;
      if (alignment > 1 && arg.offset % alignment != 0) {
        return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                    "vulkan: argument %u of kernel '%s': buffer offset %" PRIu64
                    " is not a multiple of the device's minStorageBufferOffsetAlignment (%" PRIu64
                    ")",
                    i, name, arg.offset, alignment);
      }
      ++buffer_count;
    } else {
      key.push_back('s');
      key.append(reinterpret_cast<const char*>(&arg.scalar_size), sizeof(arg.scalar_size));
      const uint32_t align = ScalarAlignment(arg.scalar_size);
      push_offset = (push_offset + align - 1) / align * align;
      push->resize(push_offset + arg.scalar_size);
      std::memcpy(push->data() + push_offset, arg.scalar, arg.scalar_size);
      push_offset += arg.scalar_size;
    }
  }
  const uint32_t push_bytes = (push_offset + 3) / 4 * 4;
  push->resize(push_bytes);
  if (push_bytes > limits.maxPushConstantsSize) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "vulkan: the scalar arguments of kernel '%s' take %u bytes of push constants; "
                "the device's maxPushConstantsSize is %u",
                name, push_bytes, limits.maxPushConstantsSize);
  }
  if (entry.push_constant_bytes > push_bytes) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: kernel '%s' declares a %u-byte push-constant block but the launch's "
                "scalar arguments fill only %u bytes",
                name, entry.push_constant_bytes, push_bytes);
  }
  // More arguments than the entry point declares is a caller's mistake the driver would not see.
  const uint32_t declared_push = (entry.push_constant_bytes + 3) / 4 * 4;
  if (push_bytes > declared_push) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: the launch's scalar arguments take %u bytes but kernel '%s' declares a "
                "%u-byte push-constant block: too many scalar arguments",
                push_bytes, name, entry.push_constant_bytes);
  }
  const uint32_t declared_buffers = entry.bindings.empty() ? 0 : entry.bindings.back() + 1;
  if (buffer_count > declared_buffers) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: the launch passes %u buffer argument(s) but kernel '%s' declares %u "
                "storage buffer binding(s): too many buffer arguments",
                buffer_count, name, declared_buffers);
  }
  if (!entry.bindings.empty() && entry.bindings.back() >= buffer_count) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: kernel '%s' uses storage buffer binding %u but the launch passes %u "
                "buffer argument(s)",
                name, entry.bindings.back(), buffer_count);
  }
  const uint32_t texel_declared = entry.texel_views;
  if (buffer_count < 32 && (texel_declared >> buffer_count) != 0) {
    uint32_t highest = 0;
    while ((texel_declared >> (highest + 1)) != 0) ++highest;
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: kernel '%s' reads a texel view of buffer argument %u (binding %u) but the "
                "launch passes %u buffer argument(s)",
                name, highest, kTexelBindingBase + highest, buffer_count);
  }
  const uint32_t spec_mask = kernel->module->info.spec_id_mask;
  uint32_t texel_real = 0;
  porta_status_t view_status = TexelViews(kernel, args, arg_count, views, &texel_real, msg);
  if (view_status != PORTA_OK) return view_status;
  if (texel_real != texel_declared && !(spec_mask & (1u << kTexelViewsSpecId))) {
    uint32_t missing = 0;
    while (((texel_declared & ~texel_real) & (1u << missing)) == 0) ++missing;
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: kernel '%s' reads buffer argument %u through a texel view (binding %u), "
                "which that buffer cannot have (imported, an offset that is not a multiple of "
                "16 bytes and the device's minTexelBufferOffsetAlignment, under 16 bytes or over "
                "maxTexelBufferElements texels from the offset, or a device without such views), "
                "and declares no specialization constant %u to learn so",
                name, missing, kTexelBindingBase + missing, kTexelViewsSpecId);
  }
  if (texel_declared != 0)
    key.append(reinterpret_cast<const char*>(&texel_real), sizeof(texel_real));
  for (int d = 0; d < 3; ++d) {
    const bool fixed = entry.local_size[d] != 0 && !(spec_mask & (1u << d));
    if (fixed && config->block[d] != entry.local_size[d]) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "vulkan: kernel '%s' has a fixed work-group size (%u, %u, %u) without "
                  "local_size_*_id; the launch asks for block (%u, %u, %u)",
                  name, entry.local_size[0], entry.local_size[1], entry.local_size[2],
                  config->block[0], config->block[1], config->block[2]);
    }
  }
  if (config->local_memory_bytes > 0 && !(spec_mask & (1u << kLocalMemorySpecId))) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: the launch asks for %" PRIu64
                " bytes of dynamic local memory but kernel '%s' declares no specialization "
                "constant %u to size it with",
                config->local_memory_bytes, name, kLocalMemorySpecId);
  }

  std::lock_guard<std::mutex> lock(kernel->mutex);
  auto it = kernel->pipelines.find(key);
  if (it != kernel->pipelines.end()) {
    *out = it->second;
    return PORTA_OK;
  }
  Kernel::Pipeline pipeline;
  porta_status_t status =
      device->GetLayout(buffer_count, texel_declared, push_bytes, &pipeline.layout, msg);
  if (status != PORTA_OK) return status;
  const uint32_t spec[kSpecCount] = {config->block[0], config->block[1], config->block[2],
                                     static_cast<uint32_t>(config->local_memory_bytes), texel_real};
  status = CreatePipeline(kernel, pipeline.layout, spec, &pipeline.pipeline, msg);
  if (status != PORTA_OK) return status;
  kernel->pipelines.emplace(std::move(key), pipeline);
  *out = pipeline;
  return PORTA_OK;
}

// The descriptor writes of |launch|'s buffer bindings into |set| (VK_NULL_HANDLE when pushed).
// They point into |launch|, which must outlive them.
std::vector<VkWriteDescriptorSet> DescriptorWrites(const PreparedLaunch& launch,
                                                   VkDescriptorSet set) {
  std::vector<VkWriteDescriptorSet> writes(launch.buffers.size() + launch.views.size());
  for (uint32_t i = 0; i < launch.buffers.size(); ++i) {
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &launch.buffers[i];
  }
  size_t view = 0;
  const uint32_t texel_views = launch.pipeline.layout->texel_views;
  for (uint32_t i = 0; i < kMaxTexelViews; ++i) {
    if (!(texel_views & (1u << i))) continue;
    VkWriteDescriptorSet& write = writes[launch.buffers.size() + view];
    write = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    write.dstSet = set;
    write.dstBinding = kTexelBindingBase + i;
    write.descriptorCount = 1;
    write.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    write.pTexelBufferView = &launch.views[view];
    ++view;
  }
  return writes;
}

}  // namespace

porta_status_t LoadModule(Device* device, const uint32_t* words, size_t word_count,
                          Module** out_module, porta_be_msg msg) {
  auto module = std::make_unique<Module>();
  module->device = device;
  std::string error;
  if (!ReflectSpirv(words, word_count, &module->info, &error)) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED, "vulkan: %s", error.c_str());
  }
  // Drivers need not survive malformed SPIR-V (lavapipe crashes at pipeline creation on a module
  // without OpFunctionEnd), so nothing reaches vkCreateShaderModule unvalidated.
  common::SpirvValidateOptions rules;
  rules.environment = VK_API_VERSION_MINOR(device->physical->properties.apiVersion) >= 3
                          ? common::SpirvEnvironment::kVulkan1_3
                          : common::SpirvEnvironment::kVulkan1_2;
  rules.scalar_block_layout = device->physical->features12.scalarBlockLayout == VK_TRUE;
  if (!common::ValidateSpirv(words, word_count, rules, &error)) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED, "vulkan: the SPIR-V module is invalid: %s",
                error.c_str());
  }
  VkShaderModuleCreateInfo info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  info.codeSize = word_count * 4;
  info.pCode = words;
  const VkResult result =
      device->vk.vkCreateShaderModule(device->device, &info, nullptr, &module->shader);
  std::string validation;
  if (device->backend->validation_log.Take(&validation)) {
    // The layer runs spirv-val on the module: its findings are the build log.
    if (result == VK_SUCCESS) {
      device->vk.vkDestroyShaderModule(device->device, module->shader, nullptr);
    }
    return Fail(msg, PORTA_ERROR_BUILD_FAILED, "vulkan: the SPIR-V module is invalid: %s",
                validation.c_str());
  }
  if (result != VK_SUCCESS) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED, "vulkan: vkCreateShaderModule failed with %s (%d)",
                ResultName(result), static_cast<int>(result));
  }
  *out_module = module.release();
  return PORTA_OK;
}

void DestroyModule(Module* module) {
  if (module == nullptr) return;
  Device* device = module->device;
  for (auto& [name, kernel] : module->kernels) {
    for (auto& [key, pipeline] : kernel->pipelines) {
      device->vk.vkDestroyPipeline(device->device, pipeline.pipeline, nullptr);
    }
  }
  device->vk.vkDestroyShaderModule(device->device, module->shader, nullptr);
  delete module;
}

porta_status_t GetKernel(Module* module, const char* name, Kernel** out_kernel, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(module->mutex);
  auto it = module->kernels.find(name);
  if (it != module->kernels.end()) {
    *out_kernel = it->second.get();
    return PORTA_OK;
  }
  const SpirvEntryPoint* entry = module->info.Find(name);
  if (entry == nullptr) {
    std::string names;
    for (const SpirvEntryPoint& candidate : module->info.entry_points) {
      names += (names.empty() ? "" : ", ") + candidate.name;
    }
    return Fail(msg, PORTA_ERROR_NOT_FOUND,
                "vulkan: the module has no GLCompute entry point '%s' (it has: %s)", name,
                names.c_str());
  }
  auto kernel = std::make_unique<Kernel>();
  kernel->module = module;
  kernel->entry = entry;
  *out_kernel = kernel.get();
  module->kernels.emplace(name, std::move(kernel));
  return PORTA_OK;
}

porta_status_t PrepareLaunch(Kernel* kernel, const porta_launch_config_t* config,
                             const porta_be_arg_t* args, uint32_t arg_count, PreparedLaunch* out,
                             porta_be_msg msg) {
  porta_status_t status = PreparePipeline(kernel, config, args, arg_count, &out->push, &out->views,
                                          &out->pipeline, msg);
  if (status != PORTA_OK) return status;
  const uint64_t max_range =
      kernel->module->device->physical->properties.limits.maxStorageBufferRange;
  out->buffers.clear();
  out->buffers.reserve(out->pipeline.layout->buffer_count);
  for (uint32_t i = 0; i < arg_count; ++i) {
    if (args[i].kind != PORTA_ARG_BUFFER) continue;
    const Buffer* buffer = reinterpret_cast<const Buffer*>(args[i].buffer);
    out->buffers.push_back({buffer->buffer, args[i].offset,
                            std::min<uint64_t>(buffer->padded_size - args[i].offset, max_range)});
  }
  for (int d = 0; d < 3; ++d) out->grid[d] = config->grid[d];
  return PORTA_OK;
}

bool NeedsDescriptorSet(const PreparedLaunch& launch) {
  return (!launch.buffers.empty() || !launch.views.empty()) &&
         !launch.pipeline.layout->push_descriptor;
}

void RecordLaunch(Device* device, VkCommandBuffer cmd, const PreparedLaunch& launch,
                  VkDescriptorSet set, VkPipeline* bound_pipeline) {
  const DeviceFunctions& vk = device->vk;
  const Layout& layout = *launch.pipeline.layout;
  if (*bound_pipeline != launch.pipeline.pipeline) {
    vk.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, launch.pipeline.pipeline);
    *bound_pipeline = launch.pipeline.pipeline;
  }
  if (!launch.buffers.empty() || !launch.views.empty()) {
    if (layout.push_descriptor) {
      const std::vector<VkWriteDescriptorSet> writes = DescriptorWrites(launch, VK_NULL_HANDLE);
      vk.vkCmdPushDescriptorSetKHR(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout.pipeline_layout, 0,
                                   static_cast<uint32_t>(writes.size()), writes.data());
    } else {
      vk.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout.pipeline_layout, 0, 1,
                                 &set, 0, nullptr);
    }
  }
  if (!launch.push.empty()) {
    vk.vkCmdPushConstants(cmd, layout.pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                          static_cast<uint32_t>(launch.push.size()), launch.push.data());
  }
  vk.vkCmdDispatch(cmd, launch.grid[0], launch.grid[1], launch.grid[2]);
}

void WriteDescriptorSet(Device* device, const PreparedLaunch& launch, VkDescriptorSet set) {
  const std::vector<VkWriteDescriptorSet> writes = DescriptorWrites(launch, set);
  device->vk.vkUpdateDescriptorSets(device->device, static_cast<uint32_t>(writes.size()),
                                    writes.data(), 0, nullptr);
}

porta_status_t LaunchKernel(StreamCore* core, Kernel* kernel, const porta_launch_config_t* config,
                            const porta_be_arg_t* args, uint32_t arg_count, porta_be_msg msg) {
  PreparedLaunch launch;
  const porta_status_t status = PrepareLaunch(kernel, config, args, arg_count, &launch, msg);
  if (status != PORTA_OK) return status;
  return RecordOnStream(core, launch, msg);
}

porta_status_t PrepareFill(Device* device, Buffer* dst, uint64_t offset, uint64_t size,
                           const void* pattern, uint32_t pattern_size, PreparedFill* out,
                           porta_be_msg msg) {
  uint32_t word = 0;
  if (pattern_size == 1) {
    word = *static_cast<const uint8_t*>(pattern) * 0x01010101u;
  } else if (pattern_size == 2) {
    uint16_t half = 0;
    std::memcpy(&half, pattern, 2);
    word = half | (static_cast<uint32_t>(half) << 16);
  } else {
    std::memcpy(&word, pattern, 4);
  }
  const uint64_t end = offset + size;
  const uint64_t middle_begin = (offset + 3) & ~uint64_t{3};
  const uint64_t middle_end = end & ~uint64_t{3};
  out->buffer = dst->buffer;
  out->word = word;
  out->words_offset = middle_begin;
  out->words_size = middle_end > middle_begin ? middle_end - middle_begin : 0;
  out->has_edges = false;

  // Partial words at the edges: (word byte offset, byte mask) for the head and the tail.
  uint64_t edge_offsets[2];
  uint32_t edge_masks[2];
  uint32_t edges = 0;
  auto mask_of = [](uint64_t first_byte, uint64_t last_byte) {
    uint32_t mask = 0;
    for (uint64_t b = first_byte; b <= last_byte; ++b) mask |= 0xffu << (8 * b);
    return mask;
  };
  const uint64_t head_word = offset & ~uint64_t{3};
  if (offset % 4 != 0) {
    const uint64_t last = std::min<uint64_t>(end, head_word + 4) - 1;
    edge_offsets[edges] = head_word;
    edge_masks[edges++] = mask_of(offset - head_word, last - head_word);
  }
  if (end % 4 != 0 && (end & ~uint64_t{3}) != head_word) {
    edge_offsets[edges] = end & ~uint64_t{3};
    edge_masks[edges++] = mask_of(0, end % 4 - 1);
  } else if (end % 4 != 0 && offset % 4 == 0) {
    // Range starts aligned and ends inside the same word.
    edge_offsets[edges] = head_word;
    edge_masks[edges++] = mask_of(0, end % 4 - 1);
  }
  if (edges == 0) return PORTA_OK;

  Kernel* kernel = nullptr;
  {
    std::lock_guard<std::mutex> lock(device->fill_mutex);
    if (device->fill_kernel == nullptr) {
      std::vector<uint32_t> words(porta_vulkan_shader_fill_spv_size / 4);
      std::memcpy(words.data(), porta_vulkan_shader_fill_spv, words.size() * 4);
      porta_status_t status =
          LoadModule(device, words.data(), words.size(), &device->fill_module, msg);
      if (status != PORTA_OK) return status;
      status = GetKernel(device->fill_module, "main", &device->fill_kernel, msg);
      if (status != PORTA_OK) return status;
    }
    kernel = device->fill_kernel;
  }
  // Bind at an offset the device accepts; word indices are relative to it.
  const uint64_t alignment =
      std::max<uint64_t>(4, device->physical->properties.limits.minStorageBufferOffsetAlignment);
  const uint64_t base = edge_offsets[0] / alignment * alignment;
  uint32_t scalars[6] = {word,          edges, static_cast<uint32_t>((edge_offsets[0] - base) / 4),
                         edge_masks[0], 0,     0};
  if (edges == 2) {
    scalars[4] = static_cast<uint32_t>((edge_offsets[1] - base) / 4);
    scalars[5] = edge_masks[1];
  }
  porta_be_arg_t args[7];
  args[0] = {PORTA_ARG_BUFFER, reinterpret_cast<porta_be_buffer_t>(dst), base, nullptr, 0};
  for (int i = 0; i < 6; ++i) args[i + 1] = {PORTA_ARG_SCALAR, nullptr, 0, &scalars[i], 4};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 2;
  out->has_edges = true;
  return PrepareLaunch(kernel, &config, args, 7, &out->edges, msg);
}

// A descriptor set from the stream's open batch when the layout does not push descriptors.
porta_status_t RecordOnStream(StreamCore* core, const PreparedLaunch& launch, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(core->mutex());
  VkDescriptorSet set = VK_NULL_HANDLE;
  if (NeedsDescriptorSet(launch)) {
    const porta_status_t status =
        core->AllocateDescriptorSetLocked(*launch.pipeline.layout, &set, msg);
    if (status != PORTA_OK) return status;
    WriteDescriptorSet(core->device(), launch, set);
  }
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  const porta_status_t status = core->BeginCommandLocked(&cmd, msg);
  if (status != PORTA_OK) return status;
  RecordLaunch(core->device(), cmd, launch, set, &core->open_batch().bound_pipeline);
  return core->EndCommandLocked(1, msg);
}

//===--- Module slots -------------------------------------------------------------------------===//

porta_status_t ModuleLoad(porta_be_device_t handle, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  auto* device = As<Device>(handle);
  // The runtime passes a nonempty spirv-shader source (the one format the device declares).
  if (source->size % 4 != 0) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED,
                "vulkan: a SPIR-V module is a sequence of 32-bit words; got %zu bytes",
                source->size);
  }
  // The caller's bytes need not be 4-byte aligned.
  std::vector<uint32_t> words(source->size / 4);
  std::memcpy(words.data(), source->data, source->size);
  Module* module = nullptr;
  porta_status_t status = LoadModule(device, words.data(), words.size(), &module, msg);
  if (status != PORTA_OK) return status;
  for (uint32_t i = 0; i < source->entry_count; ++i) {
    const char* name = source->entry_names[i];
    if (module->info.Find(name) == nullptr) {
      DestroyModule(module);
      return Fail(msg, PORTA_ERROR_NOT_FOUND,
                  "vulkan: the SPIR-V module has no GLCompute entry point named '%s'", name);
    }
  }
  *out_module = ToHandle<porta_be_module_t>(module);
  return CheckValidation(device, PORTA_OK, msg);
}

void ModuleDestroy(porta_be_module_t module) {
  DestroyModule(As<Module>(module));
}

porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  Kernel* kernel = nullptr;
  porta_status_t status = GetKernel(As<Module>(module), name, &kernel, msg);
  if (status == PORTA_OK) *out_kernel = ToHandle<porta_be_kernel_t>(kernel);
  return status;
}

porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  const porta_status_t status =
      LaunchKernel(core, As<Kernel>(kernel), config, args, arg_count, msg);
  return CheckValidation(core->device(), status, msg);
}

}  // namespace porta::vulkan
