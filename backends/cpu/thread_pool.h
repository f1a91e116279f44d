// The work-group thread pool a CPU device shares between all of its streams.
#ifndef PORTA_BACKENDS_CPU_THREAD_POOL_H_
#define PORTA_BACKENDS_CPU_THREAD_POOL_H_

#include <atomic>
#include <chrono>
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

// How long a stream's worker looks for new work, Synchronize for completion, and an idle pool
// thread for the next job, before going to sleep on a condition variable. Waking a sleeping
// thread costs tens of microseconds on virtual machines, which dominated launch-to-completion
// latency and kept the pool thread out of short back-to-back launches (a model's small ops). The
// spin pauses rather than yields: on a machine busy with other processes, sched_yield hands the
// core to them for a whole time slice (measured: 2.3 ms per launch + synchronize on the 2-core VM
// during a build, against 5 us for a condition-variable handoff), while a bounded pause loop
// costs at most kSpin.
constexpr auto kSpin = std::chrono::microseconds(50);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spins until |done| returns true or kSpin has passed.
template <typename Done>
void SpinBriefly(Done&& done) {
  const auto end = std::chrono::steady_clock::now() + kSpin;
  while (!done() && std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 16; ++i) CpuRelax();
  }
}

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
  // jobs_.size(), for the spin of idle threads, which reads it without |mutex_|.
  std::atomic<size_t> job_count_{0};
  // Threads waiting on |work_available_| (under |mutex_|): Run notifies only when one sleeps.
  unsigned sleeping_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace porta::cpu

#endif  // PORTA_BACKENDS_CPU_THREAD_POOL_H_
