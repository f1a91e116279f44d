// The device side every model shares: one device with its stream and operator context, device
// buffers that free themselves, tensor views, and the check that turns a failed porta call into a
// ModelError carrying porta_last_error_message(). Models enqueue everything on the engine's one
// stream and synchronize only where the host needs a result (logits, embeddings).
#ifndef PORTA_TOOLS_RUN_ENGINE_H_
#define PORTA_TOOLS_RUN_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "porta/porta.h"
#include "porta/porta_ops.h"

namespace porta::run {

// Throws ModelError "<what>: <status>: <porta_last_error_message()>" unless |status| is PORTA_OK.
void Check(porta_status_t status, std::string_view what);

// The device memory one engine's work holds, counted from when it was created: the bytes of the
// buffers the engine allocated (the model's own: weights, caches, activations), and the most the
// device held at once, as porta_device_get_memory_info's allocated_bytes counts it: those buffers,
// the operator library's workspace (blocks of the device pool) and whatever else is on the device.
// The device figure is sampled when a buffer is allocated or freed and when it is read. The pool
// keeps its blocks between operations, so a sample after the operations still sees the workspace
// they used (not so with PORTA_POOL=0, where each operation frees its workspace at once).
class DeviceMemory {
 public:
  // Gives the cached blocks of |device|'s pool back first, so that blocks an earlier engine left
  // there count when this engine's work takes them, and takes what the device holds then as zero.
  explicit DeviceMemory(porta_device_t device);

  // A buffer of |bytes| was just allocated; one is about to be freed.
  void Added(uint64_t bytes);
  void Removing(uint64_t bytes);
  // Samples the device now.
  void Sample();

  uint64_t buffer_bytes() const { return buffer_bytes_; }
  uint64_t buffer_peak() const { return buffer_peak_; }
  uint64_t device_peak() const { return device_peak_; }

 private:
  porta_device_t device_;
  uint64_t baseline_ = 0;
  uint64_t buffer_bytes_ = 0;
  uint64_t buffer_peak_ = 0;
  uint64_t device_peak_ = 0;
};

// A device buffer owned by one object; freed (after the work that uses it, as porta_buffer_free
// guarantees) when the object dies.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // |memory| (may be null) counts the buffer while it lives; it must outlive the buffer.
  DeviceBuffer(porta_device_t device, uint64_t bytes, std::string_view what,
               DeviceMemory* memory = nullptr);
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  porta_buffer_t get() const { return buffer_; }
  uint64_t size() const { return size_; }

 private:
  void Free();

  porta_buffer_t buffer_ = nullptr;
  uint64_t size_ = 0;
  DeviceMemory* memory_ = nullptr;
};

// A contiguous tensor of |shape| at |offset| bytes into |buffer|.
porta_tensor_t Contiguous(porta_buffer_t buffer, uint64_t offset, porta_dtype_t dtype,
                          std::initializer_list<int64_t> shape);

// A tensor with explicit |shape| and |strides| (elements), for head views.
porta_tensor_t Strided(porta_buffer_t buffer, uint64_t offset, porta_dtype_t dtype,
                       std::initializer_list<int64_t> shape,
                       std::initializer_list<int64_t> strides);

// A runtime and the first device it selects with |filter| (PORTA_DEVICES when empty). Throws
// ModelError when the runtime cannot start or no device matches.
class DeviceChoice {
 public:
  explicit DeviceChoice(const std::string& filter);
  DeviceChoice(const DeviceChoice&) = delete;
  DeviceChoice& operator=(const DeviceChoice&) = delete;
  ~DeviceChoice();
  porta_device_t device() const { return device_; }

 private:
  porta_runtime_t runtime_ = nullptr;
  porta_device_t device_ = nullptr;
};

// One device, its stream and its operator context.
class Engine {
 public:
  explicit Engine(porta_device_t device);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  porta_device_t device() const { return device_; }
  porta_stream_t stream() const { return stream_; }
  porta_ops_context_t ops() const { return ops_; }
  const porta_device_info_t& info() const { return info_; }
  // "cpu:0 (name)": where a result was computed, as the tools print it.
  std::string Describe() const;

  // Allocates a buffer; its bytes count towards bytes_in_use() until it is freed. The engine
  // must outlive every buffer it allocated.
  DeviceBuffer Allocate(uint64_t bytes, std::string_view what);
  // Allocates a buffer holding |bytes| copied from |data|, and waits for the copy, so |data|
  // may go away as soon as this returns.
  DeviceBuffer Upload(const void* data, uint64_t bytes, std::string_view what);
  // Bytes of the live buffers the engine allocated, and the most there ever were at once: the
  // model's own device memory (weights, caches, activations), without the operator library's
  // workspace.
  uint64_t bytes_in_use() const { return memory_.buffer_bytes(); }
  uint64_t buffer_peak_bytes() const { return memory_.buffer_peak(); }
  // The most device memory the engine's work held at once (see DeviceMemory): the model's buffers
  // and the operator library's workspace. Reading it takes a sample first.
  uint64_t peak_bytes() {
    memory_.Sample();
    return memory_.device_peak();
  }

  // Reads |bytes| at |offset| of |src| after the work queued so far (waits for it).
  void CopyToHost(void* dst, const DeviceBuffer& src, uint64_t offset, uint64_t bytes);
  // Queues a write of |bytes| from |src|, which must stay valid until the next Synchronize.
  void CopyToDevice(const DeviceBuffer& dst, uint64_t offset, const void* src, uint64_t bytes);
  void Synchronize();

  // Checks the status of an operation just enqueued, like Check. With profiling on, also waits
  // for it and adds the time since the previous operation to |what|'s total, so the totals say
  // where a forward pass spends its time (at the cost of one wait per operation).
  void Op(porta_status_t status, std::string_view what);
  void EnableProfile();
  // The profile's totals, largest first: "what: N calls, T ms".
  std::vector<std::string> ProfileReport() const;

 private:
  struct ProfileEntry {
    std::string what;
    uint64_t calls = 0;
    double seconds = 0;
  };

  porta_device_t device_;
  porta_stream_t stream_ = nullptr;
  porta_ops_context_t ops_ = nullptr;
  porta_device_info_t info_;
  DeviceMemory memory_;
  bool profile_ = false;
  std::chrono::steady_clock::time_point last_op_;
  std::vector<ProfileEntry> profile_entries_;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_ENGINE_H_
