#include "tools/bench/bench_vulkan.h"

#include <dlfcn.h>

// Functions come from the dlopen'ed loader, never from linking libvulkan.
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/bench/bench_kernels.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {
namespace {

constexpr uint32_t kBlock = kEmptyShaderBlock;

// Dispatches and copies through Porta should cost at most 1.05x the raw Vulkan calls.
constexpr double kRawTarget = 1.0 / 1.05;

// clang-format off: one function per line reads better than the packed layout.
#define BENCH_VK_INSTANCE_FUNCTIONS(X)        \
  X(vkDestroyInstance)                        \
  X(vkEnumeratePhysicalDevices)               \
  X(vkGetPhysicalDeviceProperties2)           \
  X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkGetPhysicalDeviceMemoryProperties)      \
  X(vkCreateDevice)                           \
  X(vkGetDeviceProcAddr)
#define BENCH_VK_DEVICE_FUNCTIONS(X) \
  X(vkDestroyDevice)                 \
  X(vkGetDeviceQueue)                \
  X(vkCreateCommandPool)             \
  X(vkDestroyCommandPool)            \
  X(vkAllocateCommandBuffers)        \
  X(vkBeginCommandBuffer)            \
  X(vkEndCommandBuffer)              \
  X(vkCmdBindPipeline)               \
  X(vkCmdDispatch)                   \
  X(vkCmdPipelineBarrier)            \
  X(vkCmdCopyBuffer)                 \
  X(vkQueueSubmit)                   \
  X(vkCreateSemaphore)               \
  X(vkDestroySemaphore)              \
  X(vkWaitSemaphores)                \
  X(vkCreateShaderModule)            \
  X(vkDestroyShaderModule)           \
  X(vkCreatePipelineLayout)          \
  X(vkDestroyPipelineLayout)         \
  X(vkCreateComputePipelines)        \
  X(vkDestroyPipeline)               \
  X(vkCreateBuffer)                  \
  X(vkDestroyBuffer)                 \
  X(vkGetBufferMemoryRequirements)   \
  X(vkAllocateMemory)                \
  X(vkFreeMemory)                    \
  X(vkBindBufferMemory)              \
  X(vkMapMemory)
// clang-format on

// A buffer with its own memory.
struct RawBuffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
};

// The baseline: what an application written directly against Vulkan does for the same work, on
// the same physical device (matched by UUID), with its own instance, device and pipeline.
class RawVulkan {
 public:
  ~RawVulkan();
  bool Init(const uint8_t uuid[16], std::string* error);

  // Records |count| dispatches of the empty pipeline (with the barrier an in-order stream
  // needs between them) into one command buffer, submits it and waits.
  bool Dispatches(int count);
  // Queues |count| dispatches as an in-order stream of separate launches: each in its own command
  // buffer and submission, waiting on the previous one's timeline value; then waits for the last.
  bool SeparateDispatches(int count);
  // Copies |bytes| between buffers with one vkCmdCopyBuffer, submits and waits.
  bool Copy(const RawBuffer& dst, const RawBuffer& src, uint64_t bytes);
  // A buffer of |bytes|; |host| asks for host-visible coherent memory (mapped).
  bool CreateBuffer(uint64_t bytes, bool host, RawBuffer* out);
  void DestroyBuffer(const RawBuffer& buffer);

 private:
  bool Submit();
  void* library_ = nullptr;
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define BENCH_DECLARE(name) PFN_##name name = nullptr;
  BENCH_VK_INSTANCE_FUNCTIONS(BENCH_DECLARE)
  BENCH_VK_DEVICE_FUNCTIONS(BENCH_DECLARE)
#undef BENCH_DECLARE
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::vector<VkCommandBuffer> separate_;  // SeparateDispatches' command buffers
  VkSemaphore timeline_ = VK_NULL_HANDLE;
  uint64_t value_ = 0;
  VkShaderModule shader_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};

