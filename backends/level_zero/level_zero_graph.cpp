// Native graphs of the Level Zero backend: a regular command list recorded once with every node
// (launches, copies and fills, each followed by a barrier as the stream appends them), closed,
// and submitted to the stream's queue as one command list per replay.
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/level_zero/level_zero_objects.h"
#include "porta/sdk/message.h"

namespace porta::level_zero {

// One node as recorded: what appending it again needs, owning every byte it refers to.
struct GraphStep {
  porta_graph_node_kind_t kind = PORTA_GRAPH_NODE_KERNEL;
  Kernel* kernel = nullptr;
  porta_launch_config_t config = {};
  // Scalar arguments point into |scalars| when the step is appended, not before.
  std::vector<porta_be_arg_t> args;
  std::vector<std::vector<unsigned char>> scalars;
  void* dst = nullptr;
  const void* src = nullptr;
  uint64_t size = 0;
  // A fill's pattern, which the device reads when the fill runs.
  uint32_t pattern = 0;
  uint32_t pattern_size = 0;
};

// Every step of a graph. Immutable once shared: an argument update makes a new one, so lists
// recorded from the old one (and replays of them still queued) keep what they were built with.
struct GraphRecipe {
  std::vector<GraphStep> steps;
};

struct RecordedList {
  const Library* library = nullptr;
  ze_command_list_handle_t list = nullptr;
  // Holds the fill patterns the list reads.
  std::shared_ptr<const GraphRecipe> recipe;
  ~RecordedList() {
    if (list != nullptr)
      library->Released(library->zeCommandListDestroy(list), "zeCommandListDestroy");
  }
};

struct Graph {
  Device* device = nullptr;
  // Guards |recipe| and |lists|: launches may come from several threads for different streams.
  std::mutex mutex;
  std::shared_ptr<const GraphRecipe> recipe;
  // Lists recorded from |recipe|. A list is free when nothing else holds it: a queued replay's
  // batch holds it until the fence of its submission has signaled, because a command list must
  // not be executed again while the device still reads it.
  std::vector<std::shared_ptr<RecordedList>> lists;
};

namespace {

using common::Fail;
using common::Offset;

// A graph keeps at most this many recorded copies of its list, so that this many replays can be
// queued before a launch waits for an earlier one to complete.
constexpr size_t kMaxLists = 4;

// The driver refused to record these (already validated) nodes: that is a limit of the driver's
// command lists, not of the work, so the runtime is told to queue the nodes through the ordinary
// slots. Out-of-memory and device loss stay errors.
porta_status_t Decline(const Library& library, ze_result_t result, const char* what,
                       porta_be_msg msg) {
  const porta_status_t status = Library::StatusOf(result);
  if (status == PORTA_ERROR_OUT_OF_MEMORY || status == PORTA_ERROR_DEVICE_LOST) {
    return library.Fail(result, what, msg);
  }
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "%s failed: %s", what,
              Library::ErrorText(result).c_str());
}

void SetStepArgs(GraphStep* step, const porta_be_arg_t* args, uint32_t arg_count) {
  step->args.assign(args, args + arg_count);
  step->scalars.assign(arg_count, {});
  for (uint32_t i = 0; i < arg_count; ++i) {
    if (args[i].kind == PORTA_ARG_BUFFER) continue;
    const auto* bytes = static_cast<const unsigned char*>(args[i].scalar);
    step->scalars[i].assign(bytes, bytes + args[i].scalar_size);
    step->args[i].scalar = nullptr;
  }
}

porta_status_t MakeStep(const porta_be_graph_node_t& node, uint32_t index, GraphStep* step,
                        porta_be_msg msg) {
  step->kind = node.kind;
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL:
      step->kernel = As<Kernel>(node.kernel);
      step->config = *node.config;
      SetStepArgs(step, node.args, node.arg_count);
      return PORTA_OK;
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      step->dst = Offset(As<Buffer>(node.dst)->pointer, node.dst_offset);
      step->src = Offset(As<Buffer>(node.src)->pointer, node.src_offset);
      step->size = node.size;
      return PORTA_OK;
    case PORTA_GRAPH_NODE_FILL:
      step->dst = Offset(As<Buffer>(node.dst)->pointer, node.dst_offset);
      step->size = node.size;
      std::memcpy(&step->pattern, node.pattern, node.pattern_size);
      step->pattern_size = node.pattern_size;
      return PORTA_OK;
    default:
      return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                  "graph node %u has kind %d, which a native Level Zero graph does not hold", index,
                  static_cast<int>(node.kind));
  }
}

porta_status_t AppendStep(const Library& library, ze_command_list_handle_t list,
                          const GraphStep& step, porta_be_msg msg) {
  ze_result_t result = ZE_RESULT_SUCCESS;
  switch (step.kind) {
    case PORTA_GRAPH_NODE_KERNEL: {
      std::vector<porta_be_arg_t> args = step.args;
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i].kind != PORTA_ARG_BUFFER) args[i].scalar = step.scalars[i].data();
      }
      const porta_status_t status =
          AppendLaunch(library, list, step.kernel, &step.config, args.data(),
                       static_cast<uint32_t>(args.size()), msg);
      if (status != PORTA_OK) return status;
      break;
    }
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      result = library.zeCommandListAppendMemoryCopy(list, step.dst, step.src, step.size, nullptr,
                                                     0, nullptr);
      if (result != ZE_RESULT_SUCCESS) {
        return Decline(library, result, "zeCommandListAppendMemoryCopy", msg);
      }
      break;
    default:
      result = library.zeCommandListAppendMemoryFill(
          list, step.dst, &step.pattern, step.pattern_size, step.size, nullptr, 0, nullptr);
      if (result != ZE_RESULT_SUCCESS) {
        return Decline(library, result, "zeCommandListAppendMemoryFill", msg);
      }
      break;
  }
  // Commands of one list may overlap; a barrier after each keeps them in order, as on a stream.
  result = library.zeCommandListAppendBarrier(list, nullptr, 0, nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    return Decline(library, result, "zeCommandListAppendBarrier", msg);
  }
  return PORTA_OK;
}

