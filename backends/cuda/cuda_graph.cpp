// Native graphs of the CUDA backend: a CUDA graph built node by node (kernel, memcpy and memset
// nodes in a chain, so they run in the order of the slot calls they stand for), instantiated once
// and launched with one cuGraphLaunch per replay.
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "porta/sdk/message.h"

namespace porta::cuda {

struct Graph {
  Device* device = nullptr;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  // One entry per node of graph_create; the kernel and configuration of kernel nodes (null for
  // copies and fills) are what an argument update rebuilds the node's parameters from.
  std::vector<CUgraphNode> nodes;
  std::vector<Kernel*> kernels;
  std::vector<porta_launch_config_t> configs;
  // A CUgraphExec is not thread-safe: launches (which may come from several threads for different
  // streams) and updates take this lock.
  std::mutex mutex;
};

namespace {

using common::Fail;

// The driver rejected building or updating a graph for these (already validated) nodes: that is
// a limit of the driver's graphs, not of the work, so the runtime is told to queue the nodes
// through the ordinary slots (which report a real problem with the work). Out-of-memory and
// device faults stay errors.
porta_status_t Decline(const Driver& driver, CUresult result, const std::string& what,
                       porta_be_msg msg) {
  const porta_status_t status = Driver::StatusOf(result);
  if (status == PORTA_ERROR_OUT_OF_MEMORY || status == PORTA_ERROR_DEVICE_LOST) {
    return driver.Fail(result, what.c_str(), msg);
  }
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "%s failed: %s", what.c_str(),
              driver.ErrorText(result).c_str());
}

// The parameters of a kernel node; |pointers| and |params| back kernelParams until the driver
// call that copies them.
struct KernelNodeParams {
  std::vector<CUdeviceptr> pointers;
  std::vector<void*> params;
  CUDA_KERNEL_NODE_PARAMS node{};

  KernelNodeParams(const Kernel* kernel, const porta_launch_config_t& config,
                   const porta_be_arg_t* args, uint32_t arg_count) {
    const uint32_t slots = ParamSlots(arg_count);
    pointers.resize(slots);
    params.resize(slots);
    PackParams(args, arg_count, slots, pointers.data(), params.data());
    node.func = kernel->function;
    node.gridDimX = config.grid[0];
    node.gridDimY = config.grid[1];
    node.gridDimZ = config.grid[2];
    node.blockDimX = config.block[0];
    node.blockDimY = config.block[1];
    node.blockDimZ = config.block[2];
    node.sharedMemBytes = static_cast<unsigned int>(config.local_memory_bytes);
    node.kernelParams = params.data();
  }
};

porta_status_t AddNode(Graph* graph, const porta_be_graph_node_t& node, uint32_t index,
                       porta_be_msg msg) {
  const Device* device = graph->device;
  const Driver& driver = *device->driver;
  // A chain: each node depends on the one before, as consecutive work on one stream does.
  const CUgraphNode* dependencies = index == 0 ? nullptr : &graph->nodes[index - 1];
  const size_t dependency_count = index == 0 ? 0 : 1;
  CUgraphNode* out = &graph->nodes[index];
  CUresult result = CUDA_SUCCESS;
  const char* call = nullptr;
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL: {
      Kernel* kernel = As<Kernel>(node.kernel);
      const porta_status_t status =
          CheckLaunch(kernel, node.config, node.args, node.arg_count, msg);
      if (status != PORTA_OK) return status;
      const KernelNodeParams params(kernel, *node.config, node.args, node.arg_count);
      result = driver.cuGraphAddKernelNode_v2(out, graph->graph, dependencies, dependency_count,
                                              &params.node);
      graph->kernels[index] = kernel;
      graph->configs[index] = *node.config;
      call = "cuGraphAddKernelNode";
      break;
    }
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE: {
      CUDA_MEMCPY3D copy{};
      copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
      copy.srcDevice = As<Buffer>(node.src)->pointer + node.src_offset;
      copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
      copy.dstDevice = As<Buffer>(node.dst)->pointer + node.dst_offset;
      copy.WidthInBytes = node.size;
      copy.Height = 1;
      copy.Depth = 1;
      result = driver.cuGraphAddMemcpyNode(out, graph->graph, dependencies, dependency_count, &copy,
                                           device->context);
      call = "cuGraphAddMemcpyNode";
      break;
    }
    default: {
      // A fill (the runtime offers only kernels, device copies and fills), of a pattern of 1, 2
      // or 4 bytes. The pattern's bytes as the low bytes of |value|, as cuMemsetD8/D16/D32 take it.
      uint8_t bytes[4] = {};
      std::memcpy(bytes, node.pattern, node.pattern_size);
      uint32_t value = 0;
      if (node.pattern_size == 1) {
        value = bytes[0];
      } else if (node.pattern_size == 2) {
        uint16_t half = 0;
        std::memcpy(&half, bytes, 2);
        value = half;
      } else {
        std::memcpy(&value, bytes, 4);
      }
      CUDA_MEMSET_NODE_PARAMS fill{};
      fill.dst = As<Buffer>(node.dst)->pointer + node.dst_offset;
      fill.value = value;
      fill.elementSize = node.pattern_size;
      fill.width = node.size / node.pattern_size;
      fill.height = 1;
      result = driver.cuGraphAddMemsetNode(out, graph->graph, dependencies, dependency_count, &fill,
                                           device->context);
      call = "cuGraphAddMemsetNode";
      break;
    }
  }
  if (result == CUDA_SUCCESS) return PORTA_OK;
  return Decline(driver, result, std::string(call) + " for graph node " + std::to_string(index),
                 msg);
}

