// Native graphs (ABI 1.2): a run of launches, device-to-device copies and fills recorded once into
// a secondary command buffer, which a replay executes inside the stream's open batch.
//
// A recording is immutable: its command buffer, the command pool it comes from and the descriptor
// sets it binds belong to it alone. Batches that execute it hold a reference, so an argument update
// records a new one and the old one lives until the last batch that executes it retires.
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {

struct GraphRecording {
  explicit GraphRecording(Device* device) : device(device) {}
  ~GraphRecording() {
    // Destroying the pools frees the command buffer and the descriptor sets.
    if (pool != VK_NULL_HANDLE) device->vk.vkDestroyCommandPool(device->device, pool, nullptr);
    if (descriptors != VK_NULL_HANDLE) {
      device->vk.vkDestroyDescriptorPool(device->device, descriptors, nullptr);
    }
  }
  GraphRecording(const GraphRecording&) = delete;
  GraphRecording& operator=(const GraphRecording&) = delete;

  Device* device;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkDescriptorPool descriptors = VK_NULL_HANDLE;
  VkCommandBuffer cmd = VK_NULL_HANDLE;  // secondary, VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT
  uint32_t nodes = 0;
};

namespace {

using common::Fail;

// One node, prepared as the slot call it stands for would prepare it.
struct GraphStep {
  porta_graph_node_kind_t kind = PORTA_GRAPH_NODE_KERNEL;
  // Kernel nodes: what an argument update prepares the new launch with, and the launch.
  Kernel* kernel = nullptr;
  porta_launch_config_t config{};
  PreparedLaunch launch;
  // Copies.
  VkBuffer src = VK_NULL_HANDLE;
  VkBuffer dst = VK_NULL_HANDLE;
  VkBufferCopy region{};
  // Fills.
  PreparedFill fill;
};

struct Graph {
  Device* device = nullptr;
  std::mutex mutex;  // guards |steps| and |recording|
  std::vector<GraphStep> steps;
  std::shared_ptr<const GraphRecording> recording;
};

Graph* GraphOf(porta_be_graph_t graph) {
  return As<Graph>(graph);
}

// Calls |visit| with every launch the steps record (kernel nodes and the edges of fills).
template <typename Visit>
void ForEachLaunch(const std::vector<GraphStep>& steps, Visit visit) {
  for (const GraphStep& step : steps) {
    if (step.kind == PORTA_GRAPH_NODE_KERNEL) visit(step.launch);
    if (step.kind == PORTA_GRAPH_NODE_FILL && step.fill.has_edges) visit(step.fill.edges);
  }
}

// Creates the descriptor pool for every set the steps bind, and writes the sets (in launch order)
// into |sets|. No pool when every launch pushes its descriptors or has no buffers.
porta_status_t AllocateSets(Device* device, const std::vector<GraphStep>& steps,
                            GraphRecording* recording, std::vector<VkDescriptorSet>* sets,
                            porta_be_msg msg) {
  const DeviceFunctions& vk = device->vk;
  std::vector<const PreparedLaunch*> launches;
  std::vector<VkDescriptorSetLayout> layouts;
  uint32_t buffers = 0;
  uint32_t views = 0;
  ForEachLaunch(steps, [&](const PreparedLaunch& launch) {
    if (!NeedsDescriptorSet(launch)) return;
    launches.push_back(&launch);
    layouts.push_back(launch.pipeline.layout->set_layout);
    buffers += static_cast<uint32_t>(launch.buffers.size());
    views += static_cast<uint32_t>(launch.views.size());
  });
  if (launches.empty()) return PORTA_OK;
  VkDescriptorPoolSize sizes[2];
  uint32_t size_count = 0;
  if (buffers > 0) sizes[size_count++] = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, buffers};
  if (views > 0) sizes[size_count++] = {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, views};
  VkDescriptorPoolCreateInfo create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  create.maxSets = static_cast<uint32_t>(launches.size());
  create.poolSizeCount = size_count;
  create.pPoolSizes = sizes;
  porta_status_t status = device->Check(
      vk.vkCreateDescriptorPool(device->device, &create, nullptr, &recording->descriptors),
      "vkCreateDescriptorPool (graph)", msg);
  if (status != PORTA_OK) return status;
  VkDescriptorSetAllocateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  info.descriptorPool = recording->descriptors;
  info.descriptorSetCount = static_cast<uint32_t>(layouts.size());
  info.pSetLayouts = layouts.data();
  sets->resize(layouts.size());
  status = device->Check(vk.vkAllocateDescriptorSets(device->device, &info, sets->data()),
                         "vkAllocateDescriptorSets (graph)", msg);
  if (status != PORTA_OK) return status;
  for (size_t i = 0; i < launches.size(); ++i) WriteDescriptorSet(device, *launches[i], (*sets)[i]);
  return PORTA_OK;
}

// Records |steps| into a new secondary command buffer, with the in-order barrier between
// consecutive commands as a stream records them. The stream adds the barriers before and after.
porta_status_t Record(Device* device, const std::vector<GraphStep>& steps,
                      std::shared_ptr<const GraphRecording>* out, porta_be_msg msg) {
  const DeviceFunctions& vk = device->vk;
  auto recording = std::make_shared<GraphRecording>(device);
  recording->nodes = static_cast<uint32_t>(steps.size());
  std::vector<VkDescriptorSet> sets;
  porta_status_t status = AllocateSets(device, steps, recording.get(), &sets, msg);
  if (status != PORTA_OK) return status;

  VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool.queueFamilyIndex = device->physical->queue_family;
  status = device->Check(vk.vkCreateCommandPool(device->device, &pool, nullptr, &recording->pool),
                         "vkCreateCommandPool (graph)", msg);
  if (status != PORTA_OK) return status;
  VkCommandBufferAllocateInfo allocate{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  allocate.commandPool = recording->pool;
  allocate.level = VK_COMMAND_BUFFER_LEVEL_SECONDARY;
  allocate.commandBufferCount = 1;
  status = device->Check(vk.vkAllocateCommandBuffers(device->device, &allocate, &recording->cmd),
                         "vkAllocateCommandBuffers (graph)", msg);
  if (status != PORTA_OK) return status;
  VkCommandBufferInheritanceInfo inheritance{VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO};
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  // Replays may be pending on several streams, and repeated within one batch, at once.
  begin.flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT;
  begin.pInheritanceInfo = &inheritance;
  const VkCommandBuffer cmd = recording->cmd;
  status = device->Check(vk.vkBeginCommandBuffer(cmd, &begin), "vkBeginCommandBuffer (graph)", msg);
  if (status != PORTA_OK) return status;

  // A secondary command buffer inherits no pipeline, so the first launch always binds one.
  VkPipeline bound = VK_NULL_HANDLE;
  size_t next_set = 0;
  bool first = true;
  auto command = [&] {
    if (!first) RecordInOrderBarrier(vk, cmd);
    first = false;
  };
  auto launch = [&](const PreparedLaunch& prepared) {
    command();
    const VkDescriptorSet set = NeedsDescriptorSet(prepared) ? sets[next_set++] : VK_NULL_HANDLE;
    RecordLaunch(device, cmd, prepared, set, &bound);
  };
  for (const GraphStep& step : steps) {
    switch (step.kind) {
      case PORTA_GRAPH_NODE_KERNEL:
        launch(step.launch);
        break;
      case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
        command();
        vk.vkCmdCopyBuffer(cmd, step.src, step.dst, 1, &step.region);
        break;
      default:  // PORTA_GRAPH_NODE_FILL; GraphCreate admits no other kind
        if (step.fill.words_size > 0) {
          command();
          vk.vkCmdFillBuffer(cmd, step.fill.buffer, step.fill.words_offset, step.fill.words_size,
                             step.fill.word);
        }
        if (step.fill.has_edges) launch(step.fill.edges);
        break;
    }
  }
  status = device->Check(vk.vkEndCommandBuffer(cmd), "vkEndCommandBuffer (graph)", msg);
  if (status != PORTA_OK) return status;
  *out = std::move(recording);
  return PORTA_OK;
}

porta_status_t PrepareStep(Device* device, const porta_be_graph_node_t& node, uint32_t index,
                           GraphStep* out, porta_be_msg msg) {
  out->kind = node.kind;
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL:
      out->kernel = As<Kernel>(node.kernel);
      out->config = *node.config;
      return PrepareLaunch(out->kernel, node.config, node.args, node.arg_count, &out->launch, msg);
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      out->src = As<Buffer>(node.src)->buffer;
      out->dst = As<Buffer>(node.dst)->buffer;
      out->region = {node.src_offset, node.dst_offset, node.size};
      return PORTA_OK;
    case PORTA_GRAPH_NODE_FILL:
      return PrepareFill(device, As<Buffer>(node.dst), node.dst_offset, node.size, node.pattern,
                         node.pattern_size, &out->fill, msg);
    default:
      return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                  "vulkan: graph node %u has kind %d, which a native graph does not hold", index,
                  static_cast<int>(node.kind));
  }
}

}  // namespace

