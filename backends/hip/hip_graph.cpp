// Native graphs of the HIP backend: a HIP graph built node by node (kernel, 1D memcpy and memset
// nodes in a chain, so they run in the order of the slot calls they stand for), instantiated once
// and launched with one hipGraphLaunch per replay.
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/hip/hip_backend.h"
#include "porta/sdk/message.h"

namespace porta::hip {

struct Graph {
  Device* device = nullptr;
  hipGraph_t graph = nullptr;
  hipGraphExec_t exec = nullptr;
  // One entry per node of graph_create; the kernel and configuration of kernel nodes (null for
  // copies and fills) are what an argument update rebuilds the node's parameters from.
  std::vector<hipGraphNode_t> nodes;
  std::vector<const Kernel*> kernels;
  std::vector<porta_launch_config_t> configs;
  // Recorded after every launch, on the launching stream (|last_stream|, null before the first
  // launch): a launch on another stream waits for it, and an argument update is made in place
  // only once it has completed.
  hipEvent_t last_launch = nullptr;
  hipStream_t last_stream = nullptr;
  // Guards |exec|, |last_launch| and |last_stream|: launches may come from several threads for
  // different streams.
  std::mutex mutex;
};

namespace {

using common::Fail;
using common::Offset;

// HIP rejected building or updating a graph for these (already validated) nodes: that is a limit
// of HIP's graphs, not of the work, so the runtime is told to queue the nodes through the
// ordinary slots (which report a real problem with the work). Out-of-memory and device faults
// stay errors.
porta_status_t Decline(const Library& library, hipError_t error, const std::string& what,
                       porta_be_msg msg) {
  const porta_status_t status = Library::StatusOf(error);
  if (status == PORTA_ERROR_OUT_OF_MEMORY || status == PORTA_ERROR_DEVICE_LOST) {
    return library.Fail(error, what.c_str(), msg);
  }
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "%s failed: %s", what.c_str(),
              library.ErrorText(error).c_str());
}

// The parameters of a kernel node; |pointers| and |params| back kernelParams until the HIP call
// that copies them.
struct KernelNodeParams {
  std::vector<void*> pointers;
  std::vector<void*> params;
  hipKernelNodeParams node{};

  KernelNodeParams(const Kernel* kernel, const porta_launch_config_t& config,
                   const porta_be_arg_t* args, uint32_t arg_count) {
    const uint32_t slots = ParamSlots(arg_count);
    pointers.resize(slots);
    params.resize(slots);
    PackParams(args, arg_count, slots, pointers.data(), params.data());
    // A module function, as hipModuleLaunchKernel takes it (what HIP's own capture of that call
    // puts into a kernel node).
    node.func = reinterpret_cast<void*>(kernel->function);
    node.gridDim = dim3(config.grid[0], config.grid[1], config.grid[2]);
    node.blockDim = dim3(config.block[0], config.block[1], config.block[2]);
    node.sharedMemBytes = static_cast<unsigned int>(config.local_memory_bytes);
    node.kernelParams = params.data();
  }
};

porta_status_t AddNode(Graph* graph, const porta_be_graph_node_t& node, uint32_t index,
                       porta_be_msg msg) {
  const Library& library = *graph->device->library;
  // A chain: each node depends on the one before, as consecutive work on one stream does.
  const hipGraphNode_t* dependencies = index == 0 ? nullptr : &graph->nodes[index - 1];
  const size_t dependency_count = index == 0 ? 0 : 1;
  hipGraphNode_t* out = &graph->nodes[index];
  hipError_t error = hipSuccess;
  const char* call = nullptr;
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL: {
      const Kernel* kernel = As<Kernel>(node.kernel);
      const porta_status_t status = CheckLaunch(kernel, node.config, msg);
      if (status != PORTA_OK) return status;
      const KernelNodeParams params(kernel, *node.config, node.args, node.arg_count);
      error = library.hipGraphAddKernelNode(out, graph->graph, dependencies, dependency_count,
                                            &params.node);
      graph->kernels[index] = kernel;
      graph->configs[index] = *node.config;
      call = "hipGraphAddKernelNode";
      break;
    }
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      error =
          library.hipGraphAddMemcpyNode1D(out, graph->graph, dependencies, dependency_count,
                                          Offset(As<Buffer>(node.dst)->pointer, node.dst_offset),
                                          Offset(As<Buffer>(node.src)->pointer, node.src_offset),
                                          node.size, hipMemcpyDeviceToDevice);
      call = "hipGraphAddMemcpyNode1D";
      break;
    default: {
      // A fill (the runtime offers only kernels, device copies and fills), of a pattern of 1, 2
      // or 4 bytes. The pattern as the low bytes of |value|, as hipMemsetD8/D16/D32 take it.
      uint32_t value = 0;
      if (node.pattern_size == 1) {
        uint8_t byte = 0;
        std::memcpy(&byte, node.pattern, 1);
        value = byte;
      } else if (node.pattern_size == 2) {
        uint16_t half = 0;
        std::memcpy(&half, node.pattern, 2);
        value = half;
      } else {
        std::memcpy(&value, node.pattern, 4);
      }
      hipMemsetParams fill{};
      fill.dst = Offset(As<Buffer>(node.dst)->pointer, node.dst_offset);
      fill.elementSize = node.pattern_size;
      fill.width = node.size / node.pattern_size;
      fill.height = 1;
      fill.pitch = node.size;
      fill.value = value;
      error =
          library.hipGraphAddMemsetNode(out, graph->graph, dependencies, dependency_count, &fill);
      call = "hipGraphAddMemsetNode";
      break;
    }
  }
  if (error == hipSuccess) return PORTA_OK;
  return Decline(library, error, std::string(call) + " for graph node " + std::to_string(index),
                 msg);
}

