// Memory, streams, events, modules and launches of the HIP backend.
#include <cstring>

#include "backends/hip/hip_backend.h"
#include "porta/sdk/message.h"
#include "porta/sdk/poll.h"

namespace porta::hip {
namespace {

using common::Fail;
using common::Offset;

// Reports a failed HIP call made for work on a stream; a device fault becomes sticky.
porta_status_t StreamFail(const Library& library, StickyError* sticky, hipError_t result,
                          const char* what, porta_be_msg msg) {
  return common::FailStreamWork(sticky, Library::StatusOf(result),
                                std::string(what) + " failed: " + library.ErrorText(result), msg);
}

}  // namespace

porta_status_t BeginStreamWork(Stream* stream, porta_be_msg msg) {
  const porta_status_t sticky = stream->sticky->Check(msg);
  if (sticky != PORTA_OK) return sticky;
  return MakeCurrent(stream->device, msg);
}

porta_status_t StreamResult(Stream* stream, hipError_t result, const char* what, porta_be_msg msg) {
  if (result == hipSuccess) return PORTA_OK;
  return StreamFail(*stream->device->library, stream->sticky.get(), result, what, msg);
}

porta_status_t BufferAlloc(porta_be_device_t be, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    // Pinned host memory mapped into the device: the host maps it without a copy, and kernels
    // read it across the bus.
    hipError_t result =
        library.hipHostMalloc(&buffer->host, size, hipHostMallocMapped | hipHostMallocPortable);
    if (result != hipSuccess) {
      const std::string what = "hipHostMalloc of " + std::to_string(size) + " bytes";
      return library.Fail(result, what.c_str(), msg);
    }
    result = library.hipHostGetDevicePointer(&buffer->pointer, buffer->host, 0);
    if (result != hipSuccess) {
      library.Released(library.hipHostFree(buffer->host), "hipHostFree");
      return library.Fail(result, "hipHostGetDevicePointer", msg);
    }
  } else {
    const hipError_t result = library.hipMalloc(&buffer->pointer, size);
    if (result != hipSuccess) {
      const std::string what = "hipMalloc of " + std::to_string(size) + " bytes";
      return library.Fail(result, what.c_str(), msg);
    }
  }
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t be) {
  Buffer* buffer = As<Buffer>(be);
  const Library& library = *buffer->device->library;
  MakeCurrent(buffer->device, nullptr);
  if (buffer->imported) {
    // The memory is the application's.
  } else if (buffer->host != nullptr) {
    library.Released(library.hipHostFree(buffer->host), "hipHostFree");
  } else {
    library.Released(library.hipFree(buffer->pointer), "hipFree");
  }
  delete buffer;
}

porta_status_t BufferMap(porta_be_buffer_t be, uint64_t offset, uint64_t size, void** out_ptr,
                         porta_be_msg msg) {
  (void)size;
  (void)msg;
  // Only host-visible buffers are mapped, and they all have a host address.
  Buffer* buffer = As<Buffer>(be);
  *out_ptr = static_cast<unsigned char*>(buffer->host) + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t be, porta_be_msg msg) {
  (void)msg;
  // Mapped pinned memory is coherent with the device: nothing to flush.
  (void)be;
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t be, uint64_t* out_handle, porta_be_msg msg) {
  (void)msg;
  *out_handle = reinterpret_cast<uint64_t>(As<Buffer>(be)->pointer);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  const Buffer* buffer = As<Buffer>(be);
  out->count = 2;
  out->handles[PORTA_NATIVE_HIP_BUFFER_POINTER] = reinterpret_cast<uint64_t>(buffer->pointer);
  out->handles[PORTA_NATIVE_HIP_BUFFER_HOST_POINTER] = reinterpret_cast<uint64_t>(buffer->host);
  return PORTA_OK;
}

