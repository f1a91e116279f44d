// Native graphs of the OpenCL backend: a run of kernel, copy and fill nodes becomes a
// cl_khr_command_buffer command buffer, recorded for a stream's queue the first time the graph is
// replayed on that queue and enqueued with one call from then on.
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"

namespace porta::opencl {

// One node as it is recorded. A kernel node owns a kernel object of its own whose arguments are
// set once, at graph_create: the argument values a command buffer uses are then those of the
// node whatever the driver reads them from (PoCL 3.1 reads them from the kernel object when the
// command buffer is enqueued, not when the command is recorded), and launches of the module's
// kernel on other streams cannot change them.
struct GraphStep {
  porta_graph_node_kind_t kind = PORTA_GRAPH_NODE_KERNEL;
  cl_kernel kernel = nullptr;
  uint32_t dims = 1;
  size_t global[3] = {1, 1, 1};
  size_t local[3] = {1, 1, 1};
  cl_mem dst = nullptr;
  cl_mem src = nullptr;
  size_t dst_offset = 0;
  size_t src_offset = 0;
  size_t size = 0;
  uint32_t pattern = 0;
  uint32_t pattern_size = 0;
};

// A command buffer recorded for one queue. The queue is retained, so its address cannot be
// reused by a new queue (and match this entry) while the entry exists.
struct Recording {
  cl_command_queue queue = nullptr;
  cl_command_buffer_khr buffer = nullptr;
};

struct Graph {
  Device* device = nullptr;
  std::vector<GraphStep> steps;
  // Replays may be queued from several threads (one per stream).
  std::mutex mutex;
  std::vector<Recording> recordings;
};

namespace {

// Streams usually number a few; a graph replayed on more queues than this drops the recording
// of an idle one.
constexpr size_t kMaxRecordings = 8;

// Versions 0.9.0 to 0.9.4 of cl_khr_command_buffer have the entry points the Khronos headers
// declare; 0.9.5 added a properties parameter to every command, which calling through these
// declarations would misplace.
constexpr cl_version kFirstVersion = CL_MAKE_VERSION(0, 9, 0);
constexpr cl_version kLastVersion = CL_MAKE_VERSION(0, 9, 4);

// The extension's version as the device reports it (an OpenCL 3.0 query); 0 when it is absent
// or the query fails.
cl_version ExtensionVersion(const Device* device, const char* name, bool* queried) {
  const Library& api = *device->api;
  size_t bytes = 0;
  *queried = api.clGetDeviceInfo(device->id, CL_DEVICE_EXTENSIONS_WITH_VERSION, 0, nullptr,
                                 &bytes) == CL_SUCCESS;
  if (!*queried || bytes == 0) return 0;
  std::vector<cl_name_version> list(bytes / sizeof(cl_name_version));
  if (api.clGetDeviceInfo(device->id, CL_DEVICE_EXTENSIONS_WITH_VERSION,
                          list.size() * sizeof(cl_name_version), list.data(),
                          nullptr) != CL_SUCCESS) {
    *queried = false;
    return 0;
  }
  for (const cl_name_version& entry : list) {
    if (std::strncmp(entry.name, name, sizeof(entry.name)) == 0) return entry.version;
  }
  return 0;
}

template <typename Function>
bool Resolve(const Device* device, const char* name, Function* out) {
  *out = reinterpret_cast<Function>(
      device->api->clGetExtensionFunctionAddressForPlatform(device->platform->id, name));
  return *out != nullptr;
}

void ReleaseSteps(const Library& api, std::vector<GraphStep>* steps) {
  for (GraphStep& step : *steps) {
    if (step.kernel != nullptr) api.clReleaseKernel(step.kernel);
    step.kernel = nullptr;
  }
}

void ReleaseRecording(const Device* device, const Recording& recording) {
  device->command_buffers.release(recording.buffer);
  device->api->clReleaseCommandQueue(recording.queue);
}

// Builds the step of a kernel node: a kernel object of its own, arguments set.
porta_status_t BuildKernelStep(Device* device, const porta_be_graph_node_t& node, uint32_t index,
                               GraphStep* step, porta_be_msg msg) {
  const Library& api = *device->api;
  Kernel* kernel = As<Kernel>(node.kernel);
  porta_status_t status = CheckLaunch(device, kernel, node.config, node.arg_count, msg);
  if (status != PORTA_OK) return status;
  // Buffer arguments first: an offset without a sub-buffer (staging) declines before any
  // kernel object is made.
  std::vector<cl_mem> mems(node.arg_count, nullptr);
  for (uint32_t i = 0; i < node.arg_count; ++i) {
    const porta_be_arg_t& arg = node.args[i];
    if (arg.kind != PORTA_ARG_BUFFER) continue;
    Buffer* buffer = As<Buffer>(arg.buffer);
    status = BufferArgument(buffer, arg.offset, &mems[i], msg);
    if (status != PORTA_OK) return status;
    if (mems[i] == nullptr) {
      return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                          "opencl: graph node %u: argument %u's offset %llu is not a multiple of "
                          "the device's base address alignment (%u bytes); such launches stage "
                          "through a temporary buffer, which a command buffer cannot hold",
                          index, i, static_cast<unsigned long long>(arg.offset),
                          device->base_address_align);
    }
  }
  cl_program program = nullptr;
  cl_int error =
      api.clGetKernelInfo(kernel->kernel, CL_KERNEL_PROGRAM, sizeof(program), &program, nullptr);
  if (error != CL_SUCCESS) return ClFail(msg, error, "clGetKernelInfo", "CL_KERNEL_PROGRAM");
  step->kernel = api.clCreateKernel(program, kernel->name.c_str(), &error);
  if (error != CL_SUCCESS) {
    step->kernel = nullptr;
    return ClFail(msg, error, "clCreateKernel", kernel->name.c_str());
  }
  for (uint32_t i = 0; i < node.arg_count && error == CL_SUCCESS; ++i) {
    const porta_be_arg_t& arg = node.args[i];
    error = arg.kind == PORTA_ARG_BUFFER
                ? api.clSetKernelArg(step->kernel, i, sizeof(cl_mem), &mems[i])
                : api.clSetKernelArg(step->kernel, i, arg.scalar_size, arg.scalar);
    if (error != CL_SUCCESS) {
      return common::Fail(
          msg, error == CL_INVALID_ARG_SIZE ? PORTA_ERROR_INVALID_ARGUMENT : ClStatus(error),
          "opencl: graph node %u: clSetKernelArg(%u) of kernel '%s' failed: %s (%d)%s", index, i,
          kernel->name.c_str(), ClErrorName(error), static_cast<int>(error),
          error == CL_INVALID_ARG_SIZE ? "; the scalar's size does not match the parameter's type"
                                       : "");
    }
  }
  if (node.config->local_memory_bytes > 0) {
    error = api.clSetKernelArg(step->kernel, node.arg_count,
                               static_cast<size_t>(node.config->local_memory_bytes), nullptr);
    if (error != CL_SUCCESS) {
      return common::Fail(msg, ClStatus(error),
                          "opencl: graph node %u: clSetKernelArg(%u) of kernel '%s' failed: %s "
                          "(%d); this is the dynamic local memory parameter",
                          index, node.arg_count, kernel->name.c_str(), ClErrorName(error),
                          static_cast<int>(error));
    }
  }
  LaunchGeometry(node.config, step->global, step->local, &step->dims);
  return PORTA_OK;
}

porta_status_t BuildStep(Device* device, const porta_be_graph_node_t& node, uint32_t index,
                         GraphStep* step, porta_be_msg msg) {
  step->kind = node.kind;
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL:
      return BuildKernelStep(device, node, index, step, msg);
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      step->dst = As<Buffer>(node.dst)->mem;
      step->src = As<Buffer>(node.src)->mem;
      step->dst_offset = static_cast<size_t>(node.dst_offset);
      step->src_offset = static_cast<size_t>(node.src_offset);
      step->size = static_cast<size_t>(node.size);
      return PORTA_OK;
    case PORTA_GRAPH_NODE_FILL:
      if (!device->use_fill_buffer.load(std::memory_order_relaxed)) {
        return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                            "opencl: graph node %u is a fill, which runs as a kernel on this "
                            "device",
                            index);
      }
      step->dst = As<Buffer>(node.dst)->mem;
      step->dst_offset = static_cast<size_t>(node.dst_offset);
      step->size = static_cast<size_t>(node.size);
      std::memcpy(&step->pattern, node.pattern, node.pattern_size);
      step->pattern_size = node.pattern_size;
      return PORTA_OK;
    default:
      return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                          "opencl: graph node %u has kind %d, which a command buffer does not hold",
                          index, static_cast<int>(node.kind));
  }
}

