// Public API: streams and events.
#include <cstdio>
#include <mutex>
#include <string>

#include "hal/objects.h"
#include "hal/runtime.h"
#include "hal/slot_guard.h"
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

namespace {

// What an event was last recorded at: the stream and the work sequence number it covers, and the
// fault of work before it once the runtime knows one.
struct Recording {
  Ref<Stream> stream;
  uint64_t sequence = 0;
  porta_status_t fault = PORTA_OK;
  std::string fault_message;
};

Recording CurrentRecording(Event& event) {
  std::lock_guard<std::mutex> lock(event.mutex);
  return Recording{event.stream, event.sequence, event.fault, event.fault_message};
}

// Marks |recording| of |event| faulted, unless the event has been recorded again since.
void NoteEventFault(Event& event, const Recording& recording, porta_status_t status,
                    const std::string& message) {
  std::lock_guard<std::mutex> lock(event.mutex);
  if (event.stream.get() != recording.stream.get() || event.sequence != recording.sequence) return;
  if (event.fault != PORTA_OK) return;
  event.fault = status;
  event.fault_message = message;
}

// Returns the fault of |event|'s recording at work |sequence| of |origin| (its detail into
// |detail|), or PORTA_OK. The recording has completed: a stream waited on it and went past.
porta_status_t RecordingFault(Event& event, Stream& origin, uint64_t sequence,
                              std::string* detail) {
  Recording current = CurrentRecording(event);
  if (current.stream.get() != &origin || current.sequence != sequence) {
    // Recorded again since, so the backend answers for the new recording only. The origin's own
    // sticky error is the closest answer: conservative, it may come from work after the point.
    return origin.Sticky(detail);
  }
  if (current.fault != PORTA_OK) {
    *detail = current.fault_message;
    return current.fault;
  }
  BackendMessage message;
  const porta_status_t status =
      PORTA_SLOT_CALL(event.device->table(), event_query, event.be, message.get());
  // Past the point the recording is complete, so any answer but OK (a lost device, or a backend
  // that failed to answer) is the recording's fault; it is never dropped.
  if (status != PORTA_OK && status != PORTA_NOT_READY) {
    origin.SetSticky(status, message.text());
    NoteEventFault(event, current, status, message.text());
    *detail = message.text();
    return status;
  }
  // The origin may itself have waited, before the point, on a recording behind a fault.
  if (porta::hal::ResolveWaits(origin, sequence)) {
    const porta_status_t sticky = origin.Sticky(detail);
    NoteEventFault(event, current, sticky, *detail);
    return sticky;
  }
  return PORTA_OK;
}

// Interprets a backend answer about |event|: completion releases the recorded stream's finished
// work and resolves the waits that stream queued before the point; a fault becomes the
// recording's fault and that stream's sticky error.
porta_status_t FinishEventStatus(const char* fn, Event& event, const Recording& recording,
                                 porta_status_t status, const BackendMessage& message) {
  if (!recording.stream || (status != PORTA_OK && status != PORTA_ERROR_DEVICE_LOST)) {
    return status == PORTA_OK || status == PORTA_NOT_READY
               ? status
               : BackendFail(status, fn, *event.device, message);
  }
  if (status == PORTA_OK) recording.stream->ReleaseUpTo(recording.sequence);
  // A fault that reached the stream through a wait before the point is named after its origin
  // (resolved first, so that it is the stream's sticky error even where the backend saw it too).
  if (porta::hal::ResolveWaits(*recording.stream, recording.sequence)) {
    std::string detail;
    const porta_status_t sticky = recording.stream->Sticky(&detail);
    NoteEventFault(event, recording, sticky, detail);
    return Fail(sticky, fn, "work before the event faulted: %s", detail.c_str());
  }
  if (status == PORTA_OK) return PORTA_OK;
  recording.stream->SetSticky(status, message.text());
  NoteEventFault(event, recording, status, message.text());
  return BackendFail(status, fn, *event.device, message);
}

// Makes |stream|, which waits on |recording| whose fault is known, faulted too, and returns that
// sticky error. The caller holds stream.mutex.
porta_status_t WaitedOnFault(const char* fn, Stream& stream, const Recording& recording) {
  stream.SetSticky(recording.fault,
                   porta::hal::WaitedOnFaultMessage(*recording.stream, recording.fault_message));
  return stream.CheckSticky(fn);
}

// The answer for a recording whose fault the runtime already knows.
porta_status_t KnownFault(const char* fn, const Recording& recording) {
  return Fail(recording.fault, fn, "work before the event faulted: %s",
              recording.fault_message.c_str());
}

}  // namespace

