// Includes the Khronos OpenCL headers with the settings the backend needs: the 3.0 declarations
// (the backend decides at run time which ones a platform has) and the 1.2 entry points that 2.0
// deprecated, which an OpenCL 1.2 device needs.
#ifndef PORTA_BACKENDS_OPENCL_CL_HEADERS_H_
#define PORTA_BACKENDS_OPENCL_CL_HEADERS_H_

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#ifndef CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#endif

#include <CL/cl.h>
#include <CL/cl_ext.h>

#include "porta/porta_backend.h"

#endif  // PORTA_BACKENDS_OPENCL_CL_HEADERS_H_
