// Streams (a command queue fed with batches of commands) and events of the Level Zero backend.
#include <cstring>

#include "backends/level_zero/level_zero_objects.h"
#include "porta/sdk/message.h"

namespace porta::level_zero {
namespace {

using common::Fail;

// A batch is submitted once it holds this many commands, so a long run of launches without a
// synchronize still reaches the device.
constexpr uint32_t kBatchLimit = 256;

}  // namespace

porta_status_t StreamFail(StickyError* sticky, ze_result_t result, const char* what,
                          porta_be_msg msg) {
  return common::FailStreamWork(sticky, Library::StatusOf(result),
                                std::string(what) + " failed: " + Library::ErrorText(result), msg);
}

namespace {

void DestroyBatch(const Device* device, Batch* batch) {
  const Library& library = *device->library;
  for (void* staging : batch->staging)
    library.Released(library.zeMemFree(device->context, staging), "zeMemFree");
  if (batch->fence != nullptr)
    library.Released(library.zeFenceDestroy(batch->fence), "zeFenceDestroy");
  if (batch->list != nullptr)
    library.Released(library.zeCommandListDestroy(batch->list), "zeCommandListDestroy");
  delete batch;
}

}  // namespace

porta_status_t Flush(Stream* stream, porta_be_msg msg) {
  if (stream->open == nullptr || stream->open->commands == 0) return PORTA_OK;
  const Library& library = *stream->device->library;
  Batch* batch = stream->open.get();
  ze_result_t result = library.zeCommandListClose(batch->list);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandListClose", msg);
  }
  result = library.zeCommandQueueExecuteCommandLists(stream->queue, 1, &batch->list, batch->fence);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandQueueExecuteCommandLists", msg);
  }
  stream->in_flight.push_back(std::move(stream->open));
  return PORTA_OK;
}

porta_status_t RetireOldest(Stream* stream, bool wait, porta_be_msg msg) {
  if (stream->in_flight.empty()) return PORTA_OK;
  const Library& library = *stream->device->library;
  Batch* batch = stream->in_flight.front().get();
  const ze_result_t result = wait ? library.zeFenceHostSynchronize(batch->fence, UINT64_MAX)
                                  : library.zeFenceQueryStatus(batch->fence);
  if (result == ZE_RESULT_NOT_READY) return PORTA_NOT_READY;
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeFenceHostSynchronize", msg);
  }
  for (void* staging : batch->staging)
    library.Released(library.zeMemFree(stream->device->context, staging), "zeMemFree");
  batch->staging.clear();
  batch->recordings.clear();
  batch->patterns.clear();
  batch->replays.clear();
  batch->commands = 0;
  const ze_result_t fence_reset = library.zeFenceReset(batch->fence);
  const ze_result_t list_reset = library.zeCommandListReset(batch->list);
  std::unique_ptr<Batch> done = std::move(stream->in_flight.front());
  stream->in_flight.pop_front();
  if (fence_reset != ZE_RESULT_SUCCESS || list_reset != ZE_RESULT_SUCCESS) {
    // The work is done; only the reuse failed, so the batch is destroyed instead of reused.
    const bool fence = fence_reset != ZE_RESULT_SUCCESS;
    common::Log(PORTA_LOG_WARNING,
                "level_zero: %s failed while recycling a command list: %s; it is destroyed instead",
                fence ? "zeFenceReset" : "zeCommandListReset",
                Library::ErrorText(fence ? fence_reset : list_reset).c_str());
    DestroyBatch(stream->device, done.release());
    return PORTA_OK;
  }
  stream->spare.push_back(std::move(done));
  return PORTA_OK;
}

porta_status_t Retire(Stream* stream, bool wait, porta_be_msg msg) {
  while (!stream->in_flight.empty()) {
    const porta_status_t status = RetireOldest(stream, wait, msg);
    if (status != PORTA_OK) return status;
  }
  return PORTA_OK;
}

