// Device open/close, memory types, buffers, staging memory, pipeline layouts and the on-disk
// pipeline cache.
#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "backends/vulkan/vulkan_internal.h"
#include "backends/vulkan/vulkan_table.h"
#include "porta/sdk/disk_cache.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;

constexpr uint32_t kMaxQueues = 4;
// Staging blocks are at least this large so that small copies share one block.
constexpr uint64_t kMinStagingBlock = uint64_t{4} << 20;
// Free staging memory kept for reuse; blocks released beyond it are destroyed.
constexpr uint64_t kMaxFreeStaging = uint64_t{256} << 20;

constexpr VkBufferUsageFlags kBufferUsage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                            VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                            VK_BUFFER_USAGE_TRANSFER_DST_BIT;
constexpr VkMemoryPropertyFlags kHostMappable =
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

std::string PipelineCacheKey(const Device& device) {
  const VkPhysicalDeviceProperties& props = device.physical->properties;
  std::string key = "vulkan-pipeline-cache;porta=" + device.backend->porta_version;
  char text[96];
  std::snprintf(text, sizeof(text), ";vendor=%04x;device=%04x;driver=%08x;uuid=", props.vendorID,
                props.deviceID, props.driverVersion);
  key += text;
  for (uint8_t byte : props.pipelineCacheUUID) {
    std::snprintf(text, sizeof(text), "%02x", byte);
    key += text;
  }
  return key;
}

