// Native graphs of the GPU layer: a vendor graph built node by node (kernel, device-to-device copy
// and fill nodes in a chain, so they run in the order of the slot calls they stand for), not by
// stream capture, instantiated once and launched with one graph launch per replay.
// clang-format off
#include PORTA_GPU_API_HEADER  // the vendor map this compilation is for (porta_add_gpu_backend)
// clang-format on

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/gpu/gpu.h"
#include "porta/sdk/message.h"

namespace porta::gpu {

template <class Api>
struct Graph {
  Device<Api>* device = nullptr;
  typename Api::GraphHandle graph{};
  typename Api::GraphExecHandle exec{};
  // One entry per node of graph_create; the kernel and configuration of kernel nodes (null for
  // copies and fills) are what an argument update rebuilds the node's parameters from.
  std::vector<typename Api::GraphNodeHandle> nodes;
  std::vector<Kernel<Api>*> kernels;
  std::vector<porta_launch_config_t> configs;
  // Without Api::kOrdersGraphReplays: recorded after every launch, on the launching stream
  // (|last_stream|, null before the first launch). A launch on another stream waits for it, and
  // an argument update is made in place only once it has completed.
  typename Api::EventHandle last_launch{};
  typename Api::StreamHandle last_stream{};
  // An executable graph is not thread-safe: launches (which may come from several threads for
  // different streams) and updates take this lock.
  std::mutex mutex;
};

namespace {

using common::As;
using common::Fail;
using common::ToHandle;

// The vendor refused building or updating a graph for these (already validated) nodes: that is
// a limit of its graphs, not of the work, so the runtime is told to queue the nodes through the
// ordinary slots (which report a real problem with the work). Out-of-memory and device faults
// stay errors.
template <class Library, typename Result>
porta_status_t Decline(const Library& library, Result result, const std::string& what,
                       porta_be_msg msg) {
  const porta_status_t status = Library::StatusOf(result);
  if (status == PORTA_ERROR_OUT_OF_MEMORY || status == PORTA_ERROR_DEVICE_LOST) {
    return library.Fail(result, what.c_str(), msg);
  }
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "%s failed: %s", what.c_str(),
              library.ErrorText(result).c_str());
}

// The parameters of a kernel node; |pointers| and |params| back the parameter array until the
// vendor call that copies them.
template <class Api>
struct KernelNodeParams {
  std::vector<typename Api::DevicePtr> pointers;
  std::vector<void*> params;
  typename Api::KernelNodeParams node{};

