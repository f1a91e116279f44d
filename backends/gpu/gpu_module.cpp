// Modules, kernels and launches of the GPU layer.
// clang-format off
#include PORTA_GPU_API_HEADER  // the vendor map this compilation is for (porta_add_gpu_backend)
// clang-format on

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/gpu/gpu.h"
#include "porta/sdk/message.h"

namespace porta::gpu {

using common::As;
using common::Fail;
using common::ToHandle;

template <class Api>
porta_status_t Slots<Api>::ModuleLoad(porta_be_device_t be, const porta_module_source_t* source,
                                      porta_be_module_t* out_module, porta_be_msg msg) {
  // |source| has a format the device declared (the runtime checked).
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  // PTX must be NUL-terminated, and cubins, fatbins, code objects and offload bundles 8-byte
  // aligned; the caller's bytes are neither necessarily, so they are copied.
  std::vector<uint64_t> image((source->size + sizeof(uint64_t)) / sizeof(uint64_t), 0);
  std::memcpy(image.data(), source->data, source->size);
  auto module = std::make_unique<Module>();
  module->device = device;
  std::string detail;
  const Result result = Api::LoadModule(*device, image.data(), &module->module, &detail);
  if (result != Api::kSuccess) {
    // A code object the driver cannot take is a build failure even where its error says less.
    porta_status_t status = Library::StatusOf(result);
    if (status == PORTA_ERROR_BACKEND) status = PORTA_ERROR_BUILD_FAILED;
    const char* format = source->format == PORTA_FORMAT_PTX     ? "ptx"
                         : source->format == PORTA_FORMAT_CUBIN ? "cubin"
                                                                : "hsaco";
    return Fail(msg, status, "%s (%s, %zu bytes) failed on %s device %u (%s): %s%s",
                library.module_load.name, format, source->size, Api::kDisplayName, device->index,
                device->architecture.c_str(), library.ErrorText(result).c_str(), detail.c_str());
  }
  *out_module = ToHandle<porta_be_module_t>(module.release());
  return PORTA_OK;
}

template <class Api>
void Slots<Api>::ModuleDestroy(porta_be_module_t be) {
  Module* module = As<Module>(be);
  Release<Api>(module, module->module, module->device->library->module_unload);
}

template <class Api>
porta_status_t Slots<Api>::ModuleGetKernel(porta_be_module_t be, const char* name,
                                           porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  Module* module = As<Module>(be);
  const Library& library = *module->device->library;
  std::lock_guard<std::mutex> lock(module->mutex);
  auto found = module->kernels.find(name);
  if (found != module->kernels.end()) {
    *out_kernel = ToHandle<porta_be_kernel_t>(found->second.get());
    return PORTA_OK;
  }
  const porta_status_t current = Api::MakeCurrent(*module->device, msg);
  if (current != PORTA_OK) return current;
  auto kernel = std::make_unique<Kernel>();
  kernel->module = module;
  kernel->name = name;
  Result result = library.module_get_function(&kernel->function, module->module, name);
  if (Api::IsMissingFunction(result)) {
    return Fail(msg, PORTA_ERROR_NOT_FOUND, "the %s module has no kernel named \"%s\"",
                Api::kDisplayName, name);
  }
  if (result != Api::kSuccess) return library.Fail(result, library.module_get_function.name, msg);
  result = library.func_get_attribute(&kernel->max_threads, Api::kFuncMaxThreadsPerBlock,
                                      kernel->function);
  if (result == Api::kSuccess) {
    result = library.func_get_attribute(&kernel->static_shared, Api::kFuncSharedSizeBytes,
                                        kernel->function);
  }
  if (result != Api::kSuccess) return library.Fail(result, library.func_get_attribute.name, msg);
  if constexpr (Api::kParamInfo) {
    if (library.func_get_param_info) {
      // The driver answers Api::kParamInfoEnd for the first index past the last parameter.
      kernel->params_known = true;
      for (size_t index = 0;; ++index) {
        size_t offset = 0;
        size_t size = 0;
        const Result info = library.func_get_param_info(kernel->function, index, &offset, &size);
        if (info == Api::kParamInfoEnd) break;
        if (info != Api::kSuccess) {
          return library.Fail(info, library.func_get_param_info.name, msg);
        }
        kernel->param_sizes.push_back(size);
      }
    }
  }
  *out_kernel = ToHandle<porta_be_kernel_t>(kernel.get());
  module->kernels.emplace(name, std::move(kernel));
  return PORTA_OK;
}

namespace {

// Checks the argument list against the kernel's parameters where the driver reports them: a
// short list would make the launch read past it.
template <class Kernel, typename DevicePtr>
porta_status_t CheckArguments(const Kernel* kernel, const porta_be_arg_t* args, uint32_t arg_count,
                              porta_be_msg msg) {
  if (!kernel->params_known) return PORTA_OK;
  if (arg_count != kernel->param_sizes.size()) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "kernel \"%s\" takes %zu arguments; the launch passes %u", kernel->name.c_str(),
                kernel->param_sizes.size(), arg_count);
  }
  for (uint32_t i = 0; i < arg_count; ++i) {
    const size_t given = args[i].kind == PORTA_ARG_BUFFER ? sizeof(DevicePtr) : args[i].scalar_size;
    if (given != kernel->param_sizes[i]) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "argument %u of kernel \"%s\" is %zu bytes; the launch passes %zu (%s)", i,
                  kernel->name.c_str(), kernel->param_sizes[i], given,
                  args[i].kind == PORTA_ARG_BUFFER ? "a buffer" : "a scalar");
    }
  }
  return PORTA_OK;
}

}  // namespace