// True when |data| starts with a VkPipelineCacheHeaderVersionOne that matches this device; the
// driver would reject (or, with a buggy driver, misread) anything else.
bool PipelineCacheHeaderMatches(const std::vector<uint8_t>& data,
                                const VkPhysicalDeviceProperties& props) {
  VkPipelineCacheHeaderVersionOne header{};
  if (data.size() < sizeof(header)) return false;
  std::memcpy(&header, data.data(), sizeof(header));
  return header.headerSize >= sizeof(header) && header.headerSize <= data.size() &&
         header.headerVersion == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         header.vendorID == props.vendorID && header.deviceID == props.deviceID &&
         std::memcmp(header.pipelineCacheUUID, props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

void CreatePipelineCache(Device* device) {
  Backend* backend = device->backend;
  device->pipeline_cache_key = PipelineCacheKey(*device);
  std::vector<uint8_t> initial;
  common::DiskCache cache(backend->cache_dir.empty() ? "" : backend->cache_dir + "/vulkan");
  if (auto loaded = cache.Load(device->pipeline_cache_key)) {
    if (PipelineCacheHeaderMatches(*loaded, device->physical->properties)) {
      initial = std::move(*loaded);
      backend->Log(PORTA_LOG_INFO, "vulkan: pipeline cache: loaded %zu bytes from %s",
                   initial.size(), cache.PathFor(device->pipeline_cache_key).c_str());
    } else {
      backend->Log(PORTA_LOG_WARNING,
                   "vulkan: pipeline cache: ignoring %s, its header does not match this device",
                   cache.PathFor(device->pipeline_cache_key).c_str());
    }
  }
  VkPipelineCacheCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  info.initialDataSize = initial.size();
  info.pInitialData = initial.empty() ? nullptr : initial.data();
  if (device->vk.vkCreatePipelineCache(device->device, &info, nullptr, &device->pipeline_cache) !=
      VK_SUCCESS) {
    info.initialDataSize = 0;
    info.pInitialData = nullptr;
    if (device->vk.vkCreatePipelineCache(device->device, &info, nullptr, &device->pipeline_cache) !=
        VK_SUCCESS) {
      // Pipelines are still created without a cache; only reuse across runs is lost.
      device->pipeline_cache = VK_NULL_HANDLE;
    }
  }
}

void SavePipelineCache(Device* device) {
  Backend* backend = device->backend;
  if (device->pipeline_cache == VK_NULL_HANDLE || !device->pipeline_cache_dirty.load() ||
      backend->cache_dir.empty()) {
    return;
  }
  size_t size = 0;
  if (device->vk.vkGetPipelineCacheData(device->device, device->pipeline_cache, &size, nullptr) !=
          VK_SUCCESS ||
      size == 0) {
    return;
  }
  std::vector<uint8_t> data(size);
  if (device->vk.vkGetPipelineCacheData(device->device, device->pipeline_cache, &size,
                                        data.data()) != VK_SUCCESS) {
    return;
  }
  common::DiskCache cache(backend->cache_dir + "/vulkan");
  if (cache.Store(device->pipeline_cache_key, data.data(), size)) {
    backend->Log(PORTA_LOG_INFO, "vulkan: pipeline cache: stored %zu bytes in %s", size,
                 cache.PathFor(device->pipeline_cache_key).c_str());
  } else {
    backend->Log(PORTA_LOG_WARNING, "vulkan: pipeline cache: could not write %s",
                 cache.PathFor(device->pipeline_cache_key).c_str());
  }
}

void DestroyStaging(Device* device, const StagingBlock& block) {
  device->vk.vkDestroyBuffer(device->device, block.buffer, nullptr);
  device->vk.vkFreeMemory(device->device, block.memory, nullptr);
}

// ---- ABI slots: buffers -----------------------------------------------------------------------

porta_status_t BufferAlloc(porta_be_device_t handle, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  auto* device = reinterpret_cast<Device*>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  buffer->padded_size = (size + 3) & ~uint64_t{3};
  buffer->kind = kind;
  uint32_t type = 0;
  porta_status_t status;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    status = device->CreateBuffer(buffer->padded_size, kBufferUsage, kHostMappable,
                                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, &buffer->buffer,
                                  &buffer->memory, &type, msg);
  } else {
    // Device-local memory that the host cannot see is the fastest on discrete GPUs.
    status = device->CreateBuffer(
        buffer->padded_size, kBufferUsage, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, &buffer->buffer, &buffer->memory, &type, msg);
  }
  if (status != PORTA_OK) return CheckValidation(device, status, msg);
  const VkMemoryPropertyFlags flags = device->physical->memory.memoryTypes[type].propertyFlags;
  const bool mappable = (flags & kHostMappable) == kHostMappable;
  if (kind == PORTA_MEMORY_HOST_VISIBLE || (mappable && !device->backend->force_staging)) {
    void* mapped = nullptr;
    status = device->Check(
        device->vk.vkMapMemory(device->device, buffer->memory, 0, VK_WHOLE_SIZE, 0, &mapped),
        "vkMapMemory", msg);
    if (status != PORTA_OK) {
      device->vk.vkDestroyBuffer(device->device, buffer->buffer, nullptr);
      device->vk.vkFreeMemory(device->device, buffer->memory, nullptr);
      return CheckValidation(device, status, msg);
    }
    buffer->mapped = static_cast<uint8_t*>(mapped);
  }
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return CheckValidation(device, PORTA_OK, msg);
}

void BufferFree(porta_be_buffer_t handle) {
  auto* buffer = reinterpret_cast<Buffer*>(handle);
  if (buffer == nullptr) return;
  Device* device = buffer->device;
  if (buffer->imported) {
    delete buffer;
    return;
  }
  // Freeing memory also unmaps it.
  device->vk.vkDestroyBuffer(device->device, buffer->buffer, nullptr);
  device->vk.vkFreeMemory(device->device, buffer->memory, nullptr);
  delete buffer;
}

porta_status_t BufferMap(porta_be_buffer_t handle, uint64_t offset, uint64_t /*size*/,
                         void** out_ptr, porta_be_msg msg) {
  auto* buffer = reinterpret_cast<Buffer*>(handle);
  if (buffer->kind != PORTA_MEMORY_HOST_VISIBLE || buffer->mapped == nullptr) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: only PORTA_MEMORY_HOST_VISIBLE buffers can be mapped");
  }
  // The memory is coherent and mapped for the buffer's whole life, so mapping is pointer math.
  *out_ptr = buffer->mapped + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t /*handle*/, porta_be_msg /*msg*/) {
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t handle, uint64_t* out_handle,
                                  porta_be_msg /*msg*/) {
  *out_handle = reinterpret_cast<uint64_t>(reinterpret_cast<Buffer*>(handle)->buffer);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t handle, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  const auto* buffer = reinterpret_cast<Buffer*>(handle);
  out->count = 3;
  out->handles[PORTA_NATIVE_VULKAN_BUFFER] = reinterpret_cast<uint64_t>(buffer->buffer);
  out->handles[PORTA_NATIVE_VULKAN_BUFFER_MEMORY] = reinterpret_cast<uint64_t>(buffer->memory);
  if (buffer->kind == PORTA_MEMORY_HOST_VISIBLE) {
    out->handles[PORTA_NATIVE_VULKAN_BUFFER_HOST_POINTER] =
        reinterpret_cast<uint64_t>(buffer->mapped);
  }
  return PORTA_OK;
}