porta_status_t GraphCreate(porta_be_device_t handle, const porta_be_graph_node_t* nodes,
                           uint32_t count, porta_be_graph_t* out_graph, porta_be_msg msg) {
  auto* device = As<Device>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  auto graph = std::make_unique<Graph>();
  graph->device = device;
  graph->steps.resize(count);
  porta_status_t status = PORTA_OK;
  for (uint32_t i = 0; i < count && status == PORTA_OK; ++i) {
    status = PrepareStep(device, nodes[i], i, &graph->steps[i], msg);
  }
  if (status == PORTA_OK) status = Record(device, graph->steps, &graph->recording, msg);
  if (status == PORTA_OK) *out_graph = ToHandle<porta_be_graph_t>(graph.release());
  return CheckValidation(device, status, msg);
}

porta_status_t GraphLaunch(porta_be_stream_t stream, porta_be_graph_t handle, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  Graph* graph = GraphOf(handle);
  std::shared_ptr<const GraphRecording> recording;
  {
    std::lock_guard<std::mutex> lock(graph->mutex);
    recording = graph->recording;
  }
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    status = core->BeginCommandLocked(&cmd, msg);
    if (status == PORTA_OK) {
      core->device()->vk.vkCmdExecuteCommands(cmd, 1, &recording->cmd);
      Batch& batch = core->open_batch();
      // After vkCmdExecuteCommands the primary's bound state is undefined: the next launch
      // binds its pipeline again.
      batch.bound_pipeline = VK_NULL_HANDLE;
      batch.graphs.push_back(std::move(recording));
      status = core->EndCommandLocked(batch.graphs.back()->nodes, msg);
    }
  }
  return CheckValidation(core->device(), status, msg);
}

porta_status_t GraphUpdateKernelArgs(porta_be_graph_t handle, uint32_t node,
                                     const porta_be_arg_t* args, uint32_t arg_count,
                                     porta_be_msg msg) {
  Graph* graph = GraphOf(handle);
  Device* device = graph->device;
  // |node| is a kernel node and |args| match it (the runtime checked).
  std::lock_guard<std::mutex> lock(graph->mutex);
  GraphStep& step = graph->steps[node];
  PreparedLaunch launch;
  porta_status_t status = PrepareLaunch(step.kernel, &step.config, args, arg_count, &launch, msg);
  if (status != PORTA_OK) return CheckValidation(device, status, msg);
  // Replays already queued execute the old recording, which their batches keep alive; only a
  // complete new recording replaces it.
  std::swap(step.launch, launch);
  std::shared_ptr<const GraphRecording> recording;
  status = Record(device, graph->steps, &recording, msg);
  if (status == PORTA_OK) {
    graph->recording = std::move(recording);
  } else {
    std::swap(step.launch, launch);
  }
  return CheckValidation(device, status, msg);
}

void GraphDestroy(porta_be_graph_t handle) {
  delete GraphOf(handle);
}

}  // namespace porta::vulkan
