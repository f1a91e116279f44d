// ABI slots of streams, copies, fills and events.
#include <cinttypes>
#include <cstring>

#include "backends/vulkan/vulkan_internal.h"
#include "backends/vulkan/vulkan_table.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;

StreamCore* CoreOf(porta_be_stream_t stream) {
  return reinterpret_cast<Stream*>(stream)->core.get();
}
Buffer* BufferOf(porta_be_buffer_t buffer) {
  return reinterpret_cast<Buffer*>(buffer);
}
Event* EventOf(porta_be_event_t event) {
  return reinterpret_cast<Event*>(event);
}

porta_status_t StreamCreate(porta_be_device_t handle, porta_be_stream_t* out_stream,
                            porta_be_msg msg) {
  auto* device = reinterpret_cast<Device*>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  auto stream = std::make_unique<Stream>();
  porta_status_t status = StreamCore::Create(device, &stream->core, msg);
  if (status == PORTA_OK) *out_stream = reinterpret_cast<porta_be_stream_t>(stream.release());
  return CheckValidation(device, status, msg);
}

void StreamDestroy(porta_be_stream_t stream) {
  delete reinterpret_cast<Stream*>(stream);
}

porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  uint64_t value = 0;
  porta_status_t status = core->Flush(&value, msg);
  if (status == PORTA_OK) status = core->Wait(value, UINT64_MAX, msg);
  return CheckValidation(core->device(), status, msg);
}

porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  return CheckValidation(core->device(), core->Query(msg), msg);
}

porta_status_t StreamNativeHandles(porta_be_stream_t stream, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  StreamCore* core = CoreOf(stream);
  out->count = 3;
  out->handles[PORTA_NATIVE_VULKAN_QUEUE] = reinterpret_cast<uint64_t>(core->queue());
  out->handles[PORTA_NATIVE_VULKAN_STREAM_QUEUE_FAMILY] = core->device()->physical->queue_family;
  out->handles[PORTA_NATIVE_VULKAN_STREAM_TIMELINE] = reinterpret_cast<uint64_t>(core->timeline());
  return PORTA_OK;
}

porta_status_t StreamHostFunc(porta_be_stream_t stream, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  return CheckValidation(core->device(), core->AddHostCall(fn, user_data, msg), msg);
}

porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst_handle,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  Buffer* dst = BufferOf(dst_handle);
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
  Buffer* src = BufferOf(src_handle);
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
      core->device()->vk.vkCmdCopyBuffer(cmd, BufferOf(src)->buffer, BufferOf(dst)->buffer, 1,
                                         &region);
      status = core->EndCommandLocked(1, msg);
    }
  }
  return CheckValidation(core->device(), status, msg);
}

porta_status_t FillBufferEntry(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                               uint64_t size, const void* pattern, uint32_t pattern_size,
                               porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  const porta_status_t status =
      FillBuffer(core, BufferOf(dst), offset, size, pattern, pattern_size, msg);
  return CheckValidation(core->device(), status, msg);
}

// ---- Events -----------------------------------------------------------------------------------

porta_status_t EventCreate(porta_be_device_t handle, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg) {
  auto* device = reinterpret_cast<Device*>(handle);
  auto event = std::make_unique<Event>();
  event->device = device;
  event->flags = flags;
  if (!(flags & PORTA_EVENT_DISABLE_TIMING) &&
      (device->physical->info.capabilities & PORTA_CAP_TIMESTAMPS)) {
    porta_status_t status = device->CreateTimestampSlot(&event->timestamp, msg);
    if (status != PORTA_OK) return CheckValidation(device, status, msg);
  }
  *out_event = reinterpret_cast<porta_be_event_t>(event.release());
  return CheckValidation(device, PORTA_OK, msg);
}

void EventDestroy(porta_be_event_t handle) {
  Event* event = EventOf(handle);
  if (event == nullptr) return;
  if (event->timestamp.pool != VK_NULL_HANDLE) {
    if (event->stream != nullptr) {
      // The timestamp write may still be queued; the stream destroys the slot after it.
      event->stream->DeferDestroyTimestamp(event->timestamp, event->value);
    } else {
      event->device->DestroyTimestampSlot(event->timestamp);
    }
  }
  delete event;
}

