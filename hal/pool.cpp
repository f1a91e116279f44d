// The per-device caching allocator: size classes, stream-ordered reuse, the limit and trimming.
#include "hal/pool.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "hal/objects.h"

namespace porta::hal {
namespace {

// The smallest block. Below it the backend's own per-buffer cost dominates anyway.
constexpr uint64_t kMinBlock = 256;
// Four classes per power of two above kMinBlock (x1.25, x1.5, x1.75, x2), so a block is at most
// 25% larger than the request it serves; index 0 is kMinBlock.
constexpr size_t kClassesPerKind = 1 + (64 - 8) * 4;
constexpr size_t kKinds = 2;

// The class |size| rounds up to, and that class's block size.
size_t ClassIndex(uint64_t size, uint64_t* class_size) {
  if (size <= kMinBlock) {
    *class_size = kMinBlock;
    return 0;
  }
  const int log2 = 63 - std::countl_zero(size - 1);  // >= 8
  const uint64_t step = uint64_t{1} << (log2 - 2);
  const uint64_t steps = (size - 1) / step + 1;  // 5..8
  *class_size = steps * step;
  return 1 + static_cast<size_t>(log2 - 8) * 4 + static_cast<size_t>(steps - 5);
}

size_t ListIndex(porta_memory_kind_t kind, size_t class_index) {
  return static_cast<size_t>(kind) * kClassesPerKind + class_index;
}

bool PoolEnabledByEnvironment() {
  const char* value = std::getenv("PORTA_POOL");
  return value == nullptr || std::strcmp(value, "0") != 0;
}

unsigned long long Ull(uint64_t value) {
  return static_cast<unsigned long long>(value);
}

}  // namespace

PoolBlock::~PoolBlock() {
  pool_->device_.FreeBuffer(be_, capacity_);
  pool_->BlockFreed(capacity_);
}

DevicePool::DevicePool(Device& device)
    : device_(device),
      enabled_(PoolEnabledByEnvironment()),
      lists_(kKinds * kClassesPerKind),
      stats_(PORTA_POOL_STATS_INIT) {
  stats_.enabled = enabled_ ? 1u : 0u;
}

DevicePool::~DevicePool() {
  // Every Buffer object held the device, so only the cache's references are left.
  std::vector<std::vector<Cached>> lists;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lists.swap(lists_);
  }
  lists.clear();
}

bool DevicePool::ReadyFor(const Cached& cached, Stream& stream) {
  if (!cached.progress || cached.progress.get() == stream.progress.get()) return true;
  if (cached.progress->completed.load(std::memory_order_acquire) >= cached.sequence) return true;
  return stream.OrderedAfter(cached.progress->id) >= cached.sequence;
}

