// Modules (programs), the on-disk program cache, kernels and launches: arguments set under the
// kernel's lock, buffer offsets turned into sub-buffers or, where the offset is not aligned for
// one, staged through a temporary buffer. The runtime has checked each launch against the
// device's limits (the constrained profile's narrower ones included, as device_get_info reports
// them); what is left to check here is the kernel's own.
#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>
#include <vector>

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

std::string BuildLog(const Library& api, cl_program program, cl_device_id device) {
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
std::vector<uint8_t> ProgramBinary(const Library& api, cl_program program) {
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
  const Library& api = *device->api;
  Backend* backend = device->backend;
  std::optional<std::vector<uint8_t>> binary = backend->cache.Load(key);
  if (!binary.has_value() || binary->empty()) {
    common::Log(PORTA_LOG_DEBUG, "opencl: program cache miss for %s", what);
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
      common::Log(PORTA_LOG_DEBUG, "opencl: program cache hit for %s (%s)", what,
                  backend->cache.PathFor(key).c_str());
      return program;
    }
  }
  if (program != nullptr) api.clReleaseProgram(program);
  common::Log(PORTA_LOG_INFO,
              "opencl: the driver rejected the cached program for %s (%s); "
              "rebuilding from source",
              what, ClErrorName(error != CL_SUCCESS ? error : binary_status));
  return nullptr;
}

}  // namespace

porta_status_t BuildProgram(Device* device, porta_kernel_format_t format, const void* data,
                            size_t size, const char* options, const char* what,
                            cl_program* out_program, porta_be_msg msg) {
  const Library& api = *device->api;
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
      common::Log(PORTA_LOG_DEBUG, "opencl: program cache store for %s (%s)", what,
                  device->backend->cache.PathFor(key).c_str());
    }
  }
  *out_program = program;
  return PORTA_OK;
}

// The runtime hands over a nonempty source in a format the device declared, and entry names that
// are not NULL.
porta_status_t ModuleLoad(porta_be_device_t device_handle, const porta_module_source_t* source,
                          porta_be_module_t* out, porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  const Library& api = *device->api;
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
      const char* entry = source->entry_names[i];
      if (padded.find(";" + std::string(entry) + ";") == std::string::npos) {
        api.clReleaseProgram(program);
        return common::Fail(msg, PORTA_ERROR_NOT_FOUND,
                            "opencl: the module has no kernel '%s' (it has: %s)", entry,
                            names.c_str());
      }
    }
  }
  *out = ToHandle<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t handle) {
  Module* module = As<Module>(handle);
  const Library& api = *module->device->api;
  for (auto& [name, kernel] : module->kernels) api.clReleaseKernel(kernel->kernel);
  api.clReleaseProgram(module->program);
  delete module;
}

porta_status_t ModuleGetKernel(porta_be_module_t handle, const char* name, porta_be_kernel_t* out,
                               porta_be_msg msg) {
  Module* module = As<Module>(handle);
  const Library& api = *module->device->api;
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
  const Library& api = *device->api;
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

//===--- Launches -----------------------------------------------------------------------------===//

// An argument whose offset is not aligned for a sub-buffer: the kernel sees a temporary copy of
// the buffer's tail, which is copied back after the launch.
struct StagedArg {
  Buffer* buffer;
  uint64_t offset;
  cl_mem temp;
};

porta_status_t CheckLaunch(const Device* device, const Kernel* kernel,
                           const porta_launch_config_t* config, uint32_t arg_count,
                           porta_be_msg msg) {
  const uint64_t group = uint64_t{config->block[0]} * config->block[1] * config->block[2];
  if (group > kernel->work_group_size) {
    return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                        "opencl: a work-group of %llu items exceeds the limit %llu of kernel '%s' "
                        "on this device (CL_KERNEL_WORK_GROUP_SIZE)",
                        static_cast<unsigned long long>(group),
                        static_cast<unsigned long long>(kernel->work_group_size),
                        kernel->name.c_str());
  }
  const porta_device_info_t& info = device->info;
  const uint64_t local = kernel->static_local_bytes + config->local_memory_bytes;
  if (local > info.local_memory_bytes) {
    return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                        "opencl: kernel '%s' needs %llu bytes of local memory (%llu static + %llu "
                        "dynamic); the device has %llu",
                        kernel->name.c_str(), static_cast<unsigned long long>(local),
                        static_cast<unsigned long long>(kernel->static_local_bytes),
                        static_cast<unsigned long long>(config->local_memory_bytes),
                        static_cast<unsigned long long>(info.local_memory_bytes));
  }
  const bool dynamic_local = config->local_memory_bytes > 0;
  const uint32_t count = arg_count + (dynamic_local ? 1u : 0u);
  if (count != kernel->num_args) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                        "opencl: kernel '%s' has %u parameters; the launch passes %u argument(s)%s",
                        kernel->name.c_str(), kernel->num_args, arg_count,
                        dynamic_local ? " plus the dynamic local memory parameter" : "");
  }
  return PORTA_OK;
}

void LaunchGeometry(const porta_launch_config_t* config, size_t global[3], size_t local[3],
                    uint32_t* dims) {
  *dims = 1;
  for (int d = 0; d < 3; ++d) {
    local[d] = config->block[d];
    global[d] = static_cast<size_t>(config->grid[d]) * config->block[d];
    if (config->grid[d] > 1 || config->block[d] > 1) *dims = static_cast<uint32_t>(d) + 1;
  }
}

