// Buffers, copies and fills. Fills use clEnqueueFillBuffer where it is trustworthy and a kernel
// everywhere else (OpenCL 1.1-class devices, quirky drivers, and the constrained profile).
#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"

namespace porta::opencl {
namespace {

// One kernel per element size. The index type is 64-bit where the device has 64-bit integers
// and addresses, so a fill of a buffer beyond 4 GiB needs no chunking there.
constexpr char kFillSource[] = R"CLC(
#ifdef PORTA_FILL_INDEX_64
typedef ulong porta_index_t;
#else
typedef uint porta_index_t;
#endif
__kernel void porta_fill_u8(__global uchar* dst, porta_index_t offset, porta_index_t count,
                            uchar value) {
  porta_index_t i = (porta_index_t)get_global_id(0);
  if (i < count) dst[offset + i] = value;
}
__kernel void porta_fill_u16(__global ushort* dst, porta_index_t offset, porta_index_t count,
                             ushort value) {
  porta_index_t i = (porta_index_t)get_global_id(0);
  if (i < count) dst[offset + i] = value;
}
__kernel void porta_fill_u32(__global uint* dst, porta_index_t offset, porta_index_t count,
                             uint value) {
  porta_index_t i = (porta_index_t)get_global_id(0);
  if (i < count) dst[offset + i] = value;
}
)CLC";

constexpr const char* kFillNames[3] = {"porta_fill_u8", "porta_fill_u16", "porta_fill_u32"};

bool UseIndex64(const Device* device) {
  return device->address_bits >= 64 && (device->info.capabilities & PORTA_CAP_INT64) != 0;
}

// Fills |count| elements of |element_size| bytes starting at element |first| with |value|.
porta_status_t FillWithKernel(Stream* stream, Buffer* dst, uint64_t first, uint64_t count,
                              uint32_t element_size, uint32_t value, porta_be_msg msg) {
  Device* device = stream->device;
  porta_status_t status = EnsureFillKernels(device, msg);
  if (status != PORTA_OK) return status;
  const int slot = element_size == 1 ? 0 : element_size == 2 ? 1 : 2;
  const bool index64 = UseIndex64(device);
  // With a 32-bit index the offset and count must each fit; chunking keeps both in range.
  const uint64_t max_chunk = index64 ? count : (1ull << 30);
  const size_t group = std::min<size_t>(64, device->info.max_work_group_size);
  while (count > 0) {
    const uint64_t chunk = std::min(count, max_chunk);
    if (!index64 && first > UINT32_MAX) {
      return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                          "opencl: fill offset %llu elements needs 64-bit indices, which the "
                          "device lacks",
                          static_cast<unsigned long long>(first));
    }
    const cl_ulong first64 = first;
    const cl_ulong count64 = chunk;
    const cl_uint first32 = static_cast<cl_uint>(first);
    const cl_uint count32 = static_cast<cl_uint>(chunk);
    const uint8_t value8 = static_cast<uint8_t>(value);
    const uint16_t value16 = static_cast<uint16_t>(value);
    const void* values[4] = {&dst->mem, index64 ? static_cast<const void*>(&first64) : &first32,
                             index64 ? static_cast<const void*>(&count64) : &count32,
                             slot == 0   ? static_cast<const void*>(&value8)
                             : slot == 1 ? static_cast<const void*>(&value16)
                                         : static_cast<const void*>(&value)};
    const size_t sizes[4] = {sizeof(cl_mem), index64 ? sizeof(cl_ulong) : sizeof(cl_uint),
                             index64 ? sizeof(cl_ulong) : sizeof(cl_uint), element_size};
    const size_t global[3] = {static_cast<size_t>((chunk + group - 1) / group * group), 1, 1};
    const size_t local[3] = {group, 1, 1};
    const cl_int error =
        EnqueueKernel(device, stream->queue, device->fill.kernels[slot], &device->fill.mutex[slot],
                      global, local, 1, values, sizes, 4);
    if (error != CL_SUCCESS)
      return StreamEnqueueFailed(stream, error, "clEnqueueNDRangeKernel", msg);
    ++stream->generation;
    first += chunk;
    count -= chunk;
  }
  return PORTA_OK;
}

}  // namespace

