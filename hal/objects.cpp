// Error text, handle registry and object destructors.
#include "hal/objects.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "hal/graph.h"
#include "hal/host_register.h"
#include "hal/runtime.h"
#include "hal/slot_guard.h"

namespace porta::hal {
namespace {

constexpr size_t kMessageCapacity = 64 * 1024;

std::string& LastError() {
  thread_local std::string text;
  return text;
}

std::string FormatV(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int needed = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (needed <= 0) return std::string();
  std::string text(static_cast<size_t>(needed), '\0');
  std::vsnprintf(text.data(), text.size() + 1, format, args);
  return text;
}

// Handle values: kHandleTag in the top byte (so that a pointer or a random number is not taken for
// a handle), the slot's generation in the next 24 bits, the slot index + 1 in the low 32 bits.
constexpr uint64_t kHandleTag = uint64_t{0x5f} << 56;
constexpr uint64_t kGenerationMask = (uint64_t{1} << 24) - 1;
constexpr uint32_t kChunkBits = 12;
constexpr uint32_t kChunkSlots = uint32_t{1} << kChunkBits;
constexpr uint32_t kMaxChunks = uint32_t{1} << 14;  // 64 Mi live handles
// A freed slot is reused only after this many others were freed since, so that one slot's 24-bit
// generation takes far longer than a program's run to wrap.
constexpr size_t kReuseDelay = 1024;
static_assert(sizeof(uintptr_t) == 8, "handles carry a 64-bit slot index and generation");

struct Slot {
  std::atomic<bool> locked{false};
  uint32_t generation = 1;  // never 0, so that no handle value is the NULL handle's neighbour
  HandleType type = HandleType::kRuntime;
  Object* object = nullptr;  // nullptr while free
};

// A spin lock: a slot is held for a few instructions (check, take a reference).
class SlotLock {
 public:
  explicit SlotLock(Slot& slot) : slot_(slot) {
    while (slot_.locked.exchange(true, std::memory_order_acquire)) {
      while (slot_.locked.load(std::memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#else
        std::this_thread::yield();
#endif
      }
    }
  }
  ~SlotLock() {
    slot_.locked.store(false, std::memory_order_release);
  }
  SlotLock(const SlotLock&) = delete;
  SlotLock& operator=(const SlotLock&) = delete;

 private:
  Slot& slot_;
};

struct RegistryState {
  // Chunks are created on demand and never freed or moved, so a reader needs no lock to find one.
  std::atomic<Slot*> chunks[kMaxChunks] = {};
  std::atomic<uint32_t> used{0};  // slots handed out at least once
  std::mutex free_mutex;          // guards |free| and creating chunks
  std::deque<uint32_t> free;      // freed slot indices, oldest first
};

// The slot of |index| when its chunk exists.
Slot* SlotAt(RegistryState& state, uint32_t index) {
  Slot* chunk = state.chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index & (kChunkSlots - 1)];
}

// Source of StreamProgress ids.
std::atomic<uint64_t> next_stream_id{0};

RegistryState& State() {
  static RegistryState* state = new RegistryState();  // never destroyed: handles outlive statics
  return *state;
}

}  // namespace

porta_status_t Fail(porta_status_t status, const char* function, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string text = FormatV(format, args);
  va_end(args);
  LastError() = std::string(function) + ": " + text;
  return status;
}

porta_status_t ExceptionStatus(const char* function) noexcept {
  porta_status_t status = PORTA_ERROR_BACKEND;
  try {
    try {
      throw;
    } catch (const std::bad_alloc&) {
      status = PORTA_ERROR_OUT_OF_MEMORY;
      Fail(status, function, "host out of memory");
    } catch (const std::exception& e) {
      Fail(status, function, "internal error: %s", e.what());
    } catch (...) {
      Fail(status, function, "internal error (an exception of unknown type)");
    }
  } catch (...) {
    // No memory even for the message.
    LastError().clear();
  }
  return status;
}

const char* LastErrorText() {
  return LastError().c_str();
}

void SetLastErrorText(const char* text) {
  try {
    LastError() = text;
  } catch (...) {
    // Out of memory for the text: an empty message is better than an exception across the API.
    LastError().clear();
  }
}

BackendMessage::BackendMessage() {
  thread_local std::unique_ptr<char[]> storage(new char[kMessageCapacity]);
  msg_.text = storage.get();
  msg_.capacity = kMessageCapacity;
  msg_.text[0] = '\0';
}

void BackendMessage::Set(const std::string& text) {
  const size_t length = std::min(text.size(), msg_.capacity - 1);
  std::memcpy(msg_.text, text.data(), length);
  msg_.text[length] = '\0';
}

porta_status_t Created(porta_status_t status, const void* object, const char* what,
                       BackendMessage* message) {
  if (status != PORTA_OK || object != nullptr) return status;
  message->Set(std::string("the backend returned PORTA_OK but no ") + what);
  return PORTA_ERROR_BACKEND;
}

porta_status_t BackendFail(porta_status_t status, const char* function, const Device& device,
                           const BackendMessage& message) {
  const char* text = message.text()[0] != '\0' ? message.text() : "(no message from the backend)";
  if (status < PORTA_OK || status > PORTA_ERROR_INVALID_OPERATION) {
    return Fail(PORTA_ERROR_BACKEND, function,
                "%s (%s backend) returned status %d, which is not a porta_status_t: %s",
                device.label().c_str(), device.table().name, static_cast<int>(status), text);
  }
  return Fail(status, function, "%s (%s backend): %s", device.label().c_str(), device.table().name,
              text);
}

const char* HandleTypeName(HandleType type) {
  switch (type) {
    case HandleType::kRuntime:
      return "porta_runtime_t";
    case HandleType::kDevice:
      return "porta_device_t";
    case HandleType::kBuffer:
      return "porta_buffer_t";
    case HandleType::kStream:
      return "porta_stream_t";
    case HandleType::kEvent:
      return "porta_event_t";
    case HandleType::kModule:
      return "porta_module_t";
    case HandleType::kKernel:
      return "porta_kernel_t";
    case HandleType::kGraph:
      return "porta_graph_t";
    case HandleType::kGraphExec:
      return "porta_graph_exec_t";
    case HandleType::kHostRegistration:
      return "host registration";
  }
  return "unknown handle";
}

void Registry::Add(Object* object, HandleType type) {
  RegistryState& state = State();
  uint32_t index = 0;
  {
    std::lock_guard<std::mutex> lock(state.free_mutex);
    if (state.free.size() > kReuseDelay) {
      index = state.free.front();
      state.free.pop_front();
    } else {
      index = state.used.load(std::memory_order_relaxed);
      if (index == kMaxChunks * kChunkSlots) throw std::bad_alloc();
      if ((index & (kChunkSlots - 1)) == 0) {
        state.chunks[index >> kChunkBits].store(new Slot[kChunkSlots], std::memory_order_release);
      }
      state.used.store(index + 1, std::memory_order_release);
    }
  }
  Slot& slot = *SlotAt(state, index);
  SlotLock lock(slot);
  slot.type = type;
  slot.object = object;
  object->handle_ = static_cast<uintptr_t>(kHandleTag | (uint64_t{slot.generation} << 32) |
                                           (uint64_t{index} + 1));
}

bool Registry::Remove(Object* object) {
  RegistryState& state = State();
  const uint64_t value = object->handle_;
  const uint32_t index = static_cast<uint32_t>(value) - 1;
  Slot* slot = value == 0 ? nullptr : SlotAt(state, index);
  if (slot == nullptr) return false;
  {
    SlotLock lock(*slot);
    if (slot->object != object || slot->generation != ((value >> 32) & kGenerationMask)) {
      return false;
    }
    slot->object = nullptr;
    slot->generation = slot->generation == kGenerationMask ? 1 : slot->generation + 1;
  }
  std::lock_guard<std::mutex> lock(state.free_mutex);
  try {
    state.free.push_back(index);
  } catch (const std::bad_alloc&) {
    // Without memory to note it, the slot is never reused; its handle stays dead either way.
  }
  return true;
}

bool Registry::IsLive(const Object* object) {
  const uint64_t value = object->handle_;
  Slot* slot = value == 0 ? nullptr : SlotAt(State(), static_cast<uint32_t>(value) - 1);
  if (slot == nullptr) return false;
  SlotLock lock(*slot);
  return slot->object == object && slot->generation == ((value >> 32) & kGenerationMask);
}

porta_status_t DeviceHandleOf(const char* function, const Device& device, const char* what,
                              porta_device_t* out_device) {
  if (!Registry::IsLive(&device)) {
    return Fail(PORTA_ERROR_INVALID_OPERATION, function,
                "the %s's device %s was closed with its runtime (porta_runtime_destroy); the %s "
                "itself stays usable until it is destroyed",
                what, device.label().c_str(), what);
  }
  *out_device = ToHandle<porta_device_t>(&device);
  return PORTA_OK;
}

Ref<Object> Registry::Acquire(const void* handle, HandleType type, const char** actual) {
  *actual = nullptr;
  RegistryState& state = State();
  const auto value = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(handle));
  const uint32_t low = static_cast<uint32_t>(value);
  if ((value & (uint64_t{0xff} << 56)) != kHandleTag || low == 0 ||
      low > state.used.load(std::memory_order_acquire)) {
    return Ref<Object>();
  }
  Slot* slot = SlotAt(state, low - 1);
  if (slot == nullptr) return Ref<Object>();
  SlotLock lock(*slot);
  if (slot->object == nullptr || slot->generation != ((value >> 32) & kGenerationMask)) {
    return Ref<Object>();
  }
  if (slot->type != type) {
    *actual = HandleTypeName(slot->type);
    return Ref<Object>();
  }
  // The registered object holds the application's reference until Remove, which needs this lock.
  return Ref<Object>::Share(slot->object);
}

