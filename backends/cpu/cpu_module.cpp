// Host-format modules and kernel launches on the CPU device.
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu/cpu_objects.h"
#include "backends/cpu/cpu_stream.h"
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

}  // namespace

porta_status_t LoadModule(Device* device, const porta_module_source_t* source, Module** out_module,
                          porta_be_msg msg) {
  if (source->format != PORTA_FORMAT_HOST) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "the cpu backend accepts only PORTA_FORMAT_HOST modules, not format %d",
                static_cast<int>(source->format));
  }
  constexpr size_t kEntrySize = sizeof(porta_host_kernel_t);
  if (source->data == nullptr || source->size == 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "host module source has %s; it must point to porta_host_kernel_t entries",
                source->data == nullptr ? "NULL data" : "size 0");
  }
  if (source->size % kEntrySize != 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "host module size %zu is not a multiple of sizeof(porta_host_kernel_t) = %zu",
                source->size, kEntrySize);
  }
  const size_t count = source->size / kEntrySize;
  auto module = std::make_unique<Module>();
  module->device = device;
  module->kernels.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    porta_host_kernel_t entry;
    // memcpy: the caller's array need not be aligned for porta_host_kernel_t.
    std::memcpy(&entry, static_cast<const uint8_t*>(source->data) + i * kEntrySize, kEntrySize);
    if (entry.name == nullptr || entry.name[0] == '\0') {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "host module entry %zu has %s name", i,
                  entry.name == nullptr ? "a NULL" : "an empty");
    }
    if (entry.fn == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "host module entry %zu ('%s') has a NULL function", i, entry.name);
    }
    for (const auto& existing : module->kernels) {
      if (existing->name == entry.name) {
        return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                    "host module entry %zu repeats the kernel name '%s'", i, entry.name);
      }
    }
    auto kernel = std::make_unique<Kernel>();
    kernel->name = entry.name;
    kernel->fn = entry.fn;
    module->kernels.push_back(std::move(kernel));
  }
  for (uint32_t i = 0; i < source->entry_count; ++i) {
    const char* wanted = source->entry_names != nullptr ? source->entry_names[i] : nullptr;
    if (wanted == nullptr) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "entry_names[%u] is NULL", i);
    }
    Kernel* found = nullptr;
    if (GetKernel(module.get(), wanted, &found, msg) != PORTA_OK) return PORTA_ERROR_NOT_FOUND;
  }
  *out_module = module.release();
  return PORTA_OK;
}

porta_status_t GetKernel(Module* module, const char* name, Kernel** out_kernel, porta_be_msg msg) {
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
  return Fail(msg, PORTA_ERROR_NOT_FOUND, "host module has no kernel '%s'; it has: %s", name,
              available.c_str());
}

porta_status_t MakeLaunchWork(Device* device, const Kernel* kernel,
                              const porta_launch_config_t* config, const porta_be_arg_t* args,
                              uint32_t arg_count, Work* out_work, porta_be_msg msg) {
  for (int d = 0; d < 3; ++d) {
    if (config->grid[d] == 0 || config->block[d] == 0) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "launch of '%s' has a zero %s size in dimension %d", kernel->name.c_str(),
                  config->grid[d] == 0 ? "grid" : "block", d);
    }
  }
  if (arg_count > 0 && args == nullptr) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "%u arguments but args is NULL", arg_count);
  }
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
      if (arg.scalar == nullptr || arg.scalar_size == 0) {
        return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "scalar argument %u has %s", i,
                    arg.scalar == nullptr ? "a NULL value" : "size 0");
      }
      scalar_bytes +=
          (arg.scalar_size + kScalarAlignment - 1) / kScalarAlignment * kScalarAlignment;
    } else if (arg.kind == PORTA_ARG_BUFFER) {
      const Buffer* buffer = ToBuffer(arg.buffer);
      if (buffer == nullptr) {
        return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "buffer argument %u is NULL", i);
      }
      if (arg.offset > buffer->size) {
        return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                    "buffer argument %u: offset %" PRIu64 " is beyond the buffer's %" PRIu64
                    " bytes",
                    i, arg.offset, buffer->size);
      }
    } else {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "argument %u has unknown kind %d", i,
                  static_cast<int>(arg.kind));
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

  *out_work = [launch, device](std::string* fault_text, Scratch& scratch) {
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
  return PORTA_OK;
}

porta_status_t LaunchKernel(Stream* stream, const Kernel* kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  Command command;
  porta_status_t status =
      MakeLaunchWork(stream->device(), kernel, config, args, arg_count, &command.work, msg);
  if (status != PORTA_OK) return status;
  return stream->Enqueue(std::move(command), msg);
}

}  // namespace porta::cpu
