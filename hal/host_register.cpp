// Host memory registration: the public calls, the per-device table of ranges, and the copies
// queued through a backend registration.
#include "hal/host_register.h"

#include <algorithm>
#include <string>

#include "hal/runtime.h"
#include "hal/slot_guard.h"
#include "hal/stream_ops.h"

namespace porta::hal {

HostRegistration::HostRegistration(Device* device, uintptr_t base, uint64_t size)
    : Object(HandleType::kHostRegistration), device_(device), base_(base), size_(size) {}

HostRegistration::~HostRegistration() {
  porta_be_host_registration_t be = be_.load(std::memory_order_acquire);
  if (be != nullptr) PORTA_SLOT_CALL(device_->table(), host_unregister, be);
}

void HostRegistration::NoteUse(Stream& stream) {
  // The caller holds the stream's lock, so the work about to be queued takes the next number.
  const uint64_t sequence = stream.sequence() + 1;
  std::lock_guard<std::mutex> lock(mutex_);
  // Uses whose work the runtime has seen complete need no wait any more.
  std::erase_if(uses_, [](const Use& use) {
    return use.progress->completed.load(std::memory_order_acquire) >= use.sequence;
  });
  for (Use& use : uses_) {
    if (use.stream_handle == stream.handle()) {
      use.sequence = sequence;
      return;
    }
  }
  uses_.push_back(Use{stream.handle(), stream.progress, sequence});
}

template <typename RegisteredFn, typename OrdinaryFn>
porta_status_t HostRegistration::Queue(Stream& stream, const uint8_t* host, bool has_slot,
                                       RegisteredFn&& registered, OrdinaryFn&& ordinary) {
  porta_status_t status = PORTA_ERROR_UNSUPPORTED;
  porta_be_host_registration_t be = be_.load(std::memory_order_acquire);
  if (be != nullptr && has_slot) status = registered(be, reinterpret_cast<uintptr_t>(host) - base_);
  if (status == PORTA_ERROR_UNSUPPORTED) status = ordinary();
  if (status == PORTA_OK) NoteUse(stream);
  return status;
}

porta_status_t HostRegistration::CopyHostToDevice(Stream& stream, porta_be_buffer_t buffer,
                                                  uint64_t offset, const uint8_t* host,
                                                  uint64_t size, porta_be_msg msg) {
  const porta_backend_table_t& t = device_->table();
  return Queue(
      stream, host, t.copy_host_to_device_registered != nullptr,
      [&](porta_be_host_registration_t be, uint64_t host_offset) {
        return PORTA_SLOT_CALL(t, copy_host_to_device_registered, stream.be, buffer, offset, be,
                               host_offset, host, size, msg);
      },
      [&] {
        return PORTA_SLOT_CALL(t, copy_host_to_device, stream.be, buffer, offset, host, size, msg);
      });
}

porta_status_t HostRegistration::CopyDeviceToHost(Stream& stream, uint8_t* host,
                                                  porta_be_buffer_t buffer, uint64_t offset,
                                                  uint64_t size, porta_be_msg msg) {
  const porta_backend_table_t& t = device_->table();
  return Queue(
      stream, host, t.copy_device_to_host_registered != nullptr,
      [&](porta_be_host_registration_t be, uint64_t host_offset) {
        return PORTA_SLOT_CALL(t, copy_device_to_host_registered, stream.be, be, host_offset, host,
                               buffer, offset, size, msg);
      },
      [&] {
        return PORTA_SLOT_CALL(t, copy_device_to_host, stream.be, host, buffer, offset, size, msg);
      });
}

void HostRegistration::Drain() {
  std::vector<Use> uses;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uses.swap(uses_);
  }
  for (const Use& use : uses) {
    if (use.progress->completed.load(std::memory_order_acquire) >= use.sequence) continue;
    const char* actual = nullptr;
    Ref<Object> object = Registry::Acquire(reinterpret_cast<const void*>(use.stream_handle),
                                           HandleType::kStream, &actual);
    // A stream that is no longer live is being destroyed, which waits for its work and releases
    // what it held, this registration included.
    if (!object) continue;
    Stream& stream = static_cast<Stream&>(*object);
    std::lock_guard<std::mutex> lock(stream.mutex);
    // Waits on the backend directly, as porta_stream_destroy does: the work is finished even when
    // the stream carries a sticky error, and a capture in progress is not disturbed.
    const uint64_t sequence = stream.sequence();
    BackendMessage message;
    const porta_status_t status =
        PORTA_SLOT_CALL(device_->table(), stream_synchronize, stream.be, message.get());
    if (status == PORTA_OK) {
      stream.ReleaseUpTo(sequence);
      ResolveWaits(stream, sequence);
    } else if (status == PORTA_ERROR_DEVICE_LOST) {
      stream.SetSticky(status, message.text());
    } else {
      const std::string text = "porta_host_unregister: waiting for the copies of a stream of " +
                               device_->label() + " failed: " + message.text();
      Log(PORTA_LOG_WARNING, text.c_str());
    }
  }
}

bool HostRegistry::Add(const Ref<HostRegistration>& registration, uintptr_t* overlap_base,
                       uint64_t* overlap_size) {
  const uintptr_t begin = registration->base();
  const uintptr_t end = begin + registration->size();
  std::lock_guard<std::mutex> lock(mutex_);
  // The first range that starts at or after |begin|, and the one before it.
  auto next = ranges_.lower_bound(begin);
  const HostRegistration* hit = nullptr;
  if (next != ranges_.end() && next->first < end) hit = next->second.get();
  if (hit == nullptr && next != ranges_.begin()) {
    const HostRegistration* previous = std::prev(next)->second.get();
    if (previous->base() + previous->size() > begin) hit = previous;
  }
  if (hit != nullptr) {
    *overlap_base = hit->base();
    *overlap_size = hit->size();
    return false;
  }
  ranges_.emplace(begin, registration);
  count_.fetch_add(1, std::memory_order_release);
  return true;
}