Device::Device(Runtime* runtime, LoadedBackend* backend, porta_be_device_t be, uint32_t index,
               const porta_device_info_t& info)
    : Object(HandleType::kDevice, runtime),
      runtime_(runtime),
      backend_(backend),
      be_(be),
      info_(info),
      label_(std::string(backend->table.name) + ":" + std::to_string(index)),
      pool_(std::make_unique<DevicePool>(*this)),
      host_registry_(std::make_unique<HostRegistry>()) {
  // Without the graph slots (or with PORTA_GRAPH_NATIVE=0) nothing replays natively, whatever
  // the backend said.
  if (!NativeGraphsEnabled(backend->table)) info_.capabilities &= ~PORTA_CAP_NATIVE_GRAPHS;
}

Device::~Device() {
  // Registrations the application left, and the pool's cached blocks, are backend objects of
  // this device.
  host_registry_.reset();
  pool_.reset();
  PORTA_SLOT_CALL(backend_->table, device_close, be_);
}

const porta_backend_table_t& Device::table() const {
  return backend_->table;
}

porta_status_t Device::AllocateBuffer(uint64_t size, porta_memory_kind_t kind,
                                      porta_be_buffer_t* out, BackendMessage* message) {
  *out = nullptr;
  const uint64_t limit = info_.global_memory_bytes;
  // Reserved before the backend call so that concurrent allocations meet the limit together.
  uint64_t held = allocated_bytes_.load(std::memory_order_relaxed);
  do {
    if (limit != 0 && (held > limit || size > limit - held)) {
      char text[256];
      std::snprintf(text, sizeof(text),
                    "%llu bytes would take the buffers of the device to %llu bytes, beyond its "
                    "global_memory_bytes (%llu); %llu bytes are allocated",
                    static_cast<unsigned long long>(size),
                    static_cast<unsigned long long>(held + size),
                    static_cast<unsigned long long>(limit), static_cast<unsigned long long>(held));
      message->Set(text);
      return PORTA_ERROR_OUT_OF_MEMORY;
    }
  } while (!allocated_bytes_.compare_exchange_weak(held, held + size, std::memory_order_relaxed));
  porta_status_t status =
      PORTA_SLOT_CALL(table(), buffer_alloc, be_, size, kind, out, message->get());
  status = Created(status, *out, "buffer", message);
  if (status != PORTA_OK) {
    *out = nullptr;
    allocated_bytes_.fetch_sub(size, std::memory_order_relaxed);
  }
  return status;
}