// Records every step for |queue|, each behind the previous one. Returns NULL with the reason in
// |msg| (and |status|) on failure.
cl_command_buffer_khr Record(const Graph& graph, cl_command_queue queue, porta_status_t* status,
                             porta_be_msg msg) {
  const CommandBufferApi& cb = graph.device->command_buffers;
  const cl_command_buffer_flags_khr flags =
      cb.simultaneous_use ? CL_COMMAND_BUFFER_SIMULTANEOUS_USE_KHR : 0;
  const cl_command_buffer_properties_khr properties[] = {CL_COMMAND_BUFFER_FLAGS_KHR, flags, 0};
  cl_int error = CL_SUCCESS;
  cl_command_buffer_khr buffer = cb.create(1, &queue, properties, &error);
  if (error != CL_SUCCESS) {
    *status = ClFail(msg, error, "clCreateCommandBufferKHR");
    return nullptr;
  }
  // In-order queues would order the commands anyway in most drivers; the sync points make the
  // order explicit, which the extension requires for out-of-order recordings.
  cl_sync_point_khr previous = 0;
  const char* call = "clFinalizeCommandBufferKHR";
  for (size_t i = 0; i < graph.steps.size() && error == CL_SUCCESS; ++i) {
    const GraphStep& step = graph.steps[i];
    const cl_uint waits = i > 0 ? 1 : 0;
    const cl_sync_point_khr* wait_list = i > 0 ? &previous : nullptr;
    cl_sync_point_khr point = 0;
    switch (step.kind) {
      case PORTA_GRAPH_NODE_KERNEL:
        call = "clCommandNDRangeKernelKHR";
        error = cb.ndrange(buffer, nullptr, nullptr, step.kernel, step.dims, nullptr, step.global,
                           step.local, waits, wait_list, &point, nullptr);
        break;
      case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
        call = "clCommandCopyBufferKHR";
        error = cb.copy(buffer, nullptr, step.src, step.dst, step.src_offset, step.dst_offset,
                        step.size, waits, wait_list, &point, nullptr);
        break;
      default:
        call = "clCommandFillBufferKHR";
        error = cb.fill(buffer, nullptr, step.dst, &step.pattern, step.pattern_size,
                        step.dst_offset, step.size, waits, wait_list, &point, nullptr);
        break;
    }
    previous = point;
  }
  if (error == CL_SUCCESS) {
    call = "clFinalizeCommandBufferKHR";
    error = cb.finalize(buffer);
  }
  if (error != CL_SUCCESS) {
    cb.release(buffer);
    *status = ClFail(msg, error, call, "recording a native graph");
    return nullptr;
  }
  return buffer;
}

