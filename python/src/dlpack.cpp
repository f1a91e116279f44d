// DLPack in Python: Tensor.__dlpack__ / __dlpack_device__ (the array API standard's producer
// side), porta.from_dlpack's consumer side, and the zero-copy import of NumPy arrays that
// porta.from_numpy uses on the CPU device. The conversions themselves are porta_dlpack.h's.
#include <Python.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "porta/porta_dlpack.h"
#include "porta_python.h"

namespace porta_python {
namespace {

constexpr const char* kVersionedName = "dltensor_versioned";
constexpr const char* kUsedVersionedName = "used_dltensor_versioned";
constexpr const char* kUnversionedName = "dltensor";
constexpr const char* kUsedUnversionedName = "used_dltensor";

[[noreturn]] void RaiseBufferError(const std::string& message) {
  PyErr_SetString(PyExc_BufferError, message.c_str());
  throw nb::python_error();
}

// The DLPack device of |device|, as __dlpack_device__ returns it.
std::pair<int32_t, int32_t> DlpackDevice(const DeviceRef& device) {
  const porta_device_info_t info = device.Info();
  const std::string backend = info.backend;
  const int32_t id = static_cast<int32_t>(info.backend_device_index);
  if (backend == "cpu") return {kDLCPU, id};
  if (backend == "cuda") return {kDLCUDA, id};
  if (backend == "hip") return {kDLROCM, id};
  if (backend == "opencl") return {kDLOpenCL, id};
  if (backend == "vulkan") return {kDLVulkan, id};
  if (backend == "level_zero") return {PORTA_DLPACK_DEVICE_ONEAPI, id};
  RaiseBufferError("the " + backend + " backend has no DLPack device type");
}

// The capsule destructors of the protocol: a capsule no consumer took (still named
// "dltensor[_versioned]") calls the managed tensor's deleter; a consumed one is the consumer's.
void DestroyVersionedCapsule(PyObject* capsule) {
  if (PyCapsule_IsValid(capsule, kUsedVersionedName)) return;
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  auto* managed =
      static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule, kVersionedName));
  if (managed == nullptr) {
    PyErr_WriteUnraisable(capsule);
  } else if (managed->deleter != nullptr) {
    managed->deleter(managed);
  }
  PyErr_Restore(type, value, traceback);
}

void DestroyUnversionedCapsule(PyObject* capsule) {
  if (PyCapsule_IsValid(capsule, kUsedUnversionedName)) return;
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kUnversionedName));
  if (managed == nullptr) {
    PyErr_WriteUnraisable(capsule);
  } else if (managed->deleter != nullptr) {
    managed->deleter(managed);
  }
  PyErr_Restore(type, value, traceback);
}

// A new contiguous-span copy of |value| on its device (same shape and strides), for copy=True.
TensorValue CopyOnDevice(const TensorValue& value, StreamCore& stream) {
  const uint64_t span =
      std::max<uint64_t>(SpanBytes(value.view), porta_dtype_size(value.view.dtype));
  auto buffer = std::make_shared<BufferCore>(value.buffer->device, span, value.buffer->kind);
  if (SpanBytes(value.view) > 0) {
    Check(porta_copy_device_to_device(stream.handle, buffer->handle, 0, value.buffer->handle,
                                      value.view.offset, SpanBytes(value.view)),
          "porta_copy_device_to_device");
  }
  TensorValue copy = value;
  copy.view.buffer = buffer->handle;
  copy.view.offset = 0;
  copy.buffer = std::move(buffer);
  return copy;
}

// Finds |device| among |runtime|'s devices.
DeviceRef DeviceOf(const RuntimePtr& runtime, porta_device_t device) {
  for (uint32_t i = 0; i < runtime->device_count(); ++i) {
    if (runtime->device(i) == device) return DeviceRef{runtime, i};
  }
  RaiseMessage(PORTA_ERROR_NOT_FOUND, "porta.from_dlpack",
               "the imported buffer's device is not a device of the runtime");
}