  KernelNodeParams(const Kernel<Api>* kernel, const porta_launch_config_t& config,
                   const porta_be_arg_t* args, uint32_t arg_count) {
    const uint32_t slots = Slots<Api>::ParamSlots(arg_count);
    pointers.resize(slots);
    params.resize(slots);
    Slots<Api>::PackParams(args, arg_count, slots, pointers.data(), params.data());
    node = Api::KernelNode(kernel->function, config, params.data());
  }
};

// The pattern of a fill as the low bytes of the value the vendor's memset nodes take.
uint32_t FillValue(const void* pattern, uint32_t pattern_size) {
  if (pattern_size == 1) {
    uint8_t value = 0;
    std::memcpy(&value, pattern, 1);
    return value;
  }
  if (pattern_size == 2) {
    uint16_t value = 0;
    std::memcpy(&value, pattern, 2);
    return value;
  }
  uint32_t value = 0;
  std::memcpy(&value, pattern, 4);
  return value;
}

template <class Api>
porta_status_t AddNode(Graph<Api>* graph, const porta_be_graph_node_t& node, uint32_t index,
                       porta_be_msg msg) {
  using Slots = gpu::Slots<Api>;
  const Device<Api>& device = *graph->device;
  const typename Api::Library& library = *device.library;
  // A chain: each node depends on the one before, as consecutive work on one stream does.
  const auto* dependencies = index == 0 ? nullptr : &graph->nodes[index - 1];
  const size_t dependency_count = index == 0 ? 0 : 1;
  auto* out = &graph->nodes[index];
  typename Api::Result result = Api::kSuccess;
  const char* call = nullptr;
  // The runtime offers kernels, device-to-device copies and fills only, each checked as its slot
  // call would be (a fill's pattern is 1, 2 or 4 bytes).
  if (node.kind == PORTA_GRAPH_NODE_KERNEL) {
    Kernel<Api>* kernel = As<Kernel<Api>>(node.kernel);
    const porta_status_t status =
        Slots::CheckLaunch(kernel, node.config, node.args, node.arg_count, msg);
    if (status != PORTA_OK) return status;
    const KernelNodeParams<Api> params(kernel, *node.config, node.args, node.arg_count);
    result = library.graph_add_kernel_node(out, graph->graph, dependencies, dependency_count,
                                           &params.node);
    graph->kernels[index] = kernel;
    graph->configs[index] = *node.config;
    call = library.graph_add_kernel_node.name;
  } else if (node.kind == PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE) {
    result =
        Api::AddCopyNode(device, out, graph->graph, dependencies, dependency_count,
                         Advance(As<Buffer<Api>>(node.dst)->pointer, node.dst_offset),
                         Advance(As<Buffer<Api>>(node.src)->pointer, node.src_offset), node.size);
    call = library.graph_add_memcpy_node.name;
  } else {
    result = Api::AddFillNode(device, out, graph->graph, dependencies, dependency_count,
                              Advance(As<Buffer<Api>>(node.dst)->pointer, node.dst_offset),
                              FillValue(node.pattern, node.pattern_size), node.pattern_size,
                              node.size / node.pattern_size);
    call = library.graph_add_memset_node.name;
  }
  if (result == Api::kSuccess) return PORTA_OK;
  return Decline(library, result, std::string(call) + " for graph node " + std::to_string(index),
                 msg);
}

// Releases |graph| and what it holds; its device is current.
template <class Api>
struct GraphDeleter {
  void operator()(Graph<Api>* graph) const {
    const typename Api::Library& library = *graph->device->library;
    if (graph->last_launch != nullptr) {
      library.Released(library.event_destroy(graph->last_launch), library.event_destroy.name);
    }
    if (graph->exec != nullptr) {
      library.Released(library.graph_exec_destroy(graph->exec), library.graph_exec_destroy.name);
    }
    if (graph->graph != nullptr) {
      library.Released(library.graph_destroy(graph->graph), library.graph_destroy.name);
    }
    delete graph;
  }
};

}  // namespace

template <class Api>
porta_status_t Slots<Api>::GraphCreate(porta_be_device_t be, const porta_be_graph_node_t* nodes,
                                       uint32_t count, porta_be_graph_t* out_graph,
                                       porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Library& library = *device->library;
  if (!library.has_graphs()) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                "%s in %s lacks the graph functions of %s (%s and others)", Api::kRuntime,
                library.library_name().c_str(), Api::kGraphsSince,
                library.graph_add_kernel_node.name);
  }
  const porta_status_t current = Api::MakeCurrent(*device, msg);
  if (current != PORTA_OK) return current;
  std::unique_ptr<Graph, GraphDeleter<Api>> graph(new Graph);
  graph->device = device;
  graph->nodes.resize(count);
  graph->kernels.resize(count, nullptr);
  graph->configs.resize(count);
  Result result = Api::kSuccess;
  if constexpr (!Api::kOrdersGraphReplays) {
    result = library.event_create(&graph->last_launch, Api::kEventDisableTiming);
    if (result != Api::kSuccess) {
      graph->last_launch = {};
      return library.Fail(result, library.event_create.name, msg);
    }
  }
  result = library.graph_create(&graph->graph, 0);
  if (result != Api::kSuccess) {
    graph->graph = {};
    return Decline(library, result, library.graph_create.name, msg);
  }
  for (uint32_t i = 0; i < count; ++i) {
    const porta_status_t status = AddNode(graph.get(), nodes[i], i, msg);
    if (status != PORTA_OK) return status;
  }
  result = library.graph_instantiate(&graph->exec, graph->graph, 0);
  if (result != Api::kSuccess) {
    graph->exec = {};
    return Decline(library, result, library.graph_instantiate.name, msg);
  }
  *out_graph = ToHandle<porta_be_graph_t>(graph.release());
  return PORTA_OK;
}