void Device::FreeBuffer(porta_be_buffer_t be, uint64_t size) {
  PORTA_SLOT_CALL(table(), buffer_free, be);
  allocated_bytes_.fetch_sub(size, std::memory_order_relaxed);
}

Buffer::~Buffer() {
  if (mapped.load()) {
    BackendMessage message;
    PORTA_SLOT_CALL(device->table(), buffer_unmap, be, message.get());
  }
  if (imported) {
    PORTA_SLOT_CALL(device->table(), buffer_free, be);
    if (release != nullptr) release(release_user_data);
  } else if (!block) {
    device->FreeBuffer(be, size);
  } else if (!block_returned) {
    device->pool().Return(std::move(block), nullptr, 0, false);
  }
}

Kernel::Kernel(Module* module, porta_be_kernel_t be, std::string name)
    : Object(HandleType::kKernel, module), module(module), be(be), name(std::move(name)) {}

Module::~Module() {
  kernels.clear();
  PORTA_SLOT_CALL(device->table(), module_destroy, be);
}

Stream::Stream(Ref<Device> device, porta_be_stream_t be)
    : Object(HandleType::kStream),
      device(std::move(device)),
      be(be),
      progress(std::make_shared<StreamProgress>(next_stream_id.fetch_add(1) + 1)) {}

