// Memory, streams, events, modules and launches of the CUDA backend.
#include <cstring>

#include "backends/cuda/cuda_backend.h"
#include "porta/sdk/message.h"
#include "porta/sdk/poll.h"

namespace porta::cuda {
namespace {

using common::Fail;

// The default dynamic + static shared memory limit; beyond it a kernel must opt in.
constexpr uint64_t kDefaultSharedLimit = 48 * 1024;

// Reports a failed driver call made for work on a stream; a device fault becomes sticky.
porta_status_t StreamFail(const Driver& driver, StickyError* sticky, CUresult result,
                          const char* what, porta_be_msg msg) {
  return common::FailStreamWork(sticky, Driver::StatusOf(result),
                                std::string(what) + " failed: " + driver.ErrorText(result), msg);
}

}  // namespace

porta_status_t BeginStreamWork(Stream* stream, porta_be_msg msg) {
  const porta_status_t sticky = stream->sticky->Check(msg);
  if (sticky != PORTA_OK) return sticky;
  return MakeCurrent(stream->device, msg);
}

porta_status_t StreamResult(Stream* stream, CUresult result, const char* what, porta_be_msg msg) {
  if (result == CUDA_SUCCESS) return PORTA_OK;
  return StreamFail(*stream->device->driver, stream->sticky.get(), result, what, msg);
}

porta_status_t BufferAlloc(porta_be_device_t be, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Driver& driver = *device->driver;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    // Pinned host memory mapped into the device: the host maps it without a copy, and kernels
    // read it across the bus.
    CUresult result = driver.cuMemHostAlloc(&buffer->host, size,
                                            CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE);
    if (result != CUDA_SUCCESS) {
      const std::string what = "cuMemHostAlloc of " + std::to_string(size) + " bytes";
      return driver.Fail(result, what.c_str(), msg);
    }
    result = driver.cuMemHostGetDevicePointer_v2(&buffer->pointer, buffer->host, 0);
    if (result != CUDA_SUCCESS) {
      driver.Released(driver.cuMemFreeHost(buffer->host), "cuMemFreeHost");
      return driver.Fail(result, "cuMemHostGetDevicePointer", msg);
    }
  } else {
    const CUresult result = driver.cuMemAlloc_v2(&buffer->pointer, size);
    if (result != CUDA_SUCCESS) {
      const std::string what = "cuMemAlloc of " + std::to_string(size) + " bytes";
      return driver.Fail(result, what.c_str(), msg);
    }
  }
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t be) {
  Buffer* buffer = As<Buffer>(be);
  const Driver& driver = *buffer->device->driver;
  MakeCurrent(buffer->device, nullptr);
  if (buffer->imported) {
    // The memory is the application's.
  } else if (buffer->host != nullptr) {
    driver.Released(driver.cuMemFreeHost(buffer->host), "cuMemFreeHost");
  } else {
    driver.Released(driver.cuMemFree_v2(buffer->pointer), "cuMemFree");
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
  *out_handle = static_cast<uint64_t>(As<Buffer>(be)->pointer);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  const Buffer* buffer = As<Buffer>(be);
  out->count = 2;
  out->handles[PORTA_NATIVE_CUDA_BUFFER_POINTER] = static_cast<uint64_t>(buffer->pointer);
  out->handles[PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER] = reinterpret_cast<uint64_t>(buffer->host);
  return PORTA_OK;
}

porta_status_t BufferImport(porta_be_device_t be, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Driver& driver = *device->driver;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  const auto pointer = static_cast<CUdeviceptr>(native->handles[PORTA_NATIVE_CUDA_BUFFER_POINTER]);
  void* host = nullptr;
  if (kind == PORTA_MEMORY_HOST_VISIBLE) {
    host = reinterpret_cast<void*>(native->count > PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER
                                       ? native->handles[PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER]
                                       : 0);
    if (host == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "cuda: a PORTA_MEMORY_HOST_VISIBLE import needs the host address of the pinned "
                  "memory in handles[1] (PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER)");
    }
  }
  CUdeviceptr base = 0;
  size_t range = 0;
  const CUresult result = driver.cuMemGetAddressRange_v2(&base, &range, pointer);
  if (result != CUDA_SUCCESS) {
    return driver.Fail(result, "cuMemGetAddressRange of handles[0] (not device memory?)", msg);
  }
  const porta_status_t inside = common::CheckImportRange("cuda", pointer, base, range, size, msg);
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
  out->handles[PORTA_NATIVE_CUDA_STREAM] = reinterpret_cast<uint64_t>(As<Stream>(be)->stream);
  return PORTA_OK;
}

