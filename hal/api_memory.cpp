// Public API: buffers (including the stream-ordered allocation of the device pool), copies and
// fills, with their validation. Copies are queued (or staged between devices) by hal/copy.cpp.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>

#include "hal/copy.h"
#include "hal/graph.h"
#include "hal/objects.h"
#include "hal/runtime.h"
#include "hal/slot_guard.h"
#include "hal/stream_ops.h"

using porta::hal::BackendFail;
using porta::hal::BackendMessage;
using porta::hal::Buffer;
using porta::hal::CaptureNode;
using porta::hal::CheckEitherOnStreamDevice;
using porta::hal::CheckOnStreamDevice;
using porta::hal::CopyRuns;
using porta::hal::Device;
using porta::hal::Enqueue;
using porta::hal::Fail;
using porta::hal::GraphNode;
using porta::hal::Lookup;
using porta::hal::Object;
using porta::hal::Ref;
using porta::hal::RejectInCapture;
using porta::hal::Stream;

namespace {

// Checks that [offset, offset + size) lies inside |buffer|, without overflow.
porta_status_t CheckRange(const char* fn, const char* what, const Buffer& buffer, uint64_t offset,
                          uint64_t size) {
  if (offset > buffer.size || size > buffer.size - offset) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "%s range [offset %llu, size %llu] does not fit in the buffer of %llu bytes", what,
                static_cast<unsigned long long>(offset), static_cast<unsigned long long>(size),
                static_cast<unsigned long long>(buffer.size));
  }
  return PORTA_OK;
}

// Validates the arguments every allocation takes.
porta_status_t CheckAllocation(const char* fn, const Device& device, uint64_t size,
                               porta_memory_kind_t kind, porta_buffer_t* out_buffer) {
  if (out_buffer == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "out_buffer is NULL");
  *out_buffer = nullptr;
  if (size == 0) return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "size is 0");
  const porta_device_info_t& info = device.info();
  if (size > info.max_allocation_bytes) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "size %llu exceeds the device's max_allocation_bytes (%llu) on %s",
                static_cast<unsigned long long>(size),
                static_cast<unsigned long long>(info.max_allocation_bytes), device.label().c_str());
  }
  if (kind != PORTA_MEMORY_DEVICE && kind != PORTA_MEMORY_HOST_VISIBLE) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "kind %d is not a porta_memory_kind_t",
                static_cast<int>(kind));
  }
  if (kind == PORTA_MEMORY_HOST_VISIBLE && !(info.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY)) {
    return Fail(PORTA_ERROR_UNSUPPORTED, fn,
                "kind is PORTA_MEMORY_HOST_VISIBLE but device %s has no host-visible memory",
                device.label().c_str());
  }
  return PORTA_OK;
}

// Allocates a buffer straight from the backend (validated arguments).
porta_status_t AllocateRaw(const char* fn, const Ref<Device>& device, uint64_t size,
                           porta_memory_kind_t kind, porta_buffer_t* out_buffer) {
  BackendMessage message;
  porta_be_buffer_t be = nullptr;
  porta_status_t status = device->AllocateBuffer(size, kind, &be, &message);
  if (status == PORTA_ERROR_OUT_OF_MEMORY) {
    // Blocks the pool caches count against the device's memory: give them back, try once more.
    device->pool().Trim(0);
    status = device->AllocateBuffer(size, kind, &be, &message);
  }
  if (status != PORTA_OK) return BackendFail(status, fn, *device, message);
  *out_buffer = porta::hal::Publish<porta_buffer_t>(
      porta::hal::Wrap<Buffer>([&] { device->FreeBuffer(be, size); }, device, be, size, kind),
      porta::hal::HandleType::kBuffer);
  return PORTA_OK;
}

