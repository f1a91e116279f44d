// Streams are in-order command queues (moved to a profiling queue by the first timed event);
// events are markers on them. Timing comes from the markers' profiling info, device faults from
// negative event states, and both are sticky on the stream they happened on.
#include <chrono>
#include <new>
#include <thread>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"
#include "porta/sdk/poll.h"

namespace porta::opencl {
namespace {

// Copies the event's current marker with a reference of its own, so a concurrent re-record
// cannot release it under the caller.
cl_event RetainMarker(Event* event, std::shared_ptr<StreamState>* state) {
  std::lock_guard<std::mutex> lock(event->mutex);
  if (event->marker != nullptr) event->device->api->clRetainEvent(event->marker);
  if (state != nullptr) *state = event->stream_state;
  return event->marker;
}

cl_int ExecutionStatus(const Library& api, cl_event marker, cl_int* out) {
  return api.clGetEventInfo(marker, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(*out), out, nullptr);
}

porta_status_t Faulted(const std::shared_ptr<StreamState>& state, cl_int execution_status,
                       porta_be_msg msg) {
  const std::string text = std::string("opencl: work on the device failed with ") +
                           ClErrorName(execution_status) + " (" + std::to_string(execution_status) +
                           ")";
  if (state != nullptr) {
    state->Set(PORTA_ERROR_DEVICE_LOST, text);
    return state->Check(msg);
  }
  return common::Fail(msg, PORTA_ERROR_DEVICE_LOST, "%s", text.c_str());
}

}  // namespace

porta_status_t StreamEnqueueFailed(Stream* stream, cl_int error, const char* call,
                                   porta_be_msg msg) {
  if (error == CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST || error == CL_DEVICE_NOT_AVAILABLE) {
    stream->state->Set(PORTA_ERROR_DEVICE_LOST, std::string("opencl: ") + call +
                                                    " failed: " + ClErrorName(error) +
                                                    "; earlier work on the device failed");
    return stream->state->Check(msg);
  }
  return ClFail(msg, error, call);
}

porta_status_t EnableProfiling(Stream* stream, porta_be_msg msg) {
  Device* device = stream->device;
  if (stream->profiled || !device->profiling) return PORTA_OK;
  const Library& api = *device->api;
  cl_int error = CL_SUCCESS;
  cl_command_queue profiled =
      api.clCreateCommandQueue(device->context, device->id, CL_QUEUE_PROFILING_ENABLE, &error);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateCommandQueue (profiling)");
  // The new queue starts behind a marker of everything queued so far, so stream order holds
  // across the switch; the old queue is released at once and goes when its work has completed.
  cl_event last = nullptr;
  error = api.clEnqueueMarkerWithWaitList(stream->queue, 0, nullptr, &last);
  if (error != CL_SUCCESS) {
    api.clReleaseCommandQueue(profiled);
    return StreamEnqueueFailed(stream, error, "clEnqueueMarkerWithWaitList", msg);
  }
  api.clFlush(stream->queue);
  error = api.clEnqueueBarrierWithWaitList(profiled, 1, &last, nullptr);
  api.clReleaseEvent(last);
  if (error != CL_SUCCESS) {
    // The old queue stays in use; the marker on it is harmless.
    api.clReleaseCommandQueue(profiled);
    return StreamEnqueueFailed(stream, error, "clEnqueueBarrierWithWaitList", msg);
  }
  api.clReleaseCommandQueue(stream->queue);
  stream->queue = profiled;
  stream->profiled = true;
  ++stream->generation;
  return PORTA_OK;
}

porta_status_t StreamCreate(porta_be_device_t device_handle, porta_be_stream_t* out,
                            porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  auto stream = std::unique_ptr<Stream>(new (std::nothrow) Stream());
  if (stream == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: stream");
  cl_int error = CL_SUCCESS;
  // clCreateCommandQueue (1.2) rather than the 2.0 variant: it exists on every platform Porta
  // accepts, and an in-order queue is all a stream needs.
  stream->queue = device->api->clCreateCommandQueue(device->context, device->id, 0, &error);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateCommandQueue");
  stream->device = device;
  *out = ToHandle<porta_be_stream_t>(stream.release());
  return PORTA_OK;
}

void StreamDestroy(porta_be_stream_t handle) {
  Stream* stream = As<Stream>(handle);
  if (stream->probe != nullptr) stream->device->api->clReleaseEvent(stream->probe);
  stream->device->api->clFinish(stream->queue);
  stream->device->api->clReleaseCommandQueue(stream->queue);
  delete stream;
}

porta_status_t StreamSynchronize(porta_be_stream_t handle, porta_be_msg msg) {
  Stream* stream = As<Stream>(handle);
  const uint64_t generation = stream->generation;
  const cl_int error = stream->device->api->clFinish(stream->queue);
  if (error == CL_SUCCESS) stream->idle_generation = generation;
  if (error != CL_SUCCESS) {
    stream->state->Set(PORTA_ERROR_DEVICE_LOST, std::string("opencl: clFinish failed: ") +
                                                    ClErrorName(error) + " (" +
                                                    std::to_string(error) + ")");
  }
  return stream->state->Check(msg);
}

porta_status_t StreamQuery(porta_be_stream_t handle, porta_be_msg msg) {
  Stream* stream = As<Stream>(handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  const Library& api = *stream->device->api;
  if (stream->native_exposed) {
    // Only a marker enqueued now is behind the application's own commands.
    ++stream->generation;
    if (stream->probe != nullptr) api.clReleaseEvent(stream->probe);
    stream->probe = nullptr;
    stream->probe_time = {};
  }
  if (stream->idle_generation == stream->generation) return PORTA_OK;
  cl_int execution = CL_QUEUED;
  // An in-order queue is idle exactly when a marker behind its last command has completed. While
  // an earlier probe is pending nothing newer can have finished, so the answer costs one
  // clGetEventInfo and no new command: the runtime may ask after every launch.
  if (stream->probe != nullptr) {
    const cl_int error = ExecutionStatus(api, stream->probe, &execution);
    if (error != CL_SUCCESS) return ClFail(msg, error, "clGetEventInfo");
    if (execution < 0) return Faulted(stream->state, execution, msg);
    if (execution != CL_COMPLETE) return PORTA_NOT_READY;
    stream->idle_generation = stream->probe_generation;
    if (stream->probe_generation == stream->generation) return PORTA_OK;
  }
  // Probes at most every 20 us: a poller that asks after each launch gets "not ready" for free
  // in between, and an answer is never more than one probe interval stale. A query after a
  // quiet spell gets a short grace period instead, since a fresh marker behind finished work
  // completes within microseconds and "not ready" would merely mean it was just queued.
  const auto now = std::chrono::steady_clock::now();
  const auto since_last = now - stream->probe_time;
  if (since_last < std::chrono::microseconds(20)) return PORTA_NOT_READY;
  cl_event marker = nullptr;
  const cl_int enqueued = api.clEnqueueMarkerWithWaitList(stream->queue, 0, nullptr, &marker);
  if (enqueued != CL_SUCCESS) {
    return StreamEnqueueFailed(stream, enqueued, "clEnqueueMarkerWithWaitList", msg);
  }
  api.clFlush(stream->queue);
  if (stream->probe != nullptr) api.clReleaseEvent(stream->probe);
  stream->probe = marker;
  stream->probe_generation = stream->generation;
  stream->probe_time = now;
  const auto grace =
      now + (since_last > std::chrono::milliseconds(1) ? std::chrono::microseconds(50)
                                                       : std::chrono::microseconds(0));
  for (;;) {
    const cl_int error = ExecutionStatus(api, marker, &execution);
    if (error != CL_SUCCESS) return ClFail(msg, error, "clGetEventInfo");
    if (execution <= CL_COMPLETE || std::chrono::steady_clock::now() >= grace) break;
    std::this_thread::yield();
  }
  if (execution < 0) return Faulted(stream->state, execution, msg);
  if (execution != CL_COMPLETE) return PORTA_NOT_READY;
  stream->idle_generation = stream->probe_generation;
  return PORTA_OK;
}

namespace {

// One queued host function: |gate| is the user event the commands after it wait for.
struct HostCall {
  const Library* api = nullptr;
  porta_host_fn fn = nullptr;
  void* user_data = nullptr;
  cl_event gate = nullptr;
};

// Runs when the marker behind the work before the host function completes (|status| CL_COMPLETE)
// or fails (negative): calls the function only in the first case, then opens the gate, with the
// failure passed on so the commands behind it fail too.
void CL_CALLBACK RunHostCall(cl_event, cl_int status, void* data) {
  auto* call = static_cast<HostCall*>(data);
  if (status == CL_COMPLETE) call->fn(call->user_data);
  call->api->clSetUserEventStatus(call->gate, status == CL_COMPLETE ? CL_COMPLETE : status);
  call->api->clReleaseEvent(call->gate);
  delete call;
}

}  // namespace

porta_status_t StreamHostFunc(porta_be_stream_t handle, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  Stream* stream = As<Stream>(handle);
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  Device* device = stream->device;
  const Library& api = *device->api;
  auto call = std::unique_ptr<HostCall>(new (std::nothrow) HostCall{&api, fn, user_data, nullptr});
  if (call == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: host call");
  cl_int error = CL_SUCCESS;
  call->gate = api.clCreateUserEvent(device->context, &error);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateUserEvent");
  cl_event reached = nullptr;
  error = api.clEnqueueMarkerWithWaitList(stream->queue, 0, nullptr, &reached);
  if (error != CL_SUCCESS) {
    api.clReleaseEvent(call->gate);
    return StreamEnqueueFailed(stream, error, "clEnqueueMarkerWithWaitList", msg);
  }
  error = api.clEnqueueBarrierWithWaitList(stream->queue, 1, &call->gate, nullptr);
  if (error != CL_SUCCESS) {
    api.clReleaseEvent(reached);
    api.clReleaseEvent(call->gate);
    return StreamEnqueueFailed(stream, error, "clEnqueueBarrierWithWaitList", msg);
  }
  ++stream->generation;
  cl_event gate = call->gate;
  error = api.clSetEventCallback(reached, CL_COMPLETE, RunHostCall, call.get());
  api.clReleaseEvent(reached);
  if (error != CL_SUCCESS) {
    // The barrier is queued: open it so the queue goes on, without the function.
    api.clSetUserEventStatus(gate, CL_COMPLETE);
    api.clReleaseEvent(gate);
    return StreamEnqueueFailed(stream, error, "clSetEventCallback", msg);
  }
  call.release();
  api.clFlush(stream->queue);
  return PORTA_OK;
}

porta_status_t StreamNativeHandles(porta_be_stream_t handle, porta_native_handles_t* out,
                                   porta_be_msg msg) {
  Stream* stream = As<Stream>(handle);
  // The stream's queue changes once, when it first needs profiling: make that happen now, so
  // the queue handed out stays the stream's queue.
  const porta_status_t status = EnableProfiling(stream, msg);
  if (status != PORTA_OK) return status;
  stream->native_exposed = true;
  out->count = 1;
  out->handles[PORTA_NATIVE_OPENCL_QUEUE] = reinterpret_cast<uint64_t>(stream->queue);
  return PORTA_OK;
}

porta_status_t EventCreate(porta_be_device_t device_handle, uint32_t flags, porta_be_event_t* out,
                           porta_be_msg msg) {
  auto event = std::unique_ptr<Event>(new (std::nothrow) Event());
  if (event == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: event");
  event->device = As<Device>(device_handle);
  event->flags = flags;
  *out = ToHandle<porta_be_event_t>(event.release());
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t handle) {
  Event* event = As<Event>(handle);
  if (event->marker != nullptr) event->device->api->clReleaseEvent(event->marker);
  delete event;
}

porta_status_t EventRecord(porta_be_event_t event_handle, porta_be_stream_t stream_handle,
                           porta_be_msg msg) {
  Event* event = As<Event>(event_handle);
  Stream* stream = As<Stream>(stream_handle);
  const Library& api = *stream->device->api;
  if ((event->flags & PORTA_EVENT_DISABLE_TIMING) == 0) {
    const porta_status_t status = EnableProfiling(stream, msg);
    if (status != PORTA_OK) return status;
  }
  cl_event marker = nullptr;
  const cl_int error = api.clEnqueueMarkerWithWaitList(stream->queue, 0, nullptr, &marker);
  if (error != CL_SUCCESS)
    return StreamEnqueueFailed(stream, error, "clEnqueueMarkerWithWaitList", msg);
  // Waiters on other queues or threads only make progress once the marker reaches the device.
  api.clFlush(stream->queue);
  cl_event previous = nullptr;
  {
    std::lock_guard<std::mutex> lock(event->mutex);
    previous = event->marker;
    event->marker = marker;
    event->stream_state = stream->state;
  }
  if (previous != nullptr) api.clReleaseEvent(previous);
  api.clRetainEvent(marker);
  if (stream->probe != nullptr) api.clReleaseEvent(stream->probe);
  stream->probe = marker;
  stream->probe_generation = stream->generation;
  return PORTA_OK;
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream_handle, porta_be_event_t event_handle,
                               porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  Event* event = As<Event>(event_handle);
  const Library& api = *stream->device->api;
  std::shared_ptr<StreamState> state;
  cl_event marker = RetainMarker(event, &state);
  if (marker == nullptr) return PORTA_OK;
  cl_int error = CL_SUCCESS;
  if (event->device->context == stream->device->context) {
    error = api.clEnqueueBarrierWithWaitList(stream->queue, 1, &marker, nullptr);
    api.clReleaseEvent(marker);
    if (error != CL_SUCCESS)
      return StreamEnqueueFailed(stream, error, "clEnqueueBarrierWithWaitList", msg);
    ++stream->generation;
    return PORTA_OK;
  }
  // An event of another context cannot be in this queue's wait list: wait on the host instead.
  error = api.clWaitForEvents(1, &marker);
  cl_int execution = CL_COMPLETE;
  ExecutionStatus(api, marker, &execution);
  api.clReleaseEvent(marker);
  if (execution < 0) return Faulted(state, execution, msg);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clWaitForEvents");
  return PORTA_OK;
}

porta_status_t EventWait(porta_be_event_t handle, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = As<Event>(handle);
  const Library& api = *event->device->api;
  std::shared_ptr<StreamState> state;
  cl_event marker = RetainMarker(event, &state);
  if (marker == nullptr) return PORTA_OK;
  cl_int execution = CL_QUEUED;
  cl_int error = CL_SUCCESS;
  if (timeout_ns == UINT64_MAX) {
    api.clWaitForEvents(1, &marker);
    error = ExecutionStatus(api, marker, &execution);
  } else {
    // OpenCL has no timed wait: poll, yielding first (short waits are the common case) and then
    // sleeping with a growing interval capped at 1 ms.
    const common::PollPacing pacing = {64, std::chrono::microseconds(10),
                                       std::chrono::microseconds(1000)};
    common::PollUntilDone(
        timeout_ns,
        [&] {
          error = ExecutionStatus(api, marker, &execution);
          return error != CL_SUCCESS || execution <= CL_COMPLETE;
        },
        pacing);
  }
  api.clReleaseEvent(marker);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clGetEventInfo");
  if (execution < 0) return Faulted(state, execution, msg);
  if (execution != CL_COMPLETE) {
    return common::Fail(msg, PORTA_ERROR_TIMEOUT,
                        "opencl: the event did not complete within %llu ns",
                        static_cast<unsigned long long>(timeout_ns));
  }
  return state != nullptr ? state->Check(msg) : PORTA_OK;
}

porta_status_t EventQuery(porta_be_event_t handle, porta_be_msg msg) {
  Event* event = As<Event>(handle);
  const Library& api = *event->device->api;
  std::shared_ptr<StreamState> state;
  cl_event marker = RetainMarker(event, &state);
  if (marker == nullptr) return PORTA_OK;
  cl_int execution = CL_QUEUED;
  const cl_int error = ExecutionStatus(api, marker, &execution);
  api.clReleaseEvent(marker);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clGetEventInfo");
  if (execution < 0) return Faulted(state, execution, msg);
  if (state != nullptr && state->Check(nullptr) != PORTA_OK) return state->Check(msg);
  return execution == CL_COMPLETE ? PORTA_OK : PORTA_NOT_READY;
}

porta_status_t EventElapsedMs(porta_be_event_t start_handle, porta_be_event_t end_handle,
                              float* out_ms, porta_be_msg msg) {
  Event* start = As<Event>(start_handle);
  Event* end = As<Event>(end_handle);
  const Library& api = *start->device->api;
  // The runtime has checked that the device has timestamps (it profiles) and that both events
  // were created with timing and recorded.
  cl_event markers[2] = {RetainMarker(start, nullptr), RetainMarker(end, nullptr)};
  porta_status_t status = PORTA_OK;
  cl_ulong stamps[2] = {0, 0};
  for (int i = 0; i < 2 && status == PORTA_OK; ++i) {
    cl_int execution = CL_QUEUED;
    cl_int error = ExecutionStatus(api, markers[i], &execution);
    if (error == CL_SUCCESS && execution < 0) {
      status = common::Fail(msg, PORTA_ERROR_DEVICE_LOST, "opencl: work before the %s event failed",
                            i == 0 ? "start" : "end");
    } else if (error == CL_SUCCESS && execution != CL_COMPLETE) {
      status = common::Fail(msg, PORTA_NOT_READY, "opencl: the %s event has not completed",
                            i == 0 ? "start" : "end");
    } else if (error == CL_SUCCESS) {
      error = api.clGetEventProfilingInfo(markers[i], CL_PROFILING_COMMAND_END, sizeof(cl_ulong),
                                          &stamps[i], nullptr);
    }
    if (error != CL_SUCCESS && status == PORTA_OK) {
      status = ClFail(msg, error, "clGetEventProfilingInfo");
    }
  }
  for (cl_event marker : markers) {
    if (marker != nullptr) api.clReleaseEvent(marker);
  }
  if (status != PORTA_OK) return status;
  const double delta = static_cast<double>(stamps[1]) - static_cast<double>(stamps[0]);
  *out_ms = static_cast<float>(delta / 1.0e6);
  return PORTA_OK;
}

}  // namespace porta::opencl
