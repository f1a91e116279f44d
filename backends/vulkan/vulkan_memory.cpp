// Buffers of the Vulkan backend (memory types, host-visible mappings, imports), the staging
// memory that carries copies between host memory and device buffers, and the copy and fill slots.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;

// Staging blocks are at least this large so that small copies share one block.
constexpr uint64_t kMinStagingBlock = uint64_t{4} << 20;
// Free staging memory kept for reuse; blocks released beyond it are destroyed.
constexpr uint64_t kMaxFreeStaging = uint64_t{256} << 20;

constexpr VkBufferUsageFlags kBufferUsage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                            VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                            VK_BUFFER_USAGE_TRANSFER_DST_BIT;

}  // namespace

//===--- Buffers ------------------------------------------------------------------------------===//

porta_status_t BufferAlloc(porta_be_device_t handle, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  auto* device = As<Device>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  buffer->padded_size = (size + 3) & ~uint64_t{3};
  buffer->kind = kind;
  uint32_t type = 0;
  porta_status_t status;
  buffer->texel_usage = device->physical->texel_views;
  const VkBufferUsageFlags usage =
      kBufferUsage | (buffer->texel_usage ? VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT : 0);
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    status = device->CreateBuffer(buffer->padded_size, usage, kHostMappable,
                                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, &buffer->buffer,
                                  &buffer->memory, &type, msg);
  } else {
    // Device-local memory that the host cannot see is the fastest on discrete GPUs.
    status = device->CreateBuffer(
        buffer->padded_size, usage, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
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
  *out_buffer = ToHandle<porta_be_buffer_t>(buffer.release());
  return CheckValidation(device, PORTA_OK, msg);
}

void BufferFree(porta_be_buffer_t handle) {
  auto* buffer = As<Buffer>(handle);
  Device* device = buffer->device;
  if (buffer->imported) {
    delete buffer;
    return;
  }
  for (const auto& [offset, view] : buffer->views) {
    device->vk.vkDestroyBufferView(device->device, view, nullptr);
  }
  // Freeing memory also unmaps it.
  device->vk.vkDestroyBuffer(device->device, buffer->buffer, nullptr);
  device->vk.vkFreeMemory(device->device, buffer->memory, nullptr);
  delete buffer;
}

// The runtime maps host-visible buffers only, whose memory is coherent and mapped for the
// buffer's whole life: mapping is pointer arithmetic.
porta_status_t BufferMap(porta_be_buffer_t handle, uint64_t offset, uint64_t /*size*/,
                         void** out_ptr, porta_be_msg /*msg*/) {
  *out_ptr = As<Buffer>(handle)->mapped + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t /*handle*/, porta_be_msg /*msg*/) {
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t handle, uint64_t* out_handle,
                                  porta_be_msg /*msg*/) {
  *out_handle = reinterpret_cast<uint64_t>(As<Buffer>(handle)->buffer);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t handle, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  const auto* buffer = As<Buffer>(handle);
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
  auto* device = As<Device>(handle);
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
  *out_buffer = ToHandle<porta_be_buffer_t>(buffer.release());
  return CheckValidation(device, PORTA_OK, msg);
}

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
    DestroyStaging(block);
    return status;
  }
  block.mapped = static_cast<uint8_t*>(mapped);
  *out = block;
  return PORTA_OK;
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
  DestroyStaging(block);
}

void Device::DestroyStaging(const StagingBlock& block) {
  vk.vkDestroyBuffer(device, block.buffer, nullptr);
  vk.vkFreeMemory(device, block.memory, nullptr);
}

//===--- Copies and fills ---------------------------------------------------------------------===//
// The runtime has checked every range and pattern (porta_backend.h).

porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst_handle,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  Buffer* dst = As<Buffer>(dst_handle);
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    if (dst->mapped != nullptr && !core->device()->backend->force_staging && core->IdleLocked()) {
      // Nothing earlier on the stream is pending, so writing now is in stream order.
      std::memcpy(dst->mapped + dst_offset, src, size);
      return CheckValidation(core->device(), PORTA_OK, msg);
    }
    // The bytes are captured now, so |src| is free to change as soon as the call returns.
    VkBuffer staging = VK_NULL_HANDLE;
    uint64_t staging_offset = 0;
    uint8_t* staging_ptr = nullptr;
    status = core->AllocateStagingLocked(size, &staging, &staging_offset, &staging_ptr, msg);
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    if (status == PORTA_OK) status = core->BeginCommandLocked(&cmd, msg);
    if (status == PORTA_OK) {
      std::memcpy(staging_ptr, src, size);
      const VkBufferCopy region{staging_offset, dst_offset, size};
      core->device()->vk.vkCmdCopyBuffer(cmd, staging, dst->buffer, 1, &region);
      status = core->EndCommandLocked(1, msg);
    }
  }
  return CheckValidation(core->device(), status, msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t stream, void* dst, porta_be_buffer_t src_handle,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  Buffer* src = As<Buffer>(src_handle);
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    if (src->mapped != nullptr && !core->device()->backend->force_staging && core->IdleLocked()) {
      std::memcpy(dst, src->mapped + src_offset, size);
      return CheckValidation(core->device(), PORTA_OK, msg);
    }
    // The GPU copies into staging; the host copy into |dst| runs when the batch is observed
    // complete (synchronize, event wait or query), which is when the caller may read |dst|.
    VkBuffer staging = VK_NULL_HANDLE;
    uint64_t staging_offset = 0;
    uint8_t* staging_ptr = nullptr;
    status = core->AllocateStagingLocked(size, &staging, &staging_offset, &staging_ptr, msg);
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    if (status == PORTA_OK) status = core->BeginCommandLocked(&cmd, msg);
    if (status == PORTA_OK) {
      const VkBufferCopy region{src_offset, staging_offset, size};
      core->device()->vk.vkCmdCopyBuffer(cmd, src->buffer, staging, 1, &region);
      core->open_batch().host_copies.push_back({dst, staging_ptr, static_cast<size_t>(size)});
      status = core->EndCommandLocked(1, msg);
    }
  }
  return CheckValidation(core->device(), status, msg);
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    status = core->BeginCommandLocked(&cmd, msg);
    if (status == PORTA_OK) {
      const VkBufferCopy region{src_offset, dst_offset, size};
      core->device()->vk.vkCmdCopyBuffer(cmd, As<Buffer>(src)->buffer, As<Buffer>(dst)->buffer, 1,
                                         &region);
      status = core->EndCommandLocked(1, msg);
    }
  }
  return CheckValidation(core->device(), status, msg);
}

// The devices of the backend are separate VkDevices whose memory the other cannot bind: the
// runtime copies through the host.
porta_status_t CopyPeer(porta_be_stream_t, porta_be_buffer_t, uint64_t, porta_be_buffer_t, uint64_t,
                        uint64_t, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED,
              "vulkan: the devices are separate VkDevices without shared memory; no peer copy");
}

// Whole words with vkCmdFillBuffer, the partial words at the edges with the built-in fill shader
// (PrepareFill).
porta_status_t FillBuffer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  PreparedFill fill;
  porta_status_t status =
      PrepareFill(core->device(), As<Buffer>(dst), offset, size, pattern, pattern_size, &fill, msg);
  if (status == PORTA_OK && fill.words_size > 0) {
    std::lock_guard<std::mutex> lock(core->mutex());
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    status = core->BeginCommandLocked(&cmd, msg);
    if (status == PORTA_OK) {
      core->device()->vk.vkCmdFillBuffer(cmd, fill.buffer, fill.words_offset, fill.words_size,
                                         fill.word);
      status = core->EndCommandLocked(1, msg);
    }
  }
  if (status == PORTA_OK && fill.has_edges) status = RecordOnStream(core, fill.edges, msg);
  return CheckValidation(core->device(), status, msg);
}

}  // namespace porta::vulkan
