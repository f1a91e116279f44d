// A test-only stand-in for libze_loader.so.1: one driver with one GPU, allocations at made-up
// addresses, kernels with three arguments, and command lists, queues and fences that record what
// the backend does with them (fake_level_zero_loader.h). Every exported name is one the Level
// Zero backend resolves with dlsym.
#include "backends/level_zero/fake_level_zero_loader.h"

#include <algorithm>
#include <cstring>
#include <map>

#define FAKE_API extern "C" __attribute__((visibility("default")))

namespace {

using porta::level_zero::fake::Command;
using porta::level_zero::fake::CommandKind;
using porta::level_zero::fake::List;
using porta::level_zero::fake::State;
using porta::level_zero::fake::Submission;

State& Fake() {
  static State state;
  return state;
}

// The result the test asked |name|'s next call to return, or ZE_RESULT_SUCCESS.
ze_result_t Injected(const char* name) {
  State& state = Fake();
  if (state.fail_call != name) return ZE_RESULT_SUCCESS;
  state.fail_call.clear();
  return state.fail_result;
}

// The result of the walk's countdown for a call of |name| (see State::countdown).
ze_result_t Counted(const char* name) {
  State& state = Fake();
  ++state.calls;
  if (state.countdown < 0 || state.countdown-- > 0) return ZE_RESULT_SUCCESS;
  state.countdown_call = name;
  return state.countdown_result;
}

struct Kernel {
  uint32_t group_size[3] = {1, 1, 1};
  std::vector<std::vector<unsigned char>> args =
      std::vector<std::vector<unsigned char>>(porta::level_zero::fake::kKernelArgs);
};

struct Fence {
  ze_command_queue_handle_t queue = nullptr;
  size_t submission = SIZE_MAX;  // index in State::submissions, SIZE_MAX before submission
};

template <typename T>
T Handle(uintptr_t value) {
  return reinterpret_cast<T>(value);
}

uintptr_t next_pointer = 0x200000;
// Sizes of the live allocations of zeMemAllocDevice, by address (zeMemGetAddressRange answers
// for those only).
std::map<uintptr_t, size_t> device_allocation_sizes;

ze_result_t Append(ze_command_list_handle_t handle, Command command) {
  List* list = Fake().Find(handle);
  if (list->closed) {
    Fake().violations.push_back("appended to a closed command list");
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  }
  list->commands.push_back(std::move(command));
  return ZE_RESULT_SUCCESS;
}

}  // namespace

FAKE_API State* porta_fake_level_zero_state() {
  return &Fake();
}

FAKE_API ze_result_t zeInit(ze_init_flags_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDriverGet(uint32_t* count, ze_driver_handle_t* drivers) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  if (drivers != nullptr && *count > 0) drivers[0] = Handle<ze_driver_handle_t>(0xD0);
  *count = 1;
  return ZE_RESULT_SUCCESS;
}
namespace {

// Intel's import extension, handed out by zeDriverGetExtensionFunctionAddress.
ze_result_t zexDriverImportExternalPointer(ze_driver_handle_t, void* pointer, size_t size) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  if (const ze_result_t injected = Injected("zexDriverImportExternalPointer")) return injected;
  Fake().host_imported.emplace_back(pointer, size);
  return ZE_RESULT_SUCCESS;
}
ze_result_t zexDriverReleaseImportedPointer(ze_driver_handle_t, void* pointer) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  State& state = Fake();
  for (auto it = state.host_imported.begin(); it != state.host_imported.end(); ++it) {
    if (it->first == pointer) {
      state.host_imported.erase(it);
      ++state.host_released;
      return ZE_RESULT_SUCCESS;
    }
  }
  return ZE_RESULT_ERROR_INVALID_ARGUMENT;
}

}  // namespace

