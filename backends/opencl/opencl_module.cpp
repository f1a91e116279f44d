// Modules (programs), the on-disk program cache, kernels and launches.
#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>

#include "backends/opencl/opencl_c_scan.h"
#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"
#include "porta/sdk/spirv_validate.h"

namespace porta::opencl {
namespace {

// Prepended to OpenCL C sources under the constrained profile. The profile's device has no fp64
// or fp16, so kernels that test the extension macros take their narrow path, and the pragmas make
// the compiler reject double and half where it honours them. #line keeps the build log's line
// numbers those of the caller's source.
constexpr char kNpuPrologue[] =
    "#pragma OPENCL EXTENSION cl_khr_fp64 : disable\n"
    "#pragma OPENCL EXTENSION cl_khr_fp16 : disable\n"
    "#undef cl_khr_fp64\n"
    "#undef cl_khr_fp16\n"
    "#line 1\n";

std::string BuildLog(const ClApi& api, cl_program program, cl_device_id device) {
  size_t size = 0;
  if (api.clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size) !=
          CL_SUCCESS ||
      size == 0) {
    return "(no build log)";
  }
  std::string log(size, '\0');
  api.clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr);
  log.resize(std::strlen(log.c_str()));
  return log;
}

// Everything that decides what the driver produces for a source goes into the key, so that a
// driver update, a different device or other options never reuse a stale binary.
std::string CacheKey(const Device* device, porta_kernel_format_t format, std::string_view source,
                     const std::string& options) {
  std::string key = "porta-opencl-program 1";
  key += "\nporta=" + device->backend->porta_version;
  key += "\nformat=" + std::to_string(static_cast<int>(format));
  key += "\nsource=" + common::HexDigest128(source) + " " + std::to_string(source.size());
  key += "\noptions=" + options;
  key += "\nplatform=" + device->platform->name + " / " + device->platform_version;
  key += "\ndevice=" + std::string(device->info.name) + " / " + device->device_version;
  key += "\ndriver=" + std::string(device->info.driver_version);
  return key;
}

// Reads the (single-device) program's binary; empty when the driver offers none.
std::vector<uint8_t> ProgramBinary(const ClApi& api, cl_program program) {
  size_t size = 0;
  if (api.clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, nullptr) !=
          CL_SUCCESS ||
      size == 0) {
    return {};
  }
  std::vector<uint8_t> binary(size);
  unsigned char* pointer = binary.data();
  if (api.clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(pointer), &pointer, nullptr) !=
      CL_SUCCESS) {
    return {};
  }
  return binary;
}

// Tries the cached binary; returns NULL when there is none or the driver refuses it.
cl_program LoadCachedProgram(Device* device, const std::string& key, const std::string& options,
                             const char* what) {
  const ClApi& api = *device->api;
  Backend* backend = device->backend;
  std::optional<std::vector<uint8_t>> binary = backend->cache.Load(key);
  if (!binary.has_value() || binary->empty()) {
    backend->Log(PORTA_LOG_DEBUG, "opencl: program cache miss for %s", what);
    return nullptr;
  }
  const size_t size = binary->size();
  const unsigned char* data = binary->data();
  cl_int binary_status = CL_SUCCESS;
  cl_int error = CL_SUCCESS;
  cl_program program = api.clCreateProgramWithBinary(device->context, 1, &device->id, &size, &data,
                                                     &binary_status, &error);
  if (error == CL_SUCCESS && binary_status == CL_SUCCESS) {
    error = api.clBuildProgram(program, 1, &device->id, options.c_str(), nullptr, nullptr);
    if (error == CL_SUCCESS) {
      backend->Log(PORTA_LOG_DEBUG, "opencl: program cache hit for %s (%s)", what,
                   backend->cache.PathFor(key).c_str());
      return program;
    }
  }
  if (program != nullptr) api.clReleaseProgram(program);
  backend->Log(PORTA_LOG_INFO,
               "opencl: the driver rejected the cached program for %s (%s); "
               "rebuilding from source",
               what, ClErrorName(error != CL_SUCCESS ? error : binary_status));
  return nullptr;
}

}  // namespace

