// Memory of the GPU layer: buffers (device allocations, or pinned host memory mapped into the
// device), imported allocations, host registration, copies and fills.
// clang-format off
#include PORTA_GPU_API_HEADER  // the vendor map this compilation is for (porta_add_gpu_backend)
// clang-format on

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "backends/gpu/gpu.h"
#include "porta/sdk/message.h"

namespace porta::gpu {

using common::As;
using common::Fail;
using common::ToHandle;

template <class Api>
porta_status_t Slots<Api>::BufferAlloc(porta_be_device_t be, uint64_t size,
                                       porta_memory_kind_t kind, porta_be_buffer_t* out_buffer,
                                       porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  const std::string bytes = " of " + std::to_string(size) + " bytes";
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    // Pinned host memory mapped into the device (the runtime asks only where the device maps host
    // memory): the host maps it without a copy, and kernels read it across the bus.
    Result result = library.host_alloc(&buffer->host, size, Api::kHostAllocMapped);
    if (result != Api::kSuccess) {
      return library.Fail(result, (library.host_alloc.name + bytes).c_str(), msg);
    }
    result = library.host_get_device_pointer(&buffer->pointer, buffer->host, 0);
    if (result != Api::kSuccess) {
      library.Released(library.host_free(buffer->host), library.host_free.name);
      return library.Fail(result, library.host_get_device_pointer.name, msg);
    }
  } else {
    const Result result = library.mem_alloc(&buffer->pointer, size);
    if (result != Api::kSuccess) {
      return library.Fail(result, (library.mem_alloc.name + bytes).c_str(), msg);
    }
  }
  *out_buffer = ToHandle<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

template <class Api>
void Slots<Api>::BufferFree(porta_be_buffer_t be) {
  Buffer* buffer = As<Buffer>(be);
  const Library& library = *buffer->device->library;
  Api::MakeCurrent(*buffer->device, nullptr);
  if (buffer->imported) {
    // The memory is the application's.
  } else if (buffer->host != nullptr) {
    library.Released(library.host_free(buffer->host), library.host_free.name);
  } else {
    library.Released(library.mem_free(buffer->pointer), library.mem_free.name);
  }
  delete buffer;
}

template <class Api>
porta_status_t Slots<Api>::BufferMap(porta_be_buffer_t be, uint64_t offset, uint64_t size,
                                     void** out_ptr, porta_be_msg msg) {
  (void)size;
  (void)msg;
  // Only host-visible buffers are mapped, and they all have a host address.
  *out_ptr = static_cast<unsigned char*>(As<Buffer>(be)->host) + offset;
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::BufferUnmap(porta_be_buffer_t be, porta_be_msg msg) {
  (void)be;
  (void)msg;
  // Mapped pinned memory is coherent with the device: nothing to flush.
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::BufferNativeHandle(porta_be_buffer_t be, uint64_t* out_handle,
                                              porta_be_msg msg) {
  (void)msg;
  *out_handle = AddressOf(As<Buffer>(be)->pointer);
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::BufferNativeHandles(porta_be_buffer_t be, porta_native_handles_t* out,
                                               porta_be_msg msg) {
  (void)msg;
  const Buffer* buffer = As<Buffer>(be);
  out->count = 2;
  out->handles[Api::kNativeBufferPointer] = AddressOf(buffer->pointer);
  out->handles[Api::kNativeBufferHostPointer] = reinterpret_cast<uint64_t>(buffer->host);
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::BufferImport(porta_be_device_t be, const porta_native_handles_t* native,
                                        uint64_t size, porta_memory_kind_t kind,
                                        porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  const auto pointer = PointerAt<DevicePtr>(native->handles[Api::kNativeBufferPointer]);
  void* host = nullptr;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    host = reinterpret_cast<void*>(native->count > Api::kNativeBufferHostPointer
                                       ? native->handles[Api::kNativeBufferHostPointer]
                                       : 0);
    if (host == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "%s: a PORTA_MEMORY_HOST_VISIBLE import needs the host address of the pinned "
                  "memory in handles[%d] (%s)",
                  Api::kName, Api::kNativeBufferHostPointer, Api::kNativeBufferHostPointerName);
    }
  }
  DevicePtr base{};
  size_t range = 0;
  const Result result = library.mem_get_address_range(&base, &range, pointer);
  if (result != Api::kSuccess) {
    const std::string what =
        std::string(library.mem_get_address_range.name) + " of handles[0] (not device memory?)";
    return library.Fail(result, what.c_str(), msg);
  }
  const porta_status_t inside =
      common::CheckImportRange(Api::kName, AddressOf(pointer), AddressOf(base), range, size, msg);
  if (inside != PORTA_OK) return inside;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->pointer = pointer;
  buffer->host = host;
  buffer->size = size;
  buffer->imported = true;
  *out_buffer = ToHandle<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::HostRegister(porta_be_device_t be, void* ptr, uint64_t size,
                                        uint32_t flags, porta_be_host_registration_t* out,
                                        porta_be_msg msg) {
  (void)flags;
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  // Page-locked for this device only (not portable): registration is per device. Any alignment:
  // the driver pins whole pages.
  const Result result = library.host_register(ptr, size, Api::kHostRegisterDefault);
  if (result != Api::kSuccess) {
    const std::string what =
        std::string(library.host_register.name) + " of " + std::to_string(size) + " bytes";
    return library.Fail(result, what.c_str(), msg);
  }
  auto registration = std::make_unique<HostRegistration>();
  registration->device = device;
  registration->pointer = ptr;
  *out = ToHandle<porta_be_host_registration_t>(registration.release());
  return PORTA_OK;
}

template <class Api>
void Slots<Api>::HostUnregister(porta_be_host_registration_t be) {
  HostRegistration* registration = As<HostRegistration>(be);
  Release<Api>(registration, registration->pointer, registration->device->library->host_unregister);
}

template <class Api>
porta_status_t Slots<Api>::CopyHostToDevice(porta_be_stream_t be, porta_be_buffer_t dst,
                                            uint64_t dst_offset, const void* src, uint64_t size,
                                            porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  // From pageable memory the driver stages the data before returning, so |src| may change
  // afterwards; from pinned memory the copy is truly asynchronous, as the API contract allows.
  // (HIP declares the source without const.)
  const Result result = library.memcpy_htod_async(Advance(As<Buffer>(dst)->pointer, dst_offset),
                                                  const_cast<void*>(src), size, stream->stream);
  return StreamResult(stream, result, library.memcpy_htod_async.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::CopyDeviceToHost(porta_be_stream_t be, void* dst, porta_be_buffer_t src,
                                            uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  const Result result = library.memcpy_dtoh_async(
      dst, Advance(As<Buffer>(src)->pointer, src_offset), size, stream->stream);
  return StreamResult(stream, result, library.memcpy_dtoh_async.name, msg);
}

// The registered range is page-locked, so the driver copies straight from or to it, without
// staging, and the copy is truly asynchronous: the same calls as the ordinary copies.
template <class Api>
porta_status_t Slots<Api>::CopyHostToDeviceRegistered(porta_be_stream_t be, porta_be_buffer_t dst,
                                                      uint64_t dst_offset,
                                                      porta_be_host_registration_t registration,
                                                      uint64_t src_offset, const void* src,
                                                      uint64_t size, porta_be_msg msg) {
  (void)registration;
  (void)src_offset;
  return CopyHostToDevice(be, dst, dst_offset, src, size, msg);
}

template <class Api>
porta_status_t Slots<Api>::CopyDeviceToHostRegistered(porta_be_stream_t be,
                                                      porta_be_host_registration_t registration,
                                                      uint64_t dst_offset, void* dst,
                                                      porta_be_buffer_t src, uint64_t src_offset,
                                                      uint64_t size, porta_be_msg msg) {
  (void)registration;
  (void)dst_offset;
  return CopyDeviceToHost(be, dst, src, src_offset, size, msg);
}

template <class Api>
porta_status_t Slots<Api>::CopyDeviceToDevice(porta_be_stream_t be, porta_be_buffer_t dst,
                                              uint64_t dst_offset, porta_be_buffer_t src,
                                              uint64_t src_offset, uint64_t size,
                                              porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  const Result result = library.memcpy_dtod_async(Advance(As<Buffer>(dst)->pointer, dst_offset),
                                                  Advance(As<Buffer>(src)->pointer, src_offset),
                                                  size, stream->stream);
  return StreamResult(stream, result, library.memcpy_dtod_async.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::CopyPeer(porta_be_stream_t be, porta_be_buffer_t dst_be,
                                    uint64_t dst_offset, porta_be_buffer_t src_be,
                                    uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  Buffer* dst = As<Buffer>(dst_be);
  Buffer* src = As<Buffer>(src_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  Device* here = stream->device;
  Device* other = dst->device == here ? src->device : dst->device;
  const Library& library = *here->library;
  int can_access = 0;
  Result result = library.device_can_access_peer(&can_access, here->id, other->id);
  if (result != Api::kSuccess)
    return library.Fail(result, library.device_can_access_peer.name, msg);
  if (can_access == 0) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "%s devices %u and %u have no peer path (%s is 0)",
                Api::kDisplayName, here->index, other->index, library.device_can_access_peer.name);
  }
  {
    Backend* backend = here->backend;
    std::lock_guard<std::mutex> lock(backend->peer_mutex);
    const auto pair = std::make_pair(here->index, other->index);
    if (backend->peers_enabled.count(pair) == 0) {
      // BeginStreamWork made |here| current, which is the device that gains access.
      const porta_status_t enabled = Api::EnablePeerAccess(*here, *other, msg);
      if (enabled != PORTA_OK) return enabled;
      backend->peers_enabled.insert(pair);
    }
  }
  result = library.memcpy_peer_async(Advance(dst->pointer, dst_offset), Api::PeerOf(*dst->device),
                                     Advance(src->pointer, src_offset), Api::PeerOf(*src->device),
                                     size, stream->stream);
  return StreamResult(stream, result, library.memcpy_peer_async.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::FillBuffer(porta_be_stream_t be, porta_be_buffer_t dst_be,
                                      uint64_t offset, uint64_t size, const void* pattern,
                                      uint32_t pattern_size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  const DevicePtr dst = Advance(As<Buffer>(dst_be)->pointer, offset);
  // |pattern_size| is 1, 2 or 4 (the runtime checked).
  if (pattern_size == 1) {
    uint8_t value = 0;
    std::memcpy(&value, pattern, 1);
    return StreamResult(stream, library.memset_d8_async(dst, value, size, stream->stream),
                        library.memset_d8_async.name, msg);
  }
  if (pattern_size == 2) {
    uint16_t value = 0;
    std::memcpy(&value, pattern, 2);
    return StreamResult(stream, library.memset_d16_async(dst, value, size / 2, stream->stream),
                        library.memset_d16_async.name, msg);
  }
  uint32_t value = 0;
  std::memcpy(&value, pattern, 4);
  return StreamResult(stream, library.memset_d32_async(dst, value, size / 4, stream->stream),
                      library.memset_d32_async.name, msg);
}

PORTA_GPU_INSTANTIATE_SLOT(buffer_alloc, BufferAlloc)
PORTA_GPU_INSTANTIATE_SLOT(buffer_free, BufferFree)
PORTA_GPU_INSTANTIATE_SLOT(buffer_map, BufferMap)
PORTA_GPU_INSTANTIATE_SLOT(buffer_unmap, BufferUnmap)
PORTA_GPU_INSTANTIATE_SLOT(buffer_native_handle, BufferNativeHandle)
PORTA_GPU_INSTANTIATE_SLOT(buffer_native_handles, BufferNativeHandles)
PORTA_GPU_INSTANTIATE_SLOT(buffer_import, BufferImport)
PORTA_GPU_INSTANTIATE_SLOT(host_register, HostRegister)
PORTA_GPU_INSTANTIATE_SLOT(host_unregister, HostUnregister)
PORTA_GPU_INSTANTIATE_SLOT(copy_host_to_device, CopyHostToDevice)
PORTA_GPU_INSTANTIATE_SLOT(copy_device_to_host, CopyDeviceToHost)
PORTA_GPU_INSTANTIATE_SLOT(copy_host_to_device_registered, CopyHostToDeviceRegistered)
PORTA_GPU_INSTANTIATE_SLOT(copy_device_to_host_registered, CopyDeviceToHostRegistered)
PORTA_GPU_INSTANTIATE_SLOT(copy_device_to_device, CopyDeviceToDevice)
PORTA_GPU_INSTANTIATE_SLOT(copy_peer, CopyPeer)
PORTA_GPU_INSTANTIATE_SLOT(fill_buffer, FillBuffer)

}  // namespace porta::gpu
