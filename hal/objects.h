// Internal object model of the runtime: reference-counted objects behind the public handles, the
// registry that tells live handles from destroyed or foreign ones, and the per-thread error text.
#ifndef PORTA_HAL_OBJECTS_H_
#define PORTA_HAL_OBJECTS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hal/pool.h"
#include "porta/porta.h"
#include "porta/porta_backend.h"

namespace porta::hal {

//===------------------------------------------------------------------------------------------===//
// Errors
//===------------------------------------------------------------------------------------------===//

// Sets the calling thread's last error to "<function>: <formatted text>" and returns |status|.
porta_status_t Fail(porta_status_t status, const char* function, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// A backend message buffer for one call; the text lives in thread-local storage.
class BackendMessage {
 public:
  BackendMessage();
  porta_be_msg get() { return &msg_; }
  // The backend's text, NUL-terminated within the buffer even when the backend did not.
  const char* text() const {
    msg_.text[msg_.capacity - 1] = '\0';
    return msg_.text;
  }
  // Replaces the text (truncating to the buffer).
  void Set(const std::string& text);

 private:
  porta_be_message_t msg_;
};

//===------------------------------------------------------------------------------------------===//
// Objects and references
//===------------------------------------------------------------------------------------------===//

enum class HandleType : uint8_t {
  kRuntime,
  kDevice,
  kBuffer,
  kStream,
  kEvent,
  kModule,
  kKernel,
  kGraph,
  kGraphExec,
  // Internal only, never a handle: a registered host range (hal/host_register.h).
  kHostRegistration,
};

// Returns the public type name ("porta_buffer_t") of a handle type.
const char* HandleTypeName(HandleType type);

// Base of every object behind a handle. An object whose lifetime is tied to another one (a device
// to its runtime, a kernel to its module) forwards its reference count to that owner.
class Object {
 public:
  explicit Object(HandleType type, Object* ref_owner = nullptr)
      : type_(type), ref_owner_(ref_owner != nullptr ? ref_owner : this) {}
  virtual ~Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  void Retain() { ref_owner_->refs_.fetch_add(1, std::memory_order_relaxed); }
  void Release() {
    Object* owner = ref_owner_;
    if (owner->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete owner;
  }
  HandleType type() const { return type_; }
  // The public handle value Registry::Add gave this object (0 before).
  uintptr_t handle() const { return handle_; }

 private:
  friend class Registry;
  std::atomic<uint32_t> refs_{1};
  HandleType type_;
  Object* ref_owner_;
  uintptr_t handle_ = 0;
};

// Owning reference to an Object (intrusive).
template <typename T>
class Ref {
 public:
  Ref() = default;
  // Adopts a reference the caller already holds.
  static Ref Adopt(T* object) {
    Ref ref;
    ref.object_ = object;
    return ref;
  }
  // Takes a new reference.
  static Ref Share(T* object) {
    if (object != nullptr) object->Retain();
    return Adopt(object);
  }
  Ref(const Ref& other) : object_(other.object_) {
    if (object_ != nullptr) object_->Retain();
  }
  Ref(Ref&& other) noexcept : object_(other.object_) { other.object_ = nullptr; }
  Ref& operator=(Ref other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~Ref() {
    if (object_ != nullptr) object_->Release();
  }
  // Gives up ownership of the reference without releasing it.
  T* Detach() {
    T* object = object_;
    object_ = nullptr;
    return object;
  }
  T* get() const { return object_; }
  T* operator->() const { return object_; }
  T& operator*() const { return *object_; }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  T* object_ = nullptr;
};

// The set of live handles. A handle is not the object's address but a tagged slot index plus the
// slot's generation, so a destroyed handle stays invalid even when its slot (or the object's
// memory) is reused: every later use is PORTA_ERROR_INVALID_HANDLE. Lookup and reference taking
// happen under the slot's lock, so a handle that another thread destroys concurrently is either
// found with a reference held, or not found.
class Registry {
 public:
  // Registers |object| under a new handle (Object::handle()), or throws std::bad_alloc when every
  // slot is taken.
  static void Add(Object* object, HandleType type);
  // Unregisters |object|; returns false when its handle was not live (another thread removed it
  // first).
  static bool Remove(Object* object);
  // Returns the object with a new reference taken, or an empty reference when |handle| is not a
  // live handle of |type|; then |actual| says what it is instead (or nullptr when not live).
  static Ref<Object> Acquire(const void* handle, HandleType type, const char** actual);
  // True while |object|'s handle is live.
  static bool IsLive(const Object* object);
};

// The public handle of |object|, e.g. ToHandle<porta_stream_t>(stream).
template <typename Handle>
Handle ToHandle(const Object* object) {
  return reinterpret_cast<Handle>(object->handle());
}

// Registers a new object and hands its reference to the application as a handle. When
// registering throws (host memory), |object| releases the reference on the way out.
template <typename Handle, typename T>
Handle Publish(Ref<T> object, HandleType type) {
  Registry::Add(object.get(), type);
  return ToHandle<Handle>(object.Detach());
}

// Wraps backend object |be| in a new runtime object T(args...) that owns it from then on. When
// that allocation throws, |destroy_be| frees |be| before the exception goes on, so a failed
// allocation in the runtime never strands a backend object.
template <typename T, typename DestroyBe, typename... Args>
Ref<T> Wrap(DestroyBe&& destroy_be, Args&&... args) {
  try {
    return Ref<T>::Adopt(new T(std::forward<Args>(args)...));
  } catch (...) {
    destroy_be();
    throw;
  }
}

//===------------------------------------------------------------------------------------------===//
// Runtime objects
//===------------------------------------------------------------------------------------------===//

struct LoadedBackend;
class Runtime;
class Graph;
class HostRegistry;

class Device final : public Object {
 public:
  Device(Runtime* runtime, LoadedBackend* backend, porta_be_device_t be, uint32_t index,
         const porta_device_info_t& info);
  ~Device() override;

  Runtime* runtime() const { return runtime_; }
  LoadedBackend* backend() const { return backend_; }
  const porta_backend_table_t& table() const;
  porta_be_device_t be() const { return be_; }
  const porta_device_info_t& info() const { return info_; }
  // "cpu:0", as used in messages and device filters.
  const std::string& label() const { return label_; }
  // The caching allocator of porta_buffer_alloc_async.
  DevicePool& pool() { return *pool_; }
  // The host ranges registered with the device (porta_host_register).
  HostRegistry& host_registry() { return *host_registry_; }

  // Every backend buffer of the device comes from here and returns through FreeBuffer, so that
  // the bytes held at once never exceed info().global_memory_bytes (0: the backend reports no
  // figure, no limit): the figure porta_device_get_info reports is the limit allocations meet,
  // also on drivers that allocate lazily or let the host overcommit. An allocation beyond it
  // fails with PORTA_ERROR_OUT_OF_MEMORY and the sizes in |message|, before the backend is asked.
  porta_status_t AllocateBuffer(uint64_t size, porta_memory_kind_t kind, porta_be_buffer_t* out,
                                BackendMessage* message);
  void FreeBuffer(porta_be_buffer_t be, uint64_t size);
  // Bytes of the backend buffers alive on the device now.
  uint64_t allocated_bytes() const { return allocated_bytes_.load(std::memory_order_relaxed); }

 private:
  Runtime* runtime_;
  LoadedBackend* backend_;
  porta_be_device_t be_;
  porta_device_info_t info_;
  std::string label_;
  std::unique_ptr<DevicePool> pool_;
  std::unique_ptr<HostRegistry> host_registry_;
  // Bytes of the backend buffers alive on the device (AllocateBuffer, FreeBuffer).
  std::atomic<uint64_t> allocated_bytes_{0};
};

class Buffer final : public Object {
 public:
  Buffer(Ref<Device> device, porta_be_buffer_t be, uint64_t size, porta_memory_kind_t kind)
      : Object(HandleType::kBuffer), device(std::move(device)), be(be), size(size), kind(kind) {}
  // A buffer lent a pool block; |size| is the request, the block may be larger.
  Buffer(Ref<Device> device, std::shared_ptr<PoolBlock> pool_block, uint64_t size,
         porta_memory_kind_t kind)
      : Object(HandleType::kBuffer),
        device(std::move(device)),
        be(pool_block->be()),
        size(size),
        kind(kind),
        block(std::move(pool_block)) {}
  ~Buffer() override;

  Ref<Device> device;
  porta_be_buffer_t be;
  uint64_t size;
  porta_memory_kind_t kind;
  std::atomic<bool> mapped{false};
  // The pool block behind |be|, or null for a buffer of porta_buffer_alloc.
  std::shared_ptr<PoolBlock> block;
  // Set by porta_buffer_free_async, which gave the block back already; otherwise the destructor
  // gives it back (free for every stream, as all work that used it has completed).
  bool block_returned = false;
  // Finished graphs and instances whose nodes use this buffer: while any does, a stream-ordered
  // free leaves the block with the buffer (it returns when the last user is gone) instead of
  // handing it to the pool's next allocation.
  std::atomic<uint32_t> graph_holds{0};
  // Set for a buffer of porta_buffer_import: its memory is the application's, so the destructor
  // frees only the backend's wrapper (not counted in the device's allocated bytes), then calls
  // |release|.
  bool imported = false;
  porta_release_fn release = nullptr;
  void* release_user_data = nullptr;
  // The application's references to the handle: 1 from the allocation or import, one more per
  // porta_buffer_retain. The free that takes it to 0 unregisters the handle and drops the
  // reference the handle held; 0 means freed, and it never rises again.
  std::atomic<uint32_t> handle_refs{1};
};

class Module;

class Kernel final : public Object {
 public:
  Kernel(Module* module, porta_be_kernel_t be, std::string name);

  Module* module;
  porta_be_kernel_t be;
  std::string name;
};

class Module final : public Object {
 public:
  Module(Ref<Device> device, porta_be_module_t be, porta_kernel_format_t format)
      : Object(HandleType::kModule), device(std::move(device)), be(be), format(format) {}
  ~Module() override;

  Ref<Device> device;
  porta_be_module_t be;
  porta_kernel_format_t format;
  std::mutex mutex;  // guards kernels
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

// References held by one piece of work being queued (its module and buffers, or an event),
// gathered on the stack and handed to the stream once the work is queued. Whatever was not
// handed over is released on destruction.
class UseList {
 public:
  // Enough for a launch: its module plus the largest argument list.
  static constexpr size_t kCapacity = 130;
  UseList() = default;
  UseList(const UseList&) = delete;
  UseList& operator=(const UseList&) = delete;
  ~UseList() {
    for (size_t i = 0; i < count_; ++i) objects_[i]->Release();
  }
  // Takes over |ref|; the caller ensures at most kCapacity additions.
  template <typename T>
  void Add(Ref<T> ref) {
    objects_[count_++] = ref.Detach();
  }
  Object* const* data() const { return objects_; }
  size_t size() const { return count_; }
  // Forgets the references after they have been handed over.
  void Clear() { count_ = 0; }

 private:
  Object* objects_[kCapacity];
  size_t count_ = 0;
};

class Stream final : public Object {
 public:
  Stream(Ref<Device> device, porta_be_stream_t be);
  ~Stream() override;

  // Returns the sticky error (with its message set as the thread's last error) or PORTA_OK.
  // Caller holds |mutex|.
  porta_status_t CheckSticky(const char* function);
  // Records a device fault so every later call on the stream returns it. Caller holds |mutex|
  // or calls from a waiter (the sticky state has its own lock).
  void SetSticky(porta_status_t status, const std::string& message);
  // Notes that the work just queued (sequence number returned) uses |uses|, taking over their
  // references; |out_pending| (may be NULL) receives the number of uses now pending.
  uint64_t AddWork(UseList& uses, size_t* out_pending = nullptr);
  // Releases the objects of work up to |sequence| (completed) and advances |progress|.
  void ReleaseUpTo(uint64_t sequence);
  // Notes that work queued on this stream from now on runs after work |sequence| of the stream
  // with progress id |stream_id| (a porta_stream_wait_event on an event recorded there).
  void NoteOrderedAfter(uint64_t stream_id, uint64_t sequence);
  // The highest work sequence of stream |stream_id| this stream is known to be ordered after; 0
  // when none.
  uint64_t OrderedAfter(uint64_t stream_id);
  // The sticky status (PORTA_OK when clean), its message copied into |message| when set.
  porta_status_t Sticky(std::string* message);

  // A device-side wait queued on this stream (porta_stream_wait_event, or a graph replay's wait
  // node) on a recording of an event made on another stream, whose fault is not known yet. The
  // runtime resolves it once this stream has been observed past |sequence|: a fault of the
  // recording then becomes this stream's sticky error.
  struct Wait {
    Ref<Object> event;   // the Event waited on
    Ref<Stream> origin;  // the stream of the waited recording
    uint64_t origin_sequence = 0;
    uint64_t sequence = 0;  // this stream's work sequence of the wait
  };
  void AddWait(Wait wait);
  // Removes and returns the waits queued up to |sequence|.
  std::vector<Wait> TakeWaitsUpTo(uint64_t sequence);
  // Drops every unresolved wait (the stream is being destroyed; this also breaks reference cycles
  // between streams that waited on each other's events).
  void ClearWaits();

  Ref<Device> device;
  porta_be_stream_t be;
  // Serializes every call on the stream (the backend ABI promises this to backends).
  std::mutex mutex;
  // The graph this stream is capturing into, with a reference held; nullptr when not capturing.
  // Guarded by |mutex|; see hal/graph.h.
  Graph* capture = nullptr;
  // Completion as far as the runtime has observed it, shared with the pool blocks freed here.
  const std::shared_ptr<StreamProgress> progress;

  // The number of the work queued last. Read without the lock (porta_buffer_free_async reads it
  // on every call).
  uint64_t sequence() const { return sequence_.load(std::memory_order_acquire); }

 private:
  std::mutex pending_mutex_;  // guards pending_, sticky_*, and writes of sequence_
  std::atomic<uint64_t> sequence_{0};
  // One entry per object used by queued work, in queue order.
  struct Pending {
    uint64_t sequence;
    Object* object;
  };
  std::deque<Pending> pending_;
  porta_status_t sticky_status_ = PORTA_OK;
  std::string sticky_message_;
  // (stream id, sequence) pairs of NoteOrderedAfter, the most recent last; a few suffice, and
  // forgetting one only makes the pool more cautious.
  static constexpr size_t kOrderedAfterCapacity = 16;
  std::vector<std::pair<uint64_t, uint64_t>> ordered_after_;
  std::mutex waits_mutex_;  // guards waits_
  std::vector<Wait> waits_;
};

class Event final : public Object {
 public:
  Event(Ref<Device> device, porta_be_event_t be, uint32_t flags)
      : Object(HandleType::kEvent), device(std::move(device)), be(be), flags(flags) {}
  ~Event() override;

  Ref<Device> device;
  porta_be_event_t be;
  uint32_t flags;
  std::mutex mutex;  // guards the recording below
  Ref<Stream> stream;
  uint64_t sequence = 0;
  // The fault of work before this recording once the runtime knows it (PORTA_OK otherwise), with
  // its detail: every wait and query of the recording reports it. A new recording starts clean.
  porta_status_t fault = PORTA_OK;
  std::string fault_message;
  // The capture that recorded this event last, while that capture is still open (not a
  // reference: the capture clears it before it ends); waits from outside that capture are errors.
  Graph* captured_by = nullptr;
};

//===------------------------------------------------------------------------------------------===//
// Handle conversion
//===------------------------------------------------------------------------------------------===//

template <typename T>
struct HandleTraits;
template <>
struct HandleTraits<Runtime> {
  static constexpr HandleType kType = HandleType::kRuntime;
};
template <>
struct HandleTraits<Device> {
  static constexpr HandleType kType = HandleType::kDevice;
};
template <>
struct HandleTraits<Buffer> {
  static constexpr HandleType kType = HandleType::kBuffer;
};
template <>
struct HandleTraits<Stream> {
  static constexpr HandleType kType = HandleType::kStream;
};
template <>
struct HandleTraits<Event> {
  static constexpr HandleType kType = HandleType::kEvent;
};
template <>
struct HandleTraits<Module> {
  static constexpr HandleType kType = HandleType::kModule;
};
template <>
struct HandleTraits<Kernel> {
  static constexpr HandleType kType = HandleType::kKernel;
};

// The name of an argument in messages: "stream", or "args[3].buffer" (formatted only on failure).
struct ArgName {
  ArgName(const char* name) : name(name) {}  // NOLINT: implicit by design
  ArgName(const char* array, uint32_t index, const char* field)
      : name(array), index(index), field(field) {}
  std::string str() const {
    if (field == nullptr) return name;
    return std::string(name) + "[" + std::to_string(index) + "]." + field;
  }
  const char* name;
  uint32_t index = 0;
  const char* field = nullptr;
};

// Looks up a public handle; on failure sets the last error ("<function>: <arg> ...") and returns
// an empty reference. For a kernel the reference keeps its module alive.
template <typename T>
Ref<T> Lookup(const void* handle, const char* function, const ArgName& arg_name,
              porta_status_t* status) {
  constexpr HandleType kType = HandleTraits<T>::kType;
  const char* actual = nullptr;
  Ref<Object> object;
  if (handle != nullptr) object = Registry::Acquire(handle, kType, &actual);
  if (!object) {
    std::string arg = arg_name.str();
    if (handle == nullptr) {
      *status = Fail(PORTA_ERROR_INVALID_HANDLE, function, "%s is NULL (expected a %s)",
                     arg.c_str(), HandleTypeName(kType));
    } else if (actual != nullptr) {
      *status = Fail(PORTA_ERROR_INVALID_HANDLE, function, "%s (%p) is a %s, not a %s", arg.c_str(),
                     handle, actual, HandleTypeName(kType));
    } else {
      *status = Fail(PORTA_ERROR_INVALID_HANDLE, function,
                     "%s (%p) is not a live %s: it was destroyed or never created", arg.c_str(),
                     handle, HandleTypeName(kType));
    }
    return Ref<T>();
  }
  *status = PORTA_OK;
  return Ref<T>::Adopt(static_cast<T*>(object.Detach()));
}

// A backend answer that claims to have created an object: PORTA_OK with a NULL |object| becomes
// PORTA_ERROR_BACKEND ("returned PORTA_OK but no <what>") in |message|; other statuses pass.
porta_status_t Created(porta_status_t status, const void* object, const char* what,
                       BackendMessage* message);

// Writes the handle of |device| (the owner of an object a query names) into |out_device|, or fails
// with PORTA_ERROR_INVALID_OPERATION when the device was closed with its runtime
// (porta_runtime_destroy) while |what| ("buffer", "stream") lived on.
porta_status_t DeviceHandleOf(const char* function, const Device& device, const char* what,
                              porta_device_t* out_device);

// The exception barrier of every public function (a function-try-block's handler): maps the
// exception being handled to a status (std::bad_alloc: PORTA_ERROR_OUT_OF_MEMORY, anything else:
// PORTA_ERROR_BACKEND, "internal error") with |function| in the last error. Never throws.
porta_status_t ExceptionStatus(const char* function) noexcept;

// Turns a backend failure into the thread's last error: "<function>: <backend>: <text>".
porta_status_t BackendFail(porta_status_t status, const char* function, const Device& device,
                           const BackendMessage& message);

}  // namespace porta::hal

#endif  // PORTA_HAL_OBJECTS_H_