porta_status_t BufferImport(porta_be_device_t be, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto* pointer = reinterpret_cast<void*>(native->handles[PORTA_NATIVE_HIP_BUFFER_POINTER]);
  void* host = nullptr;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    host = reinterpret_cast<void*>(native->count > PORTA_NATIVE_HIP_BUFFER_HOST_POINTER
                                       ? native->handles[PORTA_NATIVE_HIP_BUFFER_HOST_POINTER]
                                       : 0);
    if (host == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "hip: a PORTA_MEMORY_HOST_VISIBLE import needs the host address of the pinned "
                  "memory in handles[1] (PORTA_NATIVE_HIP_BUFFER_HOST_POINTER)");
    }
  }
  hipDeviceptr_t base = nullptr;
  size_t range = 0;
  const hipError_t error = library.hipMemGetAddressRange(&base, &range, pointer);
  if (error != hipSuccess) {
    return library.Fail(error, "hipMemGetAddressRange of handles[0] (not device memory?)", msg);
  }
  const porta_status_t inside =
      common::CheckImportRange("hip", reinterpret_cast<uintptr_t>(pointer),
                               reinterpret_cast<uintptr_t>(base), range, size, msg);
  if (inside != PORTA_OK) return inside;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->pointer = pointer;
  buffer->host = host;
  buffer->size = size;
  buffer->imported = true;
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

porta_status_t StreamNativeHandles(porta_be_stream_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  out->count = 1;
  out->handles[PORTA_NATIVE_HIP_STREAM] = reinterpret_cast<uint64_t>(As<Stream>(be)->stream);
  return PORTA_OK;
}

porta_status_t StreamCreate(porta_be_device_t be, porta_be_stream_t* out_stream, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto stream = std::make_unique<Stream>();
  stream->device = device;
  // Non-blocking: no implicit ordering against the null stream, which other HIP code in the
  // process may be using.
  const hipError_t result =
      device->library->hipStreamCreateWithFlags(&stream->stream, hipStreamNonBlocking);
  if (result != hipSuccess) return device->library->Fail(result, "hipStreamCreateWithFlags", msg);
  *out_stream = reinterpret_cast<porta_be_stream_t>(stream.release());
  return PORTA_OK;
}

void StreamDestroy(porta_be_stream_t be) {
  Stream* stream = As<Stream>(be);
  MakeCurrent(stream->device, nullptr);
  stream->device->library->Released(stream->device->library->hipStreamDestroy(stream->stream),
                                    "hipStreamDestroy");
  delete stream;
}

porta_status_t StreamSynchronize(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  return StreamResult(stream, stream->device->library->hipStreamSynchronize(stream->stream),
                      "hipStreamSynchronize", msg);
}

porta_status_t StreamQuery(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const hipError_t result = stream->device->library->hipStreamQuery(stream->stream);
  if (result == hipErrorNotReady) return PORTA_NOT_READY;
  return StreamResult(stream, result, "hipStreamQuery", msg);
}