porta_status_t BuildProgram(Device* device, porta_kernel_format_t format, const void* data,
                            size_t size, const char* options, const char* what,
                            cl_program* out_program, porta_be_msg msg) {
  const ClApi& api = *device->api;
  std::string all_options;
  const std::string user_options = options != nullptr ? options : "";
  if (device->constrained) {
    if (user_options.find("-cl-std=CL2") != std::string::npos ||
        user_options.find("-cl-std=CL3") != std::string::npos) {
      return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                          "opencl: the npu profile compiles OpenCL C 1.2 only; build options "
                          "'%s' ask for a later version",
                          user_options.c_str());
    }
    all_options = "-cl-std=CL1.2";
  }
  const std::string* parts[] = {&device->quirks.build_options, &user_options};
  for (const std::string* part : parts) {
    if (part->empty()) continue;
    if (!all_options.empty()) all_options += ' ';
    all_options += *part;
  }
  std::string text;
  std::string_view source(static_cast<const char*>(data), size);
  if (format == PORTA_FORMAT_OPENCL_C && device->constrained) {
    const int line = FirstDoubleUse(source);
    if (line != 0) {
      return common::Fail(msg, PORTA_ERROR_BUILD_FAILED,
                          "opencl: building %s failed: line %d uses double, and the npu profile's "
                          "device has no fp64",
                          what, line);
    }
    text = kNpuPrologue;
    text.append(source);
    source = text;
  }

  const bool use_cache =
      device->backend->cache.enabled() && !(device->quirks.flags & kQuirkNoProgramBinaries);
  const std::string key = use_cache ? CacheKey(device, format, source, all_options) : "";
  if (use_cache) {
    cl_program cached = LoadCachedProgram(device, key, all_options, what);
    if (cached != nullptr) {
      *out_program = cached;
      return PORTA_OK;
    }
  }

  cl_int error = CL_SUCCESS;
  cl_program program = nullptr;
  if (format == PORTA_FORMAT_OPENCL_C) {
    const char* pointer = source.data();
    const size_t length = source.size();
    program = api.clCreateProgramWithSource(device->context, 1, &pointer, &length, &error);
    if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateProgramWithSource", what);
  } else if (format == PORTA_FORMAT_SPIRV_KERNEL && device->create_program_with_il != nullptr) {
    // Nothing promises that a driver survives malformed SPIR-V (lavapipe does not), so a module
    // reaches clCreateProgramWithIL only once it validates.
    common::SpirvValidateOptions rules;
    rules.environment = common::SpirvEnvironment::kOpenCl;
    std::string invalid;
    if (!common::ValidateSpirvBytes(data, size, rules, &invalid)) {
      return common::Fail(msg, PORTA_ERROR_BUILD_FAILED, "opencl: the SPIR-V module is invalid: %s",
                          invalid.c_str());
    }
    program = device->create_program_with_il(device->context, data, size, &error);
    if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateProgramWithIL", what);
  } else {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED, "opencl: cannot build format %d",
                        static_cast<int>(format));
  }
  error = api.clBuildProgram(program, 1, &device->id, all_options.c_str(), nullptr, nullptr);
  if (error != CL_SUCCESS) {
    const std::string log = BuildLog(api, program, device->id);
    api.clReleaseProgram(program);
    return common::Fail(msg, PORTA_ERROR_BUILD_FAILED,
                        "opencl: building %s failed (%s) with options '%s'; build log:\n%s", what,
                        ClErrorName(error), all_options.c_str(), log.c_str());
  }
  if (use_cache) {
    const std::vector<uint8_t> binary = ProgramBinary(api, program);
    if (!binary.empty() && device->backend->cache.Store(key, binary.data(), binary.size())) {
      device->backend->Log(PORTA_LOG_DEBUG, "opencl: program cache store for %s (%s)", what,
                           device->backend->cache.PathFor(key).c_str());
    }
  }
  *out_program = program;
  return PORTA_OK;
}

