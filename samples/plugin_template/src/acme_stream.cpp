// Streams and events of the acme backend: every stream is an in-order queue with a worker thread,
// so the calls that queue work return at once and the work runs later, as on a real device.
// Copies, fills, launches and host functions are queued as commands; an event is a point in a
// queue that completes, with a timestamp, when the worker reaches it.
#include <cstring>
#include <utility>

#include "acme_backend.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/message.h"

namespace acme {

using porta::common::As;
using porta::common::Fail;
using porta::common::ToHandle;

//===--- Stream -------------------------------------------------------------------------------===//

Stream::Stream(Device* device) : device_(device) {
  worker_ = std::thread([this] { Run(); });
}

Stream::~Stream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_one();
  worker_.join();
}

porta_status_t Stream::Enqueue(Command command, porta_be_msg msg) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (faulted_.load()) return fault_.Check(msg);
    queue_.push_back(std::move(command));
  }
  work_ready_.notify_one();
  return PORTA_OK;
}

porta_status_t Stream::Synchronize(porta_be_msg msg) {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
  return fault_.Check(msg);
}

porta_status_t Stream::Query(porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (faulted_.load()) return fault_.Check(msg);
  return queue_.empty() && !busy_ ? PORTA_OK : PORTA_NOT_READY;
}

void Stream::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    // On stop the queue is drained first, so no recorded event is left incomplete.
    if (queue_.empty()) return;
    Command command = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    const bool skip = faulted_.load();
    lock.unlock();

    bool failed = false;
    std::string fault;
    if (!skip && command.wait) {
      command.wait->Wait(UINT64_MAX);
      // Work behind a wait on a faulted recording would read what the faulted work left
      // undefined, so the fault spreads to this stream.
      std::string origin;
      if (command.wait->Fault(&origin) != PORTA_OK) {
        failed = true;
        fault = "acme: waited on an event recorded after a fault on another stream: " + origin;
      }
    }
    if (!skip && !failed && command.work) {
      try {
        failed = !command.work(&fault);
      } catch (const std::exception& e) {
        failed = true;
        fault = std::string("acme: stream command failed: ") + e.what();
      }
    }
    // What the command captured (argument copies) is released outside the lock.
    command.work = nullptr;
    command.wait.reset();

    lock.lock();
    if (failed && !faulted_.load()) {
      fault_.Set(PORTA_ERROR_DEVICE_LOST, fault);
      fault_text_ = std::move(fault);
      faulted_.store(true);
    }
    if (command.signal) {
      const porta_status_t status = faulted_.load() ? PORTA_ERROR_DEVICE_LOST : PORTA_OK;
      const std::string message = fault_text_;
      lock.unlock();
      command.signal->Complete(status, message);
      command.signal.reset();
      lock.lock();
    }
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

//===--- Event --------------------------------------------------------------------------------===//

std::shared_ptr<EventPoint> Event::Current() {
  std::lock_guard<std::mutex> lock(mutex_);
  return point_;
}

porta_status_t Event::Record(Stream* stream, porta_be_msg msg) {
  auto point = std::make_shared<EventPoint>();
  Command command;
  command.signal = point;
  const porta_status_t status = stream->Enqueue(std::move(command), msg);
  if (status != PORTA_OK) {
    // Recorded behind a fault: the event reports that fault rather than an older point.
    point->Complete(status, msg != nullptr && msg->text != nullptr ? msg->text : "");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  point_ = std::move(point);
  return status;
}

porta_status_t Event::MakeStreamWait(Stream* stream, porta_be_msg msg) {
  std::shared_ptr<EventPoint> point = Current();
  if (!point) return PORTA_OK;
  Command command;
  command.wait = std::move(point);
  return stream->Enqueue(std::move(command), msg);
}

porta_status_t Event::Wait(uint64_t timeout_ns, porta_be_msg msg) {
  std::shared_ptr<EventPoint> point = Current();
  if (!point) return PORTA_OK;
  if (!point->Wait(timeout_ns)) {
    return Fail(msg, PORTA_ERROR_TIMEOUT, "acme: the event did not complete within %llu ns",
                static_cast<unsigned long long>(timeout_ns));
  }
  return point->Query(msg);
}

porta_status_t Event::Query(porta_be_msg msg) {
  std::shared_ptr<EventPoint> point = Current();
  if (!point) return PORTA_OK;
  return point->Query(msg);
}

porta_status_t Event::ElapsedMs(Event* start, Event* end, float* out_ms, porta_be_msg msg) {
  const char* which[2] = {"start", "end"};
  Event* events[2] = {start, end};
  std::shared_ptr<EventPoint> points[2];
  for (int i = 0; i < 2; ++i) {
    if ((events[i]->flags_ & PORTA_EVENT_DISABLE_TIMING) != 0) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "acme: the %s event was created with PORTA_EVENT_DISABLE_TIMING", which[i]);
    }
    points[i] = events[i]->Current();
    if (!points[i]) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "acme: the %s event was never recorded",
                  which[i]);
    }
  }
  std::chrono::steady_clock::time_point times[2];
  for (int i = 0; i < 2; ++i) {
    const porta_status_t status = points[i]->Query(msg);
    if (status != PORTA_OK) return status;
    points[i]->CompletionTime(&times[i]);
  }
  *out_ms = std::chrono::duration<float, std::milli>(times[1] - times[0]).count();
  return PORTA_OK;
}

