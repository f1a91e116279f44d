// Modules (SPIR-V built by the driver), kernels and launches of the Level Zero backend.
#include <string>

#include "backends/level_zero/level_zero_objects.h"
#include "porta/sdk/message.h"
#include "porta/sdk/spirv_validate.h"

namespace porta::level_zero {
namespace {

using common::Fail;

// The text of a module build log (empty when there is none, a note when it cannot be read).
std::string BuildLog(const Library& library, ze_module_build_log_handle_t log) {
  if (log == nullptr) return "";
  size_t size = 0;
  std::string text;
  ze_result_t result = library.zeModuleBuildLogGetString(log, &size, nullptr);
  if (result == ZE_RESULT_SUCCESS && size > 0) {
    text.resize(size);
    result = library.zeModuleBuildLogGetString(log, &size, text.data());
    while (!text.empty() && text.back() == '\0') text.pop_back();
  }
  if (result != ZE_RESULT_SUCCESS) {
    text = "(no build log: zeModuleBuildLogGetString failed: " + Library::ErrorText(result) + ")";
  }
  library.Released(library.zeModuleBuildLogDestroy(log), "zeModuleBuildLogDestroy");
  return text;
}

}  // namespace

porta_status_t ModuleLoad(porta_be_device_t be, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  // The runtime passes only the format the device declares, spirv-kernel.
  // Nothing promises that a driver survives malformed SPIR-V (lavapipe does not), so a module
  // reaches zeModuleCreate only once it validates.
  common::SpirvValidateOptions rules;
  rules.environment = common::SpirvEnvironment::kOpenCl;
  std::string invalid;
  if (!common::ValidateSpirvBytes(source->data, source->size, rules, &invalid)) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED, "level_zero: the SPIR-V module is invalid: %s",
                invalid.c_str());
  }
  ze_module_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_MODULE_DESC;
  desc.format = ZE_MODULE_FORMAT_IL_SPIRV;
  desc.inputSize = source->size;
  desc.pInputModule = static_cast<const uint8_t*>(source->data);
  desc.pBuildFlags = source->build_options != nullptr ? source->build_options : "";
  auto module = std::make_unique<Module>();
  module->device = device;
  ze_module_build_log_handle_t log = nullptr;
  const ze_result_t result =
      library.zeModuleCreate(device->context, device->device, &desc, &module->module, &log);
  if (result != ZE_RESULT_SUCCESS) {
    const std::string text = BuildLog(library, log);
    porta_status_t status = Library::StatusOf(result);
    if (status == PORTA_ERROR_BACKEND) status = PORTA_ERROR_BUILD_FAILED;
    return Fail(msg, status,
                "zeModuleCreate (spirv-kernel, %zu bytes, options \"%s\") failed: %s\n%s",
                source->size, desc.pBuildFlags, Library::ErrorText(result).c_str(), text.c_str());
  }
  // A successful build's log is not read (warnings only).
  if (log != nullptr) {
    library.Released(library.zeModuleBuildLogDestroy(log), "zeModuleBuildLogDestroy");
  }
  *out_module = reinterpret_cast<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t be) {
  Module* module = As<Module>(be);
  const Library& library = *module->device->library;
  for (auto& entry : module->kernels)
    library.Released(library.zeKernelDestroy(entry.second->kernel), "zeKernelDestroy");
  library.Released(library.zeModuleDestroy(module->module), "zeModuleDestroy");
  delete module;
}

porta_status_t ModuleGetKernel(porta_be_module_t be, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  Module* module = As<Module>(be);
  const Library& library = *module->device->library;
  std::lock_guard<std::mutex> lock(module->mutex);
  auto found = module->kernels.find(name);
  if (found != module->kernels.end()) {
    *out_kernel = reinterpret_cast<porta_be_kernel_t>(found->second.get());
    return PORTA_OK;
  }
  auto kernel = std::make_unique<Kernel>();
  kernel->module = module;
  kernel->name = name;
  ze_kernel_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_KERNEL_DESC;
  desc.pKernelName = name;
  ze_result_t result = library.zeKernelCreate(module->module, &desc, &kernel->kernel);
  if (result == ZE_RESULT_ERROR_INVALID_KERNEL_NAME) {
    return Fail(msg, PORTA_ERROR_NOT_FOUND, "the Level Zero module has no kernel named \"%s\"",
                name);
  }
  if (result != ZE_RESULT_SUCCESS) return library.Fail(result, "zeKernelCreate", msg);
  ze_kernel_properties_t properties = {};
  properties.stype = ZE_STRUCTURE_TYPE_KERNEL_PROPERTIES;
  result = library.zeKernelGetProperties(kernel->kernel, &properties);
  if (result != ZE_RESULT_SUCCESS) {
    library.Released(library.zeKernelDestroy(kernel->kernel), "zeKernelDestroy");
    return library.Fail(result, "zeKernelGetProperties", msg);
  }
  kernel->arg_count = properties.numKernelArgs;
  *out_kernel = reinterpret_cast<porta_be_kernel_t>(kernel.get());
  module->kernels.emplace(name, std::move(kernel));
  return PORTA_OK;
}

