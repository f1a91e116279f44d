// Public API: streams and events.
#include <mutex>

#include "hal/objects.h"
#include "hal/runtime.h"
#include "hal/stream_ops.h"

using porta::hal::BackendFail;
using porta::hal::BackendMessage;
using porta::hal::Device;
using porta::hal::Enqueue;
using porta::hal::Event;
using porta::hal::Fail;
using porta::hal::Lookup;
using porta::hal::Object;
using porta::hal::Ref;
using porta::hal::Stream;

namespace porta::hal {

porta_status_t SyncLocked(const char* function, Stream& stream) {
  porta_status_t status = stream.CheckSticky(function);
  if (status != PORTA_OK) return status;
  if (stream.capture != nullptr) {
    return RejectInCapture(function, stream, "synchronizing the capturing stream");
  }
  BackendMessage message;
  uint64_t sequence = stream.sequence();
  status = stream.device->table().stream_synchronize(stream.be, message.get());
  if (status != PORTA_OK) {
    if (status == PORTA_ERROR_DEVICE_LOST) stream.SetSticky(status, message.text());
    return BackendFail(status, function, *stream.device, message);
  }
  stream.ReleaseUpTo(sequence);
  return PORTA_OK;
}

}  // namespace porta::hal

namespace {

// What an event was last recorded at: the stream and the work sequence number it covers.
struct Recording {
  Ref<Stream> stream;
  uint64_t sequence = 0;
};

Recording CurrentRecording(Event& event) {
  std::lock_guard<std::mutex> lock(event.mutex);
  return Recording{event.stream, event.sequence};
}

// Interprets a backend answer about |event|: completion releases the recorded stream's finished
// work; a fault becomes that stream's sticky error.
porta_status_t FinishEventStatus(const char* fn, Event& event, const Recording& recording,
                                 porta_status_t status, const BackendMessage& message) {
  if (status == PORTA_OK) {
    if (recording.stream) recording.stream->ReleaseUpTo(recording.sequence);
    return PORTA_OK;
  }
  if (status == PORTA_NOT_READY) return status;
  if (status == PORTA_ERROR_DEVICE_LOST && recording.stream) {
    recording.stream->SetSticky(status, message.text());
  }
  return BackendFail(status, fn, *event.device, message);
}

}  // namespace