porta_status_t OpenBatch(Stream* stream, Batch** out_batch, porta_be_msg msg) {
  const porta_status_t sticky = stream->sticky->Check(msg);
  if (sticky != PORTA_OK) return sticky;
  if (stream->open == nullptr) {
    if (!stream->spare.empty()) {
      stream->open = std::move(stream->spare.back());
      stream->spare.pop_back();
    } else {
      const Device* device = stream->device;
      const Library& library = *device->library;
      Batch* raw = new Batch;
      ze_command_list_desc_t list_desc = {};
      list_desc.stype = ZE_STRUCTURE_TYPE_COMMAND_LIST_DESC;
      list_desc.commandQueueGroupOrdinal = device->compute_ordinal;
      const char* call = "zeCommandListCreate";
      ze_result_t result =
          library.zeCommandListCreate(device->context, device->device, &list_desc, &raw->list);
      if (result == ZE_RESULT_SUCCESS) {
        ze_fence_desc_t fence_desc = {};
        fence_desc.stype = ZE_STRUCTURE_TYPE_FENCE_DESC;
        call = "zeFenceCreate";
        result = library.zeFenceCreate(stream->queue, &fence_desc, &raw->fence);
      }
      if (result != ZE_RESULT_SUCCESS) {
        DestroyBatch(device, raw);
        return library.Fail(result, call, msg);
      }
      stream->open.reset(raw);
    }
  }
  *out_batch = stream->open.get();
  return PORTA_OK;
}

porta_status_t ExecuteRecorded(Stream* stream, ze_command_list_handle_t list,
                               std::shared_ptr<RecordedList> keep, porta_be_msg msg) {
  // Earlier work first: the queue runs submissions in the order it receives them.
  porta_status_t status = Flush(stream, msg);
  if (status != PORTA_OK) return status;
  // An empty batch lends its fence; its own list stays empty and open.
  Batch* batch = nullptr;
  status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  const ze_result_t result = stream->device->library->zeCommandQueueExecuteCommandLists(
      stream->queue, 1, &list, batch->fence);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandQueueExecuteCommandLists", msg);
  }
  batch->replays.push_back(std::move(keep));
  stream->in_flight.push_back(std::move(stream->open));
  return PORTA_OK;
}

porta_status_t EndCommand(Stream* stream, Batch* batch, porta_be_msg msg) {
  // Commands of one list may overlap; a barrier after each keeps the stream in order.
  const ze_result_t result =
      stream->device->library->zeCommandListAppendBarrier(batch->list, nullptr, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandListAppendBarrier", msg);
  }
  if (++batch->commands >= kBatchLimit) return Flush(stream, msg);
  return PORTA_OK;
}

porta_status_t StreamNativeHandles(porta_be_stream_t be, porta_native_handles_t* out,
                                   porta_be_msg) {
  out->count = 1;
  out->handles[PORTA_NATIVE_LEVEL_ZERO_QUEUE] = reinterpret_cast<uint64_t>(As<Stream>(be)->queue);
  return PORTA_OK;
}

// A host call between two batches would need a thread that waits for the first batch's fence
// and holds the next submission back; until then the runtime synchronizes the stream and calls
// the function itself.
porta_status_t StreamHostFunc(porta_be_stream_t, porta_host_fn, void*, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED,
              "level_zero: host functions run on the calling thread after a synchronize");
}

porta_status_t StreamCreate(porta_be_device_t be, porta_be_stream_t* out_stream, porta_be_msg msg) {
  Device* device = As<Device>(be);
  auto stream = std::make_unique<Stream>();
  stream->device = device;
  ze_command_queue_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC;
  desc.ordinal = device->compute_ordinal;
  desc.mode = ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS;
  desc.priority = ZE_COMMAND_QUEUE_PRIORITY_NORMAL;
  const ze_result_t result =
      device->library->zeCommandQueueCreate(device->context, device->device, &desc, &stream->queue);
  if (result != ZE_RESULT_SUCCESS)
    return device->library->Fail(result, "zeCommandQueueCreate", msg);
  *out_stream = reinterpret_cast<porta_be_stream_t>(stream.release());
  return PORTA_OK;
}

void StreamDestroy(porta_be_stream_t be) {
  Stream* stream = As<Stream>(be);
  const Device* device = stream->device;
  // The runtime synchronized the stream; waiting again only matters after a device fault.
  Flush(stream, nullptr);
  Retire(stream, true, nullptr);
  for (auto& batch : stream->in_flight) DestroyBatch(device, batch.release());
  for (auto& batch : stream->spare) DestroyBatch(device, batch.release());
  if (stream->open != nullptr) DestroyBatch(device, stream->open.release());
  device->library->Released(device->library->zeCommandQueueDestroy(stream->queue),
                            "zeCommandQueueDestroy");
  delete stream;
}