template <class Api>
porta_status_t Slots<Api>::CheckLaunch(Kernel* kernel, const porta_launch_config_t* config,
                                       const porta_be_arg_t* args, uint32_t arg_count,
                                       porta_be_msg msg) {
  // The configuration is within the device's limits (the runtime checked); these are the
  // kernel's own.
  const uint64_t threads =
      uint64_t{config->block[0]} * uint64_t{config->block[1]} * uint64_t{config->block[2]};
  if (kernel->max_threads > 0 && threads > static_cast<uint64_t>(kernel->max_threads)) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "kernel \"%s\" runs at most %d threads per block (its register use limits it); "
                "the launch asks for %llu",
                kernel->name.c_str(), kernel->max_threads,
                static_cast<unsigned long long>(threads));
  }
  const porta_status_t status = CheckArguments<Kernel, DevicePtr>(kernel, args, arg_count, msg);
  if (status != PORTA_OK) return status;
  const Device* device = kernel->module->device;
  const uint64_t bytes = config->local_memory_bytes;
  const uint64_t static_bytes = static_cast<uint64_t>(kernel->static_shared);
  const uint64_t limit = static_cast<uint64_t>(device->shared_per_block_optin);
  if (static_bytes + bytes > limit) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "kernel \"%s\" uses %llu bytes of static shared memory; with %llu dynamic bytes "
                "it exceeds the device's %llu-byte limit",
                kernel->name.c_str(), static_cast<unsigned long long>(static_bytes),
                static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(limit));
  }
  if constexpr (Api::kSharedMemoryOptIn) {
    // Beyond shared_per_block a function must be opted in, once for the largest amount asked.
    if (static_bytes + bytes <= static_cast<uint64_t>(device->shared_per_block)) return PORTA_OK;
    std::lock_guard<std::mutex> lock(kernel->mutex);
    if (kernel->dynamic_shared_limit >= bytes) return PORTA_OK;
    const Library& library = *device->library;
    const Result result = library.func_set_attribute(
        kernel->function, Api::kFuncMaxDynamicSharedSizeBytes, static_cast<int>(bytes));
    if (result != Api::kSuccess) {
      const std::string what =
          std::string(library.func_set_attribute.name) + "(MAX_DYNAMIC_SHARED_SIZE_BYTES)";
      return library.Fail(result, what.c_str(), msg);
    }
    kernel->dynamic_shared_limit = bytes;
  }
  return PORTA_OK;
}