porta_status_t StreamCreate(porta_be_device_t be, porta_be_stream_t* out_stream, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto stream = std::make_unique<Stream>();
  stream->device = device;
  // Non-blocking: no implicit ordering against the legacy default stream, which other CUDA code
  // in the process may be using.
  const CUresult result = device->driver->cuStreamCreate(&stream->stream, CU_STREAM_NON_BLOCKING);
  if (result != CUDA_SUCCESS) return device->driver->Fail(result, "cuStreamCreate", msg);
  *out_stream = reinterpret_cast<porta_be_stream_t>(stream.release());
  return PORTA_OK;
}

void StreamDestroy(porta_be_stream_t be) {
  Stream* stream = As<Stream>(be);
  MakeCurrent(stream->device, nullptr);
  stream->device->driver->Released(stream->device->driver->cuStreamDestroy_v2(stream->stream),
                                   "cuStreamDestroy");
  delete stream;
}

porta_status_t StreamSynchronize(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  return StreamResult(stream, stream->device->driver->cuStreamSynchronize(stream->stream),
                      "cuStreamSynchronize", msg);
}

porta_status_t StreamQuery(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const CUresult result = stream->device->driver->cuStreamQuery(stream->stream);
  if (result == CUDA_ERROR_NOT_READY) return PORTA_NOT_READY;
  return StreamResult(stream, result, "cuStreamQuery", msg);
}

porta_status_t CopyHostToDevice(porta_be_stream_t be, porta_be_buffer_t dst, uint64_t dst_offset,
                                const void* src, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  // From pageable memory the driver stages the data before returning, so |src| may change
  // afterwards; from pinned memory the copy is truly asynchronous, as the API contract allows.
  const CUresult result = stream->device->driver->cuMemcpyHtoDAsync_v2(
      As<Buffer>(dst)->pointer + dst_offset, src, size, stream->stream);
  return StreamResult(stream, result, "cuMemcpyHtoDAsync", msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t be, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const CUresult result = stream->device->driver->cuMemcpyDtoHAsync_v2(
      dst, As<Buffer>(src)->pointer + src_offset, size, stream->stream);
  return StreamResult(stream, result, "cuMemcpyDtoHAsync", msg);
}

porta_status_t HostRegister(porta_be_device_t be, void* ptr, uint64_t size, uint32_t /*flags*/,
                            porta_be_host_registration_t* out, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Driver& driver = *device->driver;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  auto registration = std::make_unique<HostRegistration>();
  // Page-locked for the device's (primary) context only: registration is per device.
  const CUresult result = driver.cuMemHostRegister_v2(ptr, size, 0);
  if (result != CUDA_SUCCESS) {
    const std::string what = "cuMemHostRegister of " + std::to_string(size) + " bytes";
    return driver.Fail(result, what.c_str(), msg);
  }
  registration->device = device;
  registration->pointer = ptr;
  *out = reinterpret_cast<porta_be_host_registration_t>(registration.release());
  return PORTA_OK;
}

void HostUnregister(porta_be_host_registration_t be) {
  HostRegistration* registration = As<HostRegistration>(be);
  MakeCurrent(registration->device, nullptr);
  registration->device->driver->Released(
      registration->device->driver->cuMemHostUnregister(registration->pointer),
      "cuMemHostUnregister");
  delete registration;
}

// The registered range is page-locked, so the driver copies straight from or to it, without
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
  const CUresult result = stream->device->driver->cuMemcpyDtoDAsync_v2(
      As<Buffer>(dst)->pointer + dst_offset, As<Buffer>(src)->pointer + src_offset, size,
      stream->stream);
  return StreamResult(stream, result, "cuMemcpyDtoDAsync", msg);
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
  const Driver& driver = *here->driver;
  int can_access = 0;
  CUresult result = driver.cuDeviceCanAccessPeer(&can_access, here->device, other->device);
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuDeviceCanAccessPeer", msg);
  if (can_access == 0) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "CUDA devices %u and %u have no peer path (cuDeviceCanAccessPeer is 0)",
                here->index, other->index);
  }
  {
    Backend* backend = here->backend;
    std::lock_guard<std::mutex> lock(backend->peer_mutex);
    const auto pair = std::make_pair(here->device, other->device);
    if (backend->peers_enabled.count(pair) == 0) {
      result = driver.cuCtxEnablePeerAccess(other->context, 0);
      if (result != CUDA_SUCCESS && result != CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) {
        return driver.Fail(result, "cuCtxEnablePeerAccess", msg);
      }
      backend->peers_enabled.insert(pair);
    }
  }
  result = driver.cuMemcpyPeerAsync(dst->pointer + dst_offset, dst->device->context,
                                    src->pointer + src_offset, src->device->context, size,
                                    stream->stream);
  return StreamResult(stream, result, "cuMemcpyPeerAsync", msg);
}