porta_status_t BufferImport(porta_be_device_t handle, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  auto* device = reinterpret_cast<Device*>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  // Shaders (the fill shader among them) read and write whole 32-bit words.
  if (size % 4 != 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: size %llu of an imported buffer is not a multiple of 4 bytes (shaders "
                "access the buffer in 32-bit words)",
                static_cast<unsigned long long>(size));
  }
  const auto vk_buffer = reinterpret_cast<VkBuffer>(native->handles[PORTA_NATIVE_VULKAN_BUFFER]);
  uint8_t* host = nullptr;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    host = reinterpret_cast<uint8_t*>(native->count > PORTA_NATIVE_VULKAN_BUFFER_HOST_POINTER
                                          ? native->handles[PORTA_NATIVE_VULKAN_BUFFER_HOST_POINTER]
                                          : 0);
    if (host == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "vulkan: a PORTA_MEMORY_HOST_VISIBLE import needs the host address of the "
                  "mapped buffer in handles[%d] (PORTA_NATIVE_VULKAN_BUFFER_HOST_POINTER)",
                  PORTA_NATIVE_VULKAN_BUFFER_HOST_POINTER);
    }
  }
  // The memory the buffer needs is at least its creation size, so a smaller figure means the
  // handle does not describe |size| bytes.
  VkMemoryRequirements requirements{};
  device->vk.vkGetBufferMemoryRequirements(device->device, vk_buffer, &requirements);
  if (requirements.size < size) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "vulkan: the VkBuffer in handles[0] needs %llu bytes of memory, fewer than the "
                "%llu bytes to import",
                static_cast<unsigned long long>(requirements.size),
                static_cast<unsigned long long>(size));
  }
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->buffer = vk_buffer;
  buffer->size = size;
  buffer->padded_size = size;
  buffer->kind = kind;
  buffer->mapped = host;
  buffer->imported = true;
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return CheckValidation(device, PORTA_OK, msg);
}

}  // namespace

uint32_t Device::FindMemoryType(uint32_t type_bits, VkMemoryPropertyFlags required,
                                VkMemoryPropertyFlags preferred,
                                VkMemoryPropertyFlags avoided) const {
  const VkPhysicalDeviceMemoryProperties& memory = physical->memory;
  // Passes from the most to the least demanding: required + preferred without avoided, then
  // relaxing one wish at a time.
  const VkMemoryPropertyFlags wants[4] = {required | preferred, required | preferred, required,
                                          required};
  const bool avoid[4] = {true, false, true, false};
  for (int pass = 0; pass < 4; ++pass) {
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
      const VkMemoryPropertyFlags flags = memory.memoryTypes[i].propertyFlags;
      if (!(type_bits & (1u << i)) || (flags & wants[pass]) != wants[pass]) continue;
      if (avoid[pass] && (flags & avoided)) continue;
      return i;
    }
  }
  return UINT32_MAX;
}

