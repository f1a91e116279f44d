// Host-format modules and kernel launches on the CPU device, and their slots.
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu/cpu_objects.h"
#include "porta/sdk/message.h"

namespace porta::cpu {

using common::Fail;

namespace {

// Scalars are copied into 16-byte slots so a kernel may read any scalar type through an aligned
// pointer.
constexpr size_t kScalarAlignment = 16;

// Everything a queued launch needs; argument bytes are copied at enqueue time.
struct LaunchState {
  porta_host_kernel_fn fn = nullptr;
  std::string kernel_name;
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  uint64_t local_memory_bytes = 0;
  std::unique_ptr<std::max_align_t[]> scalar_storage;
  std::vector<porta_host_arg_t> args;
};

// The first fault of a launch; later faults of other groups are dropped.
struct LaunchFault {
  std::atomic<bool> raised{false};
  std::mutex mutex;
  std::string message;

  void Raise(std::string text) {
    std::lock_guard<std::mutex> lock(mutex);
    if (raised.load(std::memory_order_relaxed)) return;
    message = std::move(text);
    raised.store(true, std::memory_order_release);
  }
};

std::string GroupText(const uint32_t id[3]) {
  return "(" + std::to_string(id[0]) + "," + std::to_string(id[1]) + "," + std::to_string(id[2]) +
         ")";
}

void RunGroup(const LaunchState& launch, uint64_t index, Scratch& scratch, LaunchFault& fault) {
  // Once a group faulted the rest of the launch is pointless: the stream is lost anyway.
  if (fault.raised.load(std::memory_order_acquire)) return;
  porta_host_group_t group{};
  const uint64_t plane = uint64_t{launch.grid[0]} * launch.grid[1];
  group.group_id[0] = static_cast<uint32_t>(index % launch.grid[0]);
  group.group_id[1] = static_cast<uint32_t>(index / launch.grid[0] % launch.grid[1]);
  group.group_id[2] = static_cast<uint32_t>(index / plane);
  for (int d = 0; d < 3; ++d) {
    group.group_count[d] = launch.grid[d];
    group.group_size[d] = launch.block[d];
  }
  if (launch.local_memory_bytes > 0) {
    group.local_memory = scratch.Get(static_cast<size_t>(launch.local_memory_bytes));
    if (group.local_memory == nullptr) {
      fault.Raise("host out of memory allocating " + std::to_string(launch.local_memory_bytes) +
                  " bytes of local memory for host kernel '" + launch.kernel_name + "'");
      return;
    }
    group.local_memory_bytes = launch.local_memory_bytes;
  }
  group.args = launch.args.empty() ? nullptr : launch.args.data();
  group.arg_count = static_cast<uint32_t>(launch.args.size());
  int32_t result = 0;
  try {
    result = launch.fn(&group);
  } catch (...) {
    fault.Raise("host kernel '" + launch.kernel_name + "' threw a C++ exception in work-group " +
                GroupText(group.group_id));
    return;
  }
  if (result != 0) {
    fault.Raise("host kernel '" + launch.kernel_name + "' returned " + std::to_string(result) +
                " in work-group " + GroupText(group.group_id));
  }
}

// Looks |name| up in |module|; PORTA_ERROR_NOT_FOUND lists the kernels it has.
porta_status_t FindKernel(Module* module, const char* name, Kernel** out_kernel, porta_be_msg msg) {
  for (const auto& kernel : module->kernels) {
    if (kernel->name == name) {
      *out_kernel = kernel.get();
      return PORTA_OK;
    }
  }
  std::string available;
  for (const auto& kernel : module->kernels) {
    if (!available.empty()) available += ", ";
    available += kernel->name;
  }
  return Fail(msg, PORTA_ERROR_NOT_FOUND, "cpu: host module has no kernel '%s'; it has: %s", name,
              available.c_str());
}

}  // namespace

// The runtime hands over a nonempty source of the one format the device declares
// (PORTA_FORMAT_HOST) and entry names that are not NULL; what the entries themselves hold only
// the backend can check.
porta_status_t ModuleLoad(porta_be_device_t device, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  constexpr size_t kEntrySize = sizeof(porta_host_kernel_t);
  if (source->size % kEntrySize != 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "cpu: host module size %zu is not a multiple of sizeof(porta_host_kernel_t) = %zu",
                source->size, kEntrySize);
  }
  const size_t count = source->size / kEntrySize;
  auto module = std::make_unique<Module>();
  module->device = ToDevice(device);
  module->kernels.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    porta_host_kernel_t entry;
    // memcpy: the caller's array need not be aligned for porta_host_kernel_t.
    std::memcpy(&entry, static_cast<const uint8_t*>(source->data) + i * kEntrySize, kEntrySize);
    if (entry.name == nullptr || entry.name[0] == '\0') {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "cpu: host module entry %zu has %s name", i,
                  entry.name == nullptr ? "a NULL" : "an empty");
    }
    if (entry.fn == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "cpu: host module entry %zu ('%s') has a NULL function", i, entry.name);
    }
    for (const auto& existing : module->kernels) {
      if (existing->name == entry.name) {
        return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                    "cpu: host module entry %zu repeats the kernel name '%s'", i, entry.name);
      }
    }
    auto kernel = std::make_unique<Kernel>();
    kernel->name = entry.name;
    kernel->fn = entry.fn;
    module->kernels.push_back(std::move(kernel));
  }
  for (uint32_t i = 0; i < source->entry_count; ++i) {
    Kernel* found = nullptr;
    const porta_status_t status = FindKernel(module.get(), source->entry_names[i], &found, msg);
    if (status != PORTA_OK) return status;
  }
  *out_module = reinterpret_cast<porta_be_module_t>(module.release());
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t module) {
  delete ToModule(module);
}

porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  Kernel* kernel = nullptr;
  const porta_status_t status = FindKernel(ToModule(module), name, &kernel, msg);
  if (status == PORTA_OK) *out_kernel = reinterpret_cast<porta_be_kernel_t>(kernel);
  return status;
}

Work MakeLaunchWork(Device* device, const Kernel* kernel, const porta_launch_config_t* config,
                    const porta_be_arg_t* args, uint32_t arg_count) {
  auto launch = std::make_shared<LaunchState>();
  launch->fn = kernel->fn;
  launch->kernel_name = kernel->name;
  for (int d = 0; d < 3; ++d) {
    launch->grid[d] = config->grid[d];
    launch->block[d] = config->block[d];
  }
  launch->local_memory_bytes = config->local_memory_bytes;

  size_t scalar_bytes = 0;
  for (uint32_t i = 0; i < arg_count; ++i) {
    const porta_be_arg_t& arg = args[i];
    if (arg.kind == PORTA_ARG_SCALAR) {
      scalar_bytes +=
          (arg.scalar_size + kScalarAlignment - 1) / kScalarAlignment * kScalarAlignment;
    }
  }
  static_assert(alignof(std::max_align_t) >= kScalarAlignment);
  if (scalar_bytes > 0) {
    launch->scalar_storage.reset(
        new std::max_align_t[(scalar_bytes + sizeof(std::max_align_t) - 1) /
                             sizeof(std::max_align_t)]);
  }
  auto* scalars = reinterpret_cast<uint8_t*>(launch->scalar_storage.get());
  launch->args.resize(arg_count);
  for (uint32_t i = 0; i < arg_count; ++i) {
    const porta_be_arg_t& arg = args[i];
    if (arg.kind == PORTA_ARG_SCALAR) {
      std::memcpy(scalars, arg.scalar, arg.scalar_size);
      launch->args[i].ptr = scalars;
      launch->args[i].size = arg.scalar_size;
      scalars += (arg.scalar_size + kScalarAlignment - 1) / kScalarAlignment * kScalarAlignment;
    } else {
      const Buffer* buffer = ToBuffer(arg.buffer);
      launch->args[i].ptr = buffer->data + arg.offset;
      launch->args[i].size = buffer->size - arg.offset;
    }
  }

  return [launch, device](std::string* fault_text, Scratch& scratch) {
    LaunchFault fault;
    const uint64_t groups = uint64_t{launch->grid[0]} * launch->grid[1] * launch->grid[2];
    const LaunchState& state = *launch;
    device->pool->Run(
        groups,
        [&state, &fault](uint64_t index, Scratch& group_scratch) {
          // Nothing may escape into the pool's threads; the only thing that can throw here is
          // building a fault's text.
          try {
            RunGroup(state, index, group_scratch, fault);
          } catch (...) {
            fault.raised.store(true, std::memory_order_release);
          }
        },
        scratch);
    if (!fault.raised.load(std::memory_order_acquire)) return true;
    std::lock_guard<std::mutex> lock(fault.mutex);
    *fault_text = fault.message.empty()
                      ? "host kernel '" + state.kernel_name + "' faulted; host out of memory"
                      : fault.message;
    return false;
  };
}

porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  Stream* target = ToStream(stream);
  Command command;
  command.work = MakeLaunchWork(target->device(), ToKernel(kernel), config, args, arg_count);
  return target->Enqueue(std::move(command), msg);
}

}  // namespace porta::cpu