struct GraphDeleter {
  // The graph's device is current.
  void operator()(Graph* graph) const {
    const Library& library = *graph->device->library;
    if (graph->last_launch != nullptr) {
      library.Released(library.hipEventDestroy(graph->last_launch), "hipEventDestroy");
    }
    if (graph->exec != nullptr)
      library.Released(library.hipGraphExecDestroy(graph->exec), "hipGraphExecDestroy");
    if (graph->graph != nullptr)
      library.Released(library.hipGraphDestroy(graph->graph), "hipGraphDestroy");
    delete graph;
  }
};

}  // namespace

porta_status_t GraphCreate(porta_be_device_t be, const porta_be_graph_node_t* nodes, uint32_t count,
                           porta_be_graph_t* out_graph, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  if (!library.has_graphs()) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "the HIP runtime in %s lacks the graph functions (hipGraphAddKernelNode and "
                "others)",
                library.library_name().c_str());
  }
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  std::unique_ptr<Graph, GraphDeleter> graph(new Graph);
  graph->device = device;
  graph->nodes.resize(count, nullptr);
  graph->kernels.resize(count, nullptr);
  graph->configs.resize(count);
  hipError_t error = library.hipEventCreateWithFlags(&graph->last_launch, hipEventDisableTiming);
  if (error != hipSuccess) {
    graph->last_launch = nullptr;
    return library.Fail(error, "hipEventCreateWithFlags", msg);
  }
  error = library.hipGraphCreate(&graph->graph, 0);
  if (error != hipSuccess) {
    graph->graph = nullptr;
    return Decline(library, error, "hipGraphCreate", msg);
  }
  for (uint32_t i = 0; i < count; ++i) {
    const porta_status_t status = AddNode(graph.get(), nodes[i], i, msg);
    if (status != PORTA_OK) return status;
  }
  error = library.hipGraphInstantiateWithFlags(&graph->exec, graph->graph, 0);
  if (error != hipSuccess) {
    graph->exec = nullptr;
    return Decline(library, error, "hipGraphInstantiateWithFlags", msg);
  }
  *out_graph = reinterpret_cast<porta_be_graph_t>(graph.release());
  return PORTA_OK;
}

porta_status_t GraphLaunch(porta_be_stream_t stream_be, porta_be_graph_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Graph* graph = As<Graph>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  std::lock_guard<std::mutex> lock(graph->mutex);
  // Replays of one executable graph run one after another, whatever their streams (as CUDA
  // orders them): a replay never overlaps the previous one when that was queued on another
  // stream. On the same stream, stream order already implies it.
  if (graph->last_stream != nullptr && graph->last_stream != stream->stream) {
    const hipError_t error = library.hipStreamWaitEvent(stream->stream, graph->last_launch, 0);
    if (error != hipSuccess) return StreamResult(stream, error, "hipStreamWaitEvent", msg);
  }
  hipError_t error = library.hipGraphLaunch(graph->exec, stream->stream);
  if (error != hipSuccess) return StreamResult(stream, error, "hipGraphLaunch", msg);
  error = library.hipEventRecord(graph->last_launch, stream->stream);
  if (error != hipSuccess) return StreamResult(stream, error, "hipEventRecord", msg);
  graph->last_stream = stream->stream;
  return PORTA_OK;
}

porta_status_t GraphUpdateKernelArgs(porta_be_graph_t be, uint32_t node, const porta_be_arg_t* args,
                                     uint32_t arg_count, porta_be_msg msg) {
  // |node| is a kernel node, and |args| have the count, kinds and sizes of the ones it was built
  // with (the runtime checked).
  Graph* graph = As<Graph>(be);
  const porta_status_t current = MakeCurrent(graph->device, msg);
  if (current != PORTA_OK) return current;
  const Library& library = *graph->device->library;
  const KernelNodeParams params(graph->kernels[node], graph->configs[node], args, arg_count);
  std::lock_guard<std::mutex> lock(graph->mutex);
  // HIP does not promise that replays already queued keep the arguments they were queued with
  // (some releases keep kernel arguments in memory of the executable graph), so the update is
  // made in place only when no replay is pending; otherwise the runtime rebuilds the graph once
  // the queued replays have completed.
  const hipError_t pending =
      graph->last_stream == nullptr ? hipSuccess : library.hipEventQuery(graph->last_launch);
  if (pending == hipErrorNotReady) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "a replay of the HIP graph is still queued; its arguments cannot change under it");
  }
  if (pending != hipSuccess) return library.Fail(pending, "hipEventQuery", msg);
  const hipError_t error =
      library.hipGraphExecKernelNodeSetParams(graph->exec, graph->nodes[node], &params.node);
  if (error == hipSuccess) return PORTA_OK;
  return Decline(library, error,
                 "hipGraphExecKernelNodeSetParams for graph node " + std::to_string(node), msg);
}

void GraphDestroy(porta_be_graph_t be) {
  Graph* graph = As<Graph>(be);
  MakeCurrent(graph->device, nullptr);
  GraphDeleter()(graph);
}

}  // namespace porta::hip