extern "C" {

PORTA_API porta_status_t porta_stream_create(porta_device_t device,
                                             porta_stream_t* out_stream) try {
  constexpr const char* kFn = "porta_stream_create";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (out_stream == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_stream is NULL");
  *out_stream = nullptr;
  BackendMessage message;
  porta_be_stream_t be = nullptr;
  status = dev->table().stream_create(dev->be(), &be, message.get());
  status = porta::hal::Created(status, be, "stream", &message);
  if (status != PORTA_OK) return BackendFail(status, kFn, *dev, message);
  auto* stream = new Stream(dev, be);
  porta::hal::Registry::Add(stream, porta::hal::HandleType::kStream);
  *out_stream = porta::hal::ToHandle<porta_stream_t>(stream);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_create");
}

PORTA_API porta_status_t porta_stream_destroy(porta_stream_t stream) try {
  constexpr const char* kFn = "porta_stream_destroy";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  porta::hal::Registry::Remove(s.get());
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    porta::hal::DiscardCapture(*s);
    BackendMessage message;
    // A sticky error is not this call's failure: the work is finished either way.
    s->device->table().stream_synchronize(s->be, message.get());
    s->ReleaseUpTo(UINT64_MAX);
  }
  s->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_destroy");
}

PORTA_API porta_status_t porta_stream_synchronize(porta_stream_t stream) try {
  constexpr const char* kFn = "porta_stream_synchronize";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  std::lock_guard<std::mutex> lock(s->mutex);
  return porta::hal::SyncLocked(kFn, *s);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_synchronize");
}

PORTA_API porta_status_t porta_stream_device(porta_stream_t stream,
                                             porta_device_t* out_device) try {
  constexpr const char* kFn = "porta_stream_device";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if (out_device == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_device is NULL");
  *out_device = nullptr;
  return porta::hal::DeviceHandleOf(kFn, *s->device, "stream", out_device);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_device");
}

PORTA_API porta_status_t porta_stream_query(porta_stream_t stream) try {
  constexpr const char* kFn = "porta_stream_query";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  std::lock_guard<std::mutex> lock(s->mutex);
  if ((status = s->CheckSticky(kFn)) != PORTA_OK) return status;
  if (s->capture != nullptr) {
    return porta::hal::RejectInCapture(kFn, *s, "querying the capturing stream");
  }
  uint64_t sequence = s->sequence();
  BackendMessage message;
  status = s->device->table().stream_query(s->be, message.get());
  if (status == PORTA_OK) {
    s->ReleaseUpTo(sequence);
    return PORTA_OK;
  }
  if (status == PORTA_NOT_READY) return status;
  if (status == PORTA_ERROR_DEVICE_LOST) s->SetSticky(status, message.text());
  return BackendFail(status, kFn, *s->device, message);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_query");
}

PORTA_API porta_status_t porta_event_create(porta_device_t device, uint32_t flags,
                                            porta_event_t* out_event) try {
  constexpr const char* kFn = "porta_event_create";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (out_event == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_event is NULL");
  *out_event = nullptr;
  if ((flags & ~PORTA_EVENT_DISABLE_TIMING) != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "flags 0x%x has unknown bits (known: 0x%x)",
                flags, PORTA_EVENT_DISABLE_TIMING);
  }
  BackendMessage message;
  porta_be_event_t be = nullptr;
  status = dev->table().event_create(dev->be(), flags, &be, message.get());
  status = porta::hal::Created(status, be, "event", &message);
  if (status != PORTA_OK) return BackendFail(status, kFn, *dev, message);
  auto* event = new Event(dev, be, flags);
  porta::hal::Registry::Add(event, porta::hal::HandleType::kEvent);
  *out_event = porta::hal::ToHandle<porta_event_t>(event);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_create");
}

PORTA_API porta_status_t porta_event_destroy(porta_event_t event) try {
  porta_status_t status;
  Ref<Event> e = Lookup<Event>(event, "porta_event_destroy", "event", &status);
  if (!e) return status;
  porta::hal::Registry::Remove(e.get());
  e->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_destroy");
}

PORTA_API porta_status_t porta_event_record(porta_event_t event, porta_stream_t stream) try {
  constexpr const char* kFn = "porta_event_record";
  porta_status_t status;
  Ref<Event> e = Lookup<Event>(event, kFn, "event", &status);
  if (!e) return status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if (e->device.get() != s->device.get()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "event belongs to device %s but stream belongs to device %s",
                e->device->label().c_str(), s->device->label().c_str());
  }
  // The record and the event's new recording are published under the stream's lock, so the
  // sequence number matches the work queued before it.
  std::lock_guard<std::mutex> lock(s->mutex);
  if ((status = s->CheckSticky(kFn)) != PORTA_OK) return status;
  if (s->capture != nullptr) {
    porta::hal::GraphNode node;
    node.kind = PORTA_GRAPH_NODE_EVENT_RECORD;
    node.event = e;
    if ((status = porta::hal::CaptureNode(kFn, *s, std::move(node))) != PORTA_OK) return status;
    s->capture->NoteRecordedEvent(e);
    return PORTA_OK;
  }
  BackendMessage message;
  status = s->device->table().event_record(e->be, s->be, message.get());
  if (status != PORTA_OK) return BackendFail(status, kFn, *s->device, message);
  porta::hal::UseList uses;
  uses.Add(Ref<Event>::Share(e.get()));
  uint64_t sequence = s->AddWork(uses);
  std::lock_guard<std::mutex> event_lock(e->mutex);
  e->stream = s;
  e->sequence = sequence;
  // A recording outside any capture replaces the one a capture made.
  e->captured_by = nullptr;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_record");
}

PORTA_API porta_status_t porta_stream_wait_event(porta_stream_t stream, porta_event_t event) try {
  constexpr const char* kFn = "porta_stream_wait_event";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Event> e = Lookup<Event>(event, kFn, "event", &status);
  if (!e) return status;
  status = porta::hal::CheckEventOutsideCapture(kFn, *e, s.get(), "waiting on");
  if (status != PORTA_OK) return status;
  if (e->device.get() != s->device.get()) {
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (s->capture != nullptr) {
        return porta::hal::RejectInCapture(kFn, *s, "waiting on an event of another device");
      }
    }
    // No device-side wait across devices: the host waits, which orders everything queued later.
    Recording recording = CurrentRecording(*e);
    BackendMessage message;
    status = e->device->table().event_wait(e->be, UINT64_MAX, message.get());
    return FinishEventStatus(kFn, *e, recording, status, message);
  }
  const porta_backend_table_t& t = s->device->table();
  // Read before the wait is queued: if another thread re-records the event meanwhile, the wait
  // captures the later point and the pool's view stays on the safe side.
  Recording recording = CurrentRecording(*e);
  porta::hal::UseList uses;
  uses.Add(Ref<Event>::Share(e.get()));
  bool captured = false;
  status = Enqueue(
      kFn, *s, uses, [&](porta_be_msg msg) { return t.stream_wait_event(s->be, e->be, msg); },
      [&] {
        captured = true;
        porta::hal::GraphNode node;
        node.kind = PORTA_GRAPH_NODE_EVENT_WAIT;
        node.event = e;
        return porta::hal::CaptureNode(kFn, *s, std::move(node));
      });
  // Pool blocks freed on the recorded stream before the event may now be reused on this one. A
  // wait that a capture recorded orders nothing yet (a replay does not note it: the pool then
  // stays on the safe side).
  if (status == PORTA_OK && !captured && recording.stream && recording.stream.get() != s.get()) {
    s->NoteOrderedAfter(recording.stream->progress->id, recording.sequence);
  }
  return status;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_wait_event");
}