porta_status_t StreamSynchronize(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  porta_status_t status = stream->sticky->Check(msg);
  if (status != PORTA_OK) return status;
  status = Flush(stream, msg);
  if (status != PORTA_OK) return status;
  return Retire(stream, true, msg);
}

porta_status_t StreamQuery(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  porta_status_t status = stream->sticky->Check(msg);
  if (status != PORTA_OK) return status;
  status = Flush(stream, msg);
  if (status != PORTA_OK) return status;
  return Retire(stream, false, msg);
}

Recording::~Recording() {
  if (event != nullptr) library->Released(library->zeEventDestroy(event), "zeEventDestroy");
  if (pool != nullptr) library->Released(library->zeEventPoolDestroy(pool), "zeEventPoolDestroy");
  if (timestamp != nullptr) library->Released(library->zeMemFree(context, timestamp), "zeMemFree");
}

namespace {

porta_status_t NewRecording(const Device* device, std::shared_ptr<Recording>* out,
                            porta_be_msg msg) {
  const Library& library = *device->library;
  auto recording = std::make_shared<Recording>();
  recording->library = &library;
  recording->context = device->context;
  ze_event_pool_desc_t pool_desc = {};
  pool_desc.stype = ZE_STRUCTURE_TYPE_EVENT_POOL_DESC;
  pool_desc.flags = ZE_EVENT_POOL_FLAG_HOST_VISIBLE;
  pool_desc.count = 1;
  ze_device_handle_t handle = device->device;
  ze_result_t result =
      library.zeEventPoolCreate(device->context, &pool_desc, 1, &handle, &recording->pool);
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeEventPoolCreate", msg);
  ze_event_desc_t event_desc = {};
  event_desc.stype = ZE_STRUCTURE_TYPE_EVENT_DESC;
  event_desc.index = 0;
  // Host scope on signal: the timestamp written before it is visible to the host once the
  // event reads as signaled.
  event_desc.signal = ZE_EVENT_SCOPE_FLAG_HOST;
  event_desc.wait = ZE_EVENT_SCOPE_FLAG_HOST;
  result = library.zeEventCreate(recording->pool, &event_desc, &recording->event);
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeEventCreate", msg);
  ze_host_mem_alloc_desc_t host_desc = {};
  host_desc.stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
  void* timestamp = nullptr;
  result = library.zeMemAllocHost(device->context, &host_desc, sizeof(uint64_t), sizeof(uint64_t),
                                  &timestamp);
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeMemAllocHost (timestamp)", msg);
  recording->timestamp = static_cast<uint64_t*>(timestamp);
  *recording->timestamp = 0;
  *out = std::move(recording);
  return PORTA_OK;
}

std::shared_ptr<Recording> CurrentRecording(Event* event,
                                            std::shared_ptr<StickyError>* recorded_on) {
  std::lock_guard<std::mutex> lock(event->mutex);
  if (recorded_on != nullptr) *recorded_on = event->recorded_on;
  return event->current;
}

}  // namespace

porta_status_t EventCreate(porta_be_device_t be, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg) {
  (void)msg;
  auto event = std::make_unique<Event>();
  event->device = As<Device>(be);
  event->timing = (flags & PORTA_EVENT_DISABLE_TIMING) == 0;
  *out_event = reinterpret_cast<porta_be_event_t>(event.release());
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t be) {
  delete As<Event>(be);
}

