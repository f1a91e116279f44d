// porta.Buffer, porta.Stream and porta.Event.
#include <Python.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "porta_python.h"

namespace porta_python {

BufferCore::BufferCore(DeviceRef device_ref, uint64_t bytes, porta_memory_kind_t memory_kind)
    : device(std::move(device_ref)), size(bytes), kind(memory_kind) {
  Check(porta_buffer_alloc(device.handle(), size, kind, &handle), "porta_buffer_alloc");
}

BufferCore::BufferCore(DeviceRef device_ref, porta_buffer_t buffer, uint64_t bytes,
                       porta_memory_kind_t memory_kind)
    : device(std::move(device_ref)), handle(buffer), size(bytes), kind(memory_kind) {}

BufferCore::~BufferCore() {
  porta_buffer_free(handle);
}

uint8_t* BufferCore::HostPointer() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (host_ == nullptr) Check(porta_buffer_map(handle, 0, size, &host_), "porta_buffer_map");
  return static_cast<uint8_t*>(host_);
}

StreamCore::StreamCore(DeviceRef device_ref, porta_stream_t stream, bool is_owned)
    : device(std::move(device_ref)), handle(stream), owned(is_owned) {}

StreamCore::~StreamCore() {
  if (owned) {
    porta_stream_destroy(handle);
  } else {
    porta_stream_synchronize(handle);
  }
}

void StreamCore::Hold(nb::object object) {
  held.push_back(std::move(object));
}

void StreamCore::Synchronize() {
  porta_status_t status;
  {
    nb::gil_scoped_release release;
    status = porta_stream_synchronize(handle);
  }
  held.clear();
  Check(status, "porta_stream_synchronize");
}

std::shared_ptr<StreamCore> RuntimeCore::DefaultStreamCore(const std::shared_ptr<RuntimeCore>& self,
                                                           uint32_t index) {
  porta_stream_t stream = DefaultStream(index);
  std::lock_guard<std::mutex> lock(mutex_);
  std::shared_ptr<StreamCore> core = devices_.at(index).default_core.lock();
  if (!core) {
    core = std::make_shared<StreamCore>(DeviceRef{self, index}, stream, false);
    devices_.at(index).default_core = core;
  }
  return core;
}

StreamPtr DefaultStream(const DeviceRef& device) {
  return device.runtime->DefaultStreamCore(device.runtime, device.index);
}

StreamPtr StreamOr(const StreamPtr& stream, const DeviceRef& device) {
  return stream ? stream : DefaultStream(device);
}

std::string ScalarBytes(nb::handle value, const std::string& what) {
  if (PyBytes_Check(value.ptr())) {
    return std::string(PyBytes_AS_STRING(value.ptr()), PyBytes_GET_SIZE(value.ptr()));
  }
  nb::object generic = nb::module_::import_("numpy").attr("generic");
  if (!PyObject_IsInstance(value.ptr(), generic.ptr())) {
    throw nb::type_error((what +
                          " must be a NumPy scalar with an explicit type (numpy.float32(x), "
                          "numpy.int32(n), ...) or bytes, not " +
                          nb::cast<std::string>(nb::str(value.type().attr("__name__"))))
                             .c_str());
  }
  nb::bytes bytes = nb::cast<nb::bytes>(value.attr("tobytes")());
  return std::string(bytes.c_str(), bytes.size());
}

namespace {

// A Python object's memory, exported through the buffer protocol for as long as this lives.
class HostView {
 public:
  HostView(nb::handle object, bool writable) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object.ptr(), &view_, flags) != 0) throw nb::python_error();
  }
  ~HostView() { PyBuffer_Release(&view_); }
  HostView(const HostView&) = delete;
  HostView& operator=(const HostView&) = delete;
  void* data() const { return view_.buf; }
  uint64_t size() const { return static_cast<uint64_t>(view_.len); }

 private:
  Py_buffer view_{};
};

// Exports |object|'s memory and hands the export to |stream| to hold until the copy is done.
HostView* HoldHostView(StreamCore& stream, nb::handle object, bool writable) {
  auto* view = new HostView(object, writable);
  stream.Hold(nb::capsule(view, [](void* p) noexcept { delete static_cast<HostView*>(p); }));
  return view;
}

struct EventCore {
  static constexpr const char* kPythonName = "Event";
  static constexpr const char* kClosedMessage = "the event is closed";
  DeviceRef device;
  porta_event_t handle = nullptr;

  EventCore(DeviceRef device_ref, uint32_t flags) : device(std::move(device_ref)) {
    Check(porta_event_create(device.handle(), flags, &handle), "porta_event_create");
  }
  ~EventCore() { porta_event_destroy(handle); }
  EventCore(const EventCore&) = delete;
  EventCore& operator=(const EventCore&) = delete;
};

struct Event : Holder<EventCore> {};

// Answers a query: true when complete, false when pending; raises the error otherwise.
bool QueryResult(porta_status_t status, const char* call) {
  if (status == PORTA_NOT_READY) return false;
  Check(status, call);
  return true;
}

}  // namespace