PORTA_API porta_status_t porta_event_wait(porta_event_t event, uint64_t timeout_ns) try {
  constexpr const char* kFn = "porta_event_wait";
  porta_status_t status;
  Ref<Event> e = Lookup<Event>(event, kFn, "event", &status);
  if (!e) return status;
  status = porta::hal::CheckEventOutsideCapture(kFn, *e, nullptr, "waiting on");
  if (status != PORTA_OK) return status;
  Recording recording = CurrentRecording(*e);
  BackendMessage message;
  status = e->device->table().event_wait(e->be, timeout_ns, message.get());
  if (status == PORTA_ERROR_TIMEOUT) {
    return Fail(status, kFn, "event did not complete within %llu ns",
                static_cast<unsigned long long>(timeout_ns));
  }
  return FinishEventStatus(kFn, *e, recording, status, message);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_wait");
}

PORTA_API porta_status_t porta_event_query(porta_event_t event) try {
  constexpr const char* kFn = "porta_event_query";
  porta_status_t status;
  Ref<Event> e = Lookup<Event>(event, kFn, "event", &status);
  if (!e) return status;
  status = porta::hal::CheckEventOutsideCapture(kFn, *e, nullptr, "querying");
  if (status != PORTA_OK) return status;
  Recording recording = CurrentRecording(*e);
  BackendMessage message;
  status = e->device->table().event_query(e->be, message.get());
  return FinishEventStatus(kFn, *e, recording, status, message);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_query");
}

PORTA_API porta_status_t porta_event_elapsed_ms(porta_event_t start, porta_event_t end,
                                                float* out_ms) try {
  constexpr const char* kFn = "porta_event_elapsed_ms";
  porta_status_t status;
  Ref<Event> a = Lookup<Event>(start, kFn, "start", &status);
  if (!a) return status;
  Ref<Event> b = Lookup<Event>(end, kFn, "end", &status);
  if (!b) return status;
  if (out_ms == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_ms is NULL");
  if (a->device.get() != b->device.get()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "start belongs to device %s and end to device %s; timing needs one device",
                a->device->label().c_str(), b->device->label().c_str());
  }
  for (Event* e : {a.get(), b.get()}) {
    status = porta::hal::CheckEventOutsideCapture(kFn, *e, nullptr, "timing");
    if (status != PORTA_OK) return status;
  }
  for (const Event* e : {a.get(), b.get()}) {
    const char* which = e == a.get() ? "start" : "end";
    if (e->flags & PORTA_EVENT_DISABLE_TIMING) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                  "%s was created with PORTA_EVENT_DISABLE_TIMING", which);
    }
  }
  if (!CurrentRecording(*a).stream || !CurrentRecording(*b).stream) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "%s was never recorded",
                !CurrentRecording(*a).stream ? "start" : "end");
  }
  if (!(a->device->info().capabilities & PORTA_CAP_TIMESTAMPS)) {
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn, "device %s has no timestamps (PORTA_CAP_TIMESTAMPS)",
                a->device->label().c_str());
  }
  BackendMessage message;
  status = a->device->table().event_elapsed_ms(a->be, b->be, out_ms, message.get());
  if (status == PORTA_OK || status == PORTA_NOT_READY) return status;
  return BackendFail(status, kFn, *a->device, message);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_elapsed_ms");
}

}  // extern "C"