porta_status_t DevicePool::Allocate(const char* function, Stream& stream, uint64_t size,
                                    porta_memory_kind_t kind, std::shared_ptr<PoolBlock>* out) {
  uint64_t capacity = 0;
  const size_t list_index = ListIndex(kind, ClassIndex(size, &capacity));
  // A class larger than the device allows falls back to a block of exactly the request.
  if (capacity > device_.info().max_allocation_bytes) capacity = size;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Cached>& list = lists_[list_index];
    for (size_t i = list.size(); i-- > 0;) {
      if (list[i].block->capacity() < size || !ReadyFor(list[i], stream)) continue;
      *out = std::move(list[i].block);
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      stats_.cached_bytes -= (*out)->capacity();
      stats_.in_use_bytes += (*out)->capacity();
      ++stats_.hit_count;
      ++stats_.alloc_count;
      return PORTA_OK;
    }
  }

  // A miss: make room under the limit, then ask the backend (outside the lock, which a slow
  // driver allocation must not hold).
  std::vector<std::shared_ptr<PoolBlock>> trimmed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stats_.limit_bytes != 0 && stats_.reserved_bytes + capacity > stats_.limit_bytes) {
      TakeOldest(stats_.reserved_bytes + capacity - stats_.limit_bytes, &trimmed);
    }
  }
  trimmed.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stats_.limit_bytes != 0 && stats_.reserved_bytes + capacity > stats_.limit_bytes) {
      return Fail(PORTA_ERROR_OUT_OF_MEMORY, function,
                  "a block of %llu bytes (for %llu requested) would take the pool of device %s to "
                  "%llu bytes, beyond its limit of %llu bytes (porta_device_pool_set_limit); "
                  "%llu bytes are in use and %llu still cached",
                  Ull(capacity), Ull(size), device_.label().c_str(),
                  Ull(stats_.reserved_bytes + capacity), Ull(stats_.limit_bytes),
                  Ull(stats_.in_use_bytes), Ull(stats_.cached_bytes));
    }
    // Reserved before the backend call so that concurrent misses respect the limit together.
    stats_.reserved_bytes += capacity;
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  }
  porta_be_buffer_t be = nullptr;
  BackendMessage message;
  porta_status_t status = device_.AllocateBuffer(capacity, kind, &be, &message);
  if (status == PORTA_ERROR_OUT_OF_MEMORY) {
    // The cache may be what fills the device: give it back and try once more.
    Trim(0);
    message.Set("");
    status = device_.AllocateBuffer(capacity, kind, &be, &message);
  }
  std::shared_ptr<PoolBlock> block;
  bool no_host_memory = false;
  if (status == PORTA_OK) {
    try {
      block = std::make_shared<PoolBlock>(this, be, capacity, kind);
    } catch (const std::bad_alloc&) {
      // No host memory to track the block: the backend buffer goes straight back.
      device_.FreeBuffer(be, capacity);
      no_host_memory = true;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (status != PORTA_OK || no_host_memory) {
    stats_.reserved_bytes -= capacity;
    if (no_host_memory) {
      return Fail(PORTA_ERROR_OUT_OF_MEMORY, function,
                  "no host memory to track a pool block of %llu bytes on device %s", Ull(capacity),
                  device_.label().c_str());
    }
    return BackendFail(status, function, device_, message);
  }
  *out = std::move(block);
  stats_.in_use_bytes += capacity;
  ++stats_.miss_count;
  ++stats_.alloc_count;
  return PORTA_OK;
}

void DevicePool::Return(std::shared_ptr<PoolBlock> block, std::shared_ptr<StreamProgress> progress,
                        uint64_t sequence, bool count_free) {
  uint64_t ignored = 0;
  const size_t list_index = ListIndex(block->kind(), ClassIndex(block->capacity(), &ignored));
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.in_use_bytes -= block->capacity();
  stats_.cached_bytes += block->capacity();
  if (count_free) ++stats_.free_count;
  lists_[list_index].push_back(
      Cached{std::move(block), std::move(progress), sequence, next_order_++});
}

void DevicePool::TakeOldest(uint64_t bytes, std::vector<std::shared_ptr<PoolBlock>>* out) {
  struct Position {
    uint64_t order;
    size_t list;
  };
  std::vector<Position> all;
  for (size_t list = 0; list < lists_.size(); ++list) {
    for (const Cached& cached : lists_[list]) all.push_back(Position{cached.order, list});
  }
  std::sort(all.begin(), all.end(),
            [](const Position& a, const Position& b) { return a.order < b.order; });
  uint64_t taken = 0;
  for (const Position& position : all) {
    if (taken >= bytes) break;
    std::vector<Cached>& list = lists_[position.list];
    auto found = std::find_if(list.begin(), list.end(),
                              [&](const Cached& c) { return c.order == position.order; });
    const uint64_t capacity = found->block->capacity();
    taken += capacity;
    stats_.cached_bytes -= capacity;
    ++stats_.trimmed_blocks;
    stats_.trimmed_bytes += capacity;
    out->push_back(std::move(found->block));
    list.erase(found);
  }
}

void DevicePool::Trim(uint64_t keep_bytes) {
  std::vector<std::shared_ptr<PoolBlock>> trimmed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stats_.cached_bytes > keep_bytes) TakeOldest(stats_.cached_bytes - keep_bytes, &trimmed);
  }
}

void DevicePool::SetLimit(uint64_t limit_bytes) {
  std::vector<std::shared_ptr<PoolBlock>> trimmed;
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.limit_bytes = limit_bytes;
  if (limit_bytes != 0 && stats_.reserved_bytes > limit_bytes) {
    TakeOldest(stats_.reserved_bytes - limit_bytes, &trimmed);
  }
  // |trimmed| is declared before the lock, so the blocks are freed after it is released.
}

porta_pool_stats_t DevicePool::Stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void DevicePool::CountRawAlloc() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.alloc_count;
  ++stats_.miss_count;
}

void DevicePool::CountFree() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.free_count;
}

void DevicePool::BlockFreed(uint64_t capacity) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.reserved_bytes -= capacity;
}

}  // namespace porta::hal