// Two threads freed one buffer at once and the other one won.
porta_status_t AlreadyFreed(const char* fn, porta_buffer_t buffer) {
  return Fail(PORTA_ERROR_INVALID_HANDLE, fn,
              "buffer (%p) is not a live porta_buffer_t: it was freed", static_cast<void*>(buffer));
}

// Drops one of the application's references to |buf| (porta_buffer_retain adds them); |last| is
// set when it was the final one, whose caller then unregisters the handle. Freeing more often
// than allocated and retained is the "freed" error. Only the final free checks open captures: a
// free that leaves the buffer alive takes nothing from a capture.
porta_status_t DropHandleReference(const char* fn, porta_buffer_t buffer, Buffer* buf, bool* last) {
  uint32_t refs = buf->handle_refs.load();
  do {
    if (refs == 0) return AlreadyFreed(fn, buffer);
    if (refs == 1) {
      porta_status_t status = porta::hal::CheckBufferNotCaptured(fn, buf);
      if (status != PORTA_OK) return status;
    }
  } while (!buf->handle_refs.compare_exchange_weak(refs, refs - 1));
  *last = refs == 1;
  return PORTA_OK;
}

// Stream-ordered allocation has no graph form: a capturing stream refuses it (and the capture is
// invalidated), rather than allocating once at capture time for every replay.
porta_status_t RejectStreamOrderedAllocationInCapture(const char* fn, Stream& stream) {
  std::lock_guard<std::mutex> lock(stream.mutex);
  if (stream.capture == nullptr) return PORTA_OK;
  return RejectInCapture(fn, stream, "stream-ordered allocation or free");
}

}  // namespace

extern "C" {

PORTA_API porta_status_t porta_buffer_alloc(porta_device_t device, uint64_t size,
                                            porta_memory_kind_t kind,
                                            porta_buffer_t* out_buffer) try {
  constexpr const char* kFn = "porta_buffer_alloc";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if ((status = CheckAllocation(kFn, *dev, size, kind, out_buffer)) != PORTA_OK) return status;
  return AllocateRaw(kFn, dev, size, kind, out_buffer);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_alloc");
}

PORTA_API porta_status_t porta_buffer_retain(porta_buffer_t buffer) try {
  constexpr const char* kFn = "porta_buffer_retain";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  uint32_t refs = buf->handle_refs.load();
  do {
    // The last free won the race: the handle is going away, and a retain cannot bring it back.
    if (refs == 0) return AlreadyFreed(kFn, buffer);
    if (refs == UINT32_MAX) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE, kFn, "buffer (%p) already has %u references",
                  static_cast<void*>(buffer), refs);
    }
  } while (!buf->handle_refs.compare_exchange_weak(refs, refs + 1));
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_retain");
}

PORTA_API porta_status_t porta_buffer_free(porta_buffer_t buffer) try {
  constexpr const char* kFn = "porta_buffer_free";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  bool last = false;
  if ((status = DropHandleReference(kFn, buffer, buf.get(), &last)) != PORTA_OK) return status;
  if (!last) return PORTA_OK;
  if (!porta::hal::Registry::Remove(buf.get())) return AlreadyFreed(kFn, buffer);
  buf->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_free");
}

PORTA_API porta_status_t porta_buffer_alloc_async(porta_stream_t stream, uint64_t size,
                                                  porta_memory_kind_t kind,
                                                  porta_buffer_t* out_buffer) try {
  constexpr const char* kFn = "porta_buffer_alloc_async";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Device& dev = *s->device;
  if ((status = CheckAllocation(kFn, dev, size, kind, out_buffer)) != PORTA_OK) return status;
  if ((status = RejectStreamOrderedAllocationInCapture(kFn, *s)) != PORTA_OK) return status;
  if (!dev.pool().enabled()) {
    status = AllocateRaw(kFn, s->device, size, kind, out_buffer);
    if (status == PORTA_OK) dev.pool().CountRawAlloc();
    return status;
  }
  std::shared_ptr<porta::hal::PoolBlock> block;
  status = dev.pool().Allocate(kFn, *s, size, kind, &block);
  if (status != PORTA_OK) return status;
  *out_buffer = porta::hal::Publish<porta_buffer_t>(
      Ref<Buffer>::Adopt(new Buffer(s->device, std::move(block), size, kind)),
      porta::hal::HandleType::kBuffer);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_alloc_async");
}