namespace porta::hal {

porta_status_t SyncLocked(const char* function, Stream& stream) {
  porta_status_t status = stream.CheckSticky(function);
  if (status != PORTA_OK) return status;
  if (stream.capture != nullptr) {
    return RejectInCapture(function, stream, "synchronizing the capturing stream");
  }
  BackendMessage message;
  uint64_t sequence = stream.sequence();
  status = PORTA_SLOT_CALL(stream.device->table(), stream_synchronize, stream.be, message.get());
  if (status != PORTA_OK && status != PORTA_ERROR_DEVICE_LOST) {
    return BackendFail(status, function, *stream.device, message);
  }
  if (status == PORTA_OK) stream.ReleaseUpTo(sequence);
  // A fault that reached this stream through a wait is named after the stream it came from
  // (resolved first: the first sticky error stays), even where the backend saw it too.
  if (ResolveWaits(stream, sequence)) return stream.CheckSticky(function);
  if (status == PORTA_ERROR_DEVICE_LOST) {
    stream.SetSticky(status, message.text());
    return BackendFail(status, function, *stream.device, message);
  }
  return PORTA_OK;
}

void NoteWait(Stream& stream, Event& event, uint64_t sequence) {
  Recording recording = CurrentRecording(event);
  if (!recording.stream || recording.stream.get() == &stream) return;
  Stream::Wait wait;
  wait.event = Ref<Object>::Share(&event);
  wait.origin = recording.stream;
  wait.origin_sequence = recording.sequence;
  wait.sequence = sequence;
  stream.AddWait(std::move(wait));
}

bool ResolveWaits(Stream& stream, uint64_t sequence) {
  bool faulted = false;
  for (Stream::Wait& wait : stream.TakeWaitsUpTo(sequence)) {
    // The first fault found is the sticky one; the rest only need releasing.
    if (faulted) continue;
    std::string detail;
    const porta_status_t fault = RecordingFault(static_cast<Event&>(*wait.event), *wait.origin,
                                                wait.origin_sequence, &detail);
    if (fault != PORTA_OK) {
      stream.SetSticky(fault, WaitedOnFaultMessage(*wait.origin, detail));
      faulted = true;
    }
  }
  return faulted;
}

std::string WaitedOnFaultMessage(const Stream& origin, const std::string& detail) {
  char head[160];
  std::snprintf(head, sizeof(head),
                "waited on an event recorded after a fault on stream 0x%llx of device %s: ",
                static_cast<unsigned long long>(origin.handle()), origin.device->label().c_str());
  return head + detail;
}

}  // namespace porta::hal

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
  status = PORTA_SLOT_CALL(dev->table(), stream_create, dev->be(), &be, message.get());
  status = porta::hal::Created(status, be, "stream", &message);
  if (status != PORTA_OK) return BackendFail(status, kFn, *dev, message);
  *out_stream = porta::hal::Publish<porta_stream_t>(
      porta::hal::Wrap<Stream>([&] { PORTA_SLOT_CALL(dev->table(), stream_destroy, be); }, dev, be),
      porta::hal::HandleType::kStream);
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
    // A sticky error is not this call's failure: the work is finished either way. A failure
    // that is not the stream's known fault goes to the log, since destroying never fails.
    const porta_status_t synced =
        PORTA_SLOT_CALL(s->device->table(), stream_synchronize, s->be, message.get());
    std::string known;
    if (synced != PORTA_OK && s->Sticky(&known) == PORTA_OK) {
      const std::string text = "porta_stream_destroy: waiting for the work of a stream of " +
                               s->device->label() + " failed: " + message.text();
      porta::hal::Log(PORTA_LOG_WARNING, text.c_str());
    }
    s->ReleaseUpTo(UINT64_MAX);
    s->ClearWaits();
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