template <class Api>
porta_status_t Slots<Api>::GraphLaunch(porta_be_stream_t stream_be, porta_be_graph_t be,
                                       porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Graph* graph = As<Graph>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  const Library& library = *stream->device->library;
  std::lock_guard<std::mutex> lock(graph->mutex);
  if constexpr (Api::kOrdersGraphReplays) {
    // The driver orders a launch after the stream's earlier work and after every earlier launch
    // of the same executable graph, on any stream.
    return StreamResult(stream, library.graph_launch(graph->exec, stream->stream),
                        library.graph_launch.name, msg);
  } else {
    // Replays of one executable graph run one after another, whatever their streams (as CUDA
    // orders them): a replay never overlaps the previous one when that was queued on another
    // stream. On the same stream, stream order already implies it.
    if (graph->last_stream != nullptr && graph->last_stream != stream->stream) {
      const Result result = library.stream_wait_event(stream->stream, graph->last_launch, 0);
      if (result != Api::kSuccess) {
        return StreamResult(stream, result, library.stream_wait_event.name, msg);
      }
    }
    Result result = library.graph_launch(graph->exec, stream->stream);
    if (result != Api::kSuccess)
      return StreamResult(stream, result, library.graph_launch.name, msg);
    result = library.event_record(graph->last_launch, stream->stream);
    if (result != Api::kSuccess)
      return StreamResult(stream, result, library.event_record.name, msg);
    graph->last_stream = stream->stream;
    return PORTA_OK;
  }
}

template <class Api>
porta_status_t Slots<Api>::GraphUpdateKernelArgs(porta_be_graph_t be, uint32_t node,
                                                 const porta_be_arg_t* args, uint32_t arg_count,
                                                 porta_be_msg msg) {
  // |node| is a kernel node, and |args| have the count, kinds and sizes of the ones it was built
  // with, which CheckLaunch accepted (the runtime checked).
  Graph* graph = As<Graph>(be);
  const porta_status_t current = Api::MakeCurrent(*graph->device, msg);
  if (current != PORTA_OK) return current;
  const Library& library = *graph->device->library;
  const KernelNodeParams<Api> params(graph->kernels[node], graph->configs[node], args, arg_count);
  std::lock_guard<std::mutex> lock(graph->mutex);
  if constexpr (!Api::kOrdersGraphReplays) {
    // Without the driver's promise that replays already queued keep the arguments they were
    // queued with (HIP keeps kernel arguments in memory of the executable graph in some
    // releases), the update is made in place only when no replay is pending; otherwise the
    // runtime rebuilds the graph once the queued replays have completed.
    const Result pending =
        graph->last_stream == nullptr ? Api::kSuccess : library.event_query(graph->last_launch);
    if (pending == Api::kNotReady) {
      return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                  "a replay of the %s graph is still queued; its arguments cannot change under it",
                  Api::kDisplayName);
    }
    if (pending != Api::kSuccess) return library.Fail(pending, library.event_query.name, msg);
  }
  // The vendor copies the parameters; with Api::kOrdersGraphReplays, launches already queued
  // keep the old ones and later launches use these.
  const Result result =
      library.graph_exec_kernel_node_set_params(graph->exec, graph->nodes[node], &params.node);
  if (result == Api::kSuccess) return PORTA_OK;
  return Decline(library, result,
                 std::string(library.graph_exec_kernel_node_set_params.name) + " for graph node " +
                     std::to_string(node),
                 msg);
}

template <class Api>
void Slots<Api>::GraphDestroy(porta_be_graph_t be) {
  Graph* graph = As<Graph>(be);
  Api::MakeCurrent(*graph->device, nullptr);
  GraphDeleter<Api>()(graph);
}

PORTA_GPU_INSTANTIATE_SLOT(graph_create, GraphCreate)
PORTA_GPU_INSTANTIATE_SLOT(graph_launch, GraphLaunch)
PORTA_GPU_INSTANTIATE_SLOT(graph_update_kernel_args, GraphUpdateKernelArgs)
PORTA_GPU_INSTANTIATE_SLOT(graph_destroy, GraphDestroy)

}  // namespace porta::gpu