porta_status_t ModuleLoad(porta_be_device_t device_handle, const porta_module_source_t* source,
                          porta_be_module_t* out, porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  const ClApi& api = *device->api;
  if (source == nullptr || source->data == nullptr || source->size == 0) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                        "opencl: the module source is empty (data NULL or size 0)");
  }
  if (!(device->info.kernel_formats & PORTA_FORMAT_BIT(source->format))) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: '%s' does not accept kernel format %d (accepted mask 0x%x)",
                        device->info.name, static_cast<int>(source->format),
                        device->info.kernel_formats);
  }
  cl_program program = nullptr;
  porta_status_t status = BuildProgram(device, source->format, source->data, source->size,
                                       source->build_options, "module", &program, msg);
  if (status != PORTA_OK) return status;

  auto module = std::unique_ptr<Module>(new (std::nothrow) Module());
  if (module == nullptr) {
    api.clReleaseProgram(program);
    return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: module");
  }
  module->device = device;
  module->program = program;
  if (source->entry_count > 0) {
    size_t size = 0;
    api.clGetProgramInfo(program, CL_PROGRAM_KERNEL_NAMES, 0, nullptr, &size);
    std::string names(size, '\0');
    api.clGetProgramInfo(program, CL_PROGRAM_KERNEL_NAMES, size, names.data(), nullptr);
    names.resize(std::strlen(names.c_str()));
    const std::string padded = ";" + names + ";";
    for (uint32_t i = 0; i < source->entry_count; ++i) {
      const char* entry = source->entry_names != nullptr ? source->entry_names[i] : nullptr;
      if (entry == nullptr || padded.find(";" + std::string(entry) + ";") == std::string::npos) {
        api.clReleaseProgram(program);
        return common::Fail(msg, PORTA_ERROR_NOT_FOUND,
                            "opencl: the module has no kernel '%s' (it has: %s)",
                            entry != nullptr ? entry : "(NULL)", names.c_str());
      }
    }
  }
  *out = ToHandle<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t handle) {
  Module* module = As<Module>(handle);
  if (module == nullptr) return;
  const ClApi& api = *module->device->api;
  for (auto& [name, kernel] : module->kernels) api.clReleaseKernel(kernel->kernel);
  api.clReleaseProgram(module->program);
  delete module;
}

porta_status_t ModuleGetKernel(porta_be_module_t handle, const char* name, porta_be_kernel_t* out,
                               porta_be_msg msg) {
  Module* module = As<Module>(handle);
  const ClApi& api = *module->device->api;
  if (name == nullptr) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "opencl: kernel name is NULL");
  }
  std::lock_guard<std::mutex> lock(module->mutex);
  auto it = module->kernels.find(name);
  if (it != module->kernels.end()) {
    *out = ToHandle<porta_be_kernel_t>(it->second.get());
    return PORTA_OK;
  }
  cl_int error = CL_SUCCESS;
  cl_kernel cl_kernel_handle = api.clCreateKernel(module->program, name, &error);
  if (error == CL_INVALID_KERNEL_NAME) {
    return common::Fail(msg, PORTA_ERROR_NOT_FOUND, "opencl: the module has no kernel '%s'", name);
  }
  if (error != CL_SUCCESS) return ClFail(msg, error, "clCreateKernel", name);
  auto kernel = std::make_unique<Kernel>();
  kernel->kernel = cl_kernel_handle;
  kernel->name = name;
  cl_uint num_args = 0;
  api.clGetKernelInfo(cl_kernel_handle, CL_KERNEL_NUM_ARGS, sizeof(num_args), &num_args, nullptr);
  kernel->num_args = num_args;
  size_t group = 0;
  api.clGetKernelWorkGroupInfo(cl_kernel_handle, module->device->id, CL_KERNEL_WORK_GROUP_SIZE,
                               sizeof(group), &group, nullptr);
  kernel->work_group_size = group;
  cl_ulong local = 0;
  api.clGetKernelWorkGroupInfo(cl_kernel_handle, module->device->id, CL_KERNEL_LOCAL_MEM_SIZE,
                               sizeof(local), &local, nullptr);
  kernel->static_local_bytes = local;
  *out = ToHandle<porta_be_kernel_t>(kernel.get());
  module->kernels.emplace(name, std::move(kernel));
  return PORTA_OK;
}

cl_int EnqueueKernel(Device* device, cl_command_queue queue, cl_kernel kernel,
                     std::mutex* kernel_mutex, const size_t global[3], const size_t local[3],
                     uint32_t dims, const void* const* values, const size_t* sizes, uint32_t count,
                     int* failed_arg) {
  const ClApi& api = *device->api;
  if (failed_arg != nullptr) *failed_arg = -1;
  std::lock_guard<std::mutex> lock(*kernel_mutex);
  for (uint32_t i = 0; i < count; ++i) {
    const cl_int error = api.clSetKernelArg(kernel, i, sizes[i], values[i]);
    if (error != CL_SUCCESS) {
      if (failed_arg != nullptr) *failed_arg = static_cast<int>(i);
      return error;
    }
  }
  return api.clEnqueueNDRangeKernel(queue, kernel, dims, nullptr, global, local, 0, nullptr,
                                    nullptr);
}

}  // namespace porta::opencl