PORTA_API porta_status_t porta_buffer_free_async(porta_stream_t stream, porta_buffer_t buffer) try {
  constexpr const char* kFn = "porta_buffer_free_async";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  if ((status = CheckOnStreamDevice(kFn, "buffer", *buf, *s)) != PORTA_OK) return status;
  if ((status = RejectStreamOrderedAllocationInCapture(kFn, *s)) != PORTA_OK) return status;
  bool last = false;
  if ((status = DropHandleReference(kFn, buffer, buf.get(), &last)) != PORTA_OK) return status;
  // A retained buffer stays the application's: this free only drops one reference, and the block
  // stays with the buffer until the last one goes (then as porta_buffer_free releases it).
  if (!last) return PORTA_OK;
  if (!porta::hal::Registry::Remove(buf.get())) return AlreadyFreed(kFn, buffer);
  if (buf->mapped.exchange(false)) {
    BackendMessage message;
    PORTA_SLOT_CALL(buf->device->table(), buffer_unmap, buf->be, message.get());
  }
  if (buf->block && buf->graph_holds.load() == 0) {
    // Work that uses the buffer and is queued by another thread at this very moment is not
    // ordered before the free (the application's race); its reference still keeps the memory.
    buf->block_returned = true;
    buf->device->pool().Return(buf->block, s->progress, s->sequence(), true);
  } else {
    // A plain buffer, or one a graph or instance still uses: the memory goes when the last
    // reference does (for a pool block, back to the pool then, as with porta_buffer_free).
    buf->device->pool().CountFree();
  }
  buf->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_free_async");
}

PORTA_API porta_status_t porta_device_pool_trim(porta_device_t device, uint64_t keep_bytes) try {
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, "porta_device_pool_trim", "device", &status);
  if (!dev) return status;
  dev->pool().Trim(keep_bytes);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_device_pool_trim");
}

PORTA_API porta_status_t porta_device_pool_set_limit(porta_device_t device,
                                                     uint64_t limit_bytes) try {
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, "porta_device_pool_set_limit", "device", &status);
  if (!dev) return status;
  dev->pool().SetLimit(limit_bytes);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_device_pool_set_limit");
}

PORTA_API porta_status_t porta_device_pool_get_stats(porta_device_t device,
                                                     porta_pool_stats_t* stats) try {
  constexpr const char* kFn = "porta_device_pool_get_stats";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (stats == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "stats is NULL");
  if (stats->struct_size < offsetof(porta_pool_stats_t, enabled) + sizeof(stats->enabled)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "stats->struct_size is %zu; set it to sizeof(porta_pool_stats_t) (%zu)",
                stats->struct_size, sizeof(porta_pool_stats_t));
  }
  const size_t caller_size = stats->struct_size;
  const porta_pool_stats_t current = dev->pool().Stats();
  std::memcpy(stats, &current, std::min(caller_size, sizeof(porta_pool_stats_t)));
  stats->struct_size = caller_size;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_device_pool_get_stats");
}

