// Level Zero buffers (device, shared or host allocations), their interop, host registration
// through Intel's import extension, and copies and fills.
#include <cstring>
#include <memory>

#include "backends/level_zero/level_zero_objects.h"
#include "porta/sdk/message.h"

namespace porta::level_zero {

using common::Fail;
using common::Offset;

porta_status_t BufferAlloc(porta_be_device_t be, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  buffer->host_visible = kind == PORTA_MEMORY_HOST_VISIBLE;
  // 64 bytes covers every element type and a cache line; Level Zero requires a power of two.
  constexpr size_t kAlignment = 64;
  ze_device_mem_alloc_desc_t device_desc = {};
  device_desc.stype = ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC;
  ze_host_mem_alloc_desc_t host_desc = {};
  host_desc.stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
  ze_result_t result = ZE_RESULT_SUCCESS;
  const char* what = "zeMemAllocDevice";
  if (!buffer->host_visible) {
    result = library.zeMemAllocDevice(device->context, &device_desc, size, kAlignment,
                                      device->device, &buffer->pointer);
  } else if (device->shared_allocations) {
    what = "zeMemAllocShared";
    result = library.zeMemAllocShared(device->context, &device_desc, &host_desc, size, kAlignment,
                                      device->device, &buffer->pointer);
  } else {
    what = "zeMemAllocHost";
    result =
        library.zeMemAllocHost(device->context, &host_desc, size, kAlignment, &buffer->pointer);
  }
  if (result != ZE_RESULT_SUCCESS) {
    return Fail(msg, Library::StatusOf(result), "%s of %llu bytes failed: %s", what,
                static_cast<unsigned long long>(size), Library::ErrorText(result).c_str());
  }
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t be) {
  Buffer* buffer = As<Buffer>(be);
  if (buffer->imported) {
    delete buffer;
    return;
  }
  buffer->device->library->Released(
      buffer->device->library->zeMemFree(buffer->device->context, buffer->pointer), "zeMemFree");
  delete buffer;
}

// The runtime maps host-visible buffers only: host and shared allocations, which the host
// addresses as they are.
porta_status_t BufferMap(porta_be_buffer_t be, uint64_t offset, uint64_t, void** out_ptr,
                         porta_be_msg) {
  *out_ptr = Offset(As<Buffer>(be)->pointer, offset);
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t, porta_be_msg) {
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t be, uint64_t* out_handle, porta_be_msg) {
  *out_handle = reinterpret_cast<uint64_t>(As<Buffer>(be)->pointer);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t be, porta_native_handles_t* out,
                                   porta_be_msg msg) {
  out->count = 1;
  return BufferNativeHandle(be, &out->handles[PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER], msg);
}

porta_status_t HostRegister(porta_be_device_t be, void* ptr, uint64_t size, uint32_t /*flags*/,
                            porta_be_host_registration_t* out, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  if (device->system_memory_access) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "level_zero: the device reads and writes pageable host memory directly "
                        "(sharedSystemAllocCapabilities), so copies need no import");
  }
  ze_driver_handle_t driver = device->driver->driver;
  void* functions[2] = {nullptr, nullptr};
  const char* const names[2] = {"zexDriverImportExternalPointer",
                                "zexDriverReleaseImportedPointer"};
  for (int i = 0; i < 2; ++i) {
    const ze_result_t found =
        library.zeDriverGetExtensionFunctionAddress(driver, names[i], &functions[i]);
    // A driver without the function answers that the name is not one of its extensions.
    if (found == ZE_RESULT_ERROR_INVALID_ARGUMENT || found == ZE_RESULT_ERROR_UNSUPPORTED_FEATURE ||
        (found == ZE_RESULT_SUCCESS && functions[i] == nullptr)) {
      return common::Fail(msg, PORTA_ERROR_UNSUPPORTED, "level_zero: the driver lacks %s",
                          names[i]);
    }
    if (found != ZE_RESULT_SUCCESS) {
      return library.Fail(found, "zeDriverGetExtensionFunctionAddress", msg);
    }
  }
  void* import = functions[0];
  void* release = functions[1];
  auto registration = std::make_unique<HostRegistration>();
  const ze_result_t result =
      reinterpret_cast<ImportExternalPointerFn>(import)(driver, ptr, static_cast<size_t>(size));
  if (result != ZE_RESULT_SUCCESS) {
    return library.Fail(result, "zexDriverImportExternalPointer", msg);
  }
  registration->device = device;
  registration->pointer = ptr;
  registration->release = reinterpret_cast<ReleaseImportedPointerFn>(release);
  *out = reinterpret_cast<porta_be_host_registration_t>(registration.release());
  return PORTA_OK;
}

void HostUnregister(porta_be_host_registration_t be) {
  HostRegistration* registration = As<HostRegistration>(be);
  registration->device->library->Released(
      registration->release(registration->device->driver->driver, registration->pointer),
      "zexDriverReleaseImportedPointer");
  delete registration;
}

porta_status_t BufferImport(porta_be_device_t be, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  Device* device = As<Device>(be);
  auto* pointer = reinterpret_cast<void*>(native->handles[PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER]);
  void* base = nullptr;
  size_t range = 0;
  const ze_result_t result =
      device->library->zeMemGetAddressRange(device->context, pointer, &base, &range);
  if (result != ZE_RESULT_SUCCESS) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "level_zero: handles[0] is not an allocation of the device's context "
                "(zeMemGetAddressRange: %s)",
                Library::ErrorText(result).c_str());
  }
  const porta_status_t inside =
      common::CheckImportRange("level_zero", reinterpret_cast<uintptr_t>(pointer),
                               reinterpret_cast<uintptr_t>(base), range, size, msg);
  if (inside != PORTA_OK) return inside;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->pointer = pointer;
  buffer->size = size;
  buffer->host_visible = kind == PORTA_MEMORY_HOST_VISIBLE;
  buffer->imported = true;
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