// Wraps the buffer of a successful import in the binding's owner.
Tensor Adopt(const RuntimePtr& runtime, const porta_tensor_t& view) {
  try {
    porta_device_t device = nullptr;
    uint64_t size = 0;
    Check(porta_buffer_device(view.buffer, &device), "porta_buffer_device");
    Check(porta_buffer_size(view.buffer, &size), "porta_buffer_size");
    DeviceRef ref = DeviceOf(runtime, device);
    const porta_memory_kind_t kind =
        ref.IsHostMemory() ? PORTA_MEMORY_HOST_VISIBLE : PORTA_MEMORY_DEVICE;
    auto buffer = std::make_shared<BufferCore>(std::move(ref), view.buffer, size, kind);
    return Tensor{TensorValue{std::move(buffer), view}};
  } catch (...) {
    porta_buffer_free(view.buffer);
    throw;
  }
}

// Imports a DLPack capsule zero copy into |view| and marks it consumed; a failed import leaves it
// unconsumed (its destructor then calls the deleter) and returns the status, |call| naming the C
// function. Raises TypeError for an object that is no unconsumed DLPack capsule.
porta_status_t TryImportCapsule(const RuntimePtr& runtime, nb::handle capsule, porta_tensor_t* view,
                                const char** call) {
  PyObject* object = capsule.ptr();
  if (PyCapsule_IsValid(object, kVersionedName)) {
    auto* managed =
        static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(object, kVersionedName));
    *call = "porta_tensor_from_dlpack";
    const porta_status_t status = porta_tensor_from_dlpack(runtime->handle(), managed, view);
    if (status == PORTA_OK) PyCapsule_SetName(object, kUsedVersionedName);
    return status;
  }
  if (PyCapsule_IsValid(object, kUnversionedName)) {
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(object, kUnversionedName));
    *call = "porta_tensor_from_dlpack_unversioned";
    const porta_status_t status =
        porta_tensor_from_dlpack_unversioned(runtime->handle(), managed, view);
    if (status == PORTA_OK) PyCapsule_SetName(object, kUsedUnversionedName);
    return status;
  }
  throw nb::type_error(
      "not a DLPack capsule, or one already consumed (a capsule is named 'dltensor' or "
      "'dltensor_versioned' until a consumer takes it)");
}

Tensor ImportCapsule(const RuntimePtr& runtime, nb::handle capsule) {
  porta_tensor_t view{};
  const char* call = "";
  Check(TryImportCapsule(runtime, capsule, &view, &call), call);
  return Adopt(runtime, view);
}

// A host array shared through DLPack: the buffer-protocol export keeps the memory in place (and
// the array alive) until Porta's buffer is gone.
struct SharedHostArray {
  DLManagedTensorVersioned managed{};
  int64_t shape[PORTA_TENSOR_MAX_RANK] = {};
  Py_buffer view{};
};

void DeleteSharedHostArray(DLManagedTensorVersioned* self) {
  auto* shared = static_cast<SharedHostArray*>(self->manager_ctx);
  // Porta calls this from whichever thread drops the buffer's last use, with or without the GIL;
  // at interpreter exit the export is left to the process's end.
  if (Py_IsInitialized()) {
    PyGILState_STATE state = PyGILState_Ensure();
    PyBuffer_Release(&shared->view);
    PyGILState_Release(state);
  }
  delete shared;
}

}  // namespace