void CopyFromHost(StreamCore& stream, porta_buffer_t dst, uint64_t offset, nb::handle src) {
  HostView* view = HoldHostView(stream, src, false);
  Check(porta_copy_host_to_device(stream.handle, dst, offset, view->data(), view->size()),
        "porta_copy_host_to_device");
}

void BindMemory(nb::module_& m) {
  nb::enum_<porta_memory_kind_t>(m, "MemoryKind", "Where a buffer lives.")
      .value("DEVICE", PORTA_MEMORY_DEVICE, "Fastest memory for the device; not mappable.")
      .value("HOST_VISIBLE", PORTA_MEMORY_HOST_VISIBLE,
             "Memory the host can map (devices with the host_visible_memory capability).");

  nb::class_<Buffer> buffer(m, "Buffer",
                            "Device memory. A context manager (free on exit); keeps its device and "
                            "runtime alive.");
  buffer
      .def(
          "__init__",
          [](Buffer* self, const DeviceRef& device, uint64_t size, porta_memory_kind_t kind) {
            new (self) Buffer{{std::make_shared<BufferCore>(device, size, kind)}};
          },
          nb::arg("device"), nb::arg("size"), nb::arg("kind") = PORTA_MEMORY_DEVICE,
          "Allocates size bytes of kind memory on device (porta_buffer_alloc).")
      .def_prop_ro("size", [](const Buffer& b) { return b.Get()->size; })
      .def_prop_ro("kind", [](const Buffer& b) { return b.Get()->kind; })
      .def_prop_ro("device", [](const Buffer& b) { return b.Get()->device; })
      .def_prop_ro(
          "native_handle",
          [](const Buffer& b) {
            uint64_t handle = 0;
            Check(porta_buffer_native_handle(b.Get()->handle, &handle),
                  "porta_buffer_native_handle");
            return handle;
          },
          "The backend's handle: a cl_mem, a VkBuffer, a device pointer, or the host address "
          "for the CPU device.")
      .def_prop_ro("freed", [](const Buffer& b) { return !b.core; })
      .def("__repr__", [](const Buffer& b) {
        if (!b.core) return std::string("<porta.Buffer freed>");
        return "<porta.Buffer " + std::to_string(b.core->size) + " bytes>";
      });
  AddClose(buffer, "free",
           "Drops this object's hold on the memory. It is released once no tensor, NumPy view "
           "or queued work uses it; using this object afterwards raises InvalidOperationError.");

  nb::class_<Stream>(m, "Stream",
                     "An in-order asynchronous work queue on one device. A context manager "
                     "(synchronize and destroy on exit).")
      .def(
          "__init__",
          [](Stream* self, const DeviceRef& device) {
            porta_stream_t handle = nullptr;
            Check(porta_stream_create(device.handle(), &handle), "porta_stream_create");
            new (self) Stream{{std::make_shared<StreamCore>(device, handle, true)}};
          },
          nb::arg("device"))
      .def_prop_ro("device", [](const Stream& s) { return s.Get()->device; })
      .def(
          "synchronize", [](const Stream& s) { s.Get()->Synchronize(); },
          "Waits for the queued work; raises the stream's sticky error (DeviceLostError).")
      .def(
          "query",
          [](const Stream& s) {
            const StreamPtr& core = s.Get();
            bool done = QueryResult(porta_stream_query(core->handle), "porta_stream_query");
            if (done) core->held.clear();
            return done;
          },
          "True when all queued work has completed, False while some is pending.")
      .def(
          "copy_from_host",
          [](const Stream& s, const Buffer& dst, nb::handle src, uint64_t dst_offset) {
            CopyFromHost(*s.Get(), dst.Get()->handle, dst_offset, src);
          },
          nb::arg("dst"), nb::arg("src"), nb::arg("dst_offset") = 0,
          nb::sig("def copy_from_host(self, dst: Buffer, src: object, "
                  "dst_offset: int = 0) -> None"),
          "Copies all bytes of src (any C-contiguous buffer-protocol object) into dst, in "
          "stream order. The stream keeps src alive until it is synchronized.")
      .def(
          "copy_to_host",
          [](const Stream& s, nb::handle dst, const Buffer& src, uint64_t src_offset) {
            const StreamPtr& core = s.Get();
            HostView* view = HoldHostView(*core, dst, true);
            Check(porta_copy_device_to_host(core->handle, view->data(), src.Get()->handle,
                                            src_offset, view->size()),
                  "porta_copy_device_to_host");
          },
          nb::arg("dst"), nb::arg("src"), nb::arg("src_offset") = 0,
          nb::sig("def copy_to_host(self, dst: object, src: Buffer, "
                  "src_offset: int = 0) -> None"),
          "Fills dst (a writable C-contiguous buffer-protocol object) from src, in stream "
          "order; dst's contents are defined once the stream is synchronized.")
      .def(
          "copy",
          [](const Stream& s, const Buffer& dst, const Buffer& src, std::optional<uint64_t> size,
             uint64_t dst_offset, uint64_t src_offset) {
            const BufferPtr& d = dst.Get();
            const BufferPtr& from = src.Get();
            uint64_t bytes = size ? *size : from->size - std::min(src_offset, from->size);
            Check(porta_copy_device_to_device(s.Get()->handle, d->handle, dst_offset, from->handle,
                                              src_offset, bytes),
                  "porta_copy_device_to_device");
          },
          nb::arg("dst"), nb::arg("src"), nb::arg("size") = nb::none(), nb::arg("dst_offset") = 0,
          nb::arg("src_offset") = 0,
          "Copies size bytes (default: the rest of src) between buffers, in stream order.")
      .def(
          "fill",
          [](const Stream& s, const Buffer& dst, nb::handle pattern, uint64_t offset,
             std::optional<uint64_t> size) {
            const BufferPtr& d = dst.Get();
            std::string bytes = ScalarBytes(pattern, "pattern");
            uint64_t count = size ? *size : d->size - std::min(offset, d->size);
            Check(porta_fill_buffer(s.Get()->handle, d->handle, offset, count, bytes.data(),
                                    static_cast<uint32_t>(bytes.size())),
                  "porta_fill_buffer");
          },
          nb::arg("dst"), nb::arg("pattern"), nb::arg("offset") = 0, nb::arg("size") = nb::none(),
          nb::sig("def fill(self, dst: Buffer, pattern: numpy.generic | bytes, offset: int = 0, "
                  "size: int | None = None) -> None"),
          "Fills size bytes (default: the rest of dst) with a 1-, 2- or 4-byte pattern.")
      .def(
          "wait_event",
          [](const Stream& s, const Event& e) {
            Check(porta_stream_wait_event(s.Get()->handle, e.Get()->handle),
                  "porta_stream_wait_event");
          },
          nb::arg("event"), "Work queued after this waits until event completes.")
      .def(
          "close", [](Stream& s) { s.core.reset(); },
          "Drops this object's hold; the stream is destroyed (after its queued work) once "
          "nothing uses it.")
      .def_prop_ro("closed", [](const Stream& s) { return !s.core; })
      .def("__enter__", [](nb::handle self) { return self; })
      .def(
          "__exit__",
          [](Stream& s, nb::args) {
            StreamPtr core = std::move(s.core);
            if (core) core->Synchronize();
          },
          nb::sig("def __exit__(self, *args: object) -> None"));

  nb::class_<Event> event(m, "Event", "A point in a stream's work, for ordering and timing.");
  event
      .def(
          "__init__",
          [](Event* self, const DeviceRef& device, bool timing) {
            uint32_t flags = timing ? PORTA_EVENT_DEFAULT : PORTA_EVENT_DISABLE_TIMING;
            new (self) Event{{std::make_shared<EventCore>(device, flags)}};
          },
          nb::arg("device"), nb::arg("timing") = true)
      .def_prop_ro("device", [](const Event& e) { return e.Get()->device; })
      .def(
          "record",
          [](const Event& e, const std::optional<Stream>& stream) {
            const std::shared_ptr<EventCore>& core = e.Get();
            StreamPtr s = StreamOr(stream ? stream->Get() : nullptr, core->device);
            Check(porta_event_record(core->handle, s->handle), "porta_event_record");
          },
          nb::arg("stream") = nb::none(),
          "Records the event at the end of stream (default: the device's default stream).")
      .def(
          "wait",
          [](const Event& e, std::optional<double> timeout) {
            const std::shared_ptr<EventCore>& core = e.Get();
            uint64_t ns = std::numeric_limits<uint64_t>::max();
            if (timeout) ns = static_cast<uint64_t>(std::llround(std::max(0.0, *timeout) * 1e9));
            porta_status_t status;
            {
              nb::gil_scoped_release release;
              status = porta_event_wait(core->handle, ns);
            }
            Check(status, "porta_event_wait");
          },
          nb::arg("timeout") = nb::none(),
          "Blocks until the event completes; raises porta.TimeoutError after timeout seconds.")
      .def(
          "query",
          [](const Event& e) {
            return QueryResult(porta_event_query(e.Get()->handle), "porta_event_query");
          },
          "True when the event has completed.")
      .def(
          "elapsed_ms",
          [](const Event& start, const Event& end) {
            float ms = 0.0f;
            porta_status_t status =
                porta_event_elapsed_ms(start.Get()->handle, end.Get()->handle, &ms);
            if (status == PORTA_NOT_READY) {
              RaiseMessage(PORTA_NOT_READY, "porta_event_elapsed_ms",
                           "an event has not completed yet");
            }
            Check(status, "porta_event_elapsed_ms");
            return ms;
          },
          nb::arg("end"), "Milliseconds from this event to end (both completed).");
  AddClose(event, "close", "Drops this object's hold; the event goes once nothing uses it.");
}

}  // namespace porta_python