RawVulkan::~RawVulkan() {
  if (device_ != VK_NULL_HANDLE) {
    if (pipeline_ != VK_NULL_HANDLE) vkDestroyPipeline(device_, pipeline_, nullptr);
    if (layout_ != VK_NULL_HANDLE) vkDestroyPipelineLayout(device_, layout_, nullptr);
    if (shader_ != VK_NULL_HANDLE) vkDestroyShaderModule(device_, shader_, nullptr);
    if (timeline_ != VK_NULL_HANDLE) vkDestroySemaphore(device_, timeline_, nullptr);
    if (pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device_, pool_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
  if (library_ != nullptr) dlclose(library_);
}

bool RawVulkan::Init(const uint8_t uuid[16], std::string* error) {
  const char* name = std::getenv("PORTA_VULKAN_LIBRARY");
  library_ =
      dlopen(name != nullptr && name[0] != '\0' ? name : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library_ == nullptr) {
    *error = std::string("dlopen of the Vulkan loader failed: ") + dlerror();
    return false;
  }
  vkGetInstanceProcAddr =
      reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library_, "vkGetInstanceProcAddr"));
  auto create_instance = vkGetInstanceProcAddr == nullptr
                             ? nullptr
                             : reinterpret_cast<PFN_vkCreateInstance>(
                                   vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkCreateInstance"));
  if (create_instance == nullptr) {
    *error = "the Vulkan loader lacks vkGetInstanceProcAddr / vkCreateInstance";
    return false;
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo instance_info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  instance_info.pApplicationInfo = &app;
  if (create_instance(&instance_info, nullptr, &instance_) != VK_SUCCESS) {
    *error = "vkCreateInstance failed";
    return false;
  }
  std::string missing;
#define BENCH_LOAD_INSTANCE(fn)                                           \
  fn = reinterpret_cast<PFN_##fn>(vkGetInstanceProcAddr(instance_, #fn)); \
  if (fn == nullptr) missing += " " #fn;
  BENCH_VK_INSTANCE_FUNCTIONS(BENCH_LOAD_INSTANCE)
#undef BENCH_LOAD_INSTANCE
  if (!missing.empty()) {
    *error = "the Vulkan instance lacks" + missing;
    return false;
  }
  uint32_t count = 0;
  vkEnumeratePhysicalDevices(instance_, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  vkEnumeratePhysicalDevices(instance_, &count, devices.data());
  for (VkPhysicalDevice candidate : devices) {
    VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &id};
    vkGetPhysicalDeviceProperties2(candidate, &props);
    if (std::memcmp(id.deviceUUID, uuid, VK_UUID_SIZE) == 0) physical_ = candidate;
  }
  if (physical_ == VK_NULL_HANDLE) {
    *error = "no physical device has the Porta device's UUID";
    return false;
  }
  vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &count, families.data());
  uint32_t family = UINT32_MAX;
  for (uint32_t i = 0; i < count && family == UINT32_MAX; ++i) {
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = i;
  }
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = family;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;
  VkPhysicalDeviceVulkan12Features features12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  features12.timelineSemaphore = VK_TRUE;
  VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features12};
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue_info;
  if (family == UINT32_MAX ||
      vkCreateDevice(physical_, &device_info, nullptr, &device_) != VK_SUCCESS) {
    *error = "vkCreateDevice failed (or no compute queue)";
    return false;
  }
#define BENCH_LOAD_DEVICE(fn)                                         \
  fn = reinterpret_cast<PFN_##fn>(vkGetDeviceProcAddr(device_, #fn)); \
  if (fn == nullptr) missing += " " #fn;
  BENCH_VK_DEVICE_FUNCTIONS(BENCH_LOAD_DEVICE)
#undef BENCH_LOAD_DEVICE
  if (!missing.empty()) {
    *error = "the Vulkan device lacks" + missing;
    return false;
  }
  vkGetDeviceQueue(device_, family, 0, &queue_);
  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = family;
  VkCommandBufferAllocateInfo cmd_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cmd_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cmd_info.commandBufferCount = 1;
  VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  VkSemaphoreCreateInfo semaphore_info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
  VkShaderModuleCreateInfo shader_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  shader_info.codeSize = kEmptyShaderSpirvSize;
  shader_info.pCode = kEmptyShaderSpirv;
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  bool ok = vkCreateCommandPool(device_, &pool_info, nullptr, &pool_) == VK_SUCCESS;
  cmd_info.commandPool = pool_;
  ok = ok && vkAllocateCommandBuffers(device_, &cmd_info, &cmd_) == VK_SUCCESS;
  ok = ok && vkCreateSemaphore(device_, &semaphore_info, nullptr, &timeline_) == VK_SUCCESS;
  ok = ok && vkCreateShaderModule(device_, &shader_info, nullptr, &shader_) == VK_SUCCESS;
  ok = ok && vkCreatePipelineLayout(device_, &layout_info, nullptr, &layout_) == VK_SUCCESS;
  if (ok) {
    VkComputePipelineCreateInfo pipeline_info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pipeline_info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pipeline_info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pipeline_info.stage.module = shader_;
    pipeline_info.stage.pName = "empty";
    pipeline_info.layout = layout_;
    ok = vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &pipeline_info, nullptr,
                                  &pipeline_) == VK_SUCCESS;
  }
  if (!ok) *error = "creating the raw Vulkan command pool, semaphore or pipeline failed";
  return ok;
}

