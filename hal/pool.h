// The per-device caching allocator behind porta_buffer_alloc_async and porta_buffer_free_async:
// whole backend buffers as blocks in size classes, reuse in stream order, a limit, trimming and
// the statistics of porta_device_pool_get_stats.
#ifndef PORTA_HAL_POOL_H_
#define PORTA_HAL_POOL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "porta/porta.h"
#include "porta/porta_backend.h"

namespace porta::hal {

class Device;
class DevicePool;
class Stream;

// How far one stream's work is known to have completed. Shared by the stream and by the pool
// blocks freed on it, which may outlive the stream.
struct StreamProgress {
  explicit StreamProgress(uint64_t id) : id(id) {}
  // Unique for the life of the process (an address could be reused by a later stream).
  const uint64_t id;
  // Every piece of the stream's work numbered up to this has completed.
  std::atomic<uint64_t> completed{0};

  void Advance(uint64_t sequence) {
    uint64_t seen = completed.load(std::memory_order_relaxed);
    while (seen < sequence &&
           !completed.compare_exchange_weak(seen, sequence, std::memory_order_release,
                                            std::memory_order_relaxed)) {
    }
  }
};

// One backend buffer of a pool. The cache and every Buffer object lent the block (the current one
// and earlier ones that queued work may still hold) share it; the backend buffer is freed when the
// last of them lets go, so a trimmed block stays valid for the work that still uses it.
class PoolBlock {
 public:
  PoolBlock(DevicePool* pool, porta_be_buffer_t be, uint64_t capacity, porta_memory_kind_t kind)
      : pool_(pool), be_(be), capacity_(capacity), kind_(kind) {}
  ~PoolBlock();
  PoolBlock(const PoolBlock&) = delete;
  PoolBlock& operator=(const PoolBlock&) = delete;

  porta_be_buffer_t be() const { return be_; }
  uint64_t capacity() const { return capacity_; }
  porta_memory_kind_t kind() const { return kind_; }

 private:
  DevicePool* pool_;
  porta_be_buffer_t be_;
  uint64_t capacity_;
  porta_memory_kind_t kind_;
};

// The pool of one device. Thread-safe. Backend calls (allocation, and the frees that dropping a
// block causes) happen outside its lock.
class DevicePool {
 public:
  // Reads PORTA_POOL: "0" turns caching off.
  explicit DevicePool(Device& device);
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  bool enabled() const { return enabled_; }

  // Lends a block of at least |size| bytes of |kind| for work queued on |stream|: a cached block
  // that |stream| is ordered after, else a new one from the backend. On failure the thread's last
  // error names |function|. The arguments are already validated.
  porta_status_t Allocate(const char* function, Stream& stream, uint64_t size,
                          porta_memory_kind_t kind, std::shared_ptr<PoolBlock>* out);
  // Takes back a lent block. It was freed in stream order after work |sequence| of the stream
  // |progress| tracks, or, when |progress| is null, it is free for every stream at once.
  // |count_free|: counts a porta_buffer_free_async call.
  void Return(std::shared_ptr<PoolBlock> block, std::shared_ptr<StreamProgress> progress,
              uint64_t sequence, bool count_free);
  // Releases cached blocks, least recently freed first, until at most |keep_bytes| are cached.
  void Trim(uint64_t keep_bytes);
  void SetLimit(uint64_t limit_bytes);
  porta_pool_stats_t Stats();
  // Counts the porta_buffer_*_async calls that do not go through Allocate and Return: every
  // call when pooling is off, and frees of buffers that are not the pool's.
  void CountRawAlloc();
  void CountFree();

 private:
  friend class PoolBlock;

  // A cached block and the point after which it is free.
  struct Cached {
    std::shared_ptr<PoolBlock> block;
    std::shared_ptr<StreamProgress> progress;  // null: free for every stream
    uint64_t sequence = 0;
    uint64_t order = 0;  // when it was freed, for least-recently-freed trimming
  };

  // Whether work queued on |stream| from now on runs after |cached|'s free.
  static bool ReadyFor(const Cached& cached, Stream& stream);
  // Called by ~PoolBlock once the backend buffer is freed.
  void BlockFreed(uint64_t capacity);
  // Moves cached blocks out, least recently freed first, until |bytes| of them are taken or the
  // cache is empty. The caller holds mutex_ and drops |out| after unlocking it.
  void TakeOldest(uint64_t bytes, std::vector<std::shared_ptr<PoolBlock>>* out);

  Device& device_;
  const bool enabled_;
  std::mutex mutex_;  // guards everything below
  // Cached blocks by kind and size class; the most recently freed at the back of each list.
  std::vector<std::vector<Cached>> lists_;
  uint64_t next_order_ = 0;
  porta_pool_stats_t stats_;
};

}  // namespace porta::hal

#endif  // PORTA_HAL_POOL_H_