porta_status_t EnsureFillKernels(Device* device, porta_be_msg msg) {
  FillKernels& fill = device->fill;
  std::call_once(fill.once, [&] {
    char error_text[4096] = "";
    porta_be_message_t local_msg = {error_text, sizeof(error_text)};
    const char* options = UseIndex64(device) ? "-DPORTA_FILL_INDEX_64" : "";
    fill.status = BuildProgram(device, PORTA_FORMAT_OPENCL_C, kFillSource, sizeof(kFillSource) - 1,
                               options, "fill kernels", &fill.program, &local_msg);
    for (int i = 0; i < 3 && fill.status == PORTA_OK; ++i) {
      cl_int error = CL_SUCCESS;
      fill.kernels[i] = device->api->clCreateKernel(fill.program, kFillNames[i], &error);
      if (error != CL_SUCCESS)
        fill.status = ClFail(&local_msg, error, "clCreateKernel", kFillNames[i]);
    }
    fill.error = error_text;
  });
  if (fill.status != PORTA_OK) {
    return common::Fail(msg, fill.status, "opencl: the fill kernels do not build: %s",
                        fill.error.c_str());
  }
  return PORTA_OK;
}

porta_status_t BufferAlloc(porta_be_device_t device_handle, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out, porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  auto buffer = std::unique_ptr<Buffer>(new (std::nothrow) Buffer());
  if (buffer == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: buffer");
  // ALLOC_HOST_PTR asks for memory the host can map without a copy (pinned or shared); on a
  // driver that allocates lazily it also makes the allocation happen here, where running out of
  // memory is an error code instead of an abort at the buffer's first use.
  const bool host_memory =
      kind == PORTA_MEMORY_HOST_VISIBLE || (device->quirks.flags & kQuirkLazyAllocation) != 0;
  const cl_mem_flags flags = CL_MEM_READ_WRITE | (host_memory ? CL_MEM_ALLOC_HOST_PTR : 0);
  cl_int error = CL_SUCCESS;
  buffer->mem = device->api->clCreateBuffer(device->context, flags, static_cast<size_t>(size),
                                            nullptr, &error);
  if (error != CL_SUCCESS) {
    const std::string what =
        std::string(kind == PORTA_MEMORY_HOST_VISIBLE ? "host-visible" : "device") + " buffer of " +
        std::to_string(size) + " bytes";
    return ClFail(msg, error, "clCreateBuffer", what.c_str());
  }
  buffer->device = device;
  buffer->size = size;
  buffer->kind = kind;
  *out = ToHandle<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t handle) {
  Buffer* buffer = As<Buffer>(handle);
  const Library& api = *buffer->device->api;
  if (buffer->mapped != nullptr) BufferUnmap(handle, nullptr);
  for (auto& [offset, sub] : buffer->sub_buffers) api.clReleaseMemObject(sub);
  api.clReleaseMemObject(buffer->mem);
  delete buffer;
}

porta_status_t BufferMap(porta_be_buffer_t handle, uint64_t offset, uint64_t size, void** out_ptr,
                         porta_be_msg msg) {
  Buffer* buffer = As<Buffer>(handle);
  Device* device = buffer->device;
  cl_command_queue queue = UtilityQueue(device, msg);
  if (queue == nullptr) return PORTA_ERROR_BACKEND;
  cl_int error = CL_SUCCESS;
  void* ptr =
      device->api->clEnqueueMapBuffer(queue, buffer->mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE,
                                      offset, size, 0, nullptr, nullptr, &error);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clEnqueueMapBuffer");
  buffer->mapped = ptr;
  *out_ptr = ptr;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t handle, porta_be_msg msg) {
  Buffer* buffer = As<Buffer>(handle);
  Device* device = buffer->device;
  cl_command_queue queue = UtilityQueue(device, msg);
  if (queue == nullptr) return PORTA_ERROR_BACKEND;
  cl_int error =
      device->api->clEnqueueUnmapMemObject(queue, buffer->mem, buffer->mapped, 0, nullptr, nullptr);
  buffer->mapped = nullptr;
  if (error != CL_SUCCESS) return ClFail(msg, error, "clEnqueueUnmapMemObject");
  // Later device work on other queues must see the host's writes, so the unmap has to finish.
  error = device->api->clFinish(queue);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clFinish", "after unmapping");
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t handle, uint64_t* out, porta_be_msg) {
  *out = reinterpret_cast<uint64_t>(As<Buffer>(handle)->mem);
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t handle, porta_native_handles_t* out,
                                   porta_be_msg) {
  out->count = 1;
  out->handles[PORTA_NATIVE_OPENCL_BUFFER_MEM] =
      reinterpret_cast<uint64_t>(As<Buffer>(handle)->mem);
  return PORTA_OK;
}

porta_status_t BufferImport(porta_be_device_t device_handle, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out,
                            porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  const Library& api = *device->api;
  const auto mem = reinterpret_cast<cl_mem>(native->handles[PORTA_NATIVE_OPENCL_BUFFER_MEM]);
  cl_context context = nullptr;
  cl_int error = api.clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof(context), &context, nullptr);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clGetMemObjectInfo(CL_MEM_CONTEXT)");
  if (context != device->context) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                        "opencl: the cl_mem in handles[0] belongs to context %p, not to the "
                        "device's context %p (PORTA_NATIVE_OPENCL_CONTEXT)",
                        static_cast<void*>(context), static_cast<void*>(device->context));
  }
  size_t mem_size = 0;
  error = api.clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof(mem_size), &mem_size, nullptr);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clGetMemObjectInfo(CL_MEM_SIZE)");
  if (mem_size < size) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                        "opencl: the cl_mem in handles[0] has %zu bytes, fewer than the %llu to "
                        "import",
                        mem_size, static_cast<unsigned long long>(size));
  }
  auto buffer = std::unique_ptr<Buffer>(new (std::nothrow) Buffer());
  if (buffer == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: buffer");
  error = api.clRetainMemObject(mem);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clRetainMemObject");
  buffer->device = device;
  buffer->mem = mem;
  buffer->size = size;
  buffer->kind = kind;
  *out = ToHandle<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

porta_status_t BufferArgument(Buffer* buffer, uint64_t offset, cl_mem* out, porta_be_msg msg) {
  if (offset == 0) {
    *out = buffer->mem;
    return PORTA_OK;
  }
  if (offset % buffer->device->base_address_align != 0) {
    *out = nullptr;
    return PORTA_OK;
  }
  std::lock_guard<std::mutex> lock(buffer->sub_mutex);
  auto it = buffer->sub_buffers.find(offset);
  if (it != buffer->sub_buffers.end()) {
    *out = it->second;
    return PORTA_OK;
  }
  cl_buffer_region region = {static_cast<size_t>(offset),
                             static_cast<size_t>(buffer->size - offset)};
  cl_int error = CL_SUCCESS;
  cl_mem sub = buffer->device->api->clCreateSubBuffer(
      buffer->mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &error);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateSubBuffer");
  buffer->sub_buffers.emplace(offset, sub);
  *out = sub;
  return PORTA_OK;
}

porta_status_t CopyHostToDevice(porta_be_stream_t stream_handle, porta_be_buffer_t dst,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  const cl_int error = stream->device->api->clEnqueueWriteBuffer(
      stream->queue, As<Buffer>(dst)->mem, CL_FALSE, dst_offset, size, src, 0, nullptr, nullptr);
  if (error != CL_SUCCESS) return StreamEnqueueFailed(stream, error, "clEnqueueWriteBuffer", msg);
  ++stream->generation;
  return PORTA_OK;
}

porta_status_t CopyDeviceToHost(porta_be_stream_t stream_handle, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  const cl_int error = stream->device->api->clEnqueueReadBuffer(
      stream->queue, As<Buffer>(src)->mem, CL_FALSE, src_offset, size, dst, 0, nullptr, nullptr);
  if (error != CL_SUCCESS) return StreamEnqueueFailed(stream, error, "clEnqueueReadBuffer", msg);
  ++stream->generation;
  return PORTA_OK;
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t stream_handle, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  const cl_int error = stream->device->api->clEnqueueCopyBuffer(
      stream->queue, As<Buffer>(src)->mem, As<Buffer>(dst)->mem, src_offset, dst_offset, size, 0,
      nullptr, nullptr);
  if (error != CL_SUCCESS) return StreamEnqueueFailed(stream, error, "clEnqueueCopyBuffer", msg);
  ++stream->generation;
  return PORTA_OK;
}

porta_status_t CopyPeer(porta_be_stream_t stream_handle, porta_be_buffer_t dst, uint64_t dst_offset,
                        porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                        porta_be_msg msg) {
  Buffer* dst_buffer = As<Buffer>(dst);
  Buffer* src_buffer = As<Buffer>(src);
  // Buffers of one context are usable on every queue of it, and the driver migrates the data;
  // across contexts (platforms) OpenCL has no path, so the runtime stages through the host.
  if (dst_buffer->device->context != src_buffer->device->context) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: the two devices do not share a context (different platforms)");
  }
  return CopyDeviceToDevice(stream_handle, dst, dst_offset, src, src_offset, size, msg);
}

