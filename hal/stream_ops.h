// Helpers shared by every API call that queues work on a stream.
#ifndef PORTA_HAL_STREAM_OPS_H_
#define PORTA_HAL_STREAM_OPS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include "hal/graph.h"
#include "hal/objects.h"
#include "hal/slot_guard.h"

namespace porta::hal {

// Pending uses (objects held by queued work) after which queuing work also polls the stream for
// completion.
constexpr size_t kPendingQueryThreshold = 4096;

// Notes that |stream| queued (as its work |sequence|) a device-side wait on |event|'s current
// recording, so that a fault of that recording, found once the stream is observed past the wait,
// becomes the stream's sticky error (ResolveWaits). A recording on |stream| itself needs no note.
void NoteWait(Stream& stream, Event& event, uint64_t sequence);

// Resolves the waits |stream| queued up to work |sequence|, which the caller observed complete:
// the first waited recording found faulted becomes the stream's sticky error, naming the stream
// the fault came from. Returns whether one was.
bool ResolveWaits(Stream& stream, uint64_t sequence);

// The sticky message of a stream that waited on a recording of |origin| behind a fault.
std::string WaitedOnFaultMessage(const Stream& origin, const std::string& detail);

// Enqueue for work that takes |count| backend calls: |enqueue|(i, message) makes call i, in
// order, all under one hold of the stream's lock (no other work interleaves). The first failure
// stops the loop; the calls made before it stay queued, |uses| stays alive until they complete,
// and the message says how many were queued.
template <typename Fn, typename CaptureFn>
porta_status_t EnqueueEach(const char* function, Stream& stream, UseList& uses, uint64_t count,
                           Fn&& enqueue, CaptureFn&& capture) {
  std::lock_guard<std::mutex> lock(stream.mutex);
  porta_status_t status = stream.CheckSticky(function);
  if (status != PORTA_OK) return status;
  if (stream.capture != nullptr) return capture();
  BackendMessage message;
  uint64_t queued = 0;
  for (; queued < count; ++queued) {
    status = enqueue(queued, message.get());
    if (status != PORTA_OK) break;
  }
  if (queued > 0) {
    size_t pending = 0;
    uint64_t sequence = stream.AddWork(uses, &pending);
    // An application that never synchronizes must not grow the pending list (nor the waits to
    // resolve) without bound: every so often ask the backend whether the stream has drained.
    if (pending > kPendingQueryThreshold) {
      BackendMessage idle;
      if (PORTA_SLOT_CALL(stream.device->table(), stream_query, stream.be, idle.get()) ==
          PORTA_OK) {
        stream.ReleaseUpTo(sequence);
        ResolveWaits(stream, sequence);
      }
    }
  }
  if (status == PORTA_OK) return PORTA_OK;
  if (count > 1) {
    message.Set(std::string(message.text()) + " (call " + std::to_string(queued + 1) + " of " +
                std::to_string(count) + "; the " + std::to_string(queued) +
                " before it stay queued)");
  }
  if (status == PORTA_ERROR_DEVICE_LOST) stream.SetSticky(status, message.text());
  return BackendFail(status, function, *stream.device, message);
}

// Runs |enqueue| (which calls one backend slot with the message it is given) under the stream's
// lock after checking the sticky error, and keeps |uses| alive until the work completes. A
// device fault reported while queuing becomes the stream's sticky error. When the stream is
// capturing a graph, |capture| runs instead (under the lock): it records the work with
// CaptureNode, or refuses it with RejectInCapture.
template <typename Fn, typename CaptureFn>
porta_status_t Enqueue(const char* function, Stream& stream, UseList& uses, Fn&& enqueue,
                       CaptureFn&& capture) {
  return EnqueueEach(
      function, stream, uses, 1, [&](uint64_t, porta_be_msg msg) { return enqueue(msg); },
      std::forward<CaptureFn>(capture));
}

// Blocks until |stream| is idle and releases what its work used; a fault becomes the sticky
// error, as does the fault of an event recording the stream waited on. The caller holds
// stream.mutex.
porta_status_t SyncLocked(const char* function, Stream& stream);

}  // namespace porta::hal

#endif  // PORTA_HAL_STREAM_OPS_H_
