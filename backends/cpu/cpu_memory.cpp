// Buffers of the CPU device (host memory), copies and fills, buffer interop, and the answers to
// host registration (host memory gains nothing from it).
#include <sys/mman.h>

#include <cinttypes>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "backends/cpu/cpu_objects.h"
#include "porta/sdk/message.h"

namespace porta::cpu {

using common::Fail;

Work MakeMoveWork(void* dst, const void* src, uint64_t size) {
  return [dst, src, size](std::string*, Scratch&) {
    std::memmove(dst, src, static_cast<size_t>(size));
    return true;
  };
}

Work MakeFillWork(uint8_t* target, uint64_t size, const void* pattern, uint32_t pattern_size) {
  uint8_t bytes[4] = {};
  std::memcpy(bytes, pattern, pattern_size);
  return [target, size, pattern_size, bytes0 = bytes[0], bytes1 = bytes[1], bytes2 = bytes[2],
          bytes3 = bytes[3]](std::string*, Scratch&) {
    const uint8_t value[4] = {bytes0, bytes1, bytes2, bytes3};
    if (pattern_size == 1) {
      std::memset(target, value[0], static_cast<size_t>(size));
      return true;
    }
    // The pattern repeated over a block whose fixed-size copies compile to wide stores (a copy
    // per pattern measured 0.17x a host fill). The runtime has checked that |size| is a multiple
    // of the pattern, and so is the block, so the last partial block ends on a whole pattern.
    constexpr uint64_t kBlock = 256;
    uint8_t block[kBlock];
    for (uint64_t i = 0; i < kBlock; i += pattern_size) std::memcpy(block + i, value, pattern_size);
    uint64_t done = 0;
    for (; done + kBlock <= size; done += kBlock) std::memcpy(target + done, block, kBlock);
    std::memcpy(target + done, block, static_cast<size_t>(size - done));
    return true;
  };
}

namespace {

constexpr size_t kBufferAlignment = 64;
// Buffers from this size on come straight from mmap: a failed mmap reports ENOMEM, whereas a
// failed huge malloc aborts the process under AddressSanitizer. Smaller buffers stay on the heap,
// where the sanitizers see kernels that overrun them.
constexpr uint64_t kMmapThreshold = uint64_t{256} << 20;

// buffer_alloc's memory is 64-byte aligned; imported memory needs at least malloc's 16 bytes, so
// that elements of up to 16 bytes (float4, double2) stay naturally aligned at offset 0.
constexpr uint64_t kImportAlignment = 16;

// Queues a byte move on |stream|.
porta_status_t EnqueueMove(porta_be_stream_t stream, void* dst, const void* src, uint64_t size,
                           porta_be_msg msg) {
  Command command;
  command.work = MakeMoveWork(dst, src, size);
  return ToStream(stream)->Enqueue(std::move(command), msg);
}

}  // namespace

//===--- Buffers ------------------------------------------------------------------------------===//

// The runtime has checked the size against max_allocation_bytes (half of RAM) and the kind; both
// kinds are the same host memory.
porta_status_t BufferAlloc(porta_be_device_t device, uint64_t size, porta_memory_kind_t,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  auto buffer = std::make_unique<Buffer>();
  buffer->device = ToDevice(device);
  buffer->size = size;
  void* data = nullptr;
  if (size >= kMmapThreshold) {
    data = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) data = nullptr;
    buffer->mapped = data != nullptr;
  } else if (posix_memalign(&data, kBufferAlignment, static_cast<size_t>(size)) != 0) {
    data = nullptr;
  }
  if (data == nullptr) {
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY,
                "cpu: could not allocate %" PRIu64 " bytes of host memory", size);
  }
  buffer->data = static_cast<uint8_t*>(data);
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t handle) {
  Buffer* buffer = ToBuffer(handle);
  if (buffer->imported) {
    // The memory is the application's.
  } else if (buffer->mapped) {
    munmap(buffer->data, static_cast<size_t>(buffer->size));
  } else {
    std::free(buffer->data);
  }
  delete buffer;
}