porta_status_t FillBuffer(porta_be_stream_t stream_handle, porta_be_buffer_t dst_handle,
                          uint64_t offset, uint64_t size, const void* pattern,
                          uint32_t pattern_size, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  Buffer* dst = As<Buffer>(dst_handle);
  Device* device = stream->device;
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  if (device->use_fill_buffer.load(std::memory_order_relaxed)) {
    const cl_int error = device->api->clEnqueueFillBuffer(
        stream->queue, dst->mem, pattern, pattern_size, offset, size, 0, nullptr, nullptr);
    if (error == CL_SUCCESS) {
      ++stream->generation;
      return PORTA_OK;
    }
    if (error != CL_INVALID_OPERATION) {
      return StreamEnqueueFailed(stream, error, "clEnqueueFillBuffer", msg);
    }
    // CL_INVALID_OPERATION is not a listed error of clEnqueueFillBuffer: drivers use it to say
    // the device cannot fill (OpenCL 1.1-class hardware).
    device->use_fill_buffer = false;
    common::Log(PORTA_LOG_INFO, "opencl: '%s' rejects clEnqueueFillBuffer; fills run as a kernel",
                device->info.name);
  }
  uint32_t word = 0;
  for (uint32_t i = 0; i < 4; i += pattern_size) {
    std::memcpy(reinterpret_cast<uint8_t*>(&word) + i, pattern, pattern_size);
  }
  // Whole 32-bit words in the middle (the pattern's period divides 4, so every aligned word is
  // the same), the pattern's own element size at the unaligned ends.
  const uint64_t end = offset + size;
  const uint64_t middle_begin = std::min(end, (offset + 3) / 4 * 4);
  const uint64_t middle_end = std::max(middle_begin, end / 4 * 4);
  uint32_t element = 0;
  std::memcpy(&element, pattern, pattern_size);
  if (middle_begin > offset) {
    status = FillWithKernel(stream, dst, offset / pattern_size,
                            (middle_begin - offset) / pattern_size, pattern_size, element, msg);
    if (status != PORTA_OK) return status;
  }
  if (middle_end > middle_begin) {
    status = FillWithKernel(stream, dst, middle_begin / 4, (middle_end - middle_begin) / 4, 4, word,
                            msg);
    if (status != PORTA_OK) return status;
  }
  if (end > middle_end) {
    status = FillWithKernel(stream, dst, middle_end / pattern_size,
                            (end - middle_end) / pattern_size, pattern_size, element, msg);
  }
  return status;
}

}  // namespace porta::opencl