porta_status_t KernelLaunch(porta_be_stream_t stream_handle, porta_be_kernel_t kernel_handle,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  Kernel* kernel = As<Kernel>(kernel_handle);
  Device* device = stream->device;
  const Library& api = *device->api;
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  status = CheckLaunch(device, kernel, config, arg_count, msg);
  if (status != PORTA_OK) return status;
  const bool dynamic_local = config->local_memory_bytes > 0;
  const uint32_t count = arg_count + (dynamic_local ? 1u : 0u);

  // Launch arguments are few; the fixed arrays keep the common launch free of allocations.
  constexpr uint32_t kInline = 32;
  const void* inline_values[kInline];
  size_t inline_sizes[kInline];
  cl_mem inline_mems[kInline];
  std::vector<const void*> heap_values;
  std::vector<size_t> heap_sizes;
  std::vector<cl_mem> heap_mems;
  const void** values = inline_values;
  size_t* sizes = inline_sizes;
  cl_mem* mems = inline_mems;
  if (count > kInline) {
    heap_values.resize(count);
    heap_sizes.resize(count);
    heap_mems.resize(count);
    values = heap_values.data();
    sizes = heap_sizes.data();
    mems = heap_mems.data();
  }
  std::vector<StagedArg> staged;
  for (uint32_t i = 0; i < arg_count; ++i) {
    const porta_be_arg_t& arg = args[i];
    if (arg.kind == PORTA_ARG_SCALAR) {
      values[i] = arg.scalar;
      sizes[i] = arg.scalar_size;
      continue;
    }
    Buffer* buffer = As<Buffer>(arg.buffer);
    status = BufferArgument(buffer, arg.offset, &mems[i], msg);
    if (status != PORTA_OK) return status;
    if (mems[i] == nullptr) {
      for (uint32_t j = 0; j < arg_count; ++j) {
        if (j != i && args[j].kind == PORTA_ARG_BUFFER && As<Buffer>(args[j].buffer) == buffer) {
          return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                              "opencl: argument %u's offset %llu is not a multiple of the "
                              "device's base address alignment (%u bytes) and the same buffer is "
                              "also argument %u; OpenCL cannot alias such views",
                              i, static_cast<unsigned long long>(arg.offset),
                              device->base_address_align, j);
        }
      }
      cl_int error = CL_SUCCESS;
      const uint64_t tail = buffer->size - arg.offset;
      cl_mem temp = api.clCreateBuffer(device->context, CL_MEM_READ_WRITE,
                                       static_cast<size_t>(tail), nullptr, &error);
      if (error == CL_SUCCESS) {
        error = api.clEnqueueCopyBuffer(stream->queue, buffer->mem, temp, arg.offset, 0, tail, 0,
                                        nullptr, nullptr);
        if (error != CL_SUCCESS) api.clReleaseMemObject(temp);
      }
      if (error != CL_SUCCESS) {
        for (const StagedArg& done : staged) api.clReleaseMemObject(done.temp);
        return StreamEnqueueFailed(stream, error, "staging an unaligned buffer argument", msg);
      }
      staged.push_back({buffer, arg.offset, temp});
      mems[i] = temp;
    }
    values[i] = &mems[i];
    sizes[i] = sizeof(cl_mem);
  }
  if (dynamic_local) {
    values[arg_count] = nullptr;
    sizes[arg_count] = static_cast<size_t>(config->local_memory_bytes);
  }

  size_t global[3];
  size_t local[3];
  uint32_t dims = 1;
  LaunchGeometry(config, global, local, &dims);
  int failed_arg = -1;
  cl_int error = EnqueueKernel(device, stream->queue, kernel->kernel, &kernel->launch_mutex, global,
                               local, dims, values, sizes, count, &failed_arg);
  if (error == CL_SUCCESS) ++stream->generation;
  for (const StagedArg& arg : staged) {
    // The copy back is queued even when the launch failed: it restores nothing the kernel did
    // not write, and the temporary is released either way.
    if (error == CL_SUCCESS) {
      error = api.clEnqueueCopyBuffer(stream->queue, arg.temp, arg.buffer->mem, 0, arg.offset,
                                      arg.buffer->size - arg.offset, 0, nullptr, nullptr);
    }
    api.clReleaseMemObject(arg.temp);
  }
  if (error == CL_SUCCESS) return PORTA_OK;
  if (failed_arg >= 0) {
    const bool local_arg = dynamic_local && static_cast<uint32_t>(failed_arg) == arg_count;
    return common::Fail(
        msg, error == CL_INVALID_ARG_SIZE ? PORTA_ERROR_INVALID_ARGUMENT : ClStatus(error),
        "opencl: clSetKernelArg(%d) of kernel '%s' failed: %s (%d)%s", failed_arg,
        kernel->name.c_str(), ClErrorName(error), static_cast<int>(error),
        local_arg                      ? "; this is the dynamic local memory parameter"
        : error == CL_INVALID_ARG_SIZE ? "; the scalar's size does not match the parameter's type"
                                       : "");
  }
  return StreamEnqueueFailed(stream, error, "clEnqueueNDRangeKernel", msg);
}

}  // namespace porta::opencl