Stream::~Stream() {
  PORTA_SLOT_CALL(device->table(), stream_destroy, be);
  // Uses a ReleaseUpTo could not take for want of memory; the work is done after destroy.
  for (const Pending& pending : pending_) pending.object->Release();
}

porta_status_t Stream::CheckSticky(const char* function) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  if (sticky_status_ == PORTA_OK) return PORTA_OK;
  return Fail(sticky_status_, function, "stream has a sticky error from earlier work: %s",
              sticky_message_.c_str());
}

void Stream::SetSticky(porta_status_t status, const std::string& message) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  if (sticky_status_ != PORTA_OK) return;
  sticky_status_ = status;
  sticky_message_ = message;
}

uint64_t Stream::AddWork(UseList& uses, size_t* out_pending) {
  std::unique_lock<std::mutex> lock(pending_mutex_);
  const uint64_t sequence = sequence_.load(std::memory_order_relaxed) + 1;
  size_t added = 0;
  bool noted = true;
  try {
    for (; added < uses.size(); ++added) {
      pending_.push_back(Pending{sequence, uses.data()[added]});
    }
    uses.Clear();
  } catch (const std::bad_alloc&) {
    for (; added > 0; --added) pending_.pop_back();
    noted = false;
  }
  if (out_pending != nullptr) *out_pending = pending_.size();
  sequence_.store(sequence, std::memory_order_release);
  lock.unlock();
  if (!noted) {
    // No host memory to note what the work uses, and the work is already queued: wait for it
    // here, so that |uses| releases its references only once nothing can touch them.
    BackendMessage message;
    PORTA_SLOT_CALL(device->table(), stream_synchronize, be, message.get());
  }
  return sequence;
}

void Stream::ReleaseUpTo(uint64_t sequence) {
  std::vector<Object*> done;
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    while (!pending_.empty() && pending_.front().sequence <= sequence) {
      try {
        done.push_back(pending_.front().object);
      } catch (const std::bad_alloc&) {
        break;  // the rest stays pending, released by a later call or with the stream
      }
      pending_.pop_front();
    }
  }
  progress->Advance(sequence);
  // Released outside the lock: dropping the last reference calls into the backend.
  for (Object* object : done) object->Release();
}

void Stream::NoteOrderedAfter(uint64_t stream_id, uint64_t sequence) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  for (auto it = ordered_after_.begin(); it != ordered_after_.end(); ++it) {
    if (it->first == stream_id) {
      sequence = std::max(sequence, it->second);
      ordered_after_.erase(it);
      break;
    }
  }
  if (ordered_after_.size() == kOrderedAfterCapacity) ordered_after_.erase(ordered_after_.begin());
  ordered_after_.emplace_back(stream_id, sequence);
}

uint64_t Stream::OrderedAfter(uint64_t stream_id) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  for (const auto& entry : ordered_after_) {
    if (entry.first == stream_id) return entry.second;
  }
  return 0;
}

porta_status_t Stream::Sticky(std::string* message) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  if (sticky_status_ != PORTA_OK) *message = sticky_message_;
  return sticky_status_;
}

void Stream::AddWait(Wait wait) {
  std::lock_guard<std::mutex> lock(waits_mutex_);
  waits_.push_back(std::move(wait));
}

std::vector<Stream::Wait> Stream::TakeWaitsUpTo(uint64_t sequence) {
  std::vector<Wait> taken;
  std::vector<Wait> kept;
  std::lock_guard<std::mutex> lock(waits_mutex_);
  for (Wait& wait : waits_) (wait.sequence <= sequence ? taken : kept).push_back(std::move(wait));
  waits_.swap(kept);
  return taken;
}

void Stream::ClearWaits() {
  std::vector<Wait> dropped;
  {
    std::lock_guard<std::mutex> lock(waits_mutex_);
    dropped.swap(waits_);
  }
}

Event::~Event() {
  PORTA_SLOT_CALL(device->table(), event_destroy, be);
}

}  // namespace porta::hal
