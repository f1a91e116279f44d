// Streams and events of the GPU layer. A device fault reported for a stream's work is sticky on
// the stream and on the events recorded on it.
// clang-format off
#include PORTA_GPU_API_HEADER  // the vendor map this compilation is for (porta_add_gpu_backend)
// clang-format on

#include <memory>
#include <mutex>
#include <string>

#include "backends/gpu/gpu.h"
#include "porta/sdk/message.h"
#include "porta/sdk/poll.h"

namespace porta::gpu {

using common::As;
using common::Fail;
using common::StickyError;
using common::ToHandle;

template <class Api>
porta_status_t Slots<Api>::BeginStreamWork(Stream* stream, porta_be_msg msg) {
  const porta_status_t sticky = stream->sticky->Check(msg);
  if (sticky != PORTA_OK) return sticky;
  return Api::MakeCurrent(*stream->device, msg);
}

namespace {

// Reports a failed call made for work on a stream; a device fault becomes sticky.
template <class Library, typename Result>
porta_status_t StreamFail(const Library& library, StickyError* sticky, Result result,
                          const char* what, porta_be_msg msg) {
  return common::FailStreamWork(sticky, Library::StatusOf(result),
                                std::string(what) + " failed: " + library.ErrorText(result), msg);
}

}  // namespace

template <class Api>
porta_status_t Slots<Api>::StreamResult(Stream* stream, Result result, const char* what,
                                        porta_be_msg msg) {
  if (result == Api::kSuccess) return PORTA_OK;
  return StreamFail(*stream->device->library, stream->sticky.get(), result, what, msg);
}

namespace {

// The body of stream_create and event_create: makes |device| current, and creates an |Object| of
// it whose vendor |handle| create(&handle, |flags|) makes, handed out through |out|.
template <class Api, class Object, typename Handle, typename Pointer, typename OutHandle>
porta_status_t Create(Device<Api>* device, Handle Object::*handle, const Function<Pointer>& create,
                      unsigned flags, OutHandle* out, porta_be_msg msg) {
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  auto object = std::make_unique<Object>();
  object->device = device;
  const typename Api::Result result = create(&(object.get()->*handle), flags);
  if (result != Api::kSuccess) return device->library->Fail(result, create.name, msg);
  *out = ToHandle<OutHandle>(object.release());
  return PORTA_OK;
}

}  // namespace

template <class Api>
porta_status_t Slots<Api>::StreamCreate(porta_be_device_t be, porta_be_stream_t* out_stream,
                                        porta_be_msg msg) {
  Device* device = As<Device>(be);
  // Non-blocking: no implicit ordering against the legacy default (null) stream, which other
  // code in the process may be using.
  return Create<Api>(device, &Stream::stream, device->library->stream_create,
                     Api::kStreamNonBlocking, out_stream, msg);
}

template <class Api>
void Slots<Api>::StreamDestroy(porta_be_stream_t be) {
  Stream* stream = As<Stream>(be);
  Release<Api>(stream, stream->stream, stream->device->library->stream_destroy);
}

template <class Api>
porta_status_t Slots<Api>::StreamSynchronize(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  return StreamResult(stream, library.stream_synchronize(stream->stream),
                      library.stream_synchronize.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::StreamQuery(porta_be_stream_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  const Result result = library.stream_query(stream->stream);
  if (result == Api::kNotReady) return PORTA_NOT_READY;
  return StreamResult(stream, result, library.stream_query.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::StreamNativeHandles(porta_be_stream_t be, porta_native_handles_t* out,
                                               porta_be_msg msg) {
  (void)msg;
  out->count = 1;
  out->handles[Api::kNativeStream] = reinterpret_cast<uint64_t>(As<Stream>(be)->stream);
  return PORTA_OK;
}

// The vendor calls |fn| in stream order, and not at all when the earlier work faulted.
template <class Api>
porta_status_t Slots<Api>::StreamHostFunc(porta_be_stream_t be, porta_host_fn fn, void* user_data,
                                          porta_be_msg msg) {
  Stream* stream = As<Stream>(be);
  const Library& library = *stream->device->library;
  // Optional in HIP (ROCm 5.2 declares it but does not export it): the runtime then synchronizes
  // the stream and calls |fn| itself.
  if (!library.launch_host_func) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "%s: %s does not export %s", Api::kName,
                library.library_name().c_str(), library.launch_host_func.name);
  }
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  return StreamResult(stream, library.launch_host_func(stream->stream, fn, user_data),
                      library.launch_host_func.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::EventCreate(porta_be_device_t be, uint32_t flags,
                                       porta_be_event_t* out_event, porta_be_msg msg) {
  Device* device = As<Device>(be);
  return Create<Api>(
      device, &Event::event, device->library->event_create,
      (flags & PORTA_EVENT_DISABLE_TIMING) != 0 ? Api::kEventDisableTiming : Api::kEventDefault,
      out_event, msg);
}

template <class Api>
void Slots<Api>::EventDestroy(porta_be_event_t be) {
  Event* event = As<Event>(be);
  Release<Api>(event, event->event, event->device->library->event_destroy);
}

template <class Api>
porta_status_t Slots<Api>::EventRecord(porta_be_event_t be, porta_be_stream_t stream_be,
                                       porta_be_msg msg) {
  Event* event = As<Event>(be);
  Stream* stream = As<Stream>(stream_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  std::lock_guard<std::mutex> lock(event->mutex);
  const Result result = library.event_record(event->event, stream->stream);
  if (result != Api::kSuccess) return StreamResult(stream, result, library.event_record.name, msg);
  event->recorded_on = stream->sticky;
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::StreamWaitEvent(porta_be_stream_t stream_be, porta_be_event_t be,
                                           porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  // The wait captures the event's most recent record, which is the API's contract.
  const Result result = library.stream_wait_event(stream->stream, As<Event>(be)->event, 0);
  return StreamResult(stream, result, library.stream_wait_event.name, msg);
}

namespace {

// The sticky error of the stream |event| was last recorded on, or null.
template <class Event>
std::shared_ptr<StickyError> RecordedOn(Event* event) {
  std::lock_guard<std::mutex> lock(event->mutex);
  return event->recorded_on;
}

// The common prologue of waiting on |event| and querying it: the fault of its recording (the
// sticky error of that stream, kept in |sticky| for a fault found next), then making the device
// current.
template <class Api>
porta_status_t BeginEventWork(Event<Api>* event, std::shared_ptr<StickyError>* sticky,
                              porta_be_msg msg) {
  *sticky = RecordedOn(event);
  const porta_status_t fault = *sticky != nullptr ? (*sticky)->Check(msg) : PORTA_OK;
  if (fault != PORTA_OK) return fault;
  return Api::MakeCurrent(*event->device, msg);
}

}  // namespace

template <class Api>
porta_status_t Slots<Api>::EventWait(porta_be_event_t be, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = As<Event>(be);
  const Library& library = *event->device->library;
  std::shared_ptr<StickyError> sticky;
  const porta_status_t begin = BeginEventWork(event, &sticky, msg);
  if (begin != PORTA_OK) return begin;
  Result result = Api::kNotReady;
  const char* call = library.event_query.name;
  if (timeout_ns == UINT64_MAX) {
    result = library.event_synchronize(event->event);
    call = library.event_synchronize.name;
  } else {
    // No vendor has a timed wait: poll, backing off from 20 us to 1 ms.
    const bool done = common::PollUntilDone(timeout_ns, [&] {
      result = library.event_query(event->event);
      return result != Api::kNotReady;
    });
    if (!done) {
      return Fail(msg, PORTA_ERROR_TIMEOUT, "the %s event did not complete within %llu ns",
                  Api::kDisplayName, static_cast<unsigned long long>(timeout_ns));
    }
  }
  if (result == Api::kSuccess) return PORTA_OK;
  return StreamFail(library, sticky.get(), result, call, msg);
}

template <class Api>
porta_status_t Slots<Api>::EventQuery(porta_be_event_t be, porta_be_msg msg) {
  Event* event = As<Event>(be);
  const Library& library = *event->device->library;
  std::shared_ptr<StickyError> sticky;
  const porta_status_t begin = BeginEventWork(event, &sticky, msg);
  if (begin != PORTA_OK) return begin;
  const Result result = library.event_query(event->event);
  if (result == Api::kSuccess) return PORTA_OK;
  if (result == Api::kNotReady) return PORTA_NOT_READY;
  return StreamFail(library, sticky.get(), result, library.event_query.name, msg);
}

template <class Api>
porta_status_t Slots<Api>::EventElapsedMs(porta_be_event_t start_be, porta_be_event_t end_be,
                                          float* out_ms, porta_be_msg msg) {
  // Both events were created with timing and recorded (the runtime checked).
  Event* start = As<Event>(start_be);
  Event* end = As<Event>(end_be);
  const Library& library = *start->device->library;
  const porta_status_t current = Api::MakeCurrent(*start->device, msg);
  if (current != PORTA_OK) return current;
  const Result result = library.event_elapsed_time(out_ms, start->event, end->event);
  if (result == Api::kNotReady) return PORTA_NOT_READY;
  if (result != Api::kSuccess) return library.Fail(result, library.event_elapsed_time.name, msg);
  return PORTA_OK;
}

PORTA_GPU_INSTANTIATE_SLOT(stream_create, StreamCreate)
PORTA_GPU_INSTANTIATE_SLOT(stream_destroy, StreamDestroy)
PORTA_GPU_INSTANTIATE_SLOT(stream_synchronize, StreamSynchronize)
PORTA_GPU_INSTANTIATE_SLOT(stream_query, StreamQuery)
PORTA_GPU_INSTANTIATE_SLOT(stream_native_handles, StreamNativeHandles)
PORTA_GPU_INSTANTIATE_SLOT(stream_host_func, StreamHostFunc)
PORTA_GPU_INSTANTIATE_SLOT(event_create, EventCreate)
PORTA_GPU_INSTANTIATE_SLOT(event_destroy, EventDestroy)
PORTA_GPU_INSTANTIATE_SLOT(event_record, EventRecord)
PORTA_GPU_INSTANTIATE_SLOT(stream_wait_event, StreamWaitEvent)
PORTA_GPU_INSTANTIATE_SLOT(event_wait, EventWait)
PORTA_GPU_INSTANTIATE_SLOT(event_query, EventQuery)
PORTA_GPU_INSTANTIATE_SLOT(event_elapsed_ms, EventElapsedMs)
template porta_status_t Slots<PORTA_GPU_API>::BeginStreamWork(Stream*, porta_be_msg);
template porta_status_t Slots<PORTA_GPU_API>::StreamResult(Stream*, Result, const char*,
                                                           porta_be_msg);

}  // namespace porta::gpu