nb::object TensorDlpack(nb::handle self, nb::handle stream, nb::handle max_version,
                        nb::handle dl_device, nb::handle copy) {
  const Tensor& tensor = nb::cast<const Tensor&>(self);
  const TensorValue& value = tensor.value;
  const std::pair<int32_t, int32_t> here = DlpackDevice(value.buffer->device);
  const bool must_copy = !copy.is_none() && nb::cast<bool>(copy);
  const bool never_copy = !copy.is_none() && !nb::cast<bool>(copy);
  if (!dl_device.is_none()) {
    const auto wanted = nb::cast<std::pair<int32_t, int32_t>>(dl_device);
    if (wanted != here) {
      // Only the host is reachable from every device: a copy through to_numpy().
      if (wanted.first != kDLCPU || never_copy) {
        RaiseBufferError("the tensor is on DLPack device (" + std::to_string(here.first) + ", " +
                         std::to_string(here.second) + "); it can be exported to (" +
                         std::to_string(wanted.first) + ", " + std::to_string(wanted.second) +
                         ") " + (never_copy ? "only with a copy, and copy is False" : "never"));
      }
      nb::object host = self.attr("to_numpy")();
      return host.attr("__dlpack__")(nb::arg("max_version") = max_version);
    }
  }
  (void)stream;  // Porta's streams are not DLPack's integers: the tensor's stream is drained.
  StreamPtr s = DefaultStream(value.buffer->device);
  TensorValue exported = value;
  if (must_copy) exported = CopyOnDevice(value, *s);
  s->Synchronize();
  const bool versioned =
      !max_version.is_none() && nb::len(max_version) >= 1 && nb::cast<int64_t>(max_version[0]) >= 1;
  if (versioned) {
    DLManagedTensorVersioned* managed = nullptr;
    Check(porta_tensor_to_dlpack(&exported.view, &managed), "porta_tensor_to_dlpack");
    if (must_copy) managed->flags |= DLPACK_FLAG_BITMASK_IS_COPIED;
    PyObject* capsule = PyCapsule_New(managed, kVersionedName, DestroyVersionedCapsule);
    if (capsule == nullptr) {
      managed->deleter(managed);
      throw nb::python_error();
    }
    return nb::steal(capsule);
  }
  DLManagedTensor* managed = nullptr;
  Check(porta_tensor_to_dlpack_unversioned(&exported.view, &managed),
        "porta_tensor_to_dlpack_unversioned");
  PyObject* capsule = PyCapsule_New(managed, kUnversionedName, DestroyUnversionedCapsule);
  if (capsule == nullptr) {
    managed->deleter(managed);
    throw nb::python_error();
  }
  return nb::steal(capsule);
}

nb::tuple TensorDlpackDevice(const Tensor& tensor) {
  const std::pair<int32_t, int32_t> device = DlpackDevice(tensor.value.buffer->device);
  return nb::make_tuple(device.first, device.second);
}

Tensor FromDlpack(nb::handle x, const std::optional<Runtime>& runtime,
                  const std::optional<DeviceRef>& device, std::optional<bool> copy) {
  if (!device && !runtime) throw nb::value_error("porta.from_dlpack needs a runtime or a device");
  // A Porta tensor goes back to its own runtime: an OpenCL or Vulkan handle belongs to that
  // runtime's context, which a device of the same index in another runtime does not share.
  RuntimePtr rt;
  if (device) {
    rt = device->runtime;
  } else if (nb::isinstance<Tensor>(x)) {
    rt = nb::cast<const Tensor&>(x).value.buffer->device.runtime;
  } else {
    rt = runtime->Get();
  }
  if (PyCapsule_CheckExact(x.ptr())) return ImportCapsule(rt, x);
  if (!nb::hasattr(x, "__dlpack__")) {
    throw nb::type_error(("porta.from_dlpack needs an object with __dlpack__ (a NumPy array, a "
                          "PyTorch tensor, ...), not " +
                          nb::cast<std::string>(nb::str(x.type().attr("__name__"))))
                             .c_str());
  }
  const bool never_copy = copy.has_value() && !*copy;
  if (device && nb::hasattr(x, "__dlpack_device__")) {
    const auto source = nb::cast<std::pair<int32_t, int32_t>>(x.attr("__dlpack_device__")());
    const auto target = DlpackDevice(*device);
    if (source != target) {
      // Another device than the data's: through the host, which only a host array reaches.
      if (source.first != kDLCPU || never_copy) {
        RaiseBufferError("the array is on DLPack device (" + std::to_string(source.first) + ", " +
                         std::to_string(source.second) + ") and device " + device->Info().backend +
                         " is (" + std::to_string(target.first) + ", " +
                         std::to_string(target.second) + "); " +
                         (never_copy ? "that needs a copy, and copy is False"
                                     : "only host arrays are copied to another device"));
      }
      nb::object host = nb::module_::import_("numpy").attr("from_dlpack")(x);
      return nb::cast<Tensor>(nb::module_::import_("porta").attr("from_numpy")(host, *device));
    }
  }
  nb::object capsule;
  try {
    capsule = x.attr("__dlpack__")(nb::arg("stream") = nb::none(),
                                   nb::arg("max_version") = nb::make_tuple(1, 0));
  } catch (nb::python_error& e) {
    // A producer that predates max_version.
    if (!e.matches(PyExc_TypeError)) throw;
    capsule = x.attr("__dlpack__")();
  }
  porta_tensor_t view{};
  const char* call = "";
  const porta_status_t status = TryImportCapsule(rt, capsule, &view, &call);
  if (status == PORTA_OK) {
    Tensor tensor = Adopt(rt, view);
    if (!copy.value_or(false)) return tensor;
    StreamPtr s = DefaultStream(tensor.value.buffer->device);
    Tensor copied{CopyOnDevice(tensor.value, *s)};
    s->Synchronize();
    return copied;
  }
  // Host memory Porta cannot wrap (read-only, element-misaligned) is copied through NumPy, unless
  // copy is False.
  if (never_copy || status != PORTA_ERROR_INVALID_ARGUMENT ||
      !nb::hasattr(x, "__dlpack_device__") ||
      nb::cast<std::pair<int32_t, int32_t>>(x.attr("__dlpack_device__")()).first != kDLCPU) {
    Raise(status, call);
  }
  // The copy: what Porta cannot take even as a copy (a type it lacks) raises the import's error.
  const std::string message = porta_last_error_message();
  std::optional<DeviceRef> cpu = device;
  for (uint32_t i = 0; i < rt->device_count() && !cpu; ++i) {
    DeviceRef candidate{rt, i};
    if (DlpackDevice(candidate).first == kDLCPU) cpu = candidate;
  }
  if (!cpu) RaiseMessage(status, call, message);
  try {
    nb::object numpy = nb::module_::import_("numpy");
    nb::object host = numpy.attr("array")(numpy.attr("from_dlpack")(x));
    return nb::cast<Tensor>(nb::module_::import_("porta").attr("from_numpy")(host, *cpu));
  } catch (nb::python_error&) {
    RaiseMessage(status, call, message);
  }
}

