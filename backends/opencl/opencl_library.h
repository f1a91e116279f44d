// The OpenCL API, resolved at run time from the ICD loader (libOpenCL.so.1) so that libporta loads
// on machines without OpenCL.
#ifndef PORTA_BACKENDS_OPENCL_OPENCL_LIBRARY_H_
#define PORTA_BACKENDS_OPENCL_OPENCL_LIBRARY_H_

#include <memory>
#include <string>

#include "backends/opencl/cl_headers.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::opencl {

// Every OpenCL 1.2 function the backend calls, by exported name; the loader must have them all.
#define PORTA_OPENCL_FUNCTIONS(X) \
  X(clGetPlatformIDs)             \
  X(clGetPlatformInfo)            \
  X(clGetDeviceIDs)               \
  X(clGetDeviceInfo)              \
  X(clCreateContext)              \
  X(clRetainContext)              \
  X(clReleaseContext)             \
  X(clCreateCommandQueue)         \
  X(clRetainCommandQueue)         \
  X(clReleaseCommandQueue)        \
  X(clCreateBuffer)               \
  X(clCreateSubBuffer)            \
  X(clRetainMemObject)            \
  X(clReleaseMemObject)           \
  X(clGetMemObjectInfo)           \
  X(clEnqueueReadBuffer)          \
  X(clEnqueueWriteBuffer)         \
  X(clEnqueueCopyBuffer)          \
  X(clEnqueueMapBuffer)           \
  X(clEnqueueUnmapMemObject)      \
  X(clEnqueueMarkerWithWaitList)  \
  X(clEnqueueBarrierWithWaitList) \
  X(clEnqueueNDRangeKernel)       \
  X(clFlush)                      \
  X(clFinish)                     \
  X(clWaitForEvents)              \
  X(clGetEventInfo)               \
  X(clGetEventProfilingInfo)      \
  X(clRetainEvent)                \
  X(clCreateUserEvent)            \
  X(clSetUserEventStatus)         \
  X(clSetEventCallback)           \
  X(clReleaseEvent)               \
  X(clCreateProgramWithSource)    \
  X(clCreateProgramWithBinary)    \
  X(clBuildProgram)               \
  X(clGetProgramInfo)             \
  X(clGetProgramBuildInfo)        \
  X(clReleaseProgram)             \
  X(clCreateKernel)               \
  X(clGetKernelInfo)              \
  X(clGetKernelWorkGroupInfo)     \
  X(clSetKernelArg)               \
  X(clReleaseKernel)              \
  X(clGetExtensionFunctionAddressForPlatform)

// Functions the loader may lack; the backend checks them at every use. clEnqueueFillBuffer is 1.2
// too, but a loader or platform may lack it (the fill kernel covers it); clCreateProgramWithIL is
// OpenCL 2.1 (SPIR-V programs).
#define PORTA_OPENCL_OPTIONAL_FUNCTIONS(X) \
  X(clEnqueueFillBuffer)                   \
  X(clCreateProgramWithIL)

// The resolved ICD loader: a member per function, each of the type the Khronos header declares.
struct Library {
  // Opens the loader (PORTA_OPENCL_LIBRARY, when set, replaces the default names) and resolves
  // every function. Returns false with the reason in |why| when the library is missing or lacks
  // a function of PORTA_OPENCL_FUNCTIONS (naming each one it lacks).
  bool Load(std::string* why);

#define PORTA_OPENCL_MEMBER(symbol) decltype(&::symbol) symbol = nullptr;
  PORTA_OPENCL_FUNCTIONS(PORTA_OPENCL_MEMBER)
  PORTA_OPENCL_OPTIONAL_FUNCTIONS(PORTA_OPENCL_MEMBER)
#undef PORTA_OPENCL_MEMBER

 private:
  std::unique_ptr<common::DynamicLibrary> library_;
};

// Returns the symbolic name of an OpenCL error code ("CL_INVALID_VALUE"), or "CL_UNKNOWN_ERROR".
const char* ClErrorName(cl_int error);

// Maps an OpenCL error code to the closest Porta status.
porta_status_t ClStatus(cl_int error);

// Writes "<call> failed: <name> (<code>)" plus |context| into |msg| and returns the matching
// status.
porta_status_t ClFail(porta_be_msg msg, cl_int error, const char* call, const char* context = "");

}  // namespace porta::opencl

#endif  // PORTA_BACKENDS_OPENCL_OPENCL_LIBRARY_H_
