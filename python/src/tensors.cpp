// porta.DType, porta.Tensor, and the NumPy round trip (from_numpy, Tensor.to_numpy).
//
// On a device whose memory is the host's (the cpu backend), tensors made here live in
// host-visible buffers, and to_numpy() returns a view of the buffer's one mapping: no copy, and
// the view's base keeps the buffer alive. Everywhere else both directions copy through a stream.
#include <Python.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "porta_python.h"

namespace porta_python {

int64_t TensorValue::ElementCount() const {
  int64_t count = 1;
  for (uint32_t i = 0; i < view.rank; ++i) count *= view.shape[i];
  return count;
}

uint64_t SpanBytes(const porta_tensor_t& view) {
  int64_t furthest = 0;
  for (uint32_t i = 0; i < view.rank; ++i) {
    if (view.shape[i] == 0) return 0;
    furthest += (view.shape[i] - 1) * view.strides[i];
  }
  uint64_t block = porta_dtype_block_elements(view.dtype);
  return (static_cast<uint64_t>(furthest) / block + 1) * porta_dtype_size(view.dtype);
}

namespace {

struct DTypeName {
  porta_dtype_t dtype;
  // NumPy's name, or nullptr where NumPy has no such type.
  const char* numpy;
};

constexpr DTypeName kDTypes[] = {
    {PORTA_DTYPE_F32, "float32"}, {PORTA_DTYPE_F16, "float16"}, {PORTA_DTYPE_BF16, nullptr},
    {PORTA_DTYPE_I32, "int32"},   {PORTA_DTYPE_I8, "int8"},     {PORTA_DTYPE_Q4_0, nullptr},
    {PORTA_DTYPE_Q4_1, nullptr},  {PORTA_DTYPE_Q8_0, nullptr},
};

// A porta.DType, a Porta name ("f32", "bf16", "q4_0"), or anything numpy.dtype() takes.
porta_dtype_t ToDType(nb::handle value) {
  if (nb::isinstance<porta_dtype_t>(value)) return nb::cast<porta_dtype_t>(value);
  if (nb::isinstance<nb::str>(value)) {
    std::string name = nb::cast<std::string>(value);
    for (const DTypeName& d : kDTypes) {
      if (name == porta_dtype_name(d.dtype)) return d.dtype;
    }
  }
  nb::object numpy_dtype = nb::module_::import_("numpy").attr("dtype")(value);
  std::string name = nb::cast<std::string>(numpy_dtype.attr("name"));
  for (const DTypeName& d : kDTypes) {
    if (d.numpy && name == d.numpy) return d.dtype;
  }
  throw nb::type_error(("NumPy's " + name +
                        " is not a Porta element type (float32, float16, int32, int8; bf16 and "
                        "the quantized types as porta.DType)")
                           .c_str());
}

nb::dlpack::dtype NumpyDType(porta_dtype_t dtype) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
      return nb::dtype<float>();
    case PORTA_DTYPE_F16:
      return {static_cast<uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
    case PORTA_DTYPE_I32:
      return nb::dtype<int32_t>();
    case PORTA_DTYPE_I8:
      return nb::dtype<int8_t>();
    default:
      RaiseMessage(PORTA_ERROR_UNSUPPORTED, "Tensor.to_numpy",
                   std::string("NumPy has no ") + porta_dtype_name(dtype) +
                       " type; cast the tensor first (porta.ops.cast)");
  }
}

TensorValue MakeView(BufferPtr buffer, porta_dtype_t dtype, const std::vector<int64_t>& shape,
                     const std::optional<std::vector<int64_t>>& strides, uint64_t offset) {
  const char* call = "porta.Tensor";
  if (shape.size() > PORTA_TENSOR_MAX_RANK) {
    RaiseMessage(PORTA_ERROR_INVALID_ARGUMENT, call,
                 "rank " + std::to_string(shape.size()) + " exceeds the limit of " +
                     std::to_string(PORTA_TENSOR_MAX_RANK));
  }
  if (strides && strides->size() != shape.size()) {
    RaiseMessage(PORTA_ERROR_INVALID_ARGUMENT, call, "strides and shape differ in length");
  }
  TensorValue value;
  value.view = porta_tensor_contiguous(buffer->handle, offset, dtype,
                                       static_cast<uint32_t>(shape.size()), shape.data());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0 || (strides && (*strides)[i] < 0)) {
      RaiseMessage(PORTA_ERROR_INVALID_ARGUMENT, call,
                   "dimension " + std::to_string(i) + " has a negative size or stride");
    }
    if (strides) value.view.strides[i] = (*strides)[i];
  }
  uint64_t end = offset + SpanBytes(value.view);
  if (end > buffer->size) {
    RaiseMessage(PORTA_ERROR_OUT_OF_RANGE, call,
                 "the view ends at byte " + std::to_string(end) + " of a buffer of " +
                     std::to_string(buffer->size) + " bytes");
  }
  value.buffer = std::move(buffer);
  return value;
}