//===--- Stream slots -------------------------------------------------------------------------===//

namespace {

Stream* ToStream(porta_be_stream_t stream) {
  return As<Stream>(stream);
}

// Queues |work| on |stream|.
porta_status_t EnqueueWork(porta_be_stream_t stream, std::function<bool(std::string*)> work,
                           porta_be_msg msg) {
  Command command;
  command.work = std::move(work);
  return ToStream(stream)->Enqueue(std::move(command), msg);
}

// Queues a copy of |size| bytes; the runtime has checked both ranges.
porta_status_t EnqueueCopy(porta_be_stream_t stream, void* dst, const void* src, uint64_t size,
                           porta_be_msg msg) {
  return EnqueueWork(
      stream,
      [dst, src, size](std::string*) {
        std::memmove(dst, src, static_cast<size_t>(size));
        return true;
      },
      msg);
}

}  // namespace

porta_status_t StreamCreate(porta_be_device_t device, porta_be_stream_t* out_stream,
                            porta_be_msg /*msg*/) {
  *out_stream = ToHandle<porta_be_stream_t>(new Stream(As<Device>(device)));
  return PORTA_OK;
}

void StreamDestroy(porta_be_stream_t stream) {
  delete ToStream(stream);
}

porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg) {
  return ToStream(stream)->Synchronize(msg);
}

porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg) {
  return ToStream(stream)->Query(msg);
}

porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  return EnqueueCopy(stream, As<Buffer>(dst)->data + dst_offset, src, size, msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t stream, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  return EnqueueCopy(stream, dst, As<Buffer>(src)->data + src_offset, size, msg);
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg) {
  return EnqueueCopy(stream, As<Buffer>(dst)->data + dst_offset, As<Buffer>(src)->data + src_offset,
                     size, msg);
}

// Every device's memory is host memory, so a copy between two acme devices is an ordinary copy
// queued on |stream|.
porta_status_t CopyPeer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t dst_offset,
                        porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                        porta_be_msg msg) {
  return CopyDeviceToDevice(stream, dst, dst_offset, src, src_offset, size, msg);
}

porta_status_t FillBuffer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  // The pattern is only valid during the call: keep a copy. The runtime has checked that
  // |pattern_size| is 1, 2 or 4 and divides |offset| and |size|.
  uint8_t bytes[4] = {};
  std::memcpy(bytes, pattern, pattern_size);
  uint8_t* data = As<Buffer>(dst)->data + offset;
  return EnqueueWork(
      stream,
      [data, size, bytes, pattern_size](std::string*) {
        for (uint64_t i = 0; i < size; i += pattern_size)
          std::memcpy(data + i, bytes, pattern_size);
        return true;
      },
      msg);
}

porta_status_t StreamHostFunc(porta_be_stream_t stream, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  return EnqueueWork(
      stream,
      [fn, user_data](std::string*) {
        fn(user_data);
        return true;
      },
      msg);
}

//===--- Event slots --------------------------------------------------------------------------===//

porta_status_t EventCreate(porta_be_device_t /*device*/, uint32_t flags,
                           porta_be_event_t* out_event, porta_be_msg /*msg*/) {
  *out_event = ToHandle<porta_be_event_t>(new Event(flags));
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t event) {
  delete As<Event>(event);
}

porta_status_t EventRecord(porta_be_event_t event, porta_be_stream_t stream, porta_be_msg msg) {
  return As<Event>(event)->Record(ToStream(stream), msg);
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t event, porta_be_msg msg) {
  return As<Event>(event)->MakeStreamWait(ToStream(stream), msg);
}

porta_status_t EventWait(porta_be_event_t event, uint64_t timeout_ns, porta_be_msg msg) {
  return As<Event>(event)->Wait(timeout_ns, msg);
}

porta_status_t EventQuery(porta_be_event_t event, porta_be_msg msg) {
  return As<Event>(event)->Query(msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                              porta_be_msg msg) {
  return Event::ElapsedMs(As<Event>(start), As<Event>(end), out_ms, msg);
}

}  // namespace acme