FAKE_API ze_result_t zeDriverGetExtensionFunctionAddress(ze_driver_handle_t, const char* name,
                                                         void** function) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  if (std::strcmp(name, "zexDriverImportExternalPointer") == 0) {
    *function = reinterpret_cast<void*>(&zexDriverImportExternalPointer);
  } else if (std::strcmp(name, "zexDriverReleaseImportedPointer") == 0) {
    *function = reinterpret_cast<void*>(&zexDriverReleaseImportedPointer);
  } else {
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  }
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDriverGetApiVersion(ze_driver_handle_t, ze_api_version_t* version) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *version = ZE_API_VERSION_1_0;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDriverGetProperties(ze_driver_handle_t, ze_driver_properties_t* properties) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  properties->driverVersion = 1;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGet(ze_driver_handle_t, uint32_t* count, ze_device_handle_t* devices) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  if (devices != nullptr && *count > 0) devices[0] = Handle<ze_device_handle_t>(0xDE);
  *count = 1;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGetProperties(ze_device_handle_t, ze_device_properties_t* properties) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  properties->type = ZE_DEVICE_TYPE_GPU;
  std::strncpy(properties->name, "Fake Level Zero GPU", sizeof(properties->name) - 1);
  properties->timerResolution = 1;
  properties->timestampValidBits = 64;
  properties->maxMemAllocSize = 1ull << 30;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGetComputeProperties(ze_device_handle_t,
                                                  ze_device_compute_properties_t* properties) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  properties->maxTotalGroupSize = 1024;
  properties->maxGroupSizeX = properties->maxGroupSizeY = properties->maxGroupSizeZ = 1024;
  properties->maxGroupCountX = properties->maxGroupCountY = properties->maxGroupCountZ = 65535;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGetModuleProperties(ze_device_handle_t,
                                                 ze_device_module_properties_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGetMemoryProperties(ze_device_handle_t, uint32_t* count,
                                                 ze_device_memory_properties_t* memories) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  // One 4 GiB memory.
  if (memories != nullptr && *count > 0) memories[0].totalSize = 4ull << 30;
  *count = 1;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGetMemoryAccessProperties(ze_device_handle_t,
                                                       ze_device_memory_access_properties_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceGetCommandQueueGroupProperties(
    ze_device_handle_t, uint32_t* count, ze_command_queue_group_properties_t* groups) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  if (groups != nullptr && *count > 0) {
    groups[0].flags = ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE;
    groups[0].numQueues = 1;
  }
  *count = 1;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeDeviceCanAccessPeer(ze_device_handle_t, ze_device_handle_t,
                                           ze_bool_t* value) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *value = 0;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeContextCreate(ze_driver_handle_t, const ze_context_desc_t*,
                                     ze_context_handle_t* context) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *context = Handle<ze_context_handle_t>(0xC0);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeContextDestroy(ze_context_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandQueueCreate(ze_context_handle_t, ze_device_handle_t,
                                          const ze_command_queue_desc_t*,
                                          ze_command_queue_handle_t* queue) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  static uintptr_t next_queue = 0x9000;
  *queue = Handle<ze_command_queue_handle_t>(next_queue++);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandQueueDestroy(ze_command_queue_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandQueueExecuteCommandLists(ze_command_queue_handle_t queue,
                                                       uint32_t count,
                                                       ze_command_list_handle_t* handles,
                                                       ze_fence_handle_t fence) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  State& state = Fake();
  Submission submission;
  submission.queue = queue;
  submission.fence = fence;
  for (uint32_t i = 0; i < count; ++i) {
    List* list = state.Find(handles[i]);
    if (!list->closed) state.violations.push_back("executed a command list that is not closed");
    if (list->pending > 0) {
      state.violations.push_back("executed a command list the device may still be reading");
    }
    ++list->pending;
    submission.lists.push_back(list);
  }
  state.submissions.push_back(submission);
  if (fence != nullptr) reinterpret_cast<Fence*>(fence)->submission = state.submissions.size() - 1;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandQueueSynchronize(ze_command_queue_handle_t, uint64_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandListCreate(ze_context_handle_t, ze_device_handle_t,
                                         const ze_command_list_desc_t*,
                                         ze_command_list_handle_t* handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  State& state = Fake();
  state.lists.push_back(std::make_unique<List>());
  *handle = reinterpret_cast<ze_command_list_handle_t>(state.lists.back().get());
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandListDestroy(ze_command_list_handle_t handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  List* list = Fake().Find(handle);
  if (list->pending > 0) Fake().violations.push_back("destroyed a pending command list");
  list->destroyed = true;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandListClose(ze_command_list_handle_t handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  Fake().Find(handle)->closed = true;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandListReset(ze_command_list_handle_t handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  List* list = Fake().Find(handle);
  if (list->pending > 0) Fake().violations.push_back("reset a pending command list");
  list->commands.clear();
  list->closed = false;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeCommandListAppendBarrier(ze_command_list_handle_t list, ze_event_handle_t,
                                                uint32_t, ze_event_handle_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  Command command;
  command.kind = CommandKind::kBarrier;
  return Append(list, std::move(command));
}
FAKE_API ze_result_t zeCommandListAppendMemoryCopy(ze_command_list_handle_t list, void* dst,
                                                   const void* src, size_t size, ze_event_handle_t,
                                                   uint32_t, ze_event_handle_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  Command command;
  command.kind = CommandKind::kCopy;
  command.dst = dst;
  command.src = src;
  command.size = size;
  return Append(list, std::move(command));
}
FAKE_API ze_result_t zeCommandListAppendMemoryFill(ze_command_list_handle_t list, void* dst,
                                                   const void* pattern, size_t pattern_size,
                                                   size_t size, ze_event_handle_t, uint32_t,
                                                   ze_event_handle_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  Command command;
  command.kind = CommandKind::kFill;
  command.dst = dst;
  command.size = size;
  const auto* bytes = static_cast<const unsigned char*>(pattern);
  command.pattern.assign(bytes, bytes + pattern_size);
  return Append(list, std::move(command));
}
FAKE_API ze_result_t zeCommandListAppendWaitOnEvents(ze_command_list_handle_t list, uint32_t,
                                                     ze_event_handle_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return Append(list, Command());
}
FAKE_API ze_result_t zeCommandListAppendWriteGlobalTimestamp(ze_command_list_handle_t list,
                                                             uint64_t*, ze_event_handle_t, uint32_t,
                                                             ze_event_handle_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return Append(list, Command());
}
FAKE_API ze_result_t zeCommandListAppendLaunchKernel(ze_command_list_handle_t list,
                                                     ze_kernel_handle_t handle,
                                                     const ze_group_count_t* groups,
                                                     ze_event_handle_t, uint32_t,
                                                     ze_event_handle_t*) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  const Kernel* kernel = reinterpret_cast<const Kernel*>(handle);
  Command command;
  command.kind = CommandKind::kLaunch;
  std::memcpy(command.group_size, kernel->group_size, sizeof(command.group_size));
  command.groups = *groups;
  command.args = kernel->args;
  return Append(list, std::move(command));
}
FAKE_API ze_result_t zeFenceCreate(ze_command_queue_handle_t queue, const ze_fence_desc_t*,
                                   ze_fence_handle_t* handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  auto* fence = new Fence;
  fence->queue = queue;
  *handle = reinterpret_cast<ze_fence_handle_t>(fence);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeFenceDestroy(ze_fence_handle_t handle) {
  // Freed even when the walk fails the call, so that leak checks see Porta's leaks only.
  delete reinterpret_cast<Fence*>(handle);
  return Counted(__func__);
}
FAKE_API ze_result_t zeFenceHostSynchronize(ze_fence_handle_t handle, uint64_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  // Waiting completes the fence's submission and every earlier one on its queue (in order).
  const Fence* fence = reinterpret_cast<const Fence*>(handle);
  if (fence->submission == SIZE_MAX) return ZE_RESULT_SUCCESS;
  State& state = Fake();
  for (size_t i = 0; i <= fence->submission; ++i) {
    Submission& submission = state.submissions[i];
    if (submission.done || submission.queue != fence->queue) continue;
    submission.done = true;
    for (List* list : submission.lists) --list->pending;
  }
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeFenceQueryStatus(ze_fence_handle_t handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  const Fence* fence = reinterpret_cast<const Fence*>(handle);
  if (fence->submission == SIZE_MAX || Fake().submissions[fence->submission].done) {
    return ZE_RESULT_SUCCESS;
  }
  return ZE_RESULT_NOT_READY;
}
FAKE_API ze_result_t zeFenceReset(ze_fence_handle_t handle) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  reinterpret_cast<Fence*>(handle)->submission = SIZE_MAX;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeEventPoolCreate(ze_context_handle_t, const ze_event_pool_desc_t*, uint32_t,
                                       ze_device_handle_t*, ze_event_pool_handle_t* pool) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *pool = Handle<ze_event_pool_handle_t>(0xE0);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeEventPoolDestroy(ze_event_pool_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeEventCreate(ze_event_pool_handle_t, const ze_event_desc_t*,
                                   ze_event_handle_t* event) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *event = Handle<ze_event_handle_t>(0xE1);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeEventDestroy(ze_event_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeEventHostSynchronize(ze_event_handle_t, uint64_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeEventQueryStatus(ze_event_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return Injected("zeEventQueryStatus");
}
FAKE_API ze_result_t zeEventHostReset(ze_event_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeMemAllocDevice(ze_context_handle_t, const ze_device_mem_alloc_desc_t*,
                                      size_t size, size_t, ze_device_handle_t, void** pointer) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *pointer = Handle<void*>(next_pointer);
  device_allocation_sizes[next_pointer] = size;
  next_pointer += std::max<size_t>(0x100000, (size + 0xfffff) & ~size_t{0xfffff});
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeMemGetAddressRange(ze_context_handle_t, const void* pointer, void** base,
                                          size_t* size) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  auto it = device_allocation_sizes.upper_bound(address);
  if (it == device_allocation_sizes.begin()) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  --it;
  if (address >= it->first + it->second) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  *base = Handle<void*>(it->first);
  *size = it->second;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeMemAllocHost(ze_context_handle_t, const ze_host_mem_alloc_desc_t*,
                                    size_t size, size_t, void** pointer) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  std::vector<std::unique_ptr<unsigned char[]>>& blocks = Fake().host_blocks;
  blocks.push_back(std::make_unique<unsigned char[]>(size));
  *pointer = blocks.back().get();
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeMemAllocShared(ze_context_handle_t, const ze_device_mem_alloc_desc_t*,
                                      const ze_host_mem_alloc_desc_t*, size_t, size_t,
                                      ze_device_handle_t, void**) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_ERROR_UNSUPPORTED_FEATURE;
}
FAKE_API ze_result_t zeMemFree(ze_context_handle_t, void* pointer) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  device_allocation_sizes.erase(reinterpret_cast<uintptr_t>(pointer));
  std::vector<std::unique_ptr<unsigned char[]>>& blocks = Fake().host_blocks;
  std::erase_if(blocks, [pointer](const auto& block) { return block.get() == pointer; });
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeModuleCreate(ze_context_handle_t, ze_device_handle_t,
                                    const ze_module_desc_t*, ze_module_handle_t* module,
                                    ze_module_build_log_handle_t* log) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *module = Handle<ze_module_handle_t>(0x300);
  if (log != nullptr) *log = Handle<ze_module_build_log_handle_t>(0x301);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeModuleDestroy(ze_module_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeModuleBuildLogGetString(ze_module_build_log_handle_t, size_t* size,
                                               char* text) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  if (text != nullptr && *size > 0) text[0] = '\0';
  *size = 1;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeModuleBuildLogDestroy(ze_module_build_log_handle_t) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeKernelCreate(ze_module_handle_t, const ze_kernel_desc_t*,
                                    ze_kernel_handle_t* kernel) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  *kernel = reinterpret_cast<ze_kernel_handle_t>(new Kernel);
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeKernelDestroy(ze_kernel_handle_t kernel) {
  // Freed even when the walk fails the call, so that leak checks see Porta's leaks only.
  delete reinterpret_cast<Kernel*>(kernel);
  return Counted(__func__);
}
FAKE_API ze_result_t zeKernelGetProperties(ze_kernel_handle_t, ze_kernel_properties_t* properties) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  properties->numKernelArgs = porta::level_zero::fake::kKernelArgs;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeKernelSetGroupSize(ze_kernel_handle_t handle, uint32_t x, uint32_t y,
                                          uint32_t z) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  Kernel* kernel = reinterpret_cast<Kernel*>(handle);
  kernel->group_size[0] = x;
  kernel->group_size[1] = y;
  kernel->group_size[2] = z;
  return ZE_RESULT_SUCCESS;
}
FAKE_API ze_result_t zeKernelSetArgumentValue(ze_kernel_handle_t handle, uint32_t index,
                                              size_t size, const void* value) {
  if (const ze_result_t counted = Counted(__func__)) return counted;
  Kernel* kernel = reinterpret_cast<Kernel*>(handle);
  if (index >= kernel->args.size()) return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
  const auto* bytes = static_cast<const unsigned char*>(value);
  kernel->args[index] = bytes != nullptr ? std::vector<unsigned char>(bytes, bytes + size)
                                         : std::vector<unsigned char>(size, 0);
  return ZE_RESULT_SUCCESS;
}