bool Pending(const CommandBufferApi& cb, cl_command_buffer_khr buffer) {
  cl_command_buffer_state_khr state = CL_COMMAND_BUFFER_STATE_PENDING_KHR;
  const cl_int error = cb.info(buffer, CL_COMMAND_BUFFER_STATE_KHR, sizeof(state), &state, nullptr);
  return error != CL_SUCCESS || state == CL_COMMAND_BUFFER_STATE_PENDING_KHR;
}

}  // namespace

void LoadCommandBuffers(Device* device) {
  CommandBufferApi& cb = device->command_buffers;
  if (device->constrained) {
    // The profile stands for an NPU's OpenCL 1.2 driver, which has no command buffers; graphs
    // then take the runtime's node-by-node replay, which the CTS runs under the profile.
    cb.reason = "the npu profile models a driver without cl_khr_command_buffer";
    return;
  }
  bool queried = false;
  const cl_version version = ExtensionVersion(device, "cl_khr_command_buffer", &queried);
  if (!queried) {
    cb.reason =
        "the driver does not list extension versions (CL_DEVICE_EXTENSIONS_WITH_VERSION), so the "
        "signatures of its cl_khr_command_buffer entry points, if any, are unknown";
    return;
  }
  if (version == 0) {
    cb.reason = "the device lacks cl_khr_command_buffer";
    return;
  }
  if (version < kFirstVersion || version > kLastVersion) {
    cb.reason = "the device has cl_khr_command_buffer " +
                std::to_string(CL_VERSION_MAJOR(version)) + "." +
                std::to_string(CL_VERSION_MINOR(version)) + "." +
                std::to_string(CL_VERSION_PATCH(version)) +
                "; this backend calls the entry points of versions 0.9.0 to 0.9.4";
    return;
  }
  CommandBufferApi loaded;
  if (!Resolve(device, "clCreateCommandBufferKHR", &loaded.create) ||
      !Resolve(device, "clFinalizeCommandBufferKHR", &loaded.finalize) ||
      !Resolve(device, "clReleaseCommandBufferKHR", &loaded.release) ||
      !Resolve(device, "clEnqueueCommandBufferKHR", &loaded.enqueue) ||
      !Resolve(device, "clCommandNDRangeKernelKHR", &loaded.ndrange) ||
      !Resolve(device, "clCommandCopyBufferKHR", &loaded.copy) ||
      !Resolve(device, "clCommandFillBufferKHR", &loaded.fill) ||
      !Resolve(device, "clGetCommandBufferInfoKHR", &loaded.info)) {
    cb.reason = "the platform reports cl_khr_command_buffer but lacks some of its entry points";
    return;
  }
  const Library& api = *device->api;
  cl_device_command_buffer_capabilities_khr capabilities = 0;
  api.clGetDeviceInfo(device->id, CL_DEVICE_COMMAND_BUFFER_CAPABILITIES_KHR, sizeof(capabilities),
                      &capabilities, nullptr);
  loaded.simultaneous_use = (capabilities & CL_COMMAND_BUFFER_CAPABILITY_SIMULTANEOUS_USE_KHR) != 0;
  api.clGetDeviceInfo(device->id, CL_DEVICE_COMMAND_BUFFER_REQUIRED_QUEUE_PROPERTIES_KHR,
                      sizeof(loaded.required_queue_properties), &loaded.required_queue_properties,
                      nullptr);
  cb = loaded;
  common::Log(PORTA_LOG_INFO,
              "opencl: '%s' replays graphs through cl_khr_command_buffer %u.%u.%u%s",
              device->info.name, CL_VERSION_MAJOR(version), CL_VERSION_MINOR(version),
              CL_VERSION_PATCH(version), cb.simultaneous_use ? " (simultaneous use)" : "");
}