porta_status_t CopyHostToDevice(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  // From pageable memory the runtime stages the data before returning, so |src| may change
  // afterwards; from pinned memory the copy is truly asynchronous, as the API contract allows.
  const hipError_t result = stream->device->library->hipMemcpyHtoDAsync(
      Offset(As<Buffer>(dst)->pointer, dst_offset), const_cast<void*>(src), size, stream->stream);
  return StreamResult(stream, result, "hipMemcpyHtoDAsync", msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t be, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const hipError_t result = stream->device->library->hipMemcpyDtoHAsync(
      dst, Offset(As<Buffer>(src)->pointer, src_offset), size, stream->stream);
  return StreamResult(stream, result, "hipMemcpyDtoHAsync", msg);
}

porta_status_t HostRegister(porta_be_device_t be, void* ptr, uint64_t size, uint32_t /*flags*/,
                            porta_be_host_registration_t* out, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto registration = std::make_unique<HostRegistration>();
  // Page-locked for the device only (no hipHostRegisterPortable): registration is per device.
  const hipError_t result = library.hipHostRegister(ptr, size, hipHostRegisterDefault);
  if (result != hipSuccess) {
    const std::string what = "hipHostRegister of " + std::to_string(size) + " bytes";
    return library.Fail(result, what.c_str(), msg);
  }
  registration->device = device;
  registration->pointer = ptr;
  *out = reinterpret_cast<porta_be_host_registration_t>(registration.release());
  return PORTA_OK;
}

void HostUnregister(porta_be_host_registration_t be) {
  HostRegistration* registration = As<HostRegistration>(be);
  MakeCurrent(registration->device, nullptr);
  registration->device->library->Released(
      registration->device->library->hipHostUnregister(registration->pointer), "hipHostUnregister");
  delete registration;
}

// The registered range is page-locked, so the runtime copies straight from or to it, without
// staging, and the copy is truly asynchronous: the same calls as the ordinary copies.
porta_status_t CopyHostToDeviceRegistered(porta_be_stream_t be, porta_be_buffer_t dst,
                                          uint64_t dst_offset, porta_be_host_registration_t,
                                          uint64_t, const void* src, uint64_t size,
                                          porta_be_msg msg) {
  return CopyHostToDevice(be, dst, dst_offset, src, size, msg);
}

porta_status_t CopyDeviceToHostRegistered(porta_be_stream_t be, porta_be_host_registration_t,
                                          uint64_t, void* dst, porta_be_buffer_t src,
                                          uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  return CopyDeviceToHost(be, dst, src, src_offset, size, msg);
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t dst_offset,
                                  porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                                  porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const hipError_t result = stream->device->library->hipMemcpyDtoDAsync(
      Offset(As<Buffer>(dst)->pointer, dst_offset), Offset(As<Buffer>(src)->pointer, src_offset),
      size, stream->stream);
  return StreamResult(stream, result, "hipMemcpyDtoDAsync", msg);
}

porta_status_t CopyPeer(porta_be_stream_t be, porta_be_buffer_t dst_be, uint64_t dst_offset,
                        porta_be_buffer_t src_be, uint64_t src_offset, uint64_t size,
                        porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  Buffer* dst = As<Buffer>(dst_be);
  Buffer* src = As<Buffer>(src_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  Device* here = stream->device;
  Device* other = dst->device == here ? src->device : dst->device;
  const Library& library = *here->library;
  int can_access = 0;
  hipError_t result = library.hipDeviceCanAccessPeer(&can_access, here->ordinal, other->ordinal);
  if (result != hipSuccess) return library.Fail(result, "hipDeviceCanAccessPeer", msg);
  if (can_access == 0) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "HIP devices %d and %d have no peer path (hipDeviceCanAccessPeer is 0)",
                here->ordinal, other->ordinal);
  }
  {
    Backend* backend = here->backend;
    std::lock_guard<std::mutex> lock(backend->peer_mutex);
    const auto pair = std::make_pair(here->ordinal, other->ordinal);
    if (backend->peers_enabled.count(pair) == 0) {
      // BeginStreamWork made |here| current, which is the device that gains access.
      result = library.hipDeviceEnablePeerAccess(other->ordinal, 0);
      if (result != hipSuccess && result != hipErrorPeerAccessAlreadyEnabled) {
        return library.Fail(result, "hipDeviceEnablePeerAccess", msg);
      }
      backend->peers_enabled.insert(pair);
    }
  }
  result = library.hipMemcpyPeerAsync(Offset(dst->pointer, dst_offset), dst->device->ordinal,
                                      Offset(src->pointer, src_offset), src->device->ordinal, size,
                                      stream->stream);
  return StreamResult(stream, result, "hipMemcpyPeerAsync", msg);
}

// The runtime calls |fn| in stream order.
porta_status_t StreamHostFunc(porta_be_stream_t be, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  if (stream->device->library->hipLaunchHostFunc == nullptr) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "hip: %s does not export hipLaunchHostFunc",
                stream->device->library->library_name().c_str());
  }
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  return StreamResult(stream,
                      stream->device->library->hipLaunchHostFunc(stream->stream, fn, user_data),
                      "hipLaunchHostFunc", msg);
}