template <class Api>
void Slots<Api>::PackParams(const porta_be_arg_t* args, uint32_t arg_count, uint32_t slots,
                            DevicePtr* pointers, void** params) {
  // Where the parameter count is unknown, padding the pointer array with zeroed slots keeps a
  // too-short argument list from being read past its end.
  static const uint64_t kZeros[kParamSlots] = {};
  for (uint32_t i = 0; i < slots; ++i) {
    if (i >= arg_count) {
      params[i] = const_cast<uint64_t*>(kZeros);
    } else if (args[i].kind == PORTA_ARG_BUFFER) {
      pointers[i] = Advance(As<Buffer>(args[i].buffer)->pointer, args[i].offset);
      params[i] = &pointers[i];
    } else {
      // The vendor copies the values before the call returns, so the caller's bytes suffice.
      params[i] = const_cast<void*>(args[i].scalar);
    }
  }
}

template <class Api>
porta_status_t Slots<Api>::KernelLaunch(porta_be_stream_t stream_be, porta_be_kernel_t kernel_be,
                                        const porta_launch_config_t* config,
                                        const porta_be_arg_t* args, uint32_t arg_count,
                                        porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Kernel* kernel = As<Kernel>(kernel_be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const porta_status_t status = CheckLaunch(kernel, config, args, arg_count, msg);
  if (status != PORTA_OK) return status;

  DevicePtr inline_pointers[kParamSlots];
  void* inline_params[kParamSlots];
  std::vector<DevicePtr> heap_pointers;
  std::vector<void*> heap_params;
  DevicePtr* pointers = inline_pointers;
  void** params = inline_params;
  const uint32_t slots = ParamSlots(arg_count);
  if (slots > kParamSlots) {
    heap_pointers.resize(slots);
    heap_params.resize(slots);
    pointers = heap_pointers.data();
    params = heap_params.data();
  }
  PackParams(args, arg_count, slots, pointers, params);
  const Library& library = *stream->device->library;
  const Result result = library.launch_kernel(
      kernel->function, config->grid[0], config->grid[1], config->grid[2], config->block[0],
      config->block[1], config->block[2], static_cast<unsigned int>(config->local_memory_bytes),
      stream->stream, params, nullptr);
  if (Api::IsLaunchConfigError(result)) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "%s of \"%s\" (grid %ux%ux%u, block %ux%ux%u, %llu shared bytes) failed: %s",
                library.launch_kernel.name, kernel->name.c_str(), config->grid[0], config->grid[1],
                config->grid[2], config->block[0], config->block[1], config->block[2],
                static_cast<unsigned long long>(config->local_memory_bytes),
                library.ErrorText(result).c_str());
  }
  return StreamResult(stream, result, library.launch_kernel.name, msg);
}

PORTA_GPU_INSTANTIATE_SLOT(module_load, ModuleLoad)
PORTA_GPU_INSTANTIATE_SLOT(module_destroy, ModuleDestroy)
PORTA_GPU_INSTANTIATE_SLOT(module_get_kernel, ModuleGetKernel)
PORTA_GPU_INSTANTIATE_SLOT(kernel_launch, KernelLaunch)
template porta_status_t Slots<PORTA_GPU_API>::CheckLaunch(Kernel*, const porta_launch_config_t*,
                                                          const porta_be_arg_t*, uint32_t,
                                                          porta_be_msg);
template void Slots<PORTA_GPU_API>::PackParams(const porta_be_arg_t*, uint32_t, uint32_t,
                                               DevicePtr*, void**);

}  // namespace porta::gpu
