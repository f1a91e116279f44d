// Modules and launches of the acme backend. The device takes PORTA_FORMAT_HOST: a module is an
// array of porta_host_kernel_t (C functions of the application or of Porta's operator library),
// and a launch calls the kernel once per work-group on the stream's worker. A kernel that returns
// nonzero faults the device: the stream's sticky PORTA_ERROR_DEVICE_LOST. A backend for a real
// chip loads its own binary format here (declared in kernel_formats) and submits to its queue;
// how arguments and local memory reach a kernel in each format is fixed by the kernel conventions
// of the SDK (kernel_conventions.md).
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "acme_backend.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/message.h"

namespace acme {

using porta::common::As;
using porta::common::Fail;
using porta::common::ToHandle;

porta_status_t ModuleLoad(porta_be_device_t /*device*/, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  // The runtime passes only formats the device declared; a real backend that declares several
  // switches on source->format here.
  if (source->data == nullptr || source->size == 0 ||
      source->size % sizeof(porta_host_kernel_t) != 0) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED,
                "acme: a host module is an array of porta_host_kernel_t (%zu bytes each); got %zu "
                "bytes",
                sizeof(porta_host_kernel_t), source->size);
  }
  auto module = std::make_unique<Module>();
  const auto* entries = static_cast<const porta_host_kernel_t*>(source->data);
  const size_t count = source->size / sizeof(porta_host_kernel_t);
  for (size_t i = 0; i < count; ++i) {
    if (entries[i].name == nullptr || entries[i].fn == nullptr) {
      return Fail(msg, PORTA_ERROR_BUILD_FAILED, "acme: host kernel entry %zu has no %s", i,
                  entries[i].name == nullptr ? "name" : "function");
    }
    module->kernels.push_back(std::make_unique<Kernel>(Kernel{entries[i].name, entries[i].fn}));
  }
  // Every entry point the application asked for must be there now, not at the first launch.
  for (uint32_t i = 0; i < source->entry_count; ++i) {
    const std::string wanted = source->entry_names[i];
    bool found = false;
    for (const auto& kernel : module->kernels) found = found || kernel->name == wanted;
    if (!found) {
      return Fail(msg, PORTA_ERROR_NOT_FOUND, "acme: the module has no kernel named '%s'",
                  wanted.c_str());
    }
  }
  *out_module = ToHandle<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t module) {
  delete As<Module>(module);
}

porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  for (const auto& kernel : As<Module>(module)->kernels) {
    if (kernel->name == name) {
      *out_kernel = ToHandle<porta_be_kernel_t>(kernel.get());
      return PORTA_OK;
    }
  }
  return Fail(msg, PORTA_ERROR_NOT_FOUND, "acme: the module has no kernel named '%s'", name);
}

namespace {

// A launch as the worker runs it: everything copied out of the call, because the configuration
// and the scalar bytes are valid only during kernel_launch.
struct Launch {
  porta_host_kernel_fn fn = nullptr;
  std::string name;
  porta_launch_config_t config{};
  std::vector<porta_host_arg_t> args;
  // Backing store of the scalar arguments.
  std::vector<std::vector<uint8_t>> scalars;

  // Calls the kernel for every work-group; false with the fault in |fault| when one fails.
  bool Run(std::string* fault) {
    // Dynamic local memory, private to each work-group: the groups run one after another here,
    // so one block serves them all. Rounded up as aligned_alloc requires.
    const uint64_t local_bytes = (config.local_memory_bytes + 63) / 64 * 64;
    std::unique_ptr<void, decltype(&std::free)> local(
        local_bytes == 0 ? nullptr : std::aligned_alloc(64, static_cast<size_t>(local_bytes)),
        &std::free);
    if (local_bytes != 0 && local == nullptr) {
      *fault = "acme: no host memory for " + std::to_string(local_bytes) +
               " bytes of local memory of kernel '" + name + "'";
      return false;
    }
    porta_host_group_t group{};
    for (int d = 0; d < 3; ++d) {
      group.group_count[d] = config.grid[d];
      group.group_size[d] = config.block[d];
    }
    group.local_memory = local.get();
    group.local_memory_bytes = config.local_memory_bytes;
    group.args = args.data();
    group.arg_count = static_cast<uint32_t>(args.size());
    for (uint32_t z = 0; z < config.grid[2]; ++z) {
      for (uint32_t y = 0; y < config.grid[1]; ++y) {
        for (uint32_t x = 0; x < config.grid[0]; ++x) {
          group.group_id[0] = x;
          group.group_id[1] = y;
          group.group_id[2] = z;
          const int32_t result = fn(&group);
          if (result != 0) {
            *fault = "acme: kernel '" + name + "' returned " + std::to_string(result) +
                     " in work-group (" + std::to_string(x) + ", " + std::to_string(y) + ", " +
                     std::to_string(z) + ")";
            return false;
          }
        }
      }
    }
    return true;
  }
};

}  // namespace

porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  auto launch = std::make_shared<Launch>();
  launch->fn = As<Kernel>(kernel)->fn;
  launch->name = As<Kernel>(kernel)->name;
  launch->config = *config;
  launch->args.resize(arg_count);
  launch->scalars.resize(arg_count);
  for (uint32_t i = 0; i < arg_count; ++i) {
    if (args[i].kind == PORTA_ARG_BUFFER) {
      // The runtime has checked that the offset lies inside the buffer.
      const Buffer* buffer = As<Buffer>(args[i].buffer);
      launch->args[i].ptr = buffer->data + args[i].offset;
      launch->args[i].size = buffer->size - args[i].offset;
    } else {
      const auto* bytes = static_cast<const uint8_t*>(args[i].scalar);
      launch->scalars[i].assign(bytes, bytes + args[i].scalar_size);
      launch->args[i].ptr = launch->scalars[i].data();
      launch->args[i].size = args[i].scalar_size;
    }
  }
  Command command;
  command.work = [launch](std::string* fault) { return launch->Run(fault); };
  return As<Stream>(stream)->Enqueue(std::move(command), msg);
}

}  // namespace acme
