// Host memory registration: a CL_MEM_USE_HOST_PTR buffer over the application's range, so that a
// copy from or to it is one clEnqueueCopyBuffer (zero-copy where the device shares host memory).
//
// An implementation may cache a USE_HOST_PTR buffer's contents in device memory; the host bytes
// and the cache agree only at map and unmap. So a copy from the range first maps the copied
// region with CL_MAP_WRITE_INVALIDATE_REGION and unmaps it (the host's bytes become the buffer's),
// and a copy into the range maps the region for reading after the copy (the buffer's bytes become
// the host's). Where the device uses the host memory directly, both are no-ops.
#include <cstdint>
#include <memory>
#include <new>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"

namespace porta::opencl {
namespace {

struct HostRegistration {
  Device* device = nullptr;
  cl_mem mem = nullptr;
};

HostRegistration* RegistrationOf(porta_be_host_registration_t handle) {
  return As<HostRegistration>(handle);
}

// Enqueues a map of [offset, offset + size) of |mem| with |flags| and its unmap, without waiting.
cl_int MapUnmap(Stream* stream, cl_mem mem, cl_map_flags flags, uint64_t offset, uint64_t size,
                const char** failed_call) {
  const Library& api = *stream->device->api;
  cl_int error = CL_SUCCESS;
  void* mapped = api.clEnqueueMapBuffer(stream->queue, mem, CL_FALSE, flags, offset, size, 0,
                                        nullptr, nullptr, &error);
  if (error != CL_SUCCESS) {
    *failed_call = "clEnqueueMapBuffer";
    return error;
  }
  error = api.clEnqueueUnmapMemObject(stream->queue, mem, mapped, 0, nullptr, nullptr);
  if (error != CL_SUCCESS) *failed_call = "clEnqueueUnmapMemObject";
  return error;
}

}  // namespace

porta_status_t HostRegister(porta_be_device_t device_handle, void* ptr, uint64_t size,
                            uint32_t /*flags*/, porta_be_host_registration_t* out,
                            porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  // CL_MAP_WRITE_INVALIDATE_REGION, which keeps a map from overwriting the host's bytes with a
  // cached copy, is OpenCL 1.2.
  if (device->device_version.rfind("OpenCL 1.0", 0) == 0 ||
      device->device_version.rfind("OpenCL 1.1", 0) == 0) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: the device reports %s; registration needs OpenCL 1.2",
                        device->device_version.c_str());
  }
  // A USE_HOST_PTR buffer whose pointer misses the device's base address alignment is a copy of
  // the memory on most drivers (PoCL among them), which would make registration a slower path.
  const uint64_t align = device->base_address_align;
  if (reinterpret_cast<uintptr_t>(ptr) % align != 0) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: %p is not aligned to the device's CL_DEVICE_MEM_BASE_ADDR_ALIGN "
                        "(%llu bytes)",
                        ptr, static_cast<unsigned long long>(align));
  }
  if (size > device->info.max_allocation_bytes) {
    return common::Fail(
        msg, PORTA_ERROR_UNSUPPORTED,
        "opencl: %llu bytes exceed the device's CL_DEVICE_MAX_MEM_ALLOC_SIZE (%llu)",
        static_cast<unsigned long long>(size),
        static_cast<unsigned long long>(device->info.max_allocation_bytes));
  }
  auto registration = std::unique_ptr<HostRegistration>(new (std::nothrow) HostRegistration());
  if (registration == nullptr) {
    return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: host registration");
  }
  cl_int error = CL_SUCCESS;
  registration->mem = device->api->clCreateBuffer(
      device->context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, size, ptr, &error);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateBuffer(CL_MEM_USE_HOST_PTR)");
  registration->device = device;
  *out = ToHandle<porta_be_host_registration_t>(registration.release());
  return PORTA_OK;
}

void HostUnregister(porta_be_host_registration_t handle) {
  HostRegistration* registration = RegistrationOf(handle);
  const cl_int error = registration->device->api->clReleaseMemObject(registration->mem);
  if (error != CL_SUCCESS) common::Log(PORTA_LOG_WARNING, "opencl: clReleaseMemObject: %d", error);
  delete registration;
}

porta_status_t CopyHostToDeviceRegistered(porta_be_stream_t stream_handle, porta_be_buffer_t dst,
                                          uint64_t dst_offset,
                                          porta_be_host_registration_t src_registration,
                                          uint64_t src_offset, const void* /*src*/, uint64_t size,
                                          porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  cl_mem mem = RegistrationOf(src_registration)->mem;
  const char* call = nullptr;
  cl_int error = MapUnmap(stream, mem, CL_MAP_WRITE_INVALIDATE_REGION, src_offset, size, &call);
  if (error == CL_SUCCESS) {
    call = "clEnqueueCopyBuffer";
    error =
        stream->device->api->clEnqueueCopyBuffer(stream->queue, mem, As<Buffer>(dst)->mem,
                                                 src_offset, dst_offset, size, 0, nullptr, nullptr);
  }
  if (error != CL_SUCCESS) return StreamEnqueueFailed(stream, error, call, msg);
  ++stream->generation;
  return PORTA_OK;
}

porta_status_t CopyDeviceToHostRegistered(porta_be_stream_t stream_handle,
                                          porta_be_host_registration_t dst_registration,
                                          uint64_t dst_offset, void* /*dst*/, porta_be_buffer_t src,
                                          uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  cl_mem mem = RegistrationOf(dst_registration)->mem;
  const char* call = "clEnqueueCopyBuffer";
  cl_int error = stream->device->api->clEnqueueCopyBuffer(
      stream->queue, As<Buffer>(src)->mem, mem, src_offset, dst_offset, size, 0, nullptr, nullptr);
  if (error == CL_SUCCESS) error = MapUnmap(stream, mem, CL_MAP_READ, dst_offset, size, &call);
  if (error != CL_SUCCESS) return StreamEnqueueFailed(stream, error, call, msg);
  ++stream->generation;
  return PORTA_OK;
}

}  // namespace porta::opencl