bool RawVulkan::Submit() {
  if (vkEndCommandBuffer(cmd_) != VK_SUCCESS) return false;
  const uint64_t signal = ++value_;
  VkTimelineSemaphoreSubmitInfo timeline{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
  timeline.signalSemaphoreValueCount = 1;
  timeline.pSignalSemaphoreValues = &signal;
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO, &timeline};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cmd_;
  submit.signalSemaphoreCount = 1;
  submit.pSignalSemaphores = &timeline_;
  if (vkQueueSubmit(queue_, 1, &submit, VK_NULL_HANDLE) != VK_SUCCESS) return false;
  VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
  wait.semaphoreCount = 1;
  wait.pSemaphores = &timeline_;
  wait.pValues = &signal;
  return vkWaitSemaphores(device_, &wait, UINT64_MAX) == VK_SUCCESS;
}

bool RawVulkan::Dispatches(int count) {
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  if (vkBeginCommandBuffer(cmd_, &begin) != VK_SUCCESS) return false;
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_);
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  for (int i = 0; i < count; ++i) {
    if (i > 0) {
      vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                           VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0, nullptr, 0,
                           nullptr);
    }
    vkCmdDispatch(cmd_, 1, 1, 1);
  }
  return Submit();
}

bool RawVulkan::SeparateDispatches(int count) {
  if (separate_.size() < static_cast<size_t>(count)) {
    VkCommandBufferAllocateInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    info.commandPool = pool_;
    info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    info.commandBufferCount = static_cast<uint32_t>(count - separate_.size());
    std::vector<VkCommandBuffer> more(info.commandBufferCount);
    if (vkAllocateCommandBuffers(device_, &info, more.data()) != VK_SUCCESS) return false;
    separate_.insert(separate_.end(), more.begin(), more.end());
  }
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
  for (int i = 0; i < count; ++i) {
    VkCommandBuffer cmd = separate_[static_cast<size_t>(i)];
    if (vkBeginCommandBuffer(cmd, &begin) != VK_SUCCESS) return false;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_);
    vkCmdDispatch(cmd, 1, 1, 1);
    if (vkEndCommandBuffer(cmd) != VK_SUCCESS) return false;
    const uint64_t wait_value = value_;
    const uint64_t signal = ++value_;
    VkTimelineSemaphoreSubmitInfo timeline{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    timeline.waitSemaphoreValueCount = 1;
    timeline.pWaitSemaphoreValues = &wait_value;
    timeline.signalSemaphoreValueCount = 1;
    timeline.pSignalSemaphoreValues = &signal;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO, &timeline};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &timeline_;
    submit.pWaitDstStageMask = &stage;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &timeline_;
    if (vkQueueSubmit(queue_, 1, &submit, VK_NULL_HANDLE) != VK_SUCCESS) return false;
  }
  const uint64_t last = value_;
  VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
  wait.semaphoreCount = 1;
  wait.pSemaphores = &timeline_;
  wait.pValues = &last;
  return vkWaitSemaphores(device_, &wait, UINT64_MAX) == VK_SUCCESS;
}

