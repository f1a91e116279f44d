// The Python binding's shared pieces: the owners of Porta handles and the error translation.
//
// Every Porta handle the binding creates is owned by one C++ "core" object held through
// std::shared_ptr. A core holds the cores it depends on (a buffer holds its runtime, a kernel its
// module), so whatever order Python drops its objects in, a handle is destroyed only after
// everything that uses it, and exactly once. Python objects are thin wrappers around a core.
#ifndef PORTA_PYTHON_PORTA_PYTHON_H_
#define PORTA_PYTHON_PORTA_PYTHON_H_

#include <nanobind/nanobind.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "porta/porta_ops.h"

namespace porta_python {

namespace nb = nanobind;

// Raises the porta.Error subclass of |status| with |call| and porta_last_error_message().
[[noreturn]] void Raise(porta_status_t status, const char* call);
// Raises the porta.Error subclass of |status| with a message of the binding's own.
[[noreturn]] void RaiseMessage(porta_status_t status, const char* call, const std::string& message);

inline void Check(porta_status_t status, const char* call) {
  if (status != PORTA_OK) Raise(status, call);
}

struct StreamCore;

// The runtime and, per device, the objects the binding creates on the application's behalf: a
// default stream and the operator library's context. Destroyed when the last object of the
// runtime is gone (see the file comment).
class RuntimeCore {
 public:
  static constexpr const char* kPythonName = "Runtime";
  static constexpr const char* kClosedMessage = "the runtime is closed";

  RuntimeCore(const char* device_filter, const char* plugin_paths);
  ~RuntimeCore();
  RuntimeCore(const RuntimeCore&) = delete;
  RuntimeCore& operator=(const RuntimeCore&) = delete;

  porta_runtime_t handle() const { return handle_; }
  uint32_t device_count() const { return static_cast<uint32_t>(devices_.size()); }
  porta_device_t device(uint32_t index) const { return devices_.at(index).device; }
  // Created on first use.
  porta_stream_t DefaultStream(uint32_t index);
  porta_ops_context_t OpsContext(uint32_t index);
  // The one StreamCore of a device's default stream while anything holds it, so that every user
  // of the default stream shares its held host objects.
  std::shared_ptr<StreamCore> DefaultStreamCore(const std::shared_ptr<RuntimeCore>& self,
                                                uint32_t index);

 private:
  struct DeviceState {
    porta_device_t device = nullptr;
    porta_stream_t default_stream = nullptr;
    porta_ops_context_t ops = nullptr;
    std::weak_ptr<StreamCore> default_core;
  };
  porta_runtime_t handle_ = nullptr;
  std::vector<DeviceState> devices_;
  std::mutex mutex_;
};
using RuntimePtr = std::shared_ptr<RuntimeCore>;

// Names one device of a runtime.
struct DeviceRef {
  RuntimePtr runtime;
  uint32_t index = 0;

  porta_device_t handle() const { return runtime->device(index); }
  porta_device_info_t Info() const;
  // True for the cpu backend's device, whose memory is the host's: a host-visible buffer mapped
  // once is a view of the device's memory for as long as the buffer lives.
  bool IsHostMemory() const;
};

struct BufferCore {
  static constexpr const char* kPythonName = "Buffer";
  static constexpr const char* kClosedMessage = "the buffer was freed";
  DeviceRef device;
  porta_buffer_t handle = nullptr;
  uint64_t size = 0;
  porta_memory_kind_t kind = PORTA_MEMORY_DEVICE;

  BufferCore(DeviceRef device, uint64_t size, porta_memory_kind_t kind);
  // Takes over |handle|, a buffer the caller holds a reference to (an import's).
  BufferCore(DeviceRef device, porta_buffer_t handle, uint64_t size, porta_memory_kind_t kind);
  ~BufferCore();
  BufferCore(const BufferCore&) = delete;
  BufferCore& operator=(const BufferCore&) = delete;
  // The whole buffer mapped, mapped on first use and unmapped when the buffer is freed. Only for
  // host-visible buffers of a device whose memory is the host's (DeviceRef::IsHostMemory).
  uint8_t* HostPointer();

 private:
  std::mutex mutex_;
  void* host_ = nullptr;
};
using BufferPtr = std::shared_ptr<BufferCore>;

// A stream, and the host objects its queued copies read or write: each is kept alive (with its
// buffer export) until the stream is known to have passed it (synchronize or a completed query).
struct StreamCore {
  static constexpr const char* kPythonName = "Stream";
  static constexpr const char* kClosedMessage = "the stream is closed";
  DeviceRef device;
  porta_stream_t handle = nullptr;
  // False for a device's default stream, which the runtime core owns.
  bool owned = true;

