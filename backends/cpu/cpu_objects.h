// The CPU backend's objects behind the opaque porta_be_* handles, and the slot functions each file
// defines: cpu_backend.cpp (entry, table, init), cpu_device.cpp (the host as a device),
// cpu_memory.cpp (buffers, copies, fills), cpu_stream.cpp (streams and events), cpu_module.cpp
// (host-format modules and launches) and cpu_graph.cpp (native graphs).
//
// The types live in porta::cpu and are reinterpret_cast to and from the handles instead of
// defining struct porta_be_device & co.: every built-in backend is linked into libporta, and two
// different global definitions of one struct name would break the one-definition rule.
#ifndef PORTA_BACKENDS_CPU_CPU_OBJECTS_H_
#define PORTA_BACKENDS_CPU_CPU_OBJECTS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/thread_pool.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/event_point.h"

namespace porta::cpu {

// Every slot of the table (cpu_backend.cpp builds it with PORTA_BACKEND_TABLE_WITH_GRAPHS).
PORTA_DECLARE_BACKEND_SLOTS()
PORTA_DECLARE_BACKEND_GRAPH_SLOTS()

// What init learned about the host; shared by every device opened from it.
struct Backend {
  porta_device_info_t info{};
};

// An open CPU device: its description and the pool that runs its work-groups.
struct Device {
  porta_device_info_t info{};
  std::unique_ptr<ThreadPool> pool;
};

// Host memory; both memory kinds are the same allocation, at least 64-byte aligned.
struct Buffer {
  Device* device = nullptr;
  uint8_t* data = nullptr;
  uint64_t size = 0;
  // True when |data| came from mmap (large buffers) rather than the heap.
  bool mapped = false;
  // True when |data| is the application's memory (buffer_import): never freed here.
  bool imported = false;
};

// One entry of a host-format module.
struct Kernel {
  std::string name;
  porta_host_kernel_fn fn = nullptr;
};

// A copied porta_host_kernel_t table.
struct Module {
  Device* device = nullptr;
  std::vector<std::unique_ptr<Kernel>> kernels;
};

struct Graph;

// Work a stream's worker executes: returns false and writes a description into |fault| when it
// faulted; runs with the worker's scratch, used for the work-groups it executes.
using Work = std::function<bool(std::string* fault, Scratch& scratch)>;

// One entry of a stream's queue: work, an event point to complete, or one to wait for.
struct Command {
  Work work;
  // Completed when the command is reached, even on a faulted stream (so waiters never hang).
  std::shared_ptr<common::EventPoint> signal;
  // The worker blocks until this point completes before going on.
  std::shared_ptr<common::EventPoint> wait;
};

// An asynchronous in-order queue. A fault (a kernel returning nonzero, or a wait on an event point
// that completed with a fault) is sticky: commands queued behind it are skipped, except that
// events behind it still complete, carrying the fault.
class Stream {
 public:
  // Starts the worker thread. Throws std::system_error when it cannot be started.
  explicit Stream(Device* device);
  // Runs what is still queued, then joins the worker.
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Queues |command|; returns the sticky error instead once the stream has faulted.
  porta_status_t Enqueue(Command command, porta_be_msg msg);
  porta_status_t Synchronize(porta_be_msg msg);
  porta_status_t Query(porta_be_msg msg);

  Device* device() const { return device_; }

 private:
  void WorkerLoop();
  porta_status_t StickyError(porta_be_msg msg) const;

  Device* device_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Command> queue_;
  bool busy_ = false;
  // Commands queued or running; written under |mutex_|, read without it by the short spins that
  // spare a sleeping thread's wake-up on back-to-back work (Synchronize, WorkerLoop).
  std::atomic<uint64_t> outstanding_{0};
  // Whether the last command's work ran longer than the spin. After one did, Synchronize and the
  // idle worker sleep at once: the wake-up costs little next to such work, and a spinning thread
  // would take a core from the work's own threads (an OpenBLAS call fills every core).
  std::atomic<bool> last_work_long_{false};
  bool stop_ = false;
  bool faulted_ = false;
  std::string fault_message_;
  std::thread worker_;
};

// An event: the point of its latest recording (none until first recorded, which counts as
// complete). Its timing flag is the runtime's to check.
class Event {
 public:
  porta_status_t Record(Stream* stream, porta_be_msg msg);
  // Makes |stream| wait for the current recording.
  porta_status_t MakeStreamWait(Stream* stream, porta_be_msg msg);
  porta_status_t Wait(uint64_t timeout_ns, porta_be_msg msg);
  porta_status_t Query(porta_be_msg msg);
  static porta_status_t ElapsedMs(Event* start, Event* end, float* out_ms, porta_be_msg msg);

 private:
  std::shared_ptr<common::EventPoint> Current();

  std::mutex mutex_;
  std::shared_ptr<common::EventPoint> point_;
};

// Handle conversions. Each handle type maps to exactly one object type.
inline Backend* ToBackend(porta_be_backend_t h) {
  return reinterpret_cast<Backend*>(h);
}
inline Device* ToDevice(porta_be_device_t h) {
  return reinterpret_cast<Device*>(h);
}
inline Buffer* ToBuffer(porta_be_buffer_t h) {
  return reinterpret_cast<Buffer*>(h);
}
inline Stream* ToStream(porta_be_stream_t h) {
  return reinterpret_cast<Stream*>(h);
}
inline Event* ToEvent(porta_be_event_t h) {
  return reinterpret_cast<Event*>(h);
}
inline Module* ToModule(porta_be_module_t h) {
  return reinterpret_cast<Module*>(h);
}
inline Kernel* ToKernel(porta_be_kernel_t h) {
  return reinterpret_cast<Kernel*>(h);
}
inline Graph* ToGraph(porta_be_graph_t h) {
  return reinterpret_cast<Graph*>(h);
}

// The work of one launch of |kernel|, its arguments (checked by the runtime) copied and packed
// here, once (cpu_module.cpp).
Work MakeLaunchWork(Device* device, const Kernel* kernel, const porta_launch_config_t* config,
                    const porta_be_arg_t* args, uint32_t arg_count);

// The work of a byte move (memmove: host pointers may alias buffer memory) and of a fill with a
// 1-, 2- or 4-byte pattern (cpu_memory.cpp).
Work MakeMoveWork(void* dst, const void* src, uint64_t size);
Work MakeFillWork(uint8_t* target, uint64_t size, const void* pattern, uint32_t pattern_size);

}  // namespace porta::cpu

#endif  // PORTA_BACKENDS_CPU_CPU_OBJECTS_H_
