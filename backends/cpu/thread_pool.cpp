#include "backends/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace porta::cpu {

namespace {
constexpr size_t kScratchAlignment = 64;
}  // namespace

Scratch::~Scratch() {
  std::free(data_);
}

void* Scratch::Get(size_t size) {
  if (size <= capacity_) return data_;
  const size_t rounded = (size + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
  if (rounded < size) return nullptr;
  void* fresh = nullptr;
  if (posix_memalign(&fresh, kScratchAlignment, rounded) != 0) return nullptr;
  std::free(data_);
  data_ = fresh;
  capacity_ = rounded;
  return data_;
}

// One Run call. Threads claim chunks of indices with |next|; the last chunk to finish wakes the
// submitter. Pool threads hold the job by shared_ptr, so it outlives a submitter that returned
// while a pool thread was still looking at an exhausted job.
struct ThreadPool::Job {
  const Body* body = nullptr;
  uint64_t count = 0;
  uint64_t chunk = 1;
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> remaining{0};
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
};

ThreadPool::ThreadPool(unsigned thread_count) {
  threads_.reserve(thread_count);
  try {
    for (unsigned i = 0; i < thread_count; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_available_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_available_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void ThreadPool::Drain(Job& job, Scratch& scratch) {
  for (;;) {
    // Checking before the fetch_add keeps |next| from creeping past |count| without bound.
    if (job.next.load(std::memory_order_relaxed) >= job.count) return;
    const uint64_t begin = job.next.fetch_add(job.chunk, std::memory_order_relaxed);
    if (begin >= job.count) return;
    const uint64_t end = std::min(job.count, begin + job.chunk);
    for (uint64_t i = begin; i < end; ++i) (*job.body)(i, scratch);
    // acq_rel: the submitter must see every write the body made before it is told to go on.
    if (job.remaining.fetch_sub(end - begin, std::memory_order_acq_rel) == end - begin) {
      std::lock_guard<std::mutex> lock(job.mutex);
      job.finished = true;
      job.finished_cv.notify_all();
    }
  }
}

void ThreadPool::Remove(const std::shared_ptr<Job>& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find(jobs_.begin(), jobs_.end(), job);
  if (it != jobs_.end()) jobs_.erase(it);
  job_count_.store(jobs_.size(), std::memory_order_relaxed);
}

void ThreadPool::WorkerLoop() {
  Scratch scratch;
  for (;;) {
    std::shared_ptr<Job> job;
    // A job submitted within kSpin of the last one finds this thread awake.
    SpinBriefly([this] { return job_count_.load(std::memory_order_relaxed) != 0; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleeping_;
      work_available_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      --sleeping_;
      if (jobs_.empty()) return;
      job = jobs_.front();
    }
    Drain(*job, scratch);
    // Every index is claimed now; later arrivals must not pick the job up again.
    Remove(job);
  }
}

void ThreadPool::Run(uint64_t count, const Body& body, Scratch& caller_scratch) {
  if (count == 0) return;
  if (count == 1 || threads_.empty()) {
    for (uint64_t i = 0; i < count; ++i) body(i, caller_scratch);
    return;
  }
  auto job = std::make_shared<Job>();
  job->body = &body;
  job->count = count;
  // A few chunks per thread balance uneven groups without an atomic per group.
  const uint64_t participants = threads_.size() + 1;
  job->chunk = std::max<uint64_t>(1, count / (participants * 4));
  job->remaining.store(count, std::memory_order_relaxed);
  unsigned sleeping = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(job);
    job_count_.store(jobs_.size(), std::memory_order_relaxed);
    sleeping = sleeping_;
  }
  // Spinning threads see the job themselves; only sleeping ones need a wake-up.
  const uint64_t chunks = (count + job->chunk - 1) / job->chunk;
  if (sleeping > 0 && chunks - 1 >= sleeping) {
    work_available_.notify_all();
  } else if (sleeping > 0) {
    for (uint64_t i = 0; i + 1 < chunks; ++i) work_available_.notify_one();
  }
  Drain(*job, caller_scratch);
  Remove(job);
  // The other threads' last chunks usually end within microseconds of this thread's: waiting for
  // them with a bounded spin saves the futex sleep and wake-up a condition variable costs on
  // every launch (acquire: pairs with the acq_rel decrement that finished each chunk).
  SpinBriefly([&job] { return job->remaining.load(std::memory_order_acquire) == 0; });
  if (job->remaining.load(std::memory_order_acquire) == 0) return;
  std::unique_lock<std::mutex> lock(job->mutex);
  job->finished_cv.wait(lock, [&job] { return job->finished; });
}

}  // namespace porta::cpu
