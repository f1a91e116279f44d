#include "backends/opencl/cl_api.h"

#include <cstdlib>
#include <vector>

#include "porta/sdk/message.h"

namespace porta::opencl {

bool ClApi::Load(std::string* error) {
  std::vector<std::string> names;
  const char* override_name = std::getenv("PORTA_OPENCL_LIBRARY");
  if (override_name != nullptr && override_name[0] != '\0') {
    names.emplace_back(override_name);
  } else {
    // The versioned name is what the ICD loader package installs; the bare name only exists with
    // development files, so it comes second.
    names = {"libOpenCL.so.1", "libOpenCL.so"};
  }
  std::string open_error;
  library = common::DynamicLibrary::Open(names, &open_error);
  if (library == nullptr) {
    *error = "no OpenCL ICD loader (" + open_error + "); install ocl-icd-libopencl1 and a driver " +
             "such as pocl-opencl-icd, or set PORTA_OPENCL_LIBRARY";
    return false;
  }
  std::string missing;
#define PORTA_CL_REQUIRED(name) library->Load(&name, #name, &missing);
#define PORTA_CL_OPTIONAL(name) library->Load(&name, #name, nullptr);
#include "backends/opencl/cl_api_functions.inc"
#undef PORTA_CL_REQUIRED
#undef PORTA_CL_OPTIONAL
  if (!missing.empty()) {
    *error = library->name() + " lacks OpenCL 1.2 entry points: " + missing;
    library.reset();
    return false;
  }
  return true;
}

const char* ClErrorName(cl_int error) {
  switch (error) {
#define PORTA_CL_ERROR(name) \
  case name:                 \
    return #name;
    PORTA_CL_ERROR(CL_SUCCESS)
    PORTA_CL_ERROR(CL_DEVICE_NOT_FOUND)
    PORTA_CL_ERROR(CL_DEVICE_NOT_AVAILABLE)
    PORTA_CL_ERROR(CL_COMPILER_NOT_AVAILABLE)
    PORTA_CL_ERROR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    PORTA_CL_ERROR(CL_OUT_OF_RESOURCES)
    PORTA_CL_ERROR(CL_OUT_OF_HOST_MEMORY)
    PORTA_CL_ERROR(CL_PROFILING_INFO_NOT_AVAILABLE)
    PORTA_CL_ERROR(CL_MEM_COPY_OVERLAP)
    PORTA_CL_ERROR(CL_IMAGE_FORMAT_MISMATCH)
    PORTA_CL_ERROR(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    PORTA_CL_ERROR(CL_BUILD_PROGRAM_FAILURE)
    PORTA_CL_ERROR(CL_MAP_FAILURE)
    PORTA_CL_ERROR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    PORTA_CL_ERROR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    PORTA_CL_ERROR(CL_COMPILE_PROGRAM_FAILURE)
    PORTA_CL_ERROR(CL_LINKER_NOT_AVAILABLE)
    PORTA_CL_ERROR(CL_LINK_PROGRAM_FAILURE)
    PORTA_CL_ERROR(CL_DEVICE_PARTITION_FAILED)
    PORTA_CL_ERROR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    PORTA_CL_ERROR(CL_INVALID_VALUE)
    PORTA_CL_ERROR(CL_INVALID_DEVICE_TYPE)
    PORTA_CL_ERROR(CL_INVALID_PLATFORM)
    PORTA_CL_ERROR(CL_INVALID_DEVICE)
    PORTA_CL_ERROR(CL_INVALID_CONTEXT)
    PORTA_CL_ERROR(CL_INVALID_QUEUE_PROPERTIES)
    PORTA_CL_ERROR(CL_INVALID_COMMAND_QUEUE)
    PORTA_CL_ERROR(CL_INVALID_HOST_PTR)
    PORTA_CL_ERROR(CL_INVALID_MEM_OBJECT)
    PORTA_CL_ERROR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    PORTA_CL_ERROR(CL_INVALID_IMAGE_SIZE)
    PORTA_CL_ERROR(CL_INVALID_SAMPLER)
    PORTA_CL_ERROR(CL_INVALID_BINARY)
    PORTA_CL_ERROR(CL_INVALID_BUILD_OPTIONS)
    PORTA_CL_ERROR(CL_INVALID_PROGRAM)
    PORTA_CL_ERROR(CL_INVALID_PROGRAM_EXECUTABLE)
    PORTA_CL_ERROR(CL_INVALID_KERNEL_NAME)
    PORTA_CL_ERROR(CL_INVALID_KERNEL_DEFINITION)
    PORTA_CL_ERROR(CL_INVALID_KERNEL)
    PORTA_CL_ERROR(CL_INVALID_ARG_INDEX)
    PORTA_CL_ERROR(CL_INVALID_ARG_VALUE)
    PORTA_CL_ERROR(CL_INVALID_ARG_SIZE)
    PORTA_CL_ERROR(CL_INVALID_KERNEL_ARGS)
    PORTA_CL_ERROR(CL_INVALID_WORK_DIMENSION)
    PORTA_CL_ERROR(CL_INVALID_WORK_GROUP_SIZE)
    PORTA_CL_ERROR(CL_INVALID_WORK_ITEM_SIZE)
    PORTA_CL_ERROR(CL_INVALID_GLOBAL_OFFSET)
    PORTA_CL_ERROR(CL_INVALID_EVENT_WAIT_LIST)
    PORTA_CL_ERROR(CL_INVALID_EVENT)
    PORTA_CL_ERROR(CL_INVALID_OPERATION)
    PORTA_CL_ERROR(CL_INVALID_GL_OBJECT)
    PORTA_CL_ERROR(CL_INVALID_BUFFER_SIZE)
    PORTA_CL_ERROR(CL_INVALID_MIP_LEVEL)
    PORTA_CL_ERROR(CL_INVALID_GLOBAL_WORK_SIZE)
    PORTA_CL_ERROR(CL_INVALID_PROPERTY)
    PORTA_CL_ERROR(CL_INVALID_IMAGE_DESCRIPTOR)
    PORTA_CL_ERROR(CL_INVALID_COMPILER_OPTIONS)
    PORTA_CL_ERROR(CL_INVALID_LINKER_OPTIONS)
    PORTA_CL_ERROR(CL_INVALID_DEVICE_PARTITION_COUNT)
    PORTA_CL_ERROR(CL_INVALID_PIPE_SIZE)
    PORTA_CL_ERROR(CL_INVALID_DEVICE_QUEUE)
    PORTA_CL_ERROR(CL_INVALID_SPEC_ID)
    PORTA_CL_ERROR(CL_MAX_SIZE_RESTRICTION_EXCEEDED)
    PORTA_CL_ERROR(CL_PLATFORM_NOT_FOUND_KHR)
#undef PORTA_CL_ERROR
    default:
      return "CL_UNKNOWN_ERROR";
  }
}

porta_status_t ClStatus(cl_int error) {
  switch (error) {
    case CL_SUCCESS:
      return PORTA_OK;
    case CL_OUT_OF_HOST_MEMORY:
    case CL_OUT_OF_RESOURCES:
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_INVALID_BUFFER_SIZE:
      return PORTA_ERROR_OUT_OF_MEMORY;
    case CL_BUILD_PROGRAM_FAILURE:
    case CL_COMPILE_PROGRAM_FAILURE:
    case CL_LINK_PROGRAM_FAILURE:
    case CL_INVALID_BUILD_OPTIONS:
    case CL_INVALID_COMPILER_OPTIONS:
    case CL_INVALID_BINARY:
    case CL_COMPILER_NOT_AVAILABLE:
      return PORTA_ERROR_BUILD_FAILED;
    case CL_INVALID_KERNEL_NAME:
      return PORTA_ERROR_NOT_FOUND;
    case CL_INVALID_WORK_GROUP_SIZE:
    case CL_INVALID_WORK_ITEM_SIZE:
    case CL_INVALID_GLOBAL_WORK_SIZE:
      return PORTA_ERROR_OUT_OF_RANGE;
    case CL_DEVICE_NOT_AVAILABLE:
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST:
      return PORTA_ERROR_DEVICE_LOST;
    default:
      return PORTA_ERROR_BACKEND;
  }
}

porta_status_t ClFail(porta_be_msg msg, cl_int error, const char* call, const char* context) {
  return common::Fail(msg, ClStatus(error), "opencl: %s failed: %s (%d)%s%s", call,
                      ClErrorName(error), static_cast<int>(error), context[0] != '\0' ? "; " : "",
                      context);
}

}  // namespace porta::opencl