porta_status_t FillBuffer(porta_be_stream_t be, porta_be_buffer_t dst_be, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  void* dst = Offset(As<Buffer>(dst_be)->pointer, offset);
  // |pattern_size| is 1, 2 or 4 (the runtime checked it).
  hipError_t result = hipSuccess;
  const char* call = nullptr;
  if (pattern_size == 1) {
    uint8_t value = 0;
    std::memcpy(&value, pattern, 1);
    call = "hipMemsetD8Async";
    result = library.hipMemsetD8Async(dst, value, size, stream->stream);
  } else if (pattern_size == 2) {
    uint16_t value = 0;
    std::memcpy(&value, pattern, 2);
    call = "hipMemsetD16Async";
    result = library.hipMemsetD16Async(dst, value, size / 2, stream->stream);
  } else {
    uint32_t value = 0;
    std::memcpy(&value, pattern, 4);
    call = "hipMemsetD32Async";
    result = library.hipMemsetD32Async(dst, static_cast<int>(value), size / 4, stream->stream);
  }
  return StreamResult(stream, result, call, msg);
}

porta_status_t EventCreate(porta_be_device_t be, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg) {
  Device* device = As<Device>(be);
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto event = std::make_unique<Event>();
  event->device = device;
  const hipError_t result = device->library->hipEventCreateWithFlags(
      &event->event,
      (flags & PORTA_EVENT_DISABLE_TIMING) != 0 ? hipEventDisableTiming : hipEventDefault);
  if (result != hipSuccess) return device->library->Fail(result, "hipEventCreateWithFlags", msg);
  *out_event = reinterpret_cast<porta_be_event_t>(event.release());
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t be) {
  Event* event = As<Event>(be);
  MakeCurrent(event->device, nullptr);
  event->device->library->Released(event->device->library->hipEventDestroy(event->event),
                                   "hipEventDestroy");
  delete event;
}