Ref<HostRegistration> HostRegistry::Remove(uintptr_t base, uintptr_t* within_base,
                                           uint64_t* within_size) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = ranges_.find(base);
  if (it == ranges_.end()) {
    auto next = ranges_.upper_bound(base);
    if (next != ranges_.begin()) {
      const HostRegistration* previous = std::prev(next)->second.get();
      if (base - previous->base() < previous->size()) {
        *within_base = previous->base();
        *within_size = previous->size();
      }
    }
    return Ref<HostRegistration>();
  }
  Ref<HostRegistration> registration = std::move(it->second);
  ranges_.erase(it);
  count_.fetch_sub(1, std::memory_order_release);
  return registration;
}

Ref<HostRegistration> HostRegistry::Find(uintptr_t begin, uintptr_t end) {
  if (count_.load(std::memory_order_acquire) == 0) return Ref<HostRegistration>();
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = ranges_.upper_bound(begin);
  if (next == ranges_.begin()) return Ref<HostRegistration>();
  const Ref<HostRegistration>& candidate = std::prev(next)->second;
  if (end - candidate->base() > candidate->size()) {
    return Ref<HostRegistration>();
  }
  return candidate;
}

void HostRegistry::Clear() {
  std::map<uintptr_t, Ref<HostRegistration>> ranges;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges.swap(ranges_);
    count_.store(0, std::memory_order_release);
  }
}

}  // namespace porta::hal

using porta::hal::BackendFail;
using porta::hal::BackendMessage;
using porta::hal::Device;
using porta::hal::Fail;
using porta::hal::HostRegistration;
using porta::hal::Lookup;
using porta::hal::Ref;

extern "C" {

PORTA_API porta_status_t porta_host_register(porta_device_t device, void* ptr, uint64_t size,
                                             uint32_t flags) try {
  constexpr const char* kFn = "porta_host_register";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (ptr == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "ptr is NULL");
  if (size == 0) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "size is 0");
  const uintptr_t base = reinterpret_cast<uintptr_t>(ptr);
  if (size > UINTPTR_MAX - base) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "ptr %p + size %llu wraps around the address space", ptr,
                static_cast<unsigned long long>(size));
  }
  if (flags != PORTA_HOST_REGISTER_DEFAULT) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "flags 0x%x has unknown bits; use PORTA_HOST_REGISTER_DEFAULT", flags);
  }
  // The range is claimed first, so that an overlap is refused before the driver sees it and two
  // threads registering overlapping ranges cannot both reach the backend. Until the backend's
  // registration is in, copies from the range take the ordinary path.
  Ref<HostRegistration> registration =
      Ref<HostRegistration>::Adopt(new HostRegistration(dev.get(), base, size));
  uintptr_t overlap_base = 0;
  uint64_t overlap_size = 0;
  if (!dev->host_registry().Add(registration, &overlap_base, &overlap_size)) {
    return Fail(PORTA_ERROR_INVALID_OPERATION, kFn,
                "the range [ptr %p, size %llu] overlaps the range [%p, size %llu] already "
                "registered with device %s",
                ptr, static_cast<unsigned long long>(size), reinterpret_cast<void*>(overlap_base),
                static_cast<unsigned long long>(overlap_size), dev->label().c_str());
  }
  const porta_backend_table_t& table = dev->table();
  // A backend without the pair of slots keeps a runtime-only registration.
  if (table.host_register == nullptr || table.host_unregister == nullptr) return PORTA_OK;
  BackendMessage message;
  porta_be_host_registration_t be = nullptr;
  status = PORTA_SLOT_CALL(table, host_register, dev->be(), ptr, size, flags, &be, message.get());
  if (status == PORTA_ERROR_UNSUPPORTED) {
    // Not an error: the range stays recorded and copies take the ordinary path; say why.
    const std::string text = "porta_host_register: " + dev->label() +
                             " keeps a runtime-only registration: " + message.text();
    porta::hal::Log(PORTA_LOG_INFO, text.c_str());
    return PORTA_OK;
  }
  status = porta::hal::Created(status, be, "host registration", &message);
  if (status != PORTA_OK) {
    uintptr_t within_base = 0;
    uint64_t within_size = 0;
    dev->host_registry().Remove(base, &within_base, &within_size);
    return BackendFail(status, kFn, *dev, message);
  }
  registration->Activate(be);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_host_register");
}

PORTA_API porta_status_t porta_host_unregister(porta_device_t device, void* ptr) try {
  constexpr const char* kFn = "porta_host_unregister";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (ptr == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "ptr is NULL");
  uintptr_t within_base = 0;
  uint64_t within_size = 0;
  Ref<HostRegistration> registration =
      dev->host_registry().Remove(reinterpret_cast<uintptr_t>(ptr), &within_base, &within_size);
  if (!registration) {
    if (within_size != 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                  "ptr %p lies inside the range [%p, size %llu] registered with device %s; pass "
                  "the range's start",
                  ptr, reinterpret_cast<void*>(within_base),
                  static_cast<unsigned long long>(within_size), dev->label().c_str());
    }
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "ptr %p is not registered with device %s", ptr,
                dev->label().c_str());
  }
  // New copies no longer find the range; wait for those already queued from or to it, so that
  // the backend registration goes with the last reference, dropped here.
  registration->Drain();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_host_unregister");
}

}  // extern "C"