bool RawVulkan::Copy(const RawBuffer& dst, const RawBuffer& src, uint64_t bytes) {
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  if (vkBeginCommandBuffer(cmd_, &begin) != VK_SUCCESS) return false;
  const VkBufferCopy region{0, 0, bytes};
  vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &region);
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                       &barrier, 0, nullptr, 0, nullptr);
  return Submit();
}

bool RawVulkan::CreateBuffer(uint64_t bytes, bool host, RawBuffer* out) {
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = bytes;
  info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
               VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  if (vkCreateBuffer(device_, &info, nullptr, &out->buffer) != VK_SUCCESS) return false;
  VkMemoryRequirements requirements{};
  vkGetBufferMemoryRequirements(device_, out->buffer, &requirements);
  const VkMemoryPropertyFlags want =
      host ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
           : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  uint32_t type = UINT32_MAX;
  for (uint32_t i = 0; i < memory_.memoryTypeCount && type == UINT32_MAX; ++i) {
    if ((requirements.memoryTypeBits & (1u << i)) &&
        (memory_.memoryTypes[i].propertyFlags & want) == want) {
      type = i;
    }
  }
  VkMemoryAllocateInfo allocate{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  allocate.allocationSize = requirements.size;
  allocate.memoryTypeIndex = type;
  if (type == UINT32_MAX ||
      vkAllocateMemory(device_, &allocate, nullptr, &out->memory) != VK_SUCCESS ||
      vkBindBufferMemory(device_, out->buffer, out->memory, 0) != VK_SUCCESS) {
    return false;
  }
  return !host ||
         vkMapMemory(device_, out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped) == VK_SUCCESS;
}

void RawVulkan::DestroyBuffer(const RawBuffer& buffer) {
  if (buffer.buffer != VK_NULL_HANDLE) vkDestroyBuffer(device_, buffer.buffer, nullptr);
  if (buffer.memory != VK_NULL_HANDLE) vkFreeMemory(device_, buffer.memory, nullptr);
}

// Seconds of Porta's |porta| and the raw path's |raw|, timed in interleaved rounds (MeasurePair).
template <typename PortaFn, typename RawFn>
bool TimePairs(int repetitions, PortaFn porta, RawFn raw, Measure* porta_seconds,
               Measure* raw_seconds) {
  auto timed = [](auto& fn) {
    return [&fn] {
      const double start = NowSeconds();
      return fn() ? NowSeconds() - start : -1.0;
    };
  };
  return MeasurePair(repetitions, timed(porta), timed(raw), porta_seconds, raw_seconds);
}

bool BenchDevice(porta_device_t device, const porta_device_info_t& info, const BenchConfig& config,
                 const RowSink& sink, std::string* error) {
  auto check = [error](porta_status_t status, const char* what) {
    return Check(status, what, error);
  };
  const std::string label = DeviceLabel(info);
  auto row = [&](std::string name, const char* unit, const Measure& porta, const Measure& raw) {
    sink.row(MakeRow(label, std::move(name), unit, porta, "raw Vulkan", raw, kRawTarget));
  };
  PortaObjects objects;
  const porta_module_source_t source = {
      PORTA_FORMAT_SPIRV_SHADER, kEmptyShaderSpirv, kEmptyShaderSpirvSize, nullptr, nullptr, 0};
  porta_kernel_t kernel = nullptr;
  if (!CreateStreamAndKernel(device, source, "empty", &objects, &kernel, error)) {
    return false;
  }
  RawVulkan raw;
  if (!raw.Init(info.uuid, error)) return false;
  porta_launch_config_t launch = PORTA_LAUNCH_CONFIG_INIT;
  launch.block[0] = kBlock;
  porta_stream_t stream = objects.stream;
  auto porta_dispatches = [&](int count) {
    for (int i = 0; i < count; ++i) {
      if (!check(porta_kernel_launch(stream, kernel, &launch, nullptr, 0), "porta_kernel_launch")) {
        return false;
      }
    }
    return check(porta_stream_synchronize(stream), "porta_stream_synchronize");
  };
  const char* raw_failed = "a raw Vulkan call failed";
  // Warm-up: pipelines created, command buffers and staging allocated on both sides.
  if (!porta_dispatches(16) || !raw.Dispatches(16)) {
    if (error->empty()) *error = raw_failed;
    return false;
  }

  Measure porta_s;
  Measure raw_s;
  const char* kThroughput = "empty dispatch throughput";
  if (sink.Start(label, kThroughput)) {
    if (!TimePairs(
            config.repetitions, [&] { return porta_dispatches(config.launches); },
            [&] { return raw.Dispatches(config.launches); }, &porta_s, &raw_s)) {
      if (error->empty()) *error = raw_failed;
      return false;
    }
    row(kThroughput, "us/dispatch", Scale(porta_s, 1e6 / config.launches),
        Scale(raw_s, 1e6 / config.launches));
  }

  // |one| run |count| times in a row, as one timed repetition.
  auto repeat = [](int count, auto one) {
    return [count, one] {
      for (int i = 0; i < count; ++i) {
        if (!one()) return false;
      }
      return true;
    };
  };
  const int iterations = config.latency_iterations;
  const char* kLatency = "dispatch-to-completion latency";
  if (sink.Start(label, kLatency)) {
    if (!TimePairs(config.repetitions, repeat(iterations, [&] { return porta_dispatches(1); }),
                   repeat(iterations, [&] { return raw.Dispatches(1); }), &porta_s, &raw_s)) {
      if (error->empty()) *error = raw_failed;
      return false;
    }
    row(kLatency, "us", Scale(porta_s, 1e6 / iterations), Scale(raw_s, 1e6 / iterations));
  }

  // One replay of a captured graph of kGraphLaunches dispatches against the raw API's separate
  // launches (one submission each, in stream order; the target row), and against the raw API's
  // cheapest way to run as many: one command buffer holding them all, submitted once.
  const std::string graph_name =
      "graph replay of " + std::to_string(kGraphLaunches) + " dispatches + sync";
  const std::string graph_one_name = graph_name + ", vs one command buffer";
  const bool graph_rows = sink.Start(label, graph_name);
  const bool graph_one_row = sink.Start(label, graph_one_name);
  if (graph_rows || graph_one_row) {
    LaunchGraph graph(stream, kernel, launch, nullptr, 0, kGraphLaunches);
    auto replay = [&] {
      graph.Replay();
      return check(porta_stream_synchronize(stream), "porta_stream_synchronize");
    };
    // Interleaved, so that a change in machine load falls on all alike.
    std::vector<double> porta_samples, separate_samples, one_samples;
    for (int r = 0; r < 5 * config.repetitions + 1; ++r) {
      double start = NowSeconds();
      if (!replay()) return false;
      const double porta_seconds = NowSeconds() - start;
      start = NowSeconds();
      if (!raw.SeparateDispatches(kGraphLaunches)) {
        *error = raw_failed;
        return false;
      }
      const double separate_seconds = NowSeconds() - start;
      start = NowSeconds();
      if (!raw.Dispatches(kGraphLaunches)) {
        *error = raw_failed;
        return false;
      }
      // The first round warms every path.
      if (r == 0) continue;
      porta_samples.push_back(porta_seconds);
      separate_samples.push_back(separate_seconds);
      one_samples.push_back(NowSeconds() - start);
    }
    const Measure porta_us = Scale(Summarize(porta_samples), 1e6);
    if (graph_rows) {
      sink.row(MakeRow(label, graph_name, "us", porta_us, "raw Vulkan, separate submissions",
                       Scale(Summarize(separate_samples), 1e6), 2.0));
    }
    if (graph_one_row) {
      sink.row(MakeRow(label, graph_one_name, "us", porta_us, "raw Vulkan, one command buffer",
                       Scale(Summarize(one_samples), 1e6)));
    }
  }

  // Copies: Porta's copy calls against the raw staging path (memcpy into a mapped host-visible
  // buffer plus vkCmdCopyBuffer, and the reverse), and buffer-to-buffer copies.
  const uint64_t bytes = config.copy_bytes;
  std::vector<uint8_t> host(bytes, 0x5a);
  RawBuffer raw_device[2];
  RawBuffer raw_staging;
  bool ok = raw.CreateBuffer(bytes, false, &raw_device[0]) &&
            raw.CreateBuffer(bytes, false, &raw_device[1]) &&
            raw.CreateBuffer(bytes, true, &raw_staging);
  ok = ok &&
       check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &objects.buffers[0]),
             "porta_buffer_alloc") &&
       check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &objects.buffers[1]),
             "porta_buffer_alloc");
  const double gigabytes = static_cast<double>(bytes) * config.copies / 1e9;
  struct CopyCase {
    const char* name;
    std::function<bool()> porta;
    std::function<bool()> raw;
  };
  const CopyCase cases[] = {
      {"copy host-to-device",
       [&] {
         return check(porta_copy_host_to_device(stream, objects.buffers[0], 0, host.data(), bytes),
                      "porta_copy_host_to_device") &&
                check(porta_stream_synchronize(stream), "porta_stream_synchronize");
       },
       [&] {
         std::memcpy(raw_staging.mapped, host.data(), bytes);
         return raw.Copy(raw_device[0], raw_staging, bytes);
       }},
      {"copy device-to-host",
       [&] {
         return check(porta_copy_device_to_host(stream, host.data(), objects.buffers[0], 0, bytes),
                      "porta_copy_device_to_host") &&
                check(porta_stream_synchronize(stream), "porta_stream_synchronize");
       },
       [&] {
         if (!raw.Copy(raw_staging, raw_device[0], bytes)) return false;
         std::memcpy(host.data(), raw_staging.mapped, bytes);
         return true;
       }},
      {"copy device-to-device",
       [&] {
         return check(porta_copy_device_to_device(stream, objects.buffers[1], 0, objects.buffers[0],
                                                  0, bytes),
                      "porta_copy_device_to_device") &&
                check(porta_stream_synchronize(stream), "porta_stream_synchronize");
       },
       [&] { return raw.Copy(raw_device[1], raw_device[0], bytes); }},
  };
  for (const CopyCase& copy : cases) {
    if (!ok) break;
    char name[96];
    std::snprintf(name, sizeof(name), "%s %llu MiB", copy.name,
                  static_cast<unsigned long long>(bytes >> 20));
    if (!sink.Start(label, name)) continue;
    ok = copy.porta() && copy.raw() &&  // warm-up
         TimePairs(config.repetitions, repeat(config.copies, copy.porta),
                   repeat(config.copies, copy.raw), &porta_s, &raw_s);
    if (ok) row(name, "GB/s", RateOf(gigabytes, porta_s), RateOf(gigabytes, raw_s));
  }
  for (const RawBuffer& buffer : raw_device) raw.DestroyBuffer(buffer);
  raw.DestroyBuffer(raw_staging);
  if (!ok && error->empty()) *error = raw_failed;
  return ok;
}

}  // namespace

void RunVulkanRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  // One copy per repetition: each copy is submitted and waited for on its own.
  const BenchConfig config = quick ? BenchConfig{3, 500, 50, uint64_t{4} << 20, 1}
                                   : BenchConfig{7, 10000, 500, uint64_t{64} << 20, 1};
  for (const auto& [device, info] : DevicesOf(runtime, "vulkan")) {
    std::string error;
    if (!BenchDevice(device, info, config, sink, &error)) {
      sink.error(DeviceLabel(info) + ": " + error);
    }
  }
}

}  // namespace porta::bench