PORTA_API porta_status_t porta_stream_enqueue_host_func(porta_stream_t stream, porta_host_fn fn,
                                                        void* user_data) try {
  constexpr const char* kFn = "porta_stream_enqueue_host_func";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if (fn == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "fn is NULL");
  const porta_backend_table_t& table = s->device->table();
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    if ((status = s->CheckSticky(kFn)) != PORTA_OK) return status;
    if (s->capture != nullptr) {
      return porta::hal::RejectInCapture(kFn, *s, "a host function (it cannot be captured)");
    }
    if (table.stream_host_func != nullptr) {
      BackendMessage message;
      status = PORTA_SLOT_CALL(table, stream_host_func, s->be, fn, user_data, message.get());
      if (status == PORTA_OK) {
        porta::hal::UseList uses;
        s->AddWork(uses);
        return PORTA_OK;
      }
      if (status != PORTA_ERROR_UNSUPPORTED) {
        if (status == PORTA_ERROR_DEVICE_LOST) s->SetSticky(status, message.text());
        return BackendFail(status, kFn, *s->device, message);
      }
    }
    // No stream-ordered host call: everything queued before has completed once the stream is
    // synchronized, and what other threads queue from now on is not ordered before this call.
    if ((status = porta::hal::SyncLocked(kFn, *s)) != PORTA_OK) return status;
  }
  fn(user_data);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_enqueue_host_func");
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
  status = PORTA_SLOT_CALL(s->device->table(), stream_query, s->be, message.get());
  if (status == PORTA_OK) {
    s->ReleaseUpTo(sequence);
    if (porta::hal::ResolveWaits(*s, sequence)) return s->CheckSticky(kFn);
    return PORTA_OK;
  }
  if (status == PORTA_NOT_READY) return status;
  if (status == PORTA_ERROR_DEVICE_LOST) {
    // As in SyncLocked: a fault that came through a wait is named after its origin.
    if (porta::hal::ResolveWaits(*s, sequence)) return s->CheckSticky(kFn);
    s->SetSticky(status, message.text());
  }
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
  status = PORTA_SLOT_CALL(dev->table(), event_create, dev->be(), flags, &be, message.get());
  status = porta::hal::Created(status, be, "event", &message);
  if (status != PORTA_OK) return BackendFail(status, kFn, *dev, message);
  *out_event = porta::hal::Publish<porta_event_t>(
      porta::hal::Wrap<Event>([&] { PORTA_SLOT_CALL(dev->table(), event_destroy, be); }, dev, be,
                              flags),
      porta::hal::HandleType::kEvent);
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
  if ((status = s->CheckSticky(kFn)) != PORTA_OK) {
    // Recorded behind a known fault: the event now stands for work that faulted, and every wait
    // or query of it reports that (rather than answering for its previous recording).
    std::string detail;
    const porta_status_t sticky = s->Sticky(&detail);
    std::lock_guard<std::mutex> event_lock(e->mutex);
    e->stream = s;
    e->sequence = s->sequence();
    e->fault = sticky;
    e->fault_message = detail;
    e->captured_by = nullptr;
    return status;
  }
  if (s->capture != nullptr) {
    porta::hal::GraphNode node;
    node.kind = PORTA_GRAPH_NODE_EVENT_RECORD;
    node.event = e;
    if ((status = porta::hal::CaptureNode(kFn, *s, std::move(node))) != PORTA_OK) return status;
    s->capture->NoteRecordedEvent(e);
    return PORTA_OK;
  }
  BackendMessage message;
  status = PORTA_SLOT_CALL(s->device->table(), event_record, e->be, s->be, message.get());
  if (status == PORTA_ERROR_DEVICE_LOST) {
    // The backend found the stream faulted: as above, the event carries the fault.
    s->SetSticky(status, message.text());
    std::lock_guard<std::mutex> event_lock(e->mutex);
    e->stream = s;
    e->sequence = s->sequence();
    e->fault = status;
    e->fault_message = message.text();
    e->captured_by = nullptr;
  }
  if (status != PORTA_OK) return BackendFail(status, kFn, *s->device, message);
  porta::hal::UseList uses;
  uses.Add(Ref<Event>::Share(e.get()));
  uint64_t sequence = s->AddWork(uses);
  std::lock_guard<std::mutex> event_lock(e->mutex);
  e->stream = s;
  e->sequence = sequence;
  // A new recording starts clean (as a CUDA event re-recorded on a healthy stream): a fault
  // belongs to the recording whose work faulted, and stays sticky on that stream.
  e->fault = PORTA_OK;
  e->fault_message.clear();
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
    if (recording.fault == PORTA_OK) {
      BackendMessage message;
      status = PORTA_SLOT_CALL(e->device->table(), event_wait, e->be, UINT64_MAX, message.get());
      status = FinishEventStatus(kFn, *e, recording, status, message);
      if (status != PORTA_ERROR_DEVICE_LOST) return status;
      recording = CurrentRecording(*e);
      if (recording.fault == PORTA_OK) return status;
    }
    std::lock_guard<std::mutex> lock(s->mutex);
    return WaitedOnFault(kFn, *s, recording);
  }
  const porta_backend_table_t& t = s->device->table();
  // Read before the wait is queued: if another thread re-records the event meanwhile, the wait
  // captures the later point and the pool's view stays on the safe side.
  Recording recording = CurrentRecording(*e);
  if (recording.fault != PORTA_OK && recording.stream.get() != s.get()) {
    std::lock_guard<std::mutex> lock(s->mutex);
    if (s->capture == nullptr) return WaitedOnFault(kFn, *s, recording);
  }
  porta::hal::UseList uses;
  uses.Add(Ref<Event>::Share(e.get()));
  bool captured = false;
  status = Enqueue(
      kFn, *s, uses,
      [&](porta_be_msg msg) { return PORTA_SLOT_CALL(t, stream_wait_event, s->be, e->be, msg); },
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
    porta::hal::NoteWait(*s, *e, s->sequence());
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
  if (recording.fault != PORTA_OK) return KnownFault(kFn, recording);
  BackendMessage message;
  status = PORTA_SLOT_CALL(e->device->table(), event_wait, e->be, timeout_ns, message.get());
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
  if (recording.fault != PORTA_OK) return KnownFault(kFn, recording);
  BackendMessage message;
  status = PORTA_SLOT_CALL(e->device->table(), event_query, e->be, message.get());
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
  for (Event* e : {a.get(), b.get()}) {
    const Recording recording = CurrentRecording(*e);
    if (recording.fault != PORTA_OK) return KnownFault(kFn, recording);
  }
  if (!(a->device->info().capabilities & PORTA_CAP_TIMESTAMPS)) {
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn, "device %s has no timestamps (PORTA_CAP_TIMESTAMPS)",
                a->device->label().c_str());
  }
  BackendMessage message;
  status =
      PORTA_SLOT_CALL(a->device->table(), event_elapsed_ms, a->be, b->be, out_ms, message.get());
  if (status == PORTA_OK || status == PORTA_NOT_READY) return status;
  return BackendFail(status, kFn, *a->device, message);
} catch (...) {
  return porta::hal::ExceptionStatus("porta_event_elapsed_ms");
}

}  // extern "C"
