// porta.Error and one subclass per porta_status_t error.
#include <Python.h>
#include <nanobind/stl/string.h>

#include <array>
#include <string>

#include "porta_python.h"

namespace porta_python {
namespace {

struct ErrorClass {
  porta_status_t status;
  const char* name;
  // A built-in exception the class also derives from, so that `except MemoryError` and
  // `except TimeoutError` catch Porta's too.
  PyObject* also;
};

// Filled at module initialization; indexed by status.
std::array<PyObject*, PORTA_ERROR_INVALID_OPERATION + 1> error_types{};
PyObject* base_error = nullptr;

}  // namespace

void RaiseMessage(porta_status_t status, const char* call, const std::string& message) {
  PyObject* type = base_error;
  if (status >= 0 && static_cast<size_t>(status) < error_types.size() && error_types[status]) {
    type = error_types[status];
  }
  std::string text = std::string(call) + " failed: " + porta_status_string(status);
  if (!message.empty()) text += ": " + message;
  nb::object error = nb::borrow(type)(text);
  error.attr("status") = static_cast<int>(status);
  error.attr("status_name") = porta_status_string(status);
  error.attr("message") = message;
  error.attr("call") = call;
  PyErr_SetObject(type, error.ptr());
  throw nb::python_error();
}

void Raise(porta_status_t status, const char* call) {
  RaiseMessage(status, call, porta_last_error_message());
}

void BindErrors(nb::module_& m) {
  const ErrorClass classes[] = {
      {PORTA_ERROR_INVALID_ARGUMENT, "InvalidArgumentError", nullptr},
      {PORTA_ERROR_INVALID_HANDLE, "InvalidHandleError", nullptr},
      {PORTA_ERROR_OUT_OF_MEMORY, "OutOfMemoryError", PyExc_MemoryError},
      {PORTA_ERROR_UNSUPPORTED, "UnsupportedError", nullptr},
      {PORTA_ERROR_NOT_FOUND, "NotFoundError", nullptr},
      {PORTA_ERROR_OUT_OF_RANGE, "OutOfRangeError", nullptr},
      {PORTA_ERROR_BUILD_FAILED, "BuildFailedError", nullptr},
      {PORTA_ERROR_DEVICE_LOST, "DeviceLostError", nullptr},
      {PORTA_ERROR_TIMEOUT, "TimeoutError", PyExc_TimeoutError},
      {PORTA_ERROR_ABI_MISMATCH, "AbiMismatchError", nullptr},
      {PORTA_ERROR_BACKEND, "BackendError", nullptr},
      {PORTA_ERROR_INVALID_OPERATION, "InvalidOperationError", nullptr},
  };
  nb::dict base_attrs;
  base_attrs["__doc__"] =
      "A Porta call failed. Attributes: status (the porta_status_t value), status_name "
      "(\"PORTA_ERROR_OUT_OF_RANGE\"), message (porta_last_error_message() of the failure) and "
      "call (the C function that failed).";
  base_error = PyErr_NewException("porta.Error", PyExc_RuntimeError, base_attrs.ptr());
  if (base_error == nullptr) throw nb::python_error();
  m.attr("Error") = nb::steal(base_error);
  for (const ErrorClass& c : classes) {
    std::string qualified = std::string("porta.") + c.name;
    nb::object bases = c.also
                           ? nb::object(nb::make_tuple(nb::handle(base_error), nb::handle(c.also)))
                           : nb::object(nb::borrow(base_error));
    nb::dict attrs;
    attrs["__doc__"] = std::string("Raised for ") + porta_status_string(c.status) + ".";
    PyObject* type = PyErr_NewException(qualified.c_str(), bases.ptr(), attrs.ptr());
    if (type == nullptr) throw nb::python_error();
    error_types[c.status] = type;
    m.attr(c.name) = nb::steal(type);
  }
}

}  // namespace porta_python
