// The work-group thread pool a CPU device shares between all of its streams.
#ifndef PORTA_BACKENDS_CPU_THREAD_POOL_H_
#define PORTA_BACKENDS_CPU_THREAD_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace porta::cpu {

// Per-thread scratch memory for a work-group's dynamic local memory, 64-byte aligned and grown on
// demand, so a launch does not allocate once per group.
class Scratch {
 public:
  Scratch() = default;
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  // Returns at least |size| bytes (size > 0), or nullptr when the host is out of memory.
  void* Get(size_t size);

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// A fixed set of threads that execute the index ranges of parallel jobs. The thread that submits
// a job executes its indices too and only waits for indices another thread has already started,
// so several streams launching at once always make progress even when every pool thread is busy
// with another stream's job.
class ThreadPool {
 public:
  // Called once per index with the scratch of the executing thread.
  using Body = std::function<void(uint64_t index, Scratch& scratch)>;

  // Starts |thread_count| threads (may be 0: then submitters run everything themselves). Throws
  // std::system_error when a thread cannot be started.
  explicit ThreadPool(unsigned thread_count);
  // Joins every thread. No Run may be in progress.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs body(i) for every i in [0, count) and returns once all calls have returned. The caller
  // executes indices itself, with |caller_scratch|.
  void Run(uint64_t count, const Body& body, Scratch& caller_scratch);

  unsigned thread_count() const { return static_cast<unsigned>(threads_.size()); }

 private:
  struct Job;

  void WorkerLoop();
  static void Drain(Job& job, Scratch& scratch);
  void Remove(const std::shared_ptr<Job>& job);

  std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::shared_ptr<Job>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace porta::cpu

#endif  // PORTA_BACKENDS_CPU_THREAD_POOL_H_