porta_status_t GraphCreate(porta_be_device_t device_handle, const porta_be_graph_node_t* nodes,
                           uint32_t count, porta_be_graph_t* out_graph, porta_be_msg msg) {
  Device* device = As<Device>(device_handle);
  if (device->command_buffers.create == nullptr) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED, "opencl: no native graphs on '%s': %s",
                        device->info.name, device->command_buffers.reason.c_str());
  }
  auto graph = std::unique_ptr<Graph>(new (std::nothrow) Graph());
  if (graph == nullptr) return common::Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "opencl: graph");
  graph->device = device;
  graph->steps.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    const porta_status_t status = BuildStep(device, nodes[i], i, &graph->steps[i], msg);
    if (status != PORTA_OK) {
      ReleaseSteps(*device->api, &graph->steps);
      return status;
    }
  }
  *out_graph = ToHandle<porta_be_graph_t>(graph.release());
  return PORTA_OK;
}

porta_status_t GraphLaunch(porta_be_stream_t stream_handle, porta_be_graph_t graph_handle,
                           porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  Graph* graph = As<Graph>(graph_handle);
  const CommandBufferApi& cb = graph->device->command_buffers;
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  const cl_command_queue_properties properties = stream->profiled ? CL_QUEUE_PROFILING_ENABLE : 0;
  if ((cb.required_queue_properties & ~properties) != 0) {
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: command buffers need queue properties 0x%llx; the stream's "
                        "queue has 0x%llx",
                        static_cast<unsigned long long>(cb.required_queue_properties),
                        static_cast<unsigned long long>(properties));
  }
  cl_command_queue queue = stream->queue;
  std::lock_guard<std::mutex> lock(graph->mutex);
  auto it = std::find_if(graph->recordings.begin(), graph->recordings.end(),
                         [&](const Recording& recording) { return recording.queue == queue; });
  if (it == graph->recordings.end()) {
    if (graph->recordings.size() >= kMaxRecordings) {
      auto idle =
          std::find_if(graph->recordings.begin(), graph->recordings.end(),
                       [&](const Recording& recording) { return !Pending(cb, recording.buffer); });
      if (idle == graph->recordings.end()) {
        return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                            "opencl: the graph's command buffers for %zu other queues are all "
                            "pending",
                            graph->recordings.size());
      }
      ReleaseRecording(graph->device, *idle);
      graph->recordings.erase(idle);
    }
    cl_command_buffer_khr buffer = Record(*graph, queue, &status, msg);
    if (buffer == nullptr) return status;
    graph->device->api->clRetainCommandQueue(queue);
    graph->recordings.push_back({queue, buffer});
    it = graph->recordings.end() - 1;
  }
  const cl_int error = cb.enqueue(1, &queue, it->buffer, 0, nullptr, nullptr);
  if (error == CL_INVALID_OPERATION && !cb.simultaneous_use) {
    // The previous replay on this queue is still pending and the command buffer may not be
    // enqueued twice: this replay goes node by node.
    return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                        "opencl: the command buffer's previous replay is still pending");
  }
  if (error != CL_SUCCESS)
    return StreamEnqueueFailed(stream, error, "clEnqueueCommandBufferKHR", msg);
  ++stream->generation;
  return PORTA_OK;
}

porta_status_t GraphUpdateKernelArgs(porta_be_graph_t, uint32_t, const porta_be_arg_t*, uint32_t,
                                     porta_be_msg msg) {
  // A recorded command keeps its arguments. cl_khr_command_buffer_mutable_dispatch is not used
  // (no driver here has it to test against): the runtime rebuilds the graph instead, once the
  // replays queued with the old arguments have completed.
  return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                      "opencl: recorded command buffers keep their arguments; the graph is "
                      "rebuilt");
}

void GraphDestroy(porta_be_graph_t handle) {
  Graph* graph = As<Graph>(handle);
  for (const Recording& recording : graph->recordings) ReleaseRecording(graph->device, recording);
  ReleaseSteps(*graph->device->api, &graph->steps);
  delete graph;
}

}  // namespace porta::opencl