porta_status_t Device::CreateBuffer(uint64_t size, VkBufferUsageFlags usage,
                                    VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
                                    VkMemoryPropertyFlags avoided, VkBuffer* out_buffer,
                                    VkDeviceMemory* out_memory, uint32_t* out_type,
                                    porta_be_msg msg) {
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = size;
  info.usage = usage;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  porta_status_t status =
      Check(vk.vkCreateBuffer(device, &info, nullptr, &buffer), "vkCreateBuffer", msg);
  if (status != PORTA_OK) return status;
  VkMemoryRequirements requirements{};
  vk.vkGetBufferMemoryRequirements(device, buffer, &requirements);
  const uint32_t type = FindMemoryType(requirements.memoryTypeBits, required, preferred, avoided);
  if (type == UINT32_MAX) {
    vk.vkDestroyBuffer(device, buffer, nullptr);
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: no memory type with property flags 0x%x can hold a buffer (allowed "
                "types 0x%x)",
                required, requirements.memoryTypeBits);
  }
  VkMemoryAllocateInfo allocate{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  allocate.allocationSize = requirements.size;
  allocate.memoryTypeIndex = type;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  const VkResult result = vk.vkAllocateMemory(device, &allocate, nullptr, &memory);
  if (result != VK_SUCCESS) {
    vk.vkDestroyBuffer(device, buffer, nullptr);
    char what[128];
    std::snprintf(what, sizeof(what), "vkAllocateMemory of %" PRIu64 " bytes (memory type %u)",
                  static_cast<uint64_t>(requirements.size), type);
    return Check(result, what, msg);
  }
  status = Check(vk.vkBindBufferMemory(device, buffer, memory, 0), "vkBindBufferMemory", msg);
  if (status != PORTA_OK) {
    vk.vkDestroyBuffer(device, buffer, nullptr);
    vk.vkFreeMemory(device, memory, nullptr);
    return status;
  }
  *out_buffer = buffer;
  *out_memory = memory;
  if (out_type != nullptr) *out_type = type;
  return PORTA_OK;
}

porta_status_t Device::AcquireStaging(uint64_t size, StagingBlock* out, porta_be_msg msg) {
  {
    std::lock_guard<std::mutex> lock(staging_mutex);
    auto best = free_staging.end();
    for (auto it = free_staging.begin(); it != free_staging.end(); ++it) {
      if (it->size >= size && (best == free_staging.end() || it->size < best->size)) best = it;
    }
    if (best != free_staging.end()) {
      *out = *best;
      free_staging_bytes -= best->size;
      free_staging.erase(best);
      return PORTA_OK;
    }
  }
  StagingBlock block;
  // Rounded up so that blocks of similar sizes are interchangeable in the free list.
  block.size = std::max(kMinStagingBlock,
                        (size + kMinStagingBlock - 1) / kMinStagingBlock * kMinStagingBlock);
  const VkBufferUsageFlags usage =
      VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  // Staging wants system memory (not device-local) that the CPU reads fast (cached).
  porta_status_t status =
      CreateBuffer(block.size, usage, kHostMappable, VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                   VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &block.buffer, &block.memory, nullptr, msg);
  if (status != PORTA_OK) return status;
  void* mapped = nullptr;
  status = Check(vk.vkMapMemory(device, block.memory, 0, VK_WHOLE_SIZE, 0, &mapped),
                 "vkMapMemory (staging)", msg);
  if (status != PORTA_OK) {
    DestroyStaging(this, block);
    return status;
  }
  block.mapped = static_cast<uint8_t*>(mapped);
  *out = block;
  return PORTA_OK;
}

porta_status_t Device::CreateTimestampSlot(TimestampSlot* out, porta_be_msg msg) {
  TimestampSlot slot;
  VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  info.queryType = VK_QUERY_TYPE_TIMESTAMP;
  info.queryCount = 1;
  porta_status_t status =
      Check(vk.vkCreateQueryPool(device, &info, nullptr, &slot.pool), "vkCreateQueryPool", msg);
  if (status == PORTA_OK) {
    status = CreateBuffer(sizeof(uint64_t), VK_BUFFER_USAGE_TRANSFER_DST_BIT, kHostMappable,
                          VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, &slot.buffer, &slot.memory,
                          nullptr, msg);
  }
  void* mapped = nullptr;
  if (status == PORTA_OK) {
    status = Check(vk.vkMapMemory(device, slot.memory, 0, VK_WHOLE_SIZE, 0, &mapped),
                   "vkMapMemory (timestamp)", msg);
  }
  if (status != PORTA_OK) {
    DestroyTimestampSlot(slot);
    return status;
  }
  slot.result = static_cast<const volatile uint64_t*>(mapped);
  *out = slot;
  return PORTA_OK;
}

void Device::DestroyTimestampSlot(const TimestampSlot& slot) {
  if (slot.buffer != VK_NULL_HANDLE) vk.vkDestroyBuffer(device, slot.buffer, nullptr);
  if (slot.memory != VK_NULL_HANDLE) vk.vkFreeMemory(device, slot.memory, nullptr);
  if (slot.pool != VK_NULL_HANDLE) vk.vkDestroyQueryPool(device, slot.pool, nullptr);
}

void Device::ReleaseStaging(const StagingBlock& block) {
  {
    std::lock_guard<std::mutex> lock(staging_mutex);
    if (free_staging_bytes + block.size <= kMaxFreeStaging) {
      free_staging.push_back(block);
      free_staging_bytes += block.size;
      return;
    }
  }
  DestroyStaging(this, block);
}

porta_status_t Device::GetLayout(uint32_t buffer_count, uint32_t push_bytes, const Layout** out,
                                 porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(layout_mutex);
  auto& slot = layouts[{buffer_count, push_bytes}];
  if (slot != nullptr) {
    *out = slot.get();
    return PORTA_OK;
  }
  auto layout = std::make_unique<Layout>();
  layout->buffer_count = buffer_count;
  layout->push_bytes = push_bytes;
  layout->push_descriptor = vk.vkCmdPushDescriptorSetKHR != nullptr && buffer_count > 0 &&
                            buffer_count <= physical->max_push_descriptors;
  std::vector<VkDescriptorSetLayoutBinding> bindings(buffer_count);
  for (uint32_t i = 0; i < buffer_count; ++i) {
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  }
  if (buffer_count > 0) {
    VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    set_info.flags =
        layout->push_descriptor ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0;
    set_info.bindingCount = buffer_count;
    set_info.pBindings = bindings.data();
    porta_status_t status =
        Check(vk.vkCreateDescriptorSetLayout(device, &set_info, nullptr, &layout->set_layout),
              "vkCreateDescriptorSetLayout", msg);
    if (status != PORTA_OK) {
      layouts.erase({buffer_count, push_bytes});
      return status;
    }
  }
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  VkPipelineLayoutCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  info.setLayoutCount = buffer_count > 0 ? 1 : 0;
  info.pSetLayouts = &layout->set_layout;
  info.pushConstantRangeCount = push_bytes > 0 ? 1 : 0;
  info.pPushConstantRanges = &range;
  porta_status_t status =
      Check(vk.vkCreatePipelineLayout(device, &info, nullptr, &layout->pipeline_layout),
            "vkCreatePipelineLayout", msg);
  if (status != PORTA_OK) {
    if (layout->set_layout != VK_NULL_HANDLE) {
      vk.vkDestroyDescriptorSetLayout(device, layout->set_layout, nullptr);
    }
    layouts.erase({buffer_count, push_bytes});
    return status;
  }
  slot = std::move(layout);
  *out = slot.get();
  return PORTA_OK;
}

porta_status_t Device::Check(VkResult result, const char* what, porta_be_msg msg) {
  if (result == VK_SUCCESS) return PORTA_OK;
  if (result == VK_ERROR_DEVICE_LOST) {
    {
      std::lock_guard<std::mutex> lock(lost_mutex);
      if (lost_reason.empty()) lost_reason = std::string(what) + " returned VK_ERROR_DEVICE_LOST";
    }
    lost.store(true);
    return LostStatus(msg);
  }
  const porta_status_t status =
      result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY
          ? PORTA_ERROR_OUT_OF_MEMORY
          : PORTA_ERROR_BACKEND;
  return Fail(msg, status, "vulkan: %s failed with %s (%d)", what, ResultName(result),
              static_cast<int>(result));
}

porta_status_t Device::LostStatus(porta_be_msg msg) {
  if (!lost.load()) return PORTA_OK;
  std::lock_guard<std::mutex> lock(lost_mutex);
  return Fail(msg, PORTA_ERROR_DEVICE_LOST, "vulkan: the device was lost: %s", lost_reason.c_str());
}

porta_status_t DeviceOpen(Backend* backend, uint32_t index, Device** out, porta_be_msg msg) {
  const PhysicalDevice& physical = backend->devices[index];
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->physical = &physical;

  const uint32_t queue_count = std::min(physical.queue_count, kMaxQueues);
  const float priorities[kMaxQueues] = {1.0f, 1.0f, 1.0f, 1.0f};
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = physical.queue_family;
  queue_info.queueCount = queue_count;
  queue_info.pQueuePriorities = priorities;

  // Enable the optional features kernels may rely on, each only where the device has it.
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  const VkPhysicalDeviceVulkan12Features& h12 = physical.features12;
  f12.timelineSemaphore = VK_TRUE;
  f12.shaderFloat16 = h12.shaderFloat16;
  f12.shaderInt8 = h12.shaderInt8;
  f12.storageBuffer8BitAccess = h12.storageBuffer8BitAccess;
  f12.uniformAndStorageBuffer8BitAccess = h12.uniformAndStorageBuffer8BitAccess;
  f12.storagePushConstant8 = h12.storagePushConstant8;
  f12.shaderBufferInt64Atomics = h12.shaderBufferInt64Atomics;
  f12.shaderSharedInt64Atomics = h12.shaderSharedInt64Atomics;
  f12.scalarBlockLayout = h12.scalarBlockLayout;
  f12.vulkanMemoryModel = h12.vulkanMemoryModel;
  f12.vulkanMemoryModelDeviceScope = h12.vulkanMemoryModelDeviceScope;
  f12.subgroupBroadcastDynamicId = h12.subgroupBroadcastDynamicId;
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
  f11.storageBuffer16BitAccess = physical.features11.storageBuffer16BitAccess;
  f11.uniformAndStorageBuffer16BitAccess = physical.features11.uniformAndStorageBuffer16BitAccess;
  f11.storagePushConstant16 = physical.features11.storagePushConstant16;
  f11.variablePointersStorageBuffer = physical.features11.variablePointersStorageBuffer;
  f11.variablePointers = physical.features11.variablePointers;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
  features.features.shaderFloat64 = physical.core_features.shaderFloat64;
  features.features.shaderInt64 = physical.core_features.shaderInt64;
  features.features.shaderInt16 = physical.core_features.shaderInt16;

  std::vector<const char*> extensions;
  if (physical.max_push_descriptors > 0)
    extensions.push_back(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  if (physical.host_import_alignment > 0)
    extensions.push_back(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
  VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features};
  info.queueCreateInfoCount = 1;
  info.pQueueCreateInfos = &queue_info;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  const VkResult result =
      backend->vk.vkCreateDevice(physical.handle, &info, nullptr, &device->device);
  if (result != VK_SUCCESS) {
    return Fail(msg, PORTA_ERROR_BACKEND, "vulkan: vkCreateDevice for '%s' failed with %s (%d)",
                physical.info.name, ResultName(result), static_cast<int>(result));
  }
  std::string error;
  if (!device->vk.Load(backend->vk, device->device, &error)) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDevice>(
        backend->vk.vkGetDeviceProcAddr(device->device, "vkDestroyDevice"));
    if (destroy != nullptr) destroy(device->device, nullptr);
    return Fail(msg, PORTA_ERROR_BACKEND, "vulkan: %s", error.c_str());
  }
  if (physical.max_push_descriptors > 0) {
    device->vk.vkCmdPushDescriptorSetKHR = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(
        backend->vk.vkGetDeviceProcAddr(device->device, "vkCmdPushDescriptorSetKHR"));
  }
  if (physical.host_import_alignment > 0) {
    device->vk.vkGetMemoryHostPointerPropertiesEXT =
        reinterpret_cast<PFN_vkGetMemoryHostPointerPropertiesEXT>(
            backend->vk.vkGetDeviceProcAddr(device->device, "vkGetMemoryHostPointerPropertiesEXT"));
  }
  for (uint32_t i = 0; i < queue_count; ++i) {
    auto queue = std::make_unique<Queue>();
    device->vk.vkGetDeviceQueue(device->device, physical.queue_family, i, &queue->queue);
    device->queues.push_back(std::move(queue));
  }
  CreatePipelineCache(device.get());
  *out = device.release();
  return CheckValidation(*out, PORTA_OK, msg);
}

void DeviceClose(Device* device) {
  if (device == nullptr) return;
  const DeviceApi& vk = device->vk;
  vk.vkDeviceWaitIdle(device->device);
  if (device->fill_module != nullptr) DestroyModule(device->fill_module);
  SavePipelineCache(device);
  if (device->pipeline_cache != VK_NULL_HANDLE) {
    vk.vkDestroyPipelineCache(device->device, device->pipeline_cache, nullptr);
  }
  for (auto& [key, layout] : device->layouts) {
    vk.vkDestroyPipelineLayout(device->device, layout->pipeline_layout, nullptr);
    if (layout->set_layout != VK_NULL_HANDLE) {
      vk.vkDestroyDescriptorSetLayout(device->device, layout->set_layout, nullptr);
    }
  }
  for (const StagingBlock& block : device->free_staging) DestroyStaging(device, block);
  vk.vkDestroyDevice(device->device, nullptr);
  delete device;
}

void AddMemorySlots(porta_backend_table_t* table) {
  table->buffer_alloc = BufferAlloc;
  table->buffer_free = BufferFree;
  table->buffer_map = BufferMap;
  table->buffer_unmap = BufferUnmap;
  table->buffer_native_handle = BufferNativeHandle;
  table->buffer_native_handles = BufferNativeHandles;
  table->buffer_import = BufferImport;
}

}  // namespace porta::vulkan