// The driver calls |fn| in stream order and skips it when the context has faulted.
porta_status_t StreamHostFunc(porta_be_stream_t be, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  return StreamResult(stream,
                      stream->device->driver->cuLaunchHostFunc(stream->stream, fn, user_data),
                      "cuLaunchHostFunc", msg);
}

porta_status_t FillBuffer(porta_be_stream_t be, porta_be_buffer_t dst_be, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Driver& driver = *stream->device->driver;
  const CUdeviceptr dst = As<Buffer>(dst_be)->pointer + offset;
  // |pattern_size| is 1, 2 or 4 (the runtime checked it).
  CUresult result = CUDA_SUCCESS;
  const char* call = nullptr;
  if (pattern_size == 1) {
    uint8_t value = 0;
    std::memcpy(&value, pattern, 1);
    call = "cuMemsetD8Async";
    result = driver.cuMemsetD8Async(dst, value, size, stream->stream);
  } else if (pattern_size == 2) {
    uint16_t value = 0;
    std::memcpy(&value, pattern, 2);
    call = "cuMemsetD16Async";
    result = driver.cuMemsetD16Async(dst, value, size / 2, stream->stream);
  } else {
    uint32_t value = 0;
    std::memcpy(&value, pattern, 4);
    call = "cuMemsetD32Async";
    result = driver.cuMemsetD32Async(dst, value, size / 4, stream->stream);
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
  const CUresult result = device->driver->cuEventCreate(
      &event->event,
      (flags & PORTA_EVENT_DISABLE_TIMING) != 0 ? CU_EVENT_DISABLE_TIMING : CU_EVENT_DEFAULT);
  if (result != CUDA_SUCCESS) return device->driver->Fail(result, "cuEventCreate", msg);
  *out_event = reinterpret_cast<porta_be_event_t>(event.release());
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t be) {
  Event* event = As<Event>(be);
  MakeCurrent(event->device, nullptr);
  event->device->driver->Released(event->device->driver->cuEventDestroy_v2(event->event),
                                  "cuEventDestroy");
  delete event;
}

porta_status_t EventRecord(porta_be_event_t be, porta_be_stream_t stream_be, porta_be_msg msg) {
  Event* event = As<Event>(be);
  Stream* stream = As<Stream>(stream_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  std::lock_guard<std::mutex> lock(event->mutex);
  const CUresult result = stream->device->driver->cuEventRecord(event->event, stream->stream);
  if (result != CUDA_SUCCESS) return StreamResult(stream, result, "cuEventRecord", msg);
  event->recorded_on = stream->sticky;
  return PORTA_OK;
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream_be, porta_be_event_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  // cuStreamWaitEvent captures the event's most recent record, which is the API's contract.
  const CUresult result =
      stream->device->driver->cuStreamWaitEvent(stream->stream, As<Event>(be)->event, 0);
  return StreamResult(stream, result, "cuStreamWaitEvent", msg);
}

namespace {

// The stream an event was last recorded on, or null.
std::shared_ptr<StickyError> RecordedOn(Event* event) {
  std::lock_guard<std::mutex> lock(event->mutex);
  return event->recorded_on;
}

porta_status_t EventResult(Event* event, const std::shared_ptr<StickyError>& sticky,
                           CUresult result, const char* what, porta_be_msg msg) {
  if (result == CUDA_SUCCESS) return PORTA_OK;
  return StreamFail(*event->device->driver, sticky.get(), result, what, msg);
}

}  // namespace

porta_status_t EventWait(porta_be_event_t be, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = As<Event>(be);
  const Driver& driver = *event->device->driver;
  const std::shared_ptr<StickyError> sticky = RecordedOn(event);
  if (sticky != nullptr) {
    const porta_status_t status = sticky->Check(msg);
    if (status != PORTA_OK) return status;
  }
  const porta_status_t current = MakeCurrent(event->device, msg);
  if (current != PORTA_OK) return current;
  if (timeout_ns == UINT64_MAX) {
    return EventResult(event, sticky, driver.cuEventSynchronize(event->event), "cuEventSynchronize",
                       msg);
  }
  // The driver has no timed wait: poll, backing off from 20 us to 1 ms.
  CUresult result = CUDA_ERROR_NOT_READY;
  const bool done = common::PollUntilDone(timeout_ns, [&] {
    result = driver.cuEventQuery(event->event);
    return result != CUDA_ERROR_NOT_READY;
  });
  if (!done) {
    return Fail(msg, PORTA_ERROR_TIMEOUT, "the CUDA event did not complete within %llu ns",
                static_cast<unsigned long long>(timeout_ns));
  }
  return EventResult(event, sticky, result, "cuEventQuery", msg);
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
  const CUresult result = event->device->driver->cuEventQuery(event->event);
  if (result == CUDA_ERROR_NOT_READY) return PORTA_NOT_READY;
  return EventResult(event, sticky, result, "cuEventQuery", msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start_be, porta_be_event_t end_be, float* out_ms,
                              porta_be_msg msg) {
  // Both events were created with timing and recorded (the runtime checked).
  Event* start = As<Event>(start_be);
  Event* end = As<Event>(end_be);
  const porta_status_t current = MakeCurrent(start->device, msg);
  if (current != PORTA_OK) return current;
  const CUresult result =
      start->device->driver->cuEventElapsedTime(out_ms, start->event, end->event);
  if (result == CUDA_ERROR_NOT_READY) return PORTA_NOT_READY;
  if (result != CUDA_SUCCESS) return start->device->driver->Fail(result, "cuEventElapsedTime", msg);
  return PORTA_OK;
}

porta_status_t ModuleLoad(porta_be_device_t be, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Driver& driver = *device->driver;
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  // PTX must be NUL-terminated and a cubin or fatbin 8-byte aligned; the caller's bytes are
  // neither necessarily, so they are copied.
  std::vector<uint64_t> image((source->size + sizeof(uint64_t)) / sizeof(uint64_t), 0);
  std::memcpy(image.data(), source->data, source->size);

  char error_log[8192] = {};
  char info_log[4096] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {error_log, reinterpret_cast<void*>(sizeof(error_log) - 1), info_log,
                    reinterpret_cast<void*>(sizeof(info_log) - 1)};
  auto module = std::make_unique<Module>();
  module->device = device;
  const CUresult result =
      driver.cuModuleLoadDataEx(&module->module, image.data(), 4, options, values);
  if (result != CUDA_SUCCESS) {
    porta_status_t status = Driver::StatusOf(result);
    if (status == PORTA_ERROR_BACKEND) status = PORTA_ERROR_BUILD_FAILED;
    return Fail(msg, status, "cuModuleLoadDataEx (%s, %zu bytes) failed on %s: %s\n%s%s",
                source->format == PORTA_FORMAT_PTX ? "ptx" : "cubin", source->size,
                device->backend->driver->library_name().c_str(), driver.ErrorText(result).c_str(),
                error_log, info_log);
  }
  *out_module = reinterpret_cast<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t be) {
  Module* module = As<Module>(be);
  MakeCurrent(module->device, nullptr);
  module->device->driver->Released(module->device->driver->cuModuleUnload(module->module),
                                   "cuModuleUnload");
  delete module;
}

porta_status_t ModuleGetKernel(porta_be_module_t be, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  Module* module = As<Module>(be);
  const Driver& driver = *module->device->driver;
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
  CUresult result = driver.cuModuleGetFunction(&kernel->function, module->module, name);
  if (result == CUDA_ERROR_NOT_FOUND) {
    return Fail(msg, PORTA_ERROR_NOT_FOUND, "the CUDA module has no kernel named \"%s\"", name);
  }
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuModuleGetFunction", msg);
  result = driver.cuFuncGetAttribute(&kernel->max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                                     kernel->function);
  if (result == CUDA_SUCCESS) {
    result = driver.cuFuncGetAttribute(&kernel->static_shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                                       kernel->function);
  }
  if (result != CUDA_SUCCESS) return driver.Fail(result, "cuFuncGetAttribute", msg);
  if (driver.cuFuncGetParamInfo != nullptr) {
    // The driver answers CUDA_ERROR_INVALID_VALUE for the first index past the last parameter.
    kernel->params_known = true;
    for (size_t index = 0;; ++index) {
      size_t offset = 0;
      size_t size = 0;
      const CUresult info = driver.cuFuncGetParamInfo(kernel->function, index, &offset, &size);
      if (info == CUDA_ERROR_INVALID_VALUE) break;
      if (info != CUDA_SUCCESS) return driver.Fail(info, "cuFuncGetParamInfo", msg);
      kernel->param_sizes.push_back(size);
    }
  }
  *out_kernel = reinterpret_cast<porta_be_kernel_t>(kernel.get());
  module->kernels.emplace(name, std::move(kernel));
  return PORTA_OK;
}

namespace {

// Checks the argument list against the kernel's parameters when the driver reports them: a
// short list would make cuLaunchKernel read past it.
porta_status_t CheckArguments(const Kernel* kernel, const porta_be_arg_t* args, uint32_t arg_count,
                              porta_be_msg msg) {
  if (!kernel->params_known) return PORTA_OK;
  if (arg_count != kernel->param_sizes.size()) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "kernel \"%s\" takes %zu arguments; the launch passes %u", kernel->name.c_str(),
                kernel->param_sizes.size(), arg_count);
  }
  for (uint32_t i = 0; i < arg_count; ++i) {
    const size_t given =
        args[i].kind == PORTA_ARG_BUFFER ? sizeof(CUdeviceptr) : args[i].scalar_size;
    if (given != kernel->param_sizes[i]) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "argument %u of kernel \"%s\" is %zu bytes; the launch passes %zu (%s)", i,
                  kernel->name.c_str(), kernel->param_sizes[i], given,
                  args[i].kind == PORTA_ARG_BUFFER ? "a buffer" : "a scalar");
    }
  }
  return PORTA_OK;
}