// Releases what |graph| holds; the context is current.
void Release(Graph* graph) {
  const Driver& driver = *graph->device->driver;
  if (graph->exec != nullptr)
    driver.Released(driver.cuGraphExecDestroy(graph->exec), "cuGraphExecDestroy");
  if (graph->graph != nullptr)
    driver.Released(driver.cuGraphDestroy(graph->graph), "cuGraphDestroy");
}

struct GraphDeleter {
  void operator()(Graph* graph) const {
    Release(graph);
    delete graph;
  }
};

}  // namespace

porta_status_t GraphCreate(porta_be_device_t be, const porta_be_graph_node_t* nodes, uint32_t count,
                           porta_be_graph_t* out_graph, porta_be_msg msg) {
  Device* device = As<Device>(be);
  const Driver& driver = *device->driver;
  if (!driver.has_graphs()) {
    return Fail(
        msg, PORTA_ERROR_UNSUPPORTED,
        "the CUDA driver in %s lacks the graph functions of CUDA 12 (cuGraphAddKernelNode_v2 "
        "and others)",
        driver.library_name().c_str());
  }
  const porta_status_t current = MakeCurrent(device, msg);
  if (current != PORTA_OK) return current;
  std::unique_ptr<Graph, GraphDeleter> graph(new Graph);
  graph->device = device;
  graph->nodes.resize(count, nullptr);
  graph->kernels.resize(count, nullptr);
  graph->configs.resize(count);
  CUresult result = driver.cuGraphCreate(&graph->graph, 0);
  if (result != CUDA_SUCCESS) return Decline(driver, result, "cuGraphCreate", msg);
  for (uint32_t i = 0; i < count; ++i) {
    const porta_status_t status = AddNode(graph.get(), nodes[i], i, msg);
    if (status != PORTA_OK) return status;
  }
  result = driver.cuGraphInstantiateWithFlags(&graph->exec, graph->graph, 0);
  if (result != CUDA_SUCCESS) {
    graph->exec = nullptr;
    return Decline(driver, result, "cuGraphInstantiateWithFlags", msg);
  }
  *out_graph = reinterpret_cast<porta_be_graph_t>(graph.release());
  return PORTA_OK;
}

porta_status_t GraphLaunch(porta_be_stream_t stream_be, porta_be_graph_t be, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_be);
  Graph* graph = As<Graph>(be);
  const porta_status_t begin = BeginStreamWork(stream, msg);
  if (begin != PORTA_OK) return begin;
  // The driver orders a launch after the stream's earlier work and after every earlier launch of
  // the same executable graph, on any stream.
  std::lock_guard<std::mutex> lock(graph->mutex);
  return StreamResult(stream, graph->device->driver->cuGraphLaunch(graph->exec, stream->stream),
                      "cuGraphLaunch", msg);
}

porta_status_t GraphUpdateKernelArgs(porta_be_graph_t be, uint32_t node, const porta_be_arg_t* args,
                                     uint32_t arg_count, porta_be_msg msg) {
  // |node| is a kernel node, and |args| have the count, kinds and sizes of the ones it was built
  // with, which CheckLaunch accepted (the runtime checked).
  Graph* graph = As<Graph>(be);
  const porta_status_t current = MakeCurrent(graph->device, msg);
  if (current != PORTA_OK) return current;
  const KernelNodeParams params(graph->kernels[node], graph->configs[node], args, arg_count);
  const Driver& driver = *graph->device->driver;
  // The driver copies the parameters; launches already queued keep the ones they were queued
  // with, later launches use these.
  std::lock_guard<std::mutex> lock(graph->mutex);
  const CUresult result =
      driver.cuGraphExecKernelNodeSetParams_v2(graph->exec, graph->nodes[node], &params.node);
  if (result == CUDA_SUCCESS) return PORTA_OK;
  return Decline(driver, result,
                 "cuGraphExecKernelNodeSetParams for graph node " + std::to_string(node), msg);
}

void GraphDestroy(porta_be_graph_t be) {
  Graph* graph = As<Graph>(be);
  MakeCurrent(graph->device, nullptr);
  GraphDeleter()(graph);
}

}  // namespace porta::cuda