// Records and closes a command list with every step of |recipe|.
porta_status_t Record(const Device* device, std::shared_ptr<const GraphRecipe> recipe,
                      std::shared_ptr<RecordedList>* out, porta_be_msg msg) {
  const Library& library = *device->library;
  auto recorded = std::make_shared<RecordedList>();
  recorded->library = &library;
  ze_command_list_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_COMMAND_LIST_DESC;
  desc.commandQueueGroupOrdinal = device->compute_ordinal;
  ze_result_t result =
      library.zeCommandListCreate(device->context, device->device, &desc, &recorded->list);
  if (result != ZE_RESULT_SUCCESS) {
    recorded->list = nullptr;
    return library.Fail(result, "zeCommandListCreate", msg);
  }
  for (const GraphStep& step : recipe->steps) {
    const porta_status_t status = AppendStep(library, recorded->list, step, msg);
    if (status != PORTA_OK) return status;
  }
  result = library.zeCommandListClose(recorded->list);
  if (result != ZE_RESULT_SUCCESS) return Decline(library, result, "zeCommandListClose", msg);
  recorded->recipe = std::move(recipe);
  *out = std::move(recorded);
  return PORTA_OK;
}

// A recorded list no queued replay holds, or null. The caller holds the graph's mutex, so no
// new holder appears; a replay completing concurrently only frees one more.
std::shared_ptr<RecordedList> FreeList(const Graph* graph) {
  for (const auto& list : graph->lists) {
    if (list.use_count() == 1) return list;
  }
  return nullptr;
}

}  // namespace

porta_status_t GraphCreate(porta_be_device_t be, const porta_be_graph_node_t* nodes, uint32_t count,
                           porta_be_graph_t* out_graph, porta_be_msg msg) {
  Device* device = As<Device>(be);
  auto recipe = std::make_shared<GraphRecipe>();
  recipe->steps.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const porta_status_t status = MakeStep(nodes[i], i, &recipe->steps[i], msg);
    if (status != PORTA_OK) return status;
  }
  auto graph = std::make_unique<Graph>();
  graph->device = device;
  graph->recipe = std::move(recipe);
  // Recorded now, so that arguments the kernels refuse fail the instantiation.
  std::shared_ptr<RecordedList> list;
  const porta_status_t status = Record(device, graph->recipe, &list, msg);
  if (status != PORTA_OK) return status;
  graph->lists.push_back(std::move(list));
  *out_graph = reinterpret_cast<porta_be_graph_t>(graph.release());
  return PORTA_OK;
}

porta_status_t GraphLaunch(porta_be_stream_t stream_be, porta_be_graph_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Graph* graph = As<Graph>(be);
  porta_status_t status = stream->sticky->Check(msg);
  if (status != PORTA_OK) return status;
  std::lock_guard<std::mutex> lock(graph->mutex);
  std::shared_ptr<RecordedList> list = FreeList(graph);
  // Replays this stream queued earlier may have completed without the stream having noticed.
  while (list == nullptr && !stream->in_flight.empty()) {
    status = RetireOldest(stream, false, msg);
    if (status == PORTA_NOT_READY) break;
    if (status != PORTA_OK) return status;
    list = FreeList(graph);
  }
  if (list == nullptr && graph->lists.size() < kMaxLists) {
    status = Record(graph->device, graph->recipe, &list, msg);
    if (status != PORTA_OK) return status;
    graph->lists.push_back(list);
  }
  // Every copy is queued: wait for this stream's oldest work until one is free.
  while (list == nullptr && !stream->in_flight.empty()) {
    status = RetireOldest(stream, true, msg);
    if (status != PORTA_OK) return status;
    list = FreeList(graph);
  }
  if (list == nullptr) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "every recorded command list of the graph (%zu) is still queued on other streams",
                graph->lists.size());
  }
  return ExecuteRecorded(stream, list->list, list, msg);
}

porta_status_t GraphUpdateKernelArgs(porta_be_graph_t be, uint32_t node, const porta_be_arg_t* args,
                                     uint32_t arg_count, porta_be_msg msg) {
  Graph* graph = As<Graph>(be);
  // |node| is a kernel node and |args| match it (the runtime checked).
  std::lock_guard<std::mutex> lock(graph->mutex);
  auto recipe = std::make_shared<GraphRecipe>(*graph->recipe);
  SetStepArgs(&recipe->steps[node], args, arg_count);
  // Level Zero captures arguments when a launch is appended, so the new ones need a new list;
  // the old lists stay alive in the batches of queued replays until those complete.
  std::shared_ptr<RecordedList> list;
  const porta_status_t status = Record(graph->device, recipe, &list, msg);
  if (status != PORTA_OK) return status;
  graph->recipe = std::move(recipe);
  graph->lists.clear();
  graph->lists.push_back(std::move(list));
  return PORTA_OK;
}

void GraphDestroy(porta_be_graph_t be) {
  delete As<Graph>(be);
}

}  // namespace porta::level_zero