  StreamCore(DeviceRef device, porta_stream_t handle, bool owned);
  // Destroys an owned stream (which waits for its work) or synchronizes the default stream,
  // then lets the held objects go.
  ~StreamCore();
  StreamCore(const StreamCore&) = delete;
  StreamCore& operator=(const StreamCore&) = delete;
  // Keeps |object| alive until the stream is next known to be idle.
  void Hold(nb::object object);
  // Waits for the queued work (without the GIL), then lets the held objects go.
  void Synchronize();

  std::vector<nb::object> held;
};
using StreamPtr = std::shared_ptr<StreamCore>;

// A device's default stream as a stream object of its own (not destroyed by it).
StreamPtr DefaultStream(const DeviceRef& device);
// |stream| when given, else the default stream of |device|.
StreamPtr StreamOr(const StreamPtr& stream, const DeviceRef& device);

// Queues a copy of all bytes of |src| (a C-contiguous buffer-protocol object) into |dst| at
// |offset| on |stream|, which holds |src|'s export until it is synchronized.
void CopyFromHost(StreamCore& stream, porta_buffer_t dst, uint64_t offset, nb::handle src);

// The bytes of a scalar given as a NumPy scalar (numpy.float32(2), numpy.int32(7)) or bytes; a
// Python int or float is refused with TypeError, since it says nothing of the size. |what| names
// the argument in the message.
std::string ScalarBytes(nb::handle value, const std::string& what);

// A tensor: a buffer and a porta_tensor_t view of it.
struct TensorValue {
  BufferPtr buffer;
  porta_tensor_t view{};

  std::vector<int64_t> Shape() const {
    return std::vector<int64_t>(view.shape, view.shape + view.rank);
  }
  std::vector<int64_t> Strides() const {
    return std::vector<int64_t>(view.strides, view.strides + view.rank);
  }
  int64_t ElementCount() const;
};

// The Python objects. Those that can be closed early (free, close) hold a null core afterwards,
// and using them then raises porta.InvalidOperationError; the core lives on while anything else
// (a tensor, a NumPy view, queued work) still uses it.
template <typename Core>
struct Holder {
  std::shared_ptr<Core> core;
  const std::shared_ptr<Core>& Get() const {
    if (!core) RaiseMessage(PORTA_ERROR_INVALID_OPERATION, Core::kPythonName, Core::kClosedMessage);
    return core;
  }
};

struct Runtime : Holder<RuntimeCore> {};
struct Buffer : Holder<BufferCore> {};
struct Stream : Holder<StreamCore> {};

// Adds close_name() (which drops the object's hold, as a with-block's end does), __enter__ and
// __exit__ to a class of Holder objects.
template <typename T>
void AddClose(nb::class_<T>& cls, const char* close_name, const char* doc) {
  cls.def(
         close_name, [](T& self) { self.core.reset(); }, doc)
      .def("__enter__", [](nb::handle self) { return self; })
      .def(
          "__exit__", [](T& self, nb::args) { self.core.reset(); },
          nb::sig("def __exit__(self, *args: object) -> None"));
}

struct Tensor {
  TensorValue value;
};

// Bytes from the view's buffer offset to the end of its furthest element (0 without elements).
uint64_t SpanBytes(const porta_tensor_t& view);

// DLPack (dlpack.cpp). Tensor.__dlpack__ and __dlpack_device__, per the array API standard.
nb::object TensorDlpack(nb::handle self, nb::handle stream, nb::handle max_version,
                        nb::handle dl_device, nb::handle copy);
nb::tuple TensorDlpackDevice(const Tensor& tensor);
// porta.from_dlpack: |x| (an object with __dlpack__, or a DLPack capsule) imported zero copy on
// the device of |runtime| (or |device|'s runtime) its DLPack device names.
Tensor FromDlpack(nb::handle x, const std::optional<Runtime>& runtime,
                  const std::optional<DeviceRef>& device, std::optional<bool> copy);
// |array|'s memory as a tensor of |dtype| on |device| (the CPU device), zero copy, holding the
// array's buffer export until Porta's buffer is gone; nullopt when the array cannot be shared
// (read-only, not C-contiguous, empty, or memory the device cannot wrap).
std::optional<Tensor> ShareHostArray(nb::handle array, porta_dtype_t dtype,
                                     const DeviceRef& device);

// Each file registers its part of the module.
void BindErrors(nb::module_& m);
void BindRuntime(nb::module_& m);
void BindMemory(nb::module_& m);
void BindModules(nb::module_& m);
void BindTensors(nb::module_& m);
void BindOps(nb::module_& m);

}  // namespace porta_python

#endif  // PORTA_PYTHON_PORTA_PYTHON_H_