// Lets |kernel| use |bytes| of dynamic shared memory where that exceeds the default limit.
porta_status_t EnableSharedMemory(Kernel* kernel, uint64_t bytes, porta_be_msg msg) {
  const Device* device = kernel->module->device;
  const uint64_t static_bytes = static_cast<uint64_t>(kernel->static_shared);
  const uint64_t optin = static_cast<uint64_t>(device->shared_per_block_optin);
  if (static_bytes + bytes > optin) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "kernel \"%s\" uses %llu bytes of static shared memory; with %llu dynamic bytes "
                "it exceeds the device's %llu-byte limit",
                kernel->name.c_str(), static_cast<unsigned long long>(static_bytes),
                static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(optin));
  }
  if (static_bytes + bytes <= kDefaultSharedLimit) return PORTA_OK;
  std::lock_guard<std::mutex> lock(kernel->mutex);
  if (kernel->dynamic_shared_limit >= bytes) return PORTA_OK;
  const CUresult result = device->driver->cuFuncSetAttribute(
      kernel->function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes));
  if (result != CUDA_SUCCESS) {
    return device->driver->Fail(result, "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", msg);
  }
  kernel->dynamic_shared_limit = bytes;
  return PORTA_OK;
}

}  // namespace

porta_status_t CheckLaunch(Kernel* kernel, const porta_launch_config_t* config,
                           const porta_be_arg_t* args, uint32_t arg_count, porta_be_msg msg) {
  const uint64_t threads =
      uint64_t{config->block[0]} * uint64_t{config->block[1]} * uint64_t{config->block[2]};
  if (threads > static_cast<uint64_t>(kernel->max_threads)) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "kernel \"%s\" runs at most %d threads per block (its register use limits it); "
                "the launch asks for %llu",
                kernel->name.c_str(), kernel->max_threads,
                static_cast<unsigned long long>(threads));
  }
  const porta_status_t status = CheckArguments(kernel, args, arg_count, msg);
  if (status != PORTA_OK) return status;
  return EnableSharedMemory(kernel, config->local_memory_bytes, msg);
}

