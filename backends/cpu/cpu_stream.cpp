// CPU streams (an in-order queue run by a worker thread) and events (points in such a queue), and
// their slots.
#include <chrono>
#include <exception>
#include <memory>
#include <new>
#include <utility>

#include "backends/cpu/cpu_objects.h"
#include "porta/sdk/message.h"

namespace porta::cpu {

using common::EventPoint;
using common::Fail;

//===--- Stream -------------------------------------------------------------------------------===//

Stream::Stream(Device* device) : device_(device) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

Stream::~Stream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_one();
  worker_.join();
}

porta_status_t Stream::StickyError(porta_be_msg msg) const {
  return Fail(msg, PORTA_ERROR_DEVICE_LOST, "%s", fault_message_.c_str());
}

porta_status_t Stream::Enqueue(Command command, porta_be_msg msg) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (faulted_) return StickyError(msg);
    queue_.push_back(std::move(command));
    outstanding_.fetch_add(1, std::memory_order_relaxed);
  }
  work_cv_.notify_one();
  return PORTA_OK;
}

porta_status_t Stream::Synchronize(porta_be_msg msg) {
  if (!last_work_long_.load(std::memory_order_relaxed)) {
    SpinBriefly([this] { return outstanding_.load(std::memory_order_acquire) == 0; });
  }
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
  if (faulted_) return StickyError(msg);
  return PORTA_OK;
}

porta_status_t Stream::Query(porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (faulted_) return StickyError(msg);
  return queue_.empty() && !busy_ ? PORTA_OK : PORTA_NOT_READY;
}

void Stream::WorkerLoop() {
  Scratch scratch;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (queue_.empty() && !stop_ && !last_work_long_.load(std::memory_order_relaxed)) {
      lock.unlock();
      SpinBriefly([this] { return outstanding_.load(std::memory_order_relaxed) != 0; });
      lock.lock();
    }
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    // On stop the queue is drained first, so no recorded event is left incomplete.
    if (queue_.empty()) return;
    Command command = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    const bool skip = faulted_;
    lock.unlock();

    bool failed = false;
    std::string fault;
    if (!skip && command.wait) {
      command.wait->Wait(UINT64_MAX);
      // Waiting on a recording behind a fault faults this stream too: its later work would read
      // what the faulted work left undefined.
      std::string origin;
      if (command.wait->Fault(&origin) != PORTA_OK) {
        failed = true;
        fault = "waited on an event recorded after a fault on another stream: " + origin;
      }
    }
    if (!skip && !failed) {
      if (command.work) {
        const auto start = std::chrono::steady_clock::now();
        try {
          failed = !command.work(&fault, scratch);
        } catch (const std::bad_alloc&) {
          failed = true;
          fault = "host out of memory while executing a stream command";
        } catch (const std::exception& e) {
          failed = true;
          fault = std::string("stream command failed: ") + e.what();
        }
        last_work_long_.store(std::chrono::steady_clock::now() - start > kSpin,
                              std::memory_order_relaxed);
      }
    }
    // Captured state (argument copies, kernel tables) is released outside the lock.
    command.work = nullptr;
    command.wait.reset();

    lock.lock();
    if (failed && !faulted_) {
      faulted_ = true;
      fault_message_ = std::move(fault);
    }
    if (command.signal) {
      const porta_status_t status = faulted_ ? PORTA_ERROR_DEVICE_LOST : PORTA_OK;
      const std::string message = faulted_ ? fault_message_ : std::string();
      lock.unlock();
      command.signal->Complete(status, message);
      command.signal.reset();
      lock.lock();
    }
    busy_ = false;
    outstanding_.fetch_sub(1, std::memory_order_release);
    if (queue_.empty()) idle_cv_.notify_all();
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
    // Recorded behind a fault: the event reports that fault rather than a stale older point.
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
    return Fail(msg, PORTA_ERROR_TIMEOUT, "the event did not complete within %llu ns",
                static_cast<unsigned long long>(timeout_ns));
  }
  return point->Query(msg);
}

porta_status_t Event::Query(porta_be_msg msg) {
  std::shared_ptr<EventPoint> point = Current();
  if (!point) return PORTA_OK;
  return point->Query(msg);
}

// The runtime has checked that both events were created with timing and recorded.
porta_status_t Event::ElapsedMs(Event* start, Event* end, float* out_ms, porta_be_msg msg) {
  std::shared_ptr<EventPoint> points[2] = {start->Current(), end->Current()};
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

porta_status_t StreamCreate(porta_be_device_t device, porta_be_stream_t* out_stream, porta_be_msg) {
  *out_stream = reinterpret_cast<porta_be_stream_t>(new Stream(ToDevice(device)));
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

// A stream is a worker thread, not an object of a native API.
porta_status_t StreamNativeHandles(porta_be_stream_t, porta_native_handles_t* out, porta_be_msg) {
  out->count = 0;
  return PORTA_OK;
}

// The worker calls |fn| between the commands before and after it; a faulted stream skips it like
// any command.
porta_status_t StreamHostFunc(porta_be_stream_t stream, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  Command command;
  command.work = [fn, user_data](std::string*, Scratch&) {
    fn(user_data);
    return true;
  };
  return ToStream(stream)->Enqueue(std::move(command), msg);
}

//===--- Event slots --------------------------------------------------------------------------===//

porta_status_t EventCreate(porta_be_device_t, uint32_t, porta_be_event_t* out_event, porta_be_msg) {
  *out_event = reinterpret_cast<porta_be_event_t>(new Event());
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t event) {
  delete ToEvent(event);
}

porta_status_t EventRecord(porta_be_event_t event, porta_be_stream_t stream, porta_be_msg msg) {
  return ToEvent(event)->Record(ToStream(stream), msg);
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t event, porta_be_msg msg) {
  return ToEvent(event)->MakeStreamWait(ToStream(stream), msg);
}

porta_status_t EventWait(porta_be_event_t event, uint64_t timeout_ns, porta_be_msg msg) {
  return ToEvent(event)->Wait(timeout_ns, msg);
}

porta_status_t EventQuery(porta_be_event_t event, porta_be_msg msg) {
  return ToEvent(event)->Query(msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                              porta_be_msg msg) {
  return Event::ElapsedMs(ToEvent(start), ToEvent(end), out_ms, msg);
}

}  // namespace porta::cpu