// Host memory is the device's memory: mapping is pointer arithmetic.
porta_status_t BufferMap(porta_be_buffer_t handle, uint64_t offset, uint64_t, void** out_ptr,
                         porta_be_msg) {
  *out_ptr = ToBuffer(handle)->data + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t, porta_be_msg) {
  return PORTA_OK;
}

// A buffer's native handle is its address.
porta_status_t BufferNativeHandle(porta_be_buffer_t handle, uint64_t* out_handle, porta_be_msg) {
  *out_handle = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ToBuffer(handle)->data));
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t handle, porta_native_handles_t* out,
                                   porta_be_msg msg) {
  out->count = 1;
  return BufferNativeHandle(handle, &out->handles[PORTA_NATIVE_CPU_BUFFER_POINTER], msg);
}

// Wraps the application's host memory; only the backend knows what a host kernel needs of it.
porta_status_t BufferImport(porta_be_device_t device, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  const uint64_t address = native->handles[PORTA_NATIVE_CPU_BUFFER_POINTER];
  if (address % kImportAlignment != 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "cpu: handles[0] (host address 0x%" PRIx64 ") is not %" PRIu64 "-byte aligned",
                address, kImportAlignment);
  }
  if (size > SIZE_MAX || address > UINTPTR_MAX - size) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "cpu: %" PRIu64 " bytes from host address 0x%" PRIx64
                " run past the end of the address space",
                size, address);
  }
  auto buffer = std::make_unique<Buffer>();
  buffer->device = ToDevice(device);
  buffer->size = size;
  buffer->imported = true;
  buffer->data = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(address));
  *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

//===--- Copies and fills ---------------------------------------------------------------------===//
// The runtime has checked every range, pointer and pattern (porta_backend.h); a copy or fill is a
// command for the stream's worker.

porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  return EnqueueMove(stream, ToBuffer(dst)->data + dst_offset, src, size, msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t stream, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  return EnqueueMove(stream, dst, ToBuffer(src)->data + src_offset, size, msg);
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg) {
  return EnqueueMove(stream, ToBuffer(dst)->data + dst_offset, ToBuffer(src)->data + src_offset,
                     size, msg);
}

// The backend has one device, so there is never a peer; the runtime would stage through the host.
porta_status_t CopyPeer(porta_be_stream_t, porta_be_buffer_t, uint64_t, porta_be_buffer_t, uint64_t,
                        uint64_t, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "cpu: the backend has one device and no peer");
}

porta_status_t FillBuffer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  Command command;
  command.work = MakeFillWork(ToBuffer(dst)->data + offset, size, pattern, pattern_size);
  return ToStream(stream)->Enqueue(std::move(command), msg);
}

//===--- Host memory registration -------------------------------------------------------------===//
// Host memory already is the device's memory: registering it has no faster copy path, so the
// runtime keeps its own registration and copies take the ordinary slots.

porta_status_t HostRegister(porta_be_device_t, void*, uint64_t, uint32_t,
                            porta_be_host_registration_t*, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED,
              "cpu: device memory is host memory; registration has no faster path");
}

// Never called: host_register creates no registration.
void HostUnregister(porta_be_host_registration_t) {}

porta_status_t CopyHostToDeviceRegistered(porta_be_stream_t, porta_be_buffer_t, uint64_t,
                                          porta_be_host_registration_t, uint64_t, const void*,
                                          uint64_t, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "cpu: no registered copy path");
}

porta_status_t CopyDeviceToHostRegistered(porta_be_stream_t, porta_be_host_registration_t, uint64_t,
                                          void*, porta_be_buffer_t, uint64_t, uint64_t,
                                          porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "cpu: no registered copy path");
}

}  // namespace porta::cpu