void PackParams(const porta_be_arg_t* args, uint32_t arg_count, uint32_t slots,
                CUdeviceptr* pointers, void** params) {
  // Without cuFuncGetParamInfo the parameter count is unknown; padding the pointer array with
  // zeroed slots keeps a too-short argument list from reading past it.
  static const uint64_t kZeros[kParamSlots] = {};
  for (uint32_t i = 0; i < slots; ++i) {
    if (i >= arg_count) {
      params[i] = const_cast<uint64_t*>(kZeros);
    } else if (args[i].kind == PORTA_ARG_BUFFER) {
      pointers[i] = As<Buffer>(args[i].buffer)->pointer + args[i].offset;
      params[i] = &pointers[i];
    } else {
      // The driver copies the values before the call returns, so the caller's bytes suffice.
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
  const porta_status_t status = CheckLaunch(kernel, config, args, arg_count, msg);
  if (status != PORTA_OK) return status;

  CUdeviceptr inline_pointers[kParamSlots];
  void* inline_params[kParamSlots];
  std::vector<CUdeviceptr> heap_pointers;
  std::vector<void*> heap_params;
  CUdeviceptr* pointers = inline_pointers;
  void** params = inline_params;
  const uint32_t slots = ParamSlots(arg_count);
  if (slots > kParamSlots) {
    heap_pointers.resize(slots);
    heap_params.resize(slots);
    pointers = heap_pointers.data();
    params = heap_params.data();
  }
  PackParams(args, arg_count, slots, pointers, params);
  const CUresult result = stream->device->driver->cuLaunchKernel(
      kernel->function, config->grid[0], config->grid[1], config->grid[2], config->block[0],
      config->block[1], config->block[2], static_cast<unsigned int>(config->local_memory_bytes),
      stream->stream, params, nullptr);
  if (result == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES || result == CUDA_ERROR_INVALID_VALUE) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "cuLaunchKernel of \"%s\" (grid %ux%ux%u, block %ux%ux%u, %llu shared bytes) "
                "failed: %s",
                kernel->name.c_str(), config->grid[0], config->grid[1], config->grid[2],
                config->block[0], config->block[1], config->block[2],
                static_cast<unsigned long long>(config->local_memory_bytes),
                stream->device->driver->ErrorText(result).c_str());
  }
  return StreamResult(stream, result, "cuLaunchKernel", msg);
}

}  // namespace porta::cuda
