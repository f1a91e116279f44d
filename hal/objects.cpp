// Error text, handle registry and object destructors.
#include "hal/objects.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <shared_mutex>
#include <unordered_map>

#include "hal/runtime.h"

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

struct RegistryState {
  std::shared_mutex mutex;
  std::unordered_map<const void*, HandleType> live;
};

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

porta_status_t BackendFail(porta_status_t status, const char* function, const Device& device,
                           const BackendMessage& message) {
  const char* text = message.text()[0] != '\0' ? message.text() : "(no message from the backend)";
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
  }
  return "unknown handle";
}

void Registry::Add(const void* handle, HandleType type) {
  std::unique_lock<std::shared_mutex> lock(State().mutex);
  State().live[handle] = type;
}

bool Registry::Remove(const void* handle) {
  std::unique_lock<std::shared_mutex> lock(State().mutex);
  return State().live.erase(handle) != 0;
}

Ref<Object> Registry::Acquire(const void* handle, HandleType type, const char** actual) {
  std::shared_lock<std::shared_mutex> lock(State().mutex);
  auto it = State().live.find(handle);
  if (it == State().live.end()) {
    *actual = nullptr;
    return Ref<Object>();
  }
  if (it->second != type) {
    *actual = HandleTypeName(it->second);
    return Ref<Object>();
  }
  // Live handles are registered objects; the const is only for the map key.
  return Ref<Object>::Share(static_cast<Object*>(const_cast<void*>(handle)));
}

Device::Device(Runtime* runtime, LoadedBackend* backend, porta_be_device_t be, uint32_t index,
               const porta_device_info_t& info)
    : Object(HandleType::kDevice, runtime),
      runtime_(runtime),
      backend_(backend),
      be_(be),
      info_(info),
      label_(std::string(backend->table.name) + ":" + std::to_string(index)),
      pool_(std::make_unique<DevicePool>(*this)) {}

Device::~Device() {
  // The pool's cached blocks are backend buffers of this device.
  pool_.reset();
  backend_->table.device_close(be_);
}

const porta_backend_table_t& Device::table() const {
  return backend_->table;
}

Buffer::~Buffer() {
  if (mapped.load()) {
    BackendMessage message;
    device->table().buffer_unmap(be, message.get());
  }
  if (!block) {
    device->table().buffer_free(be);
  } else if (!block_returned) {
    device->pool().Return(std::move(block), nullptr, 0, false);
  }
}

Kernel::Kernel(Module* module, porta_be_kernel_t be, std::string name)
    : Object(HandleType::kKernel, module), module(module), be(be), name(std::move(name)) {}

Module::~Module() {
  kernels.clear();
  device->table().module_destroy(be);
}

Stream::Stream(Ref<Device> device, porta_be_stream_t be)
    : Object(HandleType::kStream),
      device(std::move(device)),
      be(be),
      progress(std::make_shared<StreamProgress>(next_stream_id.fetch_add(1) + 1)) {}

Stream::~Stream() {
  device->table().stream_destroy(be);
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
  std::lock_guard<std::mutex> lock(pending_mutex_);
  const uint64_t sequence = sequence_.load(std::memory_order_relaxed) + 1;
  for (size_t i = 0; i < uses.size(); ++i) pending_.push_back(Pending{sequence, uses.data()[i]});
  uses.Clear();
  if (out_pending != nullptr) *out_pending = pending_.size();
  sequence_.store(sequence, std::memory_order_release);
  return sequence;
}

void Stream::ReleaseUpTo(uint64_t sequence) {
  std::vector<Object*> done;
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    while (!pending_.empty() && pending_.front().sequence <= sequence) {
      done.push_back(pending_.front().object);
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

Event::~Event() {
  device->table().event_destroy(be);
}

}  // namespace porta::hal
