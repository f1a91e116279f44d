// The OpenCL entry points the backend uses, resolved at run time from the ICD loader.
#ifndef PORTA_BACKENDS_OPENCL_CL_API_H_
#define PORTA_BACKENDS_OPENCL_CL_API_H_

#include <memory>
#include <string>

#include "backends/opencl/cl_headers.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::opencl {

// Function pointers of the OpenCL 1.2 API (plus the optional later entry points), looked up with
// dlsym so that Porta has no link-time dependency on libOpenCL. Optional entries are NULL when the
// loader predates them; the backend checks them at every use.
struct ClApi {
  std::unique_ptr<common::DynamicLibrary> library;

#define PORTA_CL_REQUIRED(name) decltype(&::name) name = nullptr;
#define PORTA_CL_OPTIONAL(name) decltype(&::name) name = nullptr;
#include "backends/opencl/cl_api_functions.inc"
#undef PORTA_CL_REQUIRED
#undef PORTA_CL_OPTIONAL

  // Opens the loader (the PORTA_OPENCL_LIBRARY environment variable overrides its name) and
  // resolves every function. Returns false with the reason in |error| when the library is missing
  // or lacks a required OpenCL 1.2 entry point.
  bool Load(std::string* error);
};

// Returns the symbolic name of an OpenCL error code ("CL_INVALID_VALUE"), or "CL_UNKNOWN_ERROR".
const char* ClErrorName(cl_int error);

// Maps an OpenCL error code to the closest Porta status.
porta_status_t ClStatus(cl_int error);

// Writes "<call> failed: <name> (<code>)" plus |context| into |msg| and returns the matching
// status.
porta_status_t ClFail(porta_be_msg msg, cl_int error, const char* call, const char* context = "");

}  // namespace porta::opencl

#endif  // PORTA_BACKENDS_OPENCL_CL_API_H_