std::optional<Tensor> ShareHostArray(nb::handle array, porta_dtype_t dtype,
                                     const DeviceRef& device) {
  auto shared = std::make_unique<SharedHostArray>();
  if (PyObject_GetBuffer(array.ptr(), &shared->view,
                         PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_ND) != 0) {
    PyErr_Clear();  // read-only or not contiguous: the caller copies
    return std::nullopt;
  }
  const Py_buffer& view = shared->view;
  if (view.ndim > PORTA_TENSOR_MAX_RANK || view.len == 0 ||
      static_cast<size_t>(view.itemsize) != porta_dtype_size(dtype)) {
    PyBuffer_Release(&shared->view);
    return std::nullopt;
  }
  for (int i = 0; i < view.ndim; ++i) shared->shape[i] = view.shape[i];
  DLManagedTensorVersioned& managed = shared->managed;
  managed.version = {PORTA_DLPACK_MAJOR_VERSION, PORTA_DLPACK_MINOR_VERSION};
  managed.manager_ctx = shared.get();
  managed.deleter = DeleteSharedHostArray;
  managed.dl_tensor.data = view.buf;
  const std::pair<int32_t, int32_t> here = DlpackDevice(device);
  managed.dl_tensor.device = {static_cast<DLDeviceType>(here.first), here.second};
  managed.dl_tensor.ndim = view.ndim;
  managed.dl_tensor.shape = shared->shape;
  switch (dtype) {
    case PORTA_DTYPE_F32:
      managed.dl_tensor.dtype = {kDLFloat, 32, 1};
      break;
    case PORTA_DTYPE_F16:
      managed.dl_tensor.dtype = {kDLFloat, 16, 1};
      break;
    case PORTA_DTYPE_I32:
      managed.dl_tensor.dtype = {kDLInt, 32, 1};
      break;
    case PORTA_DTYPE_I8:
      managed.dl_tensor.dtype = {kDLInt, 8, 1};
      break;
    default:
      PyBuffer_Release(&shared->view);
      return std::nullopt;
  }
  porta_tensor_t out{};
  if (porta_tensor_from_dlpack(device.runtime->handle(), &managed, &out) != PORTA_OK) {
    // Memory the device cannot wrap (an element-misaligned array): the caller copies.
    PyBuffer_Release(&shared->view);
    return std::nullopt;
  }
  shared.release();  // the import owns it now
  return Adopt(device.runtime, out);
}

}  // namespace porta_python