// A new contiguous tensor on |device|: host-visible where the device's memory is the host's.
TensorValue Allocate(const DeviceRef& device, porta_dtype_t dtype,
                     const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t s : shape) count *= std::max<int64_t>(s, 0);
  uint64_t block = porta_dtype_block_elements(dtype);
  if (block == 0 || count % static_cast<int64_t>(block) != 0) {
    RaiseMessage(PORTA_ERROR_INVALID_ARGUMENT, "porta.empty",
                 std::string("a ") + porta_dtype_name(dtype) +
                     " tensor needs a multiple of its block size of elements");
  }
  uint64_t bytes = static_cast<uint64_t>(count) / block * porta_dtype_size(dtype);
  porta_memory_kind_t kind =
      device.IsHostMemory() ? PORTA_MEMORY_HOST_VISIBLE : PORTA_MEMORY_DEVICE;
  // A buffer cannot be empty; a tensor with no elements still gets one element's bytes.
  auto buffer = std::make_shared<BufferCore>(
      device, std::max<uint64_t>(bytes, porta_dtype_size(dtype)), kind);
  return MakeView(std::move(buffer), dtype, shape, std::nullopt, 0);
}

Tensor FromNumpy(nb::handle array, const DeviceRef& device, const std::optional<Stream>& stream) {
  nb::object numpy = nb::module_::import_("numpy");
  nb::object contiguous = numpy.attr("ascontiguousarray")(array);
  porta_dtype_t dtype = ToDType(contiguous.attr("dtype"));
  std::vector<int64_t> shape = nb::cast<std::vector<int64_t>>(contiguous.attr("shape"));
  // On the CPU device the tensor is the array's own memory where it can be (C-contiguous after
  // ascontiguousarray, writable, aligned to its element size).
  if (device.IsHostMemory()) {
    if (std::optional<Tensor> shared = ShareHostArray(contiguous, dtype, device)) return *shared;
  }
  TensorValue value = Allocate(device, dtype, shape);
  uint64_t bytes = nb::cast<uint64_t>(contiguous.attr("nbytes"));
  if (bytes == 0) return Tensor{std::move(value)};
  if (value.buffer->kind == PORTA_MEMORY_HOST_VISIBLE) {
    Py_buffer view;
    if (PyObject_GetBuffer(contiguous.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) {
      throw nb::python_error();
    }
    std::memcpy(value.buffer->HostPointer(), view.buf, bytes);
    PyBuffer_Release(&view);
  } else {
    StreamPtr s = StreamOr(stream ? stream->Get() : nullptr, device);
    CopyFromHost(*s, value.buffer->handle, 0, contiguous);
  }
  return Tensor{std::move(value)};
}

nb::ndarray<nb::numpy> ToNumpy(const Tensor& tensor, const std::optional<Stream>& stream) {
  const TensorValue& value = tensor.value;
  nb::dlpack::dtype dtype = NumpyDType(value.view.dtype);
  StreamPtr s = StreamOr(stream ? stream->Get() : nullptr, value.buffer->device);
  s->Synchronize();
  std::vector<size_t> shape(value.view.shape, value.view.shape + value.view.rank);
  uint64_t span = SpanBytes(value.view);
  if (value.buffer->kind == PORTA_MEMORY_HOST_VISIBLE && value.buffer->device.IsHostMemory()) {
    uint8_t* data = value.buffer->HostPointer() + value.view.offset;
    auto* owner = new BufferPtr(value.buffer);
    nb::capsule keep(owner, [](void* p) noexcept { delete static_cast<BufferPtr*>(p); });
    return nb::ndarray<nb::numpy>(data, shape.size(), shape.data(), keep, value.view.strides,
                                  dtype);
  }
  auto* host = new std::vector<uint8_t>(std::max<uint64_t>(span, 1));
  nb::capsule keep(host, [](void* p) noexcept { delete static_cast<std::vector<uint8_t>*>(p); });
  if (span > 0) {
    Check(porta_copy_device_to_host(s->handle, host->data(), value.buffer->handle,
                                    value.view.offset, span),
          "porta_copy_device_to_host");
    s->Synchronize();
  }
  return nb::ndarray<nb::numpy>(host->data(), shape.size(), shape.data(), keep, value.view.strides,
                                dtype);
}

std::string Repr(const Tensor& tensor) {
  std::string shape;
  for (int64_t s : tensor.value.Shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(s);
  porta_device_info_t info = tensor.value.buffer->device.Info();
  return std::string("<porta.Tensor ") + porta_dtype_name(tensor.value.view.dtype) + "[" + shape +
         "] on " + info.backend + ":" + std::to_string(info.backend_device_index) + ">";
}

}  // namespace

void BindTensors(nb::module_& m) {
  nb::enum_<porta_dtype_t>(m, "DType", "Element types of tensors (porta_dtype_t).")
      .value("F32", PORTA_DTYPE_F32)
      .value("F16", PORTA_DTYPE_F16)
      .value("BF16", PORTA_DTYPE_BF16)
      .value("I32", PORTA_DTYPE_I32)
      .value("I8", PORTA_DTYPE_I8)
      .value("Q4_0", PORTA_DTYPE_Q4_0)
      .value("Q4_1", PORTA_DTYPE_Q4_1)
      .value("Q8_0", PORTA_DTYPE_Q8_0);

  nb::class_<Tensor>(m, "Tensor",
                     "A view of device memory with porta_tensor_t's meaning: a buffer, a byte "
                     "offset, an element type, a shape and strides counted in elements. Keeps "
                     "its buffer alive.")
      .def(
          "__init__",
          [](Tensor* self, const Buffer& buffer, nb::handle dtype,
             const std::vector<int64_t>& shape, const std::optional<std::vector<int64_t>>& strides,
             uint64_t offset) {
            new (self) Tensor{MakeView(buffer.Get(), ToDType(dtype), shape, strides, offset)};
          },
          nb::arg("buffer"), nb::arg("dtype"), nb::arg("shape"), nb::arg("strides") = nb::none(),
          nb::arg("offset") = 0,
          nb::sig("def __init__(self, buffer: Buffer, dtype: DType | str | numpy.typing.DTypeLike, "
                  "shape: collections.abc.Sequence[int], strides: collections.abc.Sequence[int] "
                  "| None = None, offset: int = 0) -> None"),
          "A view of buffer; strides default to row-major. Raises OutOfRangeError when the view "
          "does not fit inside the buffer.")
      .def_prop_ro("buffer", [](const Tensor& t) { return Buffer{{t.value.buffer}}; })
      .def_prop_ro("device", [](const Tensor& t) { return t.value.buffer->device; })
      .def_prop_ro("dtype", [](const Tensor& t) { return t.value.view.dtype; })
      .def_prop_ro(
          "offset", [](const Tensor& t) { return t.value.view.offset; },
          "Byte offset of element 0 inside the buffer.")
      .def_prop_ro(
          "shape", [](const Tensor& t) { return nb::tuple(nb::cast(t.value.Shape())); },
          nb::sig("def shape(self) -> tuple[int, ...]"))
      .def_prop_ro(
          "strides", [](const Tensor& t) { return nb::tuple(nb::cast(t.value.Strides())); },
          nb::sig("def strides(self) -> tuple[int, ...]"), "Strides in elements.")
      .def_prop_ro("ndim", [](const Tensor& t) { return t.value.view.rank; })
      .def_prop_ro(
          "size", [](const Tensor& t) { return t.value.ElementCount(); }, "Number of elements.")
      .def_prop_ro("is_contiguous",
                   [](const Tensor& t) {
                     int64_t expected = 1;
                     for (uint32_t i = t.value.view.rank; i-- > 0;) {
                       if (t.value.view.shape[i] != 1 && t.value.view.strides[i] != expected) {
                         return false;
                       }
                       expected *= t.value.view.shape[i];
                     }
                     return true;
                   })
      .def(
          "slice",
          [](const Tensor& t, int32_t axis, int64_t start, int64_t stop, int64_t step) {
            Tensor out{t.value};
            Check(porta_tensor_slice(&t.value.view, axis, start, stop, step, &out.value.view),
                  "porta_tensor_slice");
            return out;
          },
          nb::arg("axis"), nb::arg("start"), nb::arg("stop"), nb::arg("step") = 1,
          "The view of indices start, start + step, ... below stop along axis.")
      .def(
          "permute",
          [](const Tensor& t, const std::vector<int32_t>& perm) {
            if (perm.size() != t.value.view.rank) {
              RaiseMessage(PORTA_ERROR_INVALID_ARGUMENT, "porta_tensor_permute",
                           "perm has " + std::to_string(perm.size()) + " entries for rank " +
                               std::to_string(t.value.view.rank));
            }
            Tensor out{t.value};
            Check(porta_tensor_permute(&t.value.view, perm.data(), &out.value.view),
                  "porta_tensor_permute");
            return out;
          },
          nb::arg("perm"), "The view with dimension d taken from dimension perm[d].")
      .def("to_numpy", &ToNumpy, nb::arg("stream") = nb::none(),
           nb::sig("def to_numpy(self, stream: Stream | None = None) -> "
                   "numpy.typing.NDArray[typing.Any]"),
           "Synchronizes stream (default: the device's default stream), then returns the tensor "
           "as a NumPy array: a view of the device's memory where Device.zero_copy (its base "
           "keeps the buffer alive; writes go both ways), a copy elsewhere.")
      .def("__dlpack__", &TensorDlpack, nb::arg("stream") = nb::none(),
           nb::arg("max_version") = nb::none(), nb::arg("dl_device") = nb::none(),
           nb::arg("copy") = nb::none(),
           nb::sig("def __dlpack__(self, *, stream: int | typing.Any | None = None, max_version: "
                   "tuple[int, int] | None = None, dl_device: tuple[int, int] | None = None, "
                   "copy: bool | None = None) -> typing.Any"),
           "The tensor as a DLPack capsule (the array API standard's protocol): "
           "'dltensor_versioned' (DLPack 1.0) when max_version is (1, x) or later, else the "
           "unversioned 'dltensor'. Zero copy: the capsule holds the buffer until its consumer "
           "is done. The device's default stream is synchronized first (stream is accepted and "
           "not otherwise used). copy=True exports a copy on the same device; dl_device=(1, 0) "
           "for a tensor on another device exports a host copy (refused with BufferError when "
           "copy is False).")
      .def("__dlpack_device__", &TensorDlpackDevice,
           nb::sig("def __dlpack_device__(self) -> tuple[int, int]"),
           "(DLPack device type, device id): (1, i) for cpu, (2, i) cuda, (10, i) hip, (4, i) "
           "opencl, (7, i) vulkan, (14, i) level_zero, i being the device's index in its "
           "backend.")
      .def("__repr__", &Repr);

  m.def("_from_dlpack", &FromDlpack, nb::arg("x"), nb::arg("runtime").none(),
        nb::arg("device").none(), nb::arg("copy").none(),
        nb::sig("def _from_dlpack(x: typing.Any, runtime: Runtime | None, device: Device | None, "
                "copy: bool | None) -> Tensor"),
        "porta.from_dlpack's implementation (call porta.from_dlpack).");

  m.def(
      "empty",
      [](nb::handle shape, nb::handle dtype, const DeviceRef& device) {
        std::vector<int64_t> dims = nb::isinstance<nb::int_>(shape)
                                        ? std::vector<int64_t>{nb::cast<int64_t>(shape)}
                                        : nb::cast<std::vector<int64_t>>(shape);
        return Tensor{Allocate(device, ToDType(dtype), dims)};
      },
      nb::arg("shape"), nb::arg("dtype"), nb::arg("device"),
      nb::sig("def empty(shape: int | collections.abc.Sequence[int], dtype: DType | str | "
              "numpy.typing.DTypeLike, device: Device) -> Tensor"),
      "A new contiguous tensor with undefined contents (host-visible memory where "
      "device.zero_copy, so that to_numpy() is a view).");
  m.def("from_numpy", &FromNumpy, nb::arg("array"), nb::arg("device"),
        nb::arg("stream") = nb::none(),
        nb::sig("def from_numpy(array: numpy.typing.ArrayLike, device: Device, stream: Stream | "
                "None = None) -> Tensor"),
        "A contiguous tensor on device holding array's values (float32, float16, int32 or "
        "int8). On the CPU device it is the array's own memory, zero copy, when the array is "
        "C-contiguous, writable and aligned to its element size (the tensor keeps the array "
        "alive; writes go both ways); otherwise the values are copied into a new buffer's "
        "mapping. Elsewhere they are copied on stream (default: the device's default stream), "
        "which keeps the array alive until it is synchronized.");
}

}  // namespace porta_python