PORTA_API porta_status_t porta_buffer_size(porta_buffer_t buffer, uint64_t* out_size) try {
  constexpr const char* kFn = "porta_buffer_size";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  if (out_size == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_size is NULL");
  *out_size = buf->size;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_size");
}

PORTA_API porta_status_t porta_buffer_device(porta_buffer_t buffer,
                                             porta_device_t* out_device) try {
  constexpr const char* kFn = "porta_buffer_device";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  if (out_device == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_device is NULL");
  *out_device = nullptr;
  return porta::hal::DeviceHandleOf(kFn, *buf->device, "buffer", out_device);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_device");
}

PORTA_API porta_status_t porta_buffer_map(porta_buffer_t buffer, uint64_t offset, uint64_t size,
                                          void** out_ptr) try {
  constexpr const char* kFn = "porta_buffer_map";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  if (out_ptr == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_ptr is NULL");
  *out_ptr = nullptr;
  if (buf->kind != PORTA_MEMORY_HOST_VISIBLE) {
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn,
                "buffer is device-local; allocate it with PORTA_MEMORY_HOST_VISIBLE to map it");
  }
  if (size == 0) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "size is 0");
  status = CheckRange(kFn, "map", *buf, offset, size);
  if (status != PORTA_OK) return status;
  if (buf->mapped.exchange(true)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "buffer is already mapped; unmap it first");
  }
  BackendMessage message;
  status = PORTA_SLOT_CALL(buf->device->table(), buffer_map, buf->be, offset, size, out_ptr,
                           message.get());
  if (status != PORTA_OK) {
    buf->mapped.store(false);
    return BackendFail(status, kFn, *buf->device, message);
  }
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_map");
}

PORTA_API porta_status_t porta_buffer_unmap(porta_buffer_t buffer) try {
  constexpr const char* kFn = "porta_buffer_unmap";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  // Claimed atomically so two threads unmapping at once cannot both reach the backend.
  if (!buf->mapped.exchange(false)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "buffer is not mapped");
  }
  BackendMessage message;
  status = PORTA_SLOT_CALL(buf->device->table(), buffer_unmap, buf->be, message.get());
  if (status != PORTA_OK) {
    buf->mapped.store(true);
    return BackendFail(status, kFn, *buf->device, message);
  }
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_unmap");
}

PORTA_API porta_status_t porta_buffer_native_handle(porta_buffer_t buffer,
                                                    uint64_t* out_handle) try {
  constexpr const char* kFn = "porta_buffer_native_handle";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  if (out_handle == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_handle is NULL");
  const porta_backend_table_t& table = buf->device->table();
  if (table.buffer_native_handle == nullptr) {
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn,
                "the %s backend (ABI %u.%u) does not provide the buffer_native_handle slot",
                table.name, table.abi_major, table.abi_minor);
  }
  BackendMessage message;
  status = PORTA_SLOT_CALL(table, buffer_native_handle, buf->be, out_handle, message.get());
  return status == PORTA_OK ? status : BackendFail(status, kFn, *buf->device, message);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_native_handle");
}

PORTA_API porta_status_t porta_copy_host_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                   uint64_t dst_offset, const void* src,
                                                   uint64_t size) try {
  constexpr const char* kFn = "porta_copy_host_to_device";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> d = Lookup<Buffer>(dst, kFn, "dst", &status);
  if (!d) return status;
  if (src == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "src is NULL");
  if ((status = CheckOnStreamDevice(kFn, "dst", *d, *s)) != PORTA_OK) return status;
  if ((status = CheckRange(kFn, "dst", *d, dst_offset, size)) != PORTA_OK) return status;
  if (size == 0) return PORTA_OK;
  return porta::hal::QueueHostToDevice(kFn, *s, d, static_cast<const uint8_t*>(src),
                                       CopyRuns::Linear(0, dst_offset, size));
} catch (...) {
  return porta::hal::ExceptionStatus("porta_copy_host_to_device");
}

