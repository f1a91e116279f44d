// Host memory registration (porta_host_register): the per-device table of registered host ranges,
// and the registrations that copies queue through.
#ifndef PORTA_HAL_HOST_REGISTER_H_
#define PORTA_HAL_HOST_REGISTER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "hal/objects.h"
#include "porta/porta_backend.h"

namespace porta::hal {

// One registered range of one device. The device's table holds a reference until
// porta_host_unregister; every copy queued from or to the range holds one until it completes. The
// backend registration (null for a runtime-only one) is released with the last.
class HostRegistration final : public Object {
 public:
  // A runtime-only registration until Activate.
  HostRegistration(Device* device, uintptr_t base, uint64_t size);
  ~HostRegistration() override;

  // Takes over the backend's registration: copies from now on reach the registered slots.
  void Activate(porta_be_host_registration_t be) { be_.store(be, std::memory_order_release); }

  uintptr_t base() const { return base_; }
  uint64_t size() const { return size_; }
  // Queue one copy of |size| bytes between host memory |host| (inside the range) and |buffer| on
  // |stream|, whose lock the caller holds: through the backend's registered slot, or the ordinary
  // one for a runtime-only registration or when the backend declines. Either way the copy is
  // noted, so that Drain waits for it.
  porta_status_t CopyHostToDevice(Stream& stream, porta_be_buffer_t buffer, uint64_t offset,
                                  const uint8_t* host, uint64_t size, porta_be_msg msg);
  porta_status_t CopyDeviceToHost(Stream& stream, uint8_t* host, porta_be_buffer_t buffer,
                                  uint64_t offset, uint64_t size, porta_be_msg msg);

  // Blocks until every copy queued from or to the range so far has completed, and releases what
  // those streams' completed work held.
  void Drain();

 private:
  // The body of both copies: |registered|(be, offset into the range) where the backend has a
  // registration and |has_slot|, |ordinary|() where not or when it declines; notes the use.
  template <typename RegisteredFn, typename OrdinaryFn>
  porta_status_t Queue(Stream& stream, const uint8_t* host, bool has_slot,
                       RegisteredFn&& registered, OrdinaryFn&& ordinary);
  // Notes that the work |stream| is about to queue copies from or to the range. The caller holds
  // the stream's lock.
  void NoteUse(Stream& stream);

  Device* device_;  // outlives the registration: its table and its streams hold the references
  const uintptr_t base_;
  const uint64_t size_;
  std::atomic<porta_be_host_registration_t> be_{nullptr};
  // The last copy each stream queued through the registration, by the stream's handle (a stream
  // cannot be held here: it holds its device, whose table holds this registration).
  struct Use {
    uintptr_t stream_handle = 0;
    std::shared_ptr<StreamProgress> progress;
    uint64_t sequence = 0;
  };
  std::mutex mutex_;  // guards uses_
  std::vector<Use> uses_;
};

// The registered ranges of one device, sorted by start; no two overlap.
class HostRegistry {
 public:
  HostRegistry() = default;
  HostRegistry(const HostRegistry&) = delete;
  HostRegistry& operator=(const HostRegistry&) = delete;

  // Adds |registration| unless it overlaps a registered range; then returns false and writes
  // that range's start and size.
  bool Add(const Ref<HostRegistration>& registration, uintptr_t* overlap_base,
           uint64_t* overlap_size);
  // Removes and returns the registration that starts at |base|; an empty reference when none
  // does, with the range containing |base| (if any) written to |within_base| and |within_size|.
  Ref<HostRegistration> Remove(uintptr_t base, uintptr_t* within_base, uint64_t* within_size);
  // The registration whose range holds all of [begin, end); empty otherwise.
  Ref<HostRegistration> Find(uintptr_t begin, uintptr_t end);
  // Drops every registration (the device is closing).
  void Clear();

 private:
  std::mutex mutex_;  // guards ranges_
  std::map<uintptr_t, Ref<HostRegistration>> ranges_;
  // The number of ranges, so that copies on a device without any skip the lock.
  std::atomic<uint32_t> count_{0};
};

}  // namespace porta::hal

#endif  // PORTA_HAL_HOST_REGISTER_H_