//===--- Copies and fills ---------------------------------------------------------------------===//

namespace {

// A copy the device makes straight between |from| and |to| (device memory, or host memory the
// driver imported), in stream order, without staging or waiting.
porta_status_t AppendDirectCopy(porta_be_stream_t be, void* to, const void* from, uint64_t size,
                                porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  const ze_result_t result = stream->device->library->zeCommandListAppendMemoryCopy(
      batch->list, to, from, size, nullptr, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandListAppendMemoryCopy", msg);
  }
  return EndCommand(stream, batch, msg);
}

}  // namespace

porta_status_t CopyHostToDevice(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const Device* device = stream->device;
  const Library& library = *device->library;
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  const void* from = src;
  if (!device->system_memory_access) {
    // The device cannot read pageable memory: the bytes go through a host allocation, taken
    // now, so |src| is free to change as soon as the call returns.
    ze_host_mem_alloc_desc_t desc = {};
    desc.stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
    void* staging = nullptr;
    const ze_result_t result = library.zeMemAllocHost(device->context, &desc, size, 64, &staging);
    if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeMemAllocHost (staging)", msg);
    std::memcpy(staging, src, size);
    batch->staging.push_back(staging);
    from = staging;
  }
  const ze_result_t result = library.zeCommandListAppendMemoryCopy(
      batch->list, Offset(As<Buffer>(dst)->pointer, dst_offset), from, size, nullptr, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandListAppendMemoryCopy", msg);
  }
  return EndCommand(stream, batch, msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t be, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const Device* device = stream->device;
  const Library& library = *device->library;
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  void* to = dst;
  void* staging = nullptr;
  if (!device->system_memory_access) {
    ze_host_mem_alloc_desc_t desc = {};
    desc.stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
    const ze_result_t result = library.zeMemAllocHost(device->context, &desc, size, 64, &staging);
    if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeMemAllocHost (staging)", msg);
    to = staging;
  }
  ze_result_t result = library.zeCommandListAppendMemoryCopy(
      batch->list, to, Offset(As<Buffer>(src)->pointer, src_offset), size, nullptr, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    if (staging != nullptr)
      library.Released(library.zeMemFree(device->context, staging), "zeMemFree");
    return StreamFail(stream->sticky.get(), result, "zeCommandListAppendMemoryCopy", msg);
  }
  status = EndCommand(stream, batch, msg);
  if (status != PORTA_OK || staging == nullptr) {
    if (staging != nullptr)
      library.Released(library.zeMemFree(device->context, staging), "zeMemFree");
    return status;
  }
  // Level Zero has no host callbacks to move the staged bytes later, so this copy completes
  // before it returns, as a CUDA copy into pageable memory does.
  status = Flush(stream, msg);
  if (status == PORTA_OK) status = Retire(stream, true, msg);
  if (status == PORTA_OK) std::memcpy(dst, staging, size);
  library.Released(library.zeMemFree(device->context, staging), "zeMemFree");
  return status;
}

// The registered range was imported into the driver, so the device reads and writes it directly:
// no staging allocation, and a copy into it returns without waiting.
porta_status_t CopyHostToDeviceRegistered(porta_be_stream_t be, porta_be_buffer_t dst,
                                          uint64_t dst_offset, porta_be_host_registration_t,
                                          uint64_t, const void* src, uint64_t size,
                                          porta_be_msg msg) {
  return AppendDirectCopy(be, Offset(As<Buffer>(dst)->pointer, dst_offset), src, size, msg);
}

porta_status_t CopyDeviceToHostRegistered(porta_be_stream_t be, porta_be_host_registration_t,
                                          uint64_t, void* dst, porta_be_buffer_t src,
                                          uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  return AppendDirectCopy(be, dst, Offset(As<Buffer>(src)->pointer, src_offset), size, msg);
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t dst_offset,
                                  porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                                  porta_be_msg msg) {
  return AppendDirectCopy(be, Offset(As<Buffer>(dst)->pointer, dst_offset),
                          Offset(As<Buffer>(src)->pointer, src_offset), size, msg);
}

porta_status_t CopyPeer(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t dst_offset,
                        porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                        porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  Device* here = stream->device;
  Device* other =
      As<Buffer>(dst)->device == here ? As<Buffer>(src)->device : As<Buffer>(dst)->device;
  ze_bool_t can_access = false;
  if (here->driver != other->driver ||
      here->library->zeDeviceCanAccessPeer(here->device, other->device, &can_access) !=
          ZE_RESULT_SUCCESS ||
      !can_access) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "Level Zero devices %u and %u have no peer path (different drivers, or "
                "zeDeviceCanAccessPeer is false)",
                here->index, other->index);
  }
  // Both allocations live in the driver's one context, so an ordinary copy reaches the peer.
  return CopyDeviceToDevice(be, dst, dst_offset, src, src_offset, size, msg);
}

porta_status_t FillBuffer(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  // The pattern is read when the command runs, so the batch keeps a copy until then.
  auto copy = std::make_unique<uint32_t>(0u);
  std::memcpy(copy.get(), pattern, pattern_size);
  const ze_result_t result = stream->device->library->zeCommandListAppendMemoryFill(
      batch->list, Offset(As<Buffer>(dst)->pointer, offset), copy.get(), pattern_size, size,
      nullptr, 0, nullptr);
  batch->patterns.push_back(std::move(copy));
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandListAppendMemoryFill", msg);
  }
  return EndCommand(stream, batch, msg);
}

}  // namespace porta::level_zero