porta_status_t EventRecord(porta_be_event_t be, porta_be_stream_t stream_be, porta_be_msg msg) {
  Event* event = As<Event>(be);
  Stream* stream = As<Stream>(stream_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  std::lock_guard<std::mutex> lock(event->mutex);
  const hipError_t result = stream->device->library->hipEventRecord(event->event, stream->stream);
  if (result != hipSuccess) return StreamResult(stream, result, "hipEventRecord", msg);
  event->recorded_on = stream->sticky;
  return PORTA_OK;
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream_be, porta_be_event_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  // hipStreamWaitEvent captures the event's most recent record, which is the API's contract.
  const hipError_t result =
      stream->device->library->hipStreamWaitEvent(stream->stream, As<Event>(be)->event, 0);
  return StreamResult(stream, result, "hipStreamWaitEvent", msg);
}

namespace {

// The stream an event was last recorded on, or null.
std::shared_ptr<StickyError> RecordedOn(Event* event) {
  std::lock_guard<std::mutex> lock(event->mutex);
  return event->recorded_on;
}

porta_status_t EventResult(Event* event, const std::shared_ptr<StickyError>& sticky,
                           hipError_t result, const char* what, porta_be_msg msg) {
  if (result == hipSuccess) return PORTA_OK;
  return StreamFail(*event->device->library, sticky.get(), result, what, msg);
}

}  // namespace

porta_status_t EventWait(porta_be_event_t be, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = As<Event>(be);
  const Library& library = *event->device->library;
  const std::shared_ptr<StickyError> sticky = RecordedOn(event);
  if (sticky != nullptr) {
    const porta_status_t status = sticky->Check(msg);
    if (status != PORTA_OK) return status;
  }
  const porta_status_t current = MakeCurrent(event->device, msg);
  if (current != PORTA_OK) return current;
  if (timeout_ns == UINT64_MAX) {
    return EventResult(event, sticky, library.hipEventSynchronize(event->event),
                       "hipEventSynchronize", msg);
  }
  // HIP has no timed wait: poll, backing off from 20 us to 1 ms.
  hipError_t result = hipErrorNotReady;
  const bool done = common::PollUntilDone(timeout_ns, [&] {
    result = library.hipEventQuery(event->event);
    return result != hipErrorNotReady;
  });
  if (!done) {
    return Fail(msg, PORTA_ERROR_TIMEOUT, "the HIP event did not complete within %llu ns",
                static_cast<unsigned long long>(timeout_ns));
  }
  return EventResult(event, sticky, result, "hipEventQuery", msg);
}

porta_status_t EventQuery(porta_be_event_t be, porta_be_msg msg) {
  Event* event = As<Event>(be);
  const std::shared_ptr<StickyError> sticky = RecordedOn(event);
  if (sticky != nullptr) {
    const porta_status_t status = sticky->Check(msg);
    if (status != PORTA_OK) return status;
  }
  const porta_status_t current = MakeCurrent(event->device, msg);
  if (current != PORTA_OK) return current;
  const hipError_t result = event->device->library->hipEventQuery(event->event);
  if (result == hipErrorNotReady) return PORTA_NOT_READY;
  return EventResult(event, sticky, result, "hipEventQuery", msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start_be, porta_be_event_t end_be, float* out_ms,
                              porta_be_msg msg) {
  // Both events were created with timing and recorded (the runtime checked).
  Event* start = As<Event>(start_be);
  Event* end = As<Event>(end_be);
  const porta_status_t current = MakeCurrent(start->device, msg);
  if (current != PORTA_OK) return current;
  const hipError_t result =
      start->device->library->hipEventElapsedTime(out_ms, start->event, end->event);
  if (result == hipErrorNotReady) return PORTA_NOT_READY;
  if (result != hipSuccess) return start->device->library->Fail(result, "hipEventElapsedTime", msg);
  return PORTA_OK;
}

porta_status_t ModuleLoad(porta_be_device_t be, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  // Code objects and offload bundles are ELF and bundle files that the loader reads in place;
  // the caller's bytes need not be aligned, so they are copied.
  std::vector<uint64_t> image((source->size + sizeof(uint64_t)) / sizeof(uint64_t), 0);
  std::memcpy(image.data(), source->data, source->size);
  auto module = std::make_unique<Module>();
  module->device = device;
  const hipError_t result = library.hipModuleLoadData(&module->module, image.data());
  if (result != hipSuccess) {
    porta_status_t status = Library::StatusOf(result);
    if (status == PORTA_ERROR_BACKEND) status = PORTA_ERROR_BUILD_FAILED;
    return Fail(msg, status,
                "hipModuleLoadData (hsaco, %zu bytes) failed on HIP device %d (%s): %s; the code "
                "object must contain code for %s",
                source->size, device->ordinal, device->architecture.c_str(),
                library.ErrorText(result).c_str(), device->architecture.c_str());
  }
  *out_module = reinterpret_cast<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t be) {
  Module* module = As<Module>(be);
  MakeCurrent(module->device, nullptr);
  module->device->library->Released(module->device->library->hipModuleUnload(module->module),
                                    "hipModuleUnload");
  delete module;
}

porta_status_t ModuleGetKernel(porta_be_module_t be, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  Module* module = As<Module>(be);
  const Library& library = *module->device->library;
  std::lock_guard<std::mutex> lock(module->mutex);
  auto found = module->kernels.find(name);
  if (found != module->kernels.end()) {
    *out_kernel = reinterpret_cast<porta_be_kernel_t>(found->second.get());
    return PORTA_OK;
  }
  const porta_status_t current = MakeCurrent(module->device, msg);
  if (current != PORTA_OK) return current;
  auto kernel = std::make_unique<Kernel>();
  kernel->module = module;
  kernel->name = name;
  hipError_t result = library.hipModuleGetFunction(&kernel->function, module->module, name);
  if (result == hipErrorNotFound || result == hipErrorInvalidDeviceFunction) {
    return Fail(msg, PORTA_ERROR_NOT_FOUND, "the HIP module has no kernel named \"%s\"", name);
  }
  if (result != hipSuccess) return library.Fail(result, "hipModuleGetFunction", msg);
  result = library.hipFuncGetAttribute(&kernel->max_threads,
                                       HIP_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, kernel->function);
  if (result == hipSuccess) {
    result = library.hipFuncGetAttribute(&kernel->static_shared,
                                         HIP_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, kernel->function);
  }
  if (result != hipSuccess) return library.Fail(result, "hipFuncGetAttribute", msg);
  *out_kernel = reinterpret_cast<porta_be_kernel_t>(kernel.get());
  module->kernels.emplace(name, std::move(kernel));
  return PORTA_OK;
}

porta_status_t CheckLaunch(const Kernel* kernel, const porta_launch_config_t* config,
                           porta_be_msg msg) {
  const uint64_t threads =
      uint64_t{config->block[0]} * uint64_t{config->block[1]} * uint64_t{config->block[2]};
  if (kernel->max_threads > 0 && threads > static_cast<uint64_t>(kernel->max_threads)) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "kernel \"%s\" runs at most %d threads per block; the launch asks for %llu",
                kernel->name.c_str(), kernel->max_threads,
                static_cast<unsigned long long>(threads));
  }
  // AMD GPUs have no opt-in beyond the per-block LDS limit, which the device reports.
  const uint64_t limit = static_cast<uint64_t>(kernel->module->device->shared_per_block);
  const uint64_t static_bytes = static_cast<uint64_t>(kernel->static_shared);
  if (static_bytes + config->local_memory_bytes > limit) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "kernel \"%s\" uses %llu bytes of static shared memory; with %llu dynamic bytes "
                "it exceeds the device's %llu-byte limit",
                kernel->name.c_str(), static_cast<unsigned long long>(static_bytes),
                static_cast<unsigned long long>(config->local_memory_bytes),
                static_cast<unsigned long long>(limit));
  }
  return PORTA_OK;
}

