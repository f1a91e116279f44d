// Native graphs of the CPU backend: each node's work is built (validated, arguments packed) once,
// and a replay queues the whole list as one command for the stream's worker.
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/cpu_objects.h"
#include "porta/sdk/message.h"

namespace porta::cpu {

// The built work of every node. Immutable once built: an argument update makes a new program,
// so replays already queued keep running the one they were queued with.
struct GraphProgram {
  std::vector<Work> steps;
};

struct Graph {
  Device* device = nullptr;
  // What rebuilding a kernel node's work needs besides its arguments.
  std::vector<const Kernel*> kernels;  // nullptr for copies and fills
  std::vector<porta_launch_config_t> configs;
  std::mutex mutex;  // guards |program|
  std::shared_ptr<const GraphProgram> program;
};

namespace {

porta_status_t BuildStep(Device* device, const porta_be_graph_node_t& node, uint32_t index,
                         Work* out, porta_be_msg msg) {
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL:
      *out = MakeLaunchWork(device, ToKernel(node.kernel), node.config, node.args, node.arg_count);
      return PORTA_OK;
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      *out = MakeMoveWork(ToBuffer(node.dst)->data + node.dst_offset,
                          ToBuffer(node.src)->data + node.src_offset, node.size);
      return PORTA_OK;
    case PORTA_GRAPH_NODE_FILL:
      *out = MakeFillWork(ToBuffer(node.dst)->data + node.dst_offset, node.size, node.pattern,
                          node.pattern_size);
      return PORTA_OK;
    default:
      return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                          "graph node %u has kind %d, which a native graph does not hold", index,
                          static_cast<int>(node.kind));
  }
}

}  // namespace

porta_status_t GraphCreate(porta_be_device_t device_handle, const porta_be_graph_node_t* nodes,
                           uint32_t count, porta_be_graph_t* out_graph, porta_be_msg msg) {
  Device* device = ToDevice(device_handle);
  auto graph = std::make_unique<Graph>();
  graph->device = device;
  auto program = std::make_shared<GraphProgram>();
  program->steps.resize(count);
  graph->kernels.resize(count, nullptr);
  graph->configs.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const porta_status_t status = BuildStep(device, nodes[i], i, &program->steps[i], msg);
    if (status != PORTA_OK) return status;
    if (nodes[i].kind == PORTA_GRAPH_NODE_KERNEL) {
      graph->kernels[i] = ToKernel(nodes[i].kernel);
      graph->configs[i] = *nodes[i].config;
    }
  }
  graph->program = std::move(program);
  *out_graph = reinterpret_cast<porta_be_graph_t>(graph.release());
  return PORTA_OK;
}

porta_status_t GraphLaunch(porta_be_stream_t stream, porta_be_graph_t graph_handle,
                           porta_be_msg msg) {
  Graph* graph = ToGraph(graph_handle);
  std::shared_ptr<const GraphProgram> program;
  {
    std::lock_guard<std::mutex> lock(graph->mutex);
    program = graph->program;
  }
  Command command;
  command.work = [program = std::move(program)](std::string* fault, Scratch& scratch) {
    for (const Work& step : program->steps) {
      if (!step(fault, scratch)) return false;
    }
    return true;
  };
  return ToStream(stream)->Enqueue(std::move(command), msg);
}

// |node| is a kernel node and |args| match its captured kinds and sizes (the runtime checked).
porta_status_t GraphUpdateKernelArgs(porta_be_graph_t graph_handle, uint32_t node,
                                     const porta_be_arg_t* args, uint32_t arg_count, porta_be_msg) {
  Graph* graph = ToGraph(graph_handle);
  Work step =
      MakeLaunchWork(graph->device, graph->kernels[node], &graph->configs[node], args, arg_count);
  std::lock_guard<std::mutex> lock(graph->mutex);
  auto program = std::make_shared<GraphProgram>(*graph->program);
  program->steps[node] = std::move(step);
  graph->program = std::move(program);
  return PORTA_OK;
}

void GraphDestroy(porta_be_graph_t graph) {
  delete ToGraph(graph);
}

}  // namespace porta::cpu
