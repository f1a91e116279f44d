// Host memory registration with VK_EXT_external_memory_host: the application's pages are imported
// as device memory bound to a transfer buffer, so a copy from or to them is one vkCmdCopyBuffer,
// without the staging memory and the host memcpy of the ordinary path.
#include <unistd.h>

#include <memory>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;

constexpr VkExternalMemoryHandleTypeFlagBits kHostAllocation =
    VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;

HostRegistration* RegistrationOf(porta_be_host_registration_t handle) {
  return As<HostRegistration>(handle);
}

// Imports the pages [first, first + size) of the registration's range, whose pointer and size
// meet the device's import alignment.
porta_status_t Import(Device* device, uintptr_t first, uint64_t size, HostRegistration* out,
                      porta_be_msg msg) {
  const DeviceFunctions& vk = device->vk;
  void* pages = reinterpret_cast<void*>(first);
  VkMemoryHostPointerPropertiesEXT pointer{VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT};
  VkResult result =
      vk.vkGetMemoryHostPointerPropertiesEXT(device->device, kHostAllocation, pages, &pointer);
  if (result != VK_SUCCESS) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: the driver cannot import %p (vkGetMemoryHostPointerPropertiesEXT: %s)",
                pages, ResultName(result));
  }
  VkExternalMemoryBufferCreateInfo external{VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO};
  external.handleTypes = kHostAllocation;
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, &external};
  info.size = size;
  info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  result = vk.vkCreateBuffer(device->device, &info, nullptr, &out->buffer);
  if (result != VK_SUCCESS) return device->Check(result, "vkCreateBuffer (host import)", msg);
  VkMemoryRequirements requirements{};
  vk.vkGetBufferMemoryRequirements(device->device, out->buffer, &requirements);
  // Coherent memory needs no flush before the device reads the host's writes, nor an invalidate
  // before the host reads the device's.
  const uint32_t type = device->FindMemoryType(requirements.memoryTypeBits & pointer.memoryTypeBits,
                                               VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0, 0);
  if (type == UINT32_MAX || requirements.size > size) {
    vk.vkDestroyBuffer(device->device, out->buffer, nullptr);
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: no host-coherent memory type can import %p for a transfer buffer of "
                "%llu bytes (type bits 0x%x, buffer needs %llu bytes)",
                pages, static_cast<unsigned long long>(size), pointer.memoryTypeBits,
                static_cast<unsigned long long>(requirements.size));
  }
  VkImportMemoryHostPointerInfoEXT import{VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT};
  import.handleType = kHostAllocation;
  import.pHostPointer = pages;
  VkMemoryAllocateInfo allocate{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &import};
  allocate.allocationSize = size;
  allocate.memoryTypeIndex = type;
  result = vk.vkAllocateMemory(device->device, &allocate, nullptr, &out->memory);
  if (result == VK_SUCCESS)
    result = vk.vkBindBufferMemory(device->device, out->buffer, out->memory, 0);
  if (result != VK_SUCCESS) {
    if (out->memory != VK_NULL_HANDLE) vk.vkFreeMemory(device->device, out->memory, nullptr);
    vk.vkDestroyBuffer(device->device, out->buffer, nullptr);
    return device->Check(result, "vkAllocateMemory (host import)", msg);
  }
  return PORTA_OK;
}

}  // namespace

porta_status_t HostRegister(porta_be_device_t handle, void* ptr, uint64_t size, uint32_t /*flags*/,
                            porta_be_host_registration_t* out, porta_be_msg msg) {
  auto* device = As<Device>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  const uint64_t align = device->physical->host_import_alignment;
  if (align == 0 || device->vk.vkGetMemoryHostPointerPropertiesEXT == nullptr) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: the device lacks VK_EXT_external_memory_host");
  }
  // The import covers whole alignment units. Within a page that only widens the range to bytes
  // of its own pages, which are mapped; beyond a page it could reach unmapped memory, so such a
  // device takes only ranges that are aligned already.
  const auto begin = reinterpret_cast<uintptr_t>(ptr);
  const uintptr_t first = begin / align * align;
  const uint64_t end = (begin + size + align - 1) / align * align;
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (end < begin + size || (align > page && (first != begin || end != begin + size))) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "vulkan: the range [%p, %llu bytes] is not aligned to the device's "
                "minImportedHostPointerAlignment (%llu bytes, more than a page)",
                ptr, static_cast<unsigned long long>(size), static_cast<unsigned long long>(align));
  }
  auto registration = std::make_unique<HostRegistration>();
  registration->device = device;
  registration->offset = begin - first;
  porta_status_t status = Import(device, first, end - first, registration.get(), msg);
  if (status == PORTA_OK) {
    *out = ToHandle<porta_be_host_registration_t>(registration.release());
  }
  return CheckValidation(device, status, msg);
}

void HostUnregister(porta_be_host_registration_t handle) {
  HostRegistration* registration = RegistrationOf(handle);
  Device* device = registration->device;
  device->vk.vkDestroyBuffer(device->device, registration->buffer, nullptr);
  device->vk.vkFreeMemory(device->device, registration->memory, nullptr);
  delete registration;
}

namespace {

// Records a copy of |size| bytes from |src| to |dst| on the stream. |host_visible_buffer| is the
// Porta buffer's mapping: with it, on an idle stream, the ordinary path is a plain memcpy, which
// beats a device copy, so the registered path declines.
porta_status_t RecordCopy(porta_be_stream_t stream, const uint8_t* host_visible_buffer,
                          VkBuffer src, uint64_t src_offset, VkBuffer dst, uint64_t dst_offset,
                          uint64_t size, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    if (host_visible_buffer != nullptr && !core->device()->backend->force_staging &&
        core->IdleLocked()) {
      return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                  "vulkan: the buffer is mapped and the stream idle: a memcpy is faster");
    }
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    status = core->BeginCommandLocked(&cmd, msg);
    if (status == PORTA_OK) {
      const VkBufferCopy region{src_offset, dst_offset, size};
      core->device()->vk.vkCmdCopyBuffer(cmd, src, dst, 1, &region);
      status = core->EndCommandLocked(1, msg);
    }
  }
  return CheckValidation(core->device(), status, msg);
}

}  // namespace

porta_status_t CopyHostToDeviceRegistered(porta_be_stream_t stream, porta_be_buffer_t dst_handle,
                                          uint64_t dst_offset,
                                          porta_be_host_registration_t src_registration,
                                          uint64_t src_offset, const void* /*src*/, uint64_t size,
                                          porta_be_msg msg) {
  const HostRegistration* registration = RegistrationOf(src_registration);
  const Buffer* dst = As<Buffer>(dst_handle);
  return RecordCopy(stream, dst->mapped, registration->buffer, registration->offset + src_offset,
                    dst->buffer, dst_offset, size, msg);
}

porta_status_t CopyDeviceToHostRegistered(porta_be_stream_t stream,
                                          porta_be_host_registration_t dst_registration,
                                          uint64_t dst_offset, void* /*dst*/,
                                          porta_be_buffer_t src_handle, uint64_t src_offset,
                                          uint64_t size, porta_be_msg msg) {
  const HostRegistration* registration = RegistrationOf(dst_registration);
  const Buffer* src = As<Buffer>(src_handle);
  return RecordCopy(stream, src->mapped, src->buffer, src_offset, registration->buffer,
                    registration->offset + dst_offset, size, msg);
}

}  // namespace porta::vulkan