porta_status_t EventRecord(porta_be_event_t handle, porta_be_stream_t stream, porta_be_msg msg) {
  Event* event = EventOf(handle);
  StreamCore* core = CoreOf(stream);
  Device* device = core->device();
  std::lock_guard<std::mutex> event_lock(event->mutex);
  if (event->timestamp.pool != VK_NULL_HANDLE && event->stream != nullptr &&
      event->stream->Poll(event->value, nullptr) != PORTA_OK) {
    // The previous recording's timestamp write and copy may still be queued (possibly on another
    // queue); rather than order the new ones after them, take a fresh slot and retire the old
    // one later.
    TimestampSlot fresh;
    porta_status_t status = device->CreateTimestampSlot(&fresh, msg);
    if (status != PORTA_OK) return CheckValidation(device, status, msg);
    event->stream->DeferDestroyTimestamp(event->timestamp, event->value);
    event->timestamp = fresh;
  }
  porta_status_t status = PORTA_OK;
  uint64_t value = 0;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    if (event->timestamp.pool != VK_NULL_HANDLE) {
      VkCommandBuffer cmd = VK_NULL_HANDLE;
      status = core->BeginCommandLocked(&cmd, msg);
      if (status == PORTA_OK) {
        const TimestampSlot& slot = event->timestamp;
        device->vk.vkCmdResetQueryPool(cmd, slot.pool, 0, 1);
        // Bottom of pipe: the time at which every earlier command has finished.
        device->vk.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, slot.pool, 0);
        // The copy is a transfer write that the batch's final barrier makes visible to the host
        // once the timeline value is reached; WAIT_BIT orders it after the timestamp write.
        device->vk.vkCmdCopyQueryPoolResults(cmd, slot.pool, 0, 1, slot.buffer, 0, sizeof(uint64_t),
                                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        ++core->open_batch().commands;
      }
    }
    // The signal must be submitted before anyone can wait on it, so recording always flushes.
    if (status == PORTA_OK) status = core->FlushLocked(&value, msg);
  }
  if (status == PORTA_OK) {
    event->stream = core->shared_from_this();
    event->value = value;
  }
  return CheckValidation(device, status, msg);
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t handle,
                               porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  Event* event = EventOf(handle);
  TimelineWait wait;
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    wait = {event->stream, event->value};
  }
  // A never-recorded event is complete; the stream's own points are already in order.
  if (wait.stream == nullptr || wait.stream.get() == core || wait.value == 0) {
    return CheckValidation(core->device(), PORTA_OK, msg);
  }
  porta_status_t status = PORTA_OK;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    // Work recorded before the wait must not be delayed by it.
    uint64_t value = 0;
    if (core->open_batch().cmd != VK_NULL_HANDLE) status = core->FlushLocked(&value, msg);
    if (status == PORTA_OK) core->AddWaitLocked(wait);
  }
  return CheckValidation(core->device(), status, msg);
}

porta_status_t EventWait(porta_be_event_t handle, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = EventOf(handle);
  TimelineWait point;
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    point = {event->stream, event->value};
  }
  porta_status_t status = PORTA_OK;
  if (point.stream != nullptr) status = point.stream->Wait(point.value, timeout_ns, msg);
  return CheckValidation(event->device, status, msg);
}

porta_status_t EventQuery(porta_be_event_t handle, porta_be_msg msg) {
  Event* event = EventOf(handle);
  TimelineWait point;
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    point = {event->stream, event->value};
  }
  porta_status_t status = PORTA_OK;
  if (point.stream != nullptr) status = point.stream->Poll(point.value, msg);
  return CheckValidation(event->device, status, msg);
}

// The timestamp of a recording whose timeline value has been reached (Poll returned PORTA_OK).
uint64_t ReadTimestamp(const TimestampSlot& slot) {
  return *slot.result;
}

porta_status_t EventElapsedMs(porta_be_event_t start_handle, porta_be_event_t end_handle,
                              float* out_ms, porta_be_msg msg) {
  Event* events[2] = {EventOf(start_handle), EventOf(end_handle)};
  Device* device = events[0]->device;
  uint64_t stamps[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    Event* event = events[i];
    const char* which = i == 0 ? "start" : "end";
    if (event->flags & PORTA_EVENT_DISABLE_TIMING) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "vulkan: the %s event was created with PORTA_EVENT_DISABLE_TIMING", which);
    }
    if (event->timestamp.pool == VK_NULL_HANDLE) {
      return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                  "vulkan: the device's compute queue has no timestamps (timestampValidBits 0)");
    }
    // Under the event's lock, so that a concurrent re-recording cannot retire the slot between
    // the poll and the read.
    std::lock_guard<std::mutex> event_lock(event->mutex);
    if (event->stream == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "vulkan: the %s event was never recorded",
                  which);
    }
    // Never waits: a pending recording is PORTA_NOT_READY, a completed one has its time in the
    // slot's buffer already.
    const porta_status_t status = event->stream->Poll(event->value, msg);
    if (status != PORTA_OK) return CheckValidation(device, status, msg);
    stamps[i] = ReadTimestamp(event->timestamp);
  }
  const uint32_t bits = device->physical->timestamp_valid_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  // Differences are taken modulo the counter width, so one wrap-around between the two stamps
  // is harmless; a start later than the end gives a negative time, as in CUDA.
  const uint64_t forward = (stamps[1] - stamps[0]) & mask;
  const uint64_t backward = (stamps[0] - stamps[1]) & mask;
  const double ticks =
      forward <= backward ? static_cast<double>(forward) : -static_cast<double>(backward);
  *out_ms = static_cast<float>(ticks * device->physical->properties.limits.timestampPeriod / 1e6);
  return CheckValidation(device, PORTA_OK, msg);
}

}  // namespace

void AddStreamSlots(porta_backend_table_t* table) {
  table->stream_create = StreamCreate;
  table->stream_destroy = StreamDestroy;
  table->stream_synchronize = StreamSynchronize;
  table->stream_query = StreamQuery;
  table->stream_native_handles = StreamNativeHandles;
  table->stream_host_func = StreamHostFunc;
  table->copy_host_to_device = CopyHostToDevice;
  table->copy_device_to_host = CopyDeviceToHost;
  table->copy_device_to_device = CopyDeviceToDevice;
  table->fill_buffer = FillBufferEntry;
  table->event_create = EventCreate;
  table->event_destroy = EventDestroy;
  table->event_record = EventRecord;
  table->stream_wait_event = StreamWaitEvent;
  table->event_wait = EventWait;
  table->event_query = EventQuery;
  table->event_elapsed_ms = EventElapsedMs;
}

}  // namespace porta::vulkan