namespace {

// Sets the group size and every argument of |kernel| for one launch; the caller holds the
// kernel's mutex until the launch has been appended.
porta_status_t SetArguments(const Library& library, Kernel* kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  // Dynamic local memory is one extra __local pointer parameter after the listed arguments (the
  // OpenCL convention; see conformance/kernels/README.md).
  const bool local = config->local_memory_bytes > 0;
  const uint32_t expected = arg_count + (local ? 1u : 0u);
  if (expected != kernel->arg_count) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "kernel \"%s\" takes %u parameters; the launch supplies %u argument(s)%s",
                kernel->name.c_str(), kernel->arg_count, arg_count,
                local ? " plus the __local parameter for its dynamic local memory" : "");
  }
  ze_result_t result = library.zeKernelSetGroupSize(kernel->kernel, config->block[0],
                                                    config->block[1], config->block[2]);
  if (result != ZE_RESULT_SUCCESS) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "zeKernelSetGroupSize(%u, %u, %u) for kernel \"%s\" failed: %s", config->block[0],
                config->block[1], config->block[2], kernel->name.c_str(),
                Library::ErrorText(result).c_str());
  }
  for (uint32_t i = 0; i < arg_count; ++i) {
    if (args[i].kind == PORTA_ARG_BUFFER) {
      void* pointer =
          static_cast<unsigned char*>(As<Buffer>(args[i].buffer)->pointer) + args[i].offset;
      result = library.zeKernelSetArgumentValue(kernel->kernel, i, sizeof(pointer), &pointer);
    } else {
      result =
          library.zeKernelSetArgumentValue(kernel->kernel, i, args[i].scalar_size, args[i].scalar);
    }
    if (result != ZE_RESULT_SUCCESS) {
      return Fail(
          msg, PORTA_ERROR_INVALID_ARGUMENT,
          "zeKernelSetArgumentValue refused argument %u of kernel \"%s\" (%s, %u bytes): %s", i,
          kernel->name.c_str(), args[i].kind == PORTA_ARG_BUFFER ? "buffer" : "scalar",
          args[i].kind == PORTA_ARG_BUFFER ? 8u : args[i].scalar_size,
          Library::ErrorText(result).c_str());
    }
  }
  if (local) {
    // A null value with a size declares local memory of that many bytes.
    result = library.zeKernelSetArgumentValue(
        kernel->kernel, arg_count, static_cast<size_t>(config->local_memory_bytes), nullptr);
    if (result != ZE_RESULT_SUCCESS) {
      return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                  "%llu bytes of dynamic local memory for kernel \"%s\" were refused: %s",
                  static_cast<unsigned long long>(config->local_memory_bytes), kernel->name.c_str(),
                  Library::ErrorText(result).c_str());
    }
  }
  return PORTA_OK;
}

}  // namespace

porta_status_t AppendLaunch(const Library& library, ze_command_list_handle_t list, Kernel* kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  // Arguments are state of the kernel object, captured when the launch is appended; a launch
  // of the same kernel on another stream must not interleave with this one.
  std::lock_guard<std::mutex> lock(kernel->mutex);
  const porta_status_t status = SetArguments(library, kernel, config, args, arg_count, msg);
  if (status != PORTA_OK) return status;
  const ze_group_count_t groups = {config->grid[0], config->grid[1], config->grid[2]};
  const ze_result_t result =
      library.zeCommandListAppendLaunchKernel(list, kernel->kernel, &groups, nullptr, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    return library.Fail(result, "zeCommandListAppendLaunchKernel", msg);
  }
  return PORTA_OK;
}

porta_status_t KernelLaunch(porta_be_stream_t stream_be, porta_be_kernel_t kernel_be,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Batch* batch = nullptr;
  porta_status_t status = OpenBatch(stream, &batch, msg);
  if (status != PORTA_OK) return status;
  status = AppendLaunch(*stream->device->library, batch->list, As<Kernel>(kernel_be), config, args,
                        arg_count, msg);
  if (status != PORTA_OK) return status;
  return EndCommand(stream, batch, msg);
}

}  // namespace porta::level_zero