porta_status_t EventRecord(porta_be_event_t be, porta_be_stream_t stream_be, porta_be_msg msg) {
  Event* event = As<Event>(be);
  Stream* stream = As<Stream>(stream_be);
  const Library& library = *stream->device->library;
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  std::lock_guard<std::mutex> lock(event->mutex);
  std::shared_ptr<Recording> recording = event->current;
  // Reusable only when no queued work refers to it any more (batches hold references until
  // their fence has signaled, which implies the event has too).
  if (recording != nullptr && recording.use_count() == 2) {
    const ze_result_t result = library.zeEventHostReset(recording->event);
    if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeEventHostReset", msg);
  } else {
    status = NewRecording(stream->device, &recording, msg);
    if (status != PORTA_OK) return status;
  }
  // The barrier after the previous command orders the timestamp write after all earlier work.
  const ze_result_t result =
      event->timing ? library.zeCommandListAppendWriteGlobalTimestamp(
                          batch->list, recording->timestamp, recording->event, 0, nullptr)
                    : library.zeCommandListAppendBarrier(batch->list, recording->event, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result,
                      event->timing ? "zeCommandListAppendWriteGlobalTimestamp (event record)"
                                    : "zeCommandListAppendBarrier (event record)",
                      msg);
  }
  batch->recordings.push_back(recording);
  event->current = std::move(recording);
  event->recorded_on = stream->sticky;
  status = EndCommand(stream, batch, msg);
  if (status != PORTA_OK) return status;
  // Submitted now, so the host and other streams can observe the event without this stream
  // being synchronized first.
  return Flush(stream, msg);
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream_be, porta_be_event_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  const std::shared_ptr<Recording> recording = CurrentRecording(As<Event>(be), nullptr);
  // A never-recorded event counts as complete.
  if (recording == nullptr) return stream->sticky->Check(msg);
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  ze_event_handle_t handle = recording->event;
  const ze_result_t result =
      stream->device->library->zeCommandListAppendWaitOnEvents(batch->list, 1, &handle);
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(stream->sticky.get(), result, "zeCommandListAppendWaitOnEvents", msg);
  }
  batch->recordings.push_back(recording);
  return EndCommand(stream, batch, msg);
}

porta_status_t EventWait(porta_be_event_t be, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = As<Event>(be);
  std::shared_ptr<StickyError> sticky;
  const std::shared_ptr<Recording> recording = CurrentRecording(event, &sticky);
  if (sticky != nullptr) {
    const porta_status_t status = sticky->Check(msg);
    if (status != PORTA_OK) return status;
  }
  if (recording == nullptr) return PORTA_OK;
  const ze_result_t result =
      event->device->library->zeEventHostSynchronize(recording->event, timeout_ns);
  if (result == ZE_RESULT_NOT_READY) {
    return Fail(msg, PORTA_ERROR_TIMEOUT, "the Level Zero event did not complete within %llu ns",
                static_cast<unsigned long long>(timeout_ns));
  }
  if (result != ZE_RESULT_SUCCESS) {
    return StreamFail(sticky.get(), result, "zeEventHostSynchronize", msg);
  }
  return PORTA_OK;
}

porta_status_t EventQuery(porta_be_event_t be, porta_be_msg msg) {
  Event* event = As<Event>(be);
  std::shared_ptr<StickyError> sticky;
  const std::shared_ptr<Recording> recording = CurrentRecording(event, &sticky);
  if (sticky != nullptr) {
    const porta_status_t status = sticky->Check(msg);
    if (status != PORTA_OK) return status;
  }
  if (recording == nullptr) return PORTA_OK;
  const ze_result_t result = event->device->library->zeEventQueryStatus(recording->event);
  if (result == ZE_RESULT_NOT_READY) return PORTA_NOT_READY;
  if (result != ZE_RESULT_SUCCESS)
    return StreamFail(sticky.get(), result, "zeEventQueryStatus", msg);
  return PORTA_OK;
}

porta_status_t EventElapsedMs(porta_be_event_t start_be, porta_be_event_t end_be, float* out_ms,
                              porta_be_msg msg) {
  Event* start = As<Event>(start_be);
  Event* end = As<Event>(end_be);
  // The runtime has checked that both events were created with timing and recorded.
  const std::shared_ptr<Recording> first = CurrentRecording(start, nullptr);
  const std::shared_ptr<Recording> second = CurrentRecording(end, nullptr);
  const Library& library = *start->device->library;
  for (const auto& recording : {first, second}) {
    const ze_result_t result = library.zeEventQueryStatus(recording->event);
    if (result == ZE_RESULT_NOT_READY) return PORTA_NOT_READY;
    if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeEventQueryStatus", msg);
  }
  const Device* device = start->device;
  // The global timer wraps at its valid width; the difference modulo that width is exact.
  const uint64_t ticks = (*second->timestamp - *first->timestamp) & device->timestamp_mask;
  *out_ms = static_cast<float>(static_cast<double>(ticks) * device->ns_per_tick / 1e6);
  return PORTA_OK;
}

}  // namespace porta::level_zero