void PackParams(const porta_be_arg_t* args, uint32_t arg_count, uint32_t slots, void** pointers,
                void** params) {
  // HIP reads as many parameters as the kernel declares; padding the pointer array with zeroed
  // slots keeps a too-short argument list from reading past it.
  static const uint64_t kZeros[kParamSlots] = {};
  for (uint32_t i = 0; i < slots; ++i) {
    if (i >= arg_count) {
      params[i] = const_cast<uint64_t*>(kZeros);
    } else if (args[i].kind == PORTA_ARG_BUFFER) {
      pointers[i] = Offset(As<Buffer>(args[i].buffer)->pointer, args[i].offset);
      params[i] = &pointers[i];
    } else {
      // HIP copies the values before the call returns, so the caller's bytes suffice.
      params[i] = const_cast<void*>(args[i].scalar);
    }
  }
}

porta_status_t KernelLaunch(porta_be_stream_t stream_be, porta_be_kernel_t kernel_be,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Kernel* kernel = As<Kernel>(kernel_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const porta_status_t status = CheckLaunch(kernel, config, msg);
  if (status != PORTA_OK) return status;

  void* inline_pointers[kParamSlots];
  void* inline_params[kParamSlots];
  std::vector<void*> heap_pointers;
  std::vector<void*> heap_params;
  void** pointers = inline_pointers;
  void** params = inline_params;
  const uint32_t slots = ParamSlots(arg_count);
  if (slots > kParamSlots) {
    heap_pointers.resize(slots);
    heap_params.resize(slots);
    pointers = heap_pointers.data();
    params = heap_params.data();
  }
  PackParams(args, arg_count, slots, pointers, params);
  const hipError_t result = stream->device->library->hipModuleLaunchKernel(
      kernel->function, config->grid[0], config->grid[1], config->grid[2], config->block[0],
      config->block[1], config->block[2], static_cast<unsigned int>(config->local_memory_bytes),
      stream->stream, params, nullptr);
  if (result == hipErrorLaunchOutOfResources || result == hipErrorInvalidValue ||
      result == hipErrorInvalidConfiguration) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "hipModuleLaunchKernel of \"%s\" (grid %ux%ux%u, block %ux%ux%u, %llu shared "
                "bytes) failed: %s",
                kernel->name.c_str(), config->grid[0], config->grid[1], config->grid[2],
                config->block[0], config->block[1], config->block[2],
                static_cast<unsigned long long>(config->local_memory_bytes),
                stream->device->library->ErrorText(result).c_str());
  }
  return StreamResult(stream, result, "hipModuleLaunchKernel", msg);
}

}  // namespace porta::hip