PORTA_API porta_status_t porta_copy_device_to_host(porta_stream_t stream, void* dst,
                                                   porta_buffer_t src, uint64_t src_offset,
                                                   uint64_t size) try {
  constexpr const char* kFn = "porta_copy_device_to_host";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> b = Lookup<Buffer>(src, kFn, "src", &status);
  if (!b) return status;
  if (dst == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "dst is NULL");
  if ((status = CheckOnStreamDevice(kFn, "src", *b, *s)) != PORTA_OK) return status;
  if ((status = CheckRange(kFn, "src", *b, src_offset, size)) != PORTA_OK) return status;
  if (size == 0) return PORTA_OK;
  return porta::hal::QueueDeviceToHost(kFn, *s, static_cast<uint8_t*>(dst), b,
                                       CopyRuns::Linear(src_offset, 0, size));
} catch (...) {
  return porta::hal::ExceptionStatus("porta_copy_device_to_host");
}

PORTA_API porta_status_t porta_copy_device_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                     uint64_t dst_offset, porta_buffer_t src,
                                                     uint64_t src_offset, uint64_t size) try {
  constexpr const char* kFn = "porta_copy_device_to_device";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> d = Lookup<Buffer>(dst, kFn, "dst", &status);
  if (!d) return status;
  Ref<Buffer> b = Lookup<Buffer>(src, kFn, "src", &status);
  if (!b) return status;
  if ((status = CheckRange(kFn, "dst", *d, dst_offset, size)) != PORTA_OK) return status;
  if ((status = CheckRange(kFn, "src", *b, src_offset, size)) != PORTA_OK) return status;
  if (d.get() == b.get() && size != 0 && dst_offset < src_offset + size &&
      src_offset < dst_offset + size) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "src and dst are the same buffer and the ranges [%llu, +%llu) and [%llu, +%llu) "
                "overlap",
                static_cast<unsigned long long>(src_offset), static_cast<unsigned long long>(size),
                static_cast<unsigned long long>(dst_offset), static_cast<unsigned long long>(size));
  }
  if ((status = CheckEitherOnStreamDevice(kFn, *d, *b, *s)) != PORTA_OK) return status;
  if (size == 0) return PORTA_OK;
  return porta::hal::QueueDeviceToDevice(kFn, *s, d, b,
                                         CopyRuns::Linear(src_offset, dst_offset, size));
} catch (...) {
  return porta::hal::ExceptionStatus("porta_copy_device_to_device");
}

PORTA_API porta_status_t porta_fill_buffer(porta_stream_t stream, porta_buffer_t dst,
                                           uint64_t offset, uint64_t size, const void* pattern,
                                           uint32_t pattern_size) try {
  constexpr const char* kFn = "porta_fill_buffer";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Buffer> d = Lookup<Buffer>(dst, kFn, "dst", &status);
  if (!d) return status;
  if (pattern == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "pattern_size is %u; it must be 1, 2 or 4",
                pattern_size);
  }
  if (offset % pattern_size != 0 || size % pattern_size != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "offset %llu and size %llu must be multiples of pattern_size %u",
                static_cast<unsigned long long>(offset), static_cast<unsigned long long>(size),
                pattern_size);
  }
  if ((status = CheckOnStreamDevice(kFn, "dst", *d, *s)) != PORTA_OK) return status;
  if ((status = CheckRange(kFn, "dst", *d, offset, size)) != PORTA_OK) return status;
  if (size == 0) return PORTA_OK;
  const porta_backend_table_t& t = s->device->table();
  porta::hal::UseList uses;
  uses.Add(Ref<Buffer>::Share(d.get()));
  return Enqueue(
      kFn, *s, uses,
      [&](porta_be_msg msg) {
        return PORTA_SLOT_CALL(t, fill_buffer, s->be, d->be, offset, size, pattern, pattern_size,
                               msg);
      },
      [&] {
        GraphNode node;
        node.kind = PORTA_GRAPH_NODE_FILL;
        node.dst = d;
        node.dst_offset = offset;
        node.size = size;
        std::memcpy(node.pattern, pattern, pattern_size);
        node.pattern_size = pattern_size;
        return CaptureNode(kFn, *s, std::move(node));
      });
} catch (...) {
  return porta::hal::ExceptionStatus("porta_fill_buffer");
}

}  // extern "C"
