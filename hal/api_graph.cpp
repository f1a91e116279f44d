// Public API: graph capture, instances, argument updates and the generic replay.
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "hal/graph.h"
#include "hal/objects.h"
#include "hal/slot_guard.h"
#include "hal/stream_ops.h"

using porta::hal::BackendMessage;
using porta::hal::Buffer;
using porta::hal::Fail;
using porta::hal::Graph;
using porta::hal::GraphExec;
using porta::hal::GraphNode;
using porta::hal::Lookup;
using porta::hal::Ref;
using porta::hal::Stream;

namespace {

// Queues one node on |stream| through the backend's slots. Everything was validated at capture.
porta_status_t ReplayNode(const porta_backend_table_t& t, porta_be_stream_t stream,
                          const GraphNode& node, porta_be_msg msg) {
  switch (node.kind) {
    case PORTA_GRAPH_NODE_KERNEL:
      return PORTA_SLOT_CALL(t, kernel_launch, stream, node.kernel->be, &node.config,
                             node.args.data(), static_cast<uint32_t>(node.args.size()), msg);
    case PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE:
      return PORTA_SLOT_CALL(t, copy_host_to_device, stream, node.dst->be, node.dst_offset,
                             node.host_src, node.size, msg);
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_HOST:
      return PORTA_SLOT_CALL(t, copy_device_to_host, stream, node.host_dst, node.src->be,
                             node.src_offset, node.size, msg);
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      return PORTA_SLOT_CALL(t, copy_device_to_device, stream, node.dst->be, node.dst_offset,
                             node.src->be, node.src_offset, node.size, msg);
    case PORTA_GRAPH_NODE_FILL:
      return PORTA_SLOT_CALL(t, fill_buffer, stream, node.dst->be, node.dst_offset, node.size,
                             node.pattern, node.pattern_size, msg);
    case PORTA_GRAPH_NODE_EVENT_RECORD:
      return PORTA_SLOT_CALL(t, event_record, node.event->be, stream, msg);
    case PORTA_GRAPH_NODE_EVENT_WAIT:
      return PORTA_SLOT_CALL(t, stream_wait_event, stream, node.event->be, msg);
  }
  return PORTA_ERROR_INVALID_ARGUMENT;
}

}  // namespace

extern "C" {

PORTA_API porta_status_t porta_stream_begin_capture(porta_stream_t stream) try {
  constexpr const char* kFn = "porta_stream_begin_capture";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  std::lock_guard<std::mutex> lock(s->mutex);
  if ((status = s->CheckSticky(kFn)) != PORTA_OK) return status;
  if (s->capture != nullptr) {
    return Fail(PORTA_ERROR_INVALID_OPERATION, kFn,
                "the stream is already capturing; end that capture with porta_stream_end_capture");
  }
  porta::hal::BeginCapture(*s);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_begin_capture");
}

PORTA_API porta_status_t porta_stream_end_capture(porta_stream_t stream,
                                                  porta_graph_t* out_graph) try {
  constexpr const char* kFn = "porta_stream_end_capture";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if (out_graph == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_graph is NULL");
  *out_graph = nullptr;
  std::lock_guard<std::mutex> lock(s->mutex);
  if (s->capture == nullptr) {
    return Fail(PORTA_ERROR_INVALID_OPERATION, kFn,
                "the stream is not capturing (porta_stream_begin_capture starts a capture)");
  }
  std::string reason;
  Graph* graph = porta::hal::EndCapture(*s, &reason);
  if (graph == nullptr) {
    return Fail(PORTA_ERROR_INVALID_OPERATION, kFn,
                "the capture was invalidated, no graph was made: %s", reason.c_str());
  }
  *out_graph =
      porta::hal::Publish<porta_graph_t>(Ref<Graph>::Adopt(graph), porta::hal::HandleType::kGraph);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_end_capture");
}

PORTA_API porta_status_t porta_stream_is_capturing(porta_stream_t stream,
                                                   int32_t* out_capturing) try {
  constexpr const char* kFn = "porta_stream_is_capturing";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if (out_capturing == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_capturing is NULL");
  }
  std::lock_guard<std::mutex> lock(s->mutex);
  *out_capturing = s->capture != nullptr ? 1 : 0;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_is_capturing");
}

PORTA_API porta_status_t porta_graph_destroy(porta_graph_t graph) try {
  porta_status_t status;
  Ref<Graph> g = Lookup<Graph>(graph, "porta_graph_destroy", "graph", &status);
  if (!g) return status;
  porta::hal::Registry::Remove(g.get());
  g->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_destroy");
}

PORTA_API porta_status_t porta_graph_node_count(porta_graph_t graph, uint32_t* out_count) try {
  constexpr const char* kFn = "porta_graph_node_count";
  porta_status_t status;
  Ref<Graph> g = Lookup<Graph>(graph, kFn, "graph", &status);
  if (!g) return status;
  if (out_count == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_count is NULL");
  *out_count = static_cast<uint32_t>(g->nodes.size());
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_node_count");
}

PORTA_API porta_status_t porta_graph_node_kind(porta_graph_t graph, uint32_t index,
                                               porta_graph_node_kind_t* out_kind) try {
  constexpr const char* kFn = "porta_graph_node_kind";
  porta_status_t status;
  Ref<Graph> g = Lookup<Graph>(graph, kFn, "graph", &status);
  if (!g) return status;
  if (out_kind == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_kind is NULL");
  if (index >= g->nodes.size()) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, kFn, "index %u is not below the node count %zu", index,
                g->nodes.size());
  }
  *out_kind = g->nodes[index].kind;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_node_kind");
}

PORTA_API porta_status_t porta_graph_instantiate(porta_graph_t graph,
                                                 porta_graph_exec_t* out_exec) try {
  constexpr const char* kFn = "porta_graph_instantiate";
  porta_status_t status;
  Ref<Graph> g = Lookup<Graph>(graph, kFn, "graph", &status);
  if (!g) return status;
  if (out_exec == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_exec is NULL");
  *out_exec = nullptr;
  Ref<GraphExec> exec = Ref<GraphExec>::Adopt(
      new GraphExec(g->device, std::vector<GraphNode>(g->nodes.begin(), g->nodes.end())));
  exec->PlanNativeRuns();
  {
    std::lock_guard<std::mutex> lock(exec->mutex);
    status = exec->BuildNative(kFn);
  }
  if (status != PORTA_OK) return status;
  *out_exec =
      porta::hal::Publish<porta_graph_exec_t>(std::move(exec), porta::hal::HandleType::kGraphExec);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_instantiate");
}

PORTA_API porta_status_t porta_graph_exec_update_kernel_args(porta_graph_exec_t exec, uint32_t node,
                                                             const porta_kernel_arg_t* args,
                                                             uint32_t arg_count) try {
  constexpr const char* kFn = "porta_graph_exec_update_kernel_args";
  porta_status_t status;
  Ref<GraphExec> x = Lookup<GraphExec>(exec, kFn, "exec", &status);
  if (!x) return status;
  // The node list never changes length after instantiation; only argument values do.
  if (node >= x->nodes.size()) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, kFn, "node %u is not below the node count %zu", node,
                x->nodes.size());
  }
  if (arg_count > 0 && args == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "args is NULL but arg_count is %u", arg_count);
  }
  std::lock_guard<std::mutex> lock(x->mutex);
  GraphNode& target = x->nodes[node];
  if (target.kind != PORTA_GRAPH_NODE_KERNEL) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "node %u is a %s node, not a kernel node", node,
                porta::hal::GraphNodeKindName(target.kind));
  }
  if (arg_count != target.args.size()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "arg_count is %u but kernel '%s' of node %u was captured with %zu arguments",
                arg_count, target.kernel->name.c_str(), node, target.args.size());
  }
  std::vector<porta_be_arg_t> resolved(arg_count);
  std::vector<Ref<Buffer>> buffers(arg_count);
  for (uint32_t i = 0; i < arg_count; ++i) {
    status = porta::hal::ResolveKernelArg(kFn, *x->device, args[i], i, &resolved[i], &buffers[i]);
    if (status != PORTA_OK) return status;
    const porta_be_arg_t& captured = target.args[i];
    if (resolved[i].kind != captured.kind) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                  "args[%u] is a %s but node %u captured a %s there", i,
                  resolved[i].kind == PORTA_ARG_BUFFER ? "buffer" : "scalar", node,
                  captured.kind == PORTA_ARG_BUFFER ? "buffer" : "scalar");
    }
    if (captured.kind == PORTA_ARG_SCALAR && resolved[i].scalar_size != captured.scalar_size) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                  "args[%u].scalar_size is %u but node %u captured a %u-byte scalar there", i,
                  resolved[i].scalar_size, node, captured.scalar_size);
    }
  }
  // A native graph takes the new arguments for later replays, or is rebuilt before the next one.
  if (porta::hal::NativeRun* run = x->RunOf(node); run != nullptr && run->be != nullptr) {
    const porta_backend_table_t& t = x->device->table();
    status = PORTA_ERROR_UNSUPPORTED;
    BackendMessage message;
    if (t.graph_update_kernel_args != nullptr) {
      status = PORTA_SLOT_CALL(t, graph_update_kernel_args, run->be, node - run->first,
                               resolved.data(), arg_count, message.get());
    }
    if (status == PORTA_ERROR_UNSUPPORTED) {
      x->RetireNative(run);
    } else if (status != PORTA_OK) {
      message.Set("native graph of node " + std::to_string(node) + ": " + message.text());
      return porta::hal::BackendFail(status, kFn, *x->device, message);
    }
  }
  for (uint32_t i = 0; i < arg_count; ++i) {
    // The instance's hold moves from the old buffer to the new one (Buffer::graph_holds).
    if (target.arg_buffers[i]) target.arg_buffers[i]->graph_holds.fetch_sub(1);
    if (buffers[i]) buffers[i]->graph_holds.fetch_add(1);
    // A replay still in flight reads the old buffer: the instance keeps it until that ends.
    x->Retire(std::move(target.arg_buffers[i]));
    target.SetArg(i, resolved[i], std::move(buffers[i]));
  }
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_exec_update_kernel_args");
}

PORTA_API porta_status_t porta_graph_launch(porta_graph_exec_t exec, porta_stream_t stream) try {
  constexpr const char* kFn = "porta_graph_launch";
  porta_status_t status;
  Ref<GraphExec> x = Lookup<GraphExec>(exec, kFn, "exec", &status);
  if (!x) return status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if (s->device.get() != x->device.get()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "the graph was captured on device %s but the stream belongs to device %s",
                x->device->label().c_str(), s->device->label().c_str());
  }
  const porta_backend_table_t& t = s->device->table();
  std::lock_guard<std::mutex> exec_lock(x->mutex);
  std::lock_guard<std::mutex> lock(s->mutex);
  if ((status = s->CheckSticky(kFn)) != PORTA_OK) return status;
  if (s->capture != nullptr) {
    return porta::hal::RejectInCapture(kFn, *s,
                                       "launching a graph instance on the capturing stream");
  }
  if (x->nodes.empty()) return PORTA_OK;
  // Native graphs dropped by argument updates are rebuilt before anything is queued.
  if ((status = x->BuildNative(kFn)) != PORTA_OK) return status;
  // Events recorded by the replay complete no earlier than the work queued before it.
  const uint64_t before = s->sequence();
  size_t queued = 0;
  size_t failed_run = 0;  // nodes of the native graph that failed, 0 for a single node
  BackendMessage message;
  auto run = x->runs.begin();
  while (queued < x->nodes.size()) {
    if (run != x->runs.end() && run->first == queued) {
      status = PORTA_SLOT_CALL(t, graph_launch, s->be, run->be, message.get());
      if (status == PORTA_OK) {
        queued += run->count;
        ++run;
        continue;
      }
      if (status != PORTA_ERROR_UNSUPPORTED) {
        failed_run = run->count;
        break;
      }
      // This replay of the run goes node by node.
      message = BackendMessage();
      ++run;
    }
    const GraphNode& node = x->nodes[queued];
    status = ReplayNode(t, s->be, node, message.get());
    if (status != PORTA_OK) break;
    ++queued;
    if (node.kind == PORTA_GRAPH_NODE_EVENT_RECORD) {
      std::lock_guard<std::mutex> event_lock(node.event->mutex);
      node.event->stream = s;
      node.event->sequence = before;
      node.event->fault = PORTA_OK;
      node.event->fault_message.clear();
    }
  }
  if (queued > 0) {
    // One reference to the instance keeps every object its nodes use alive until the replay ends.
    porta::hal::UseList uses;
    uses.Add(Ref<GraphExec>::Share(x.get()));
    size_t pending = 0;
    uint64_t sequence = s->AddWork(uses, &pending);
    x->NoteReplay(*s, sequence);
    // A replayed wait on a recording behind a fault faults this stream, as a direct wait does.
    for (size_t i = 0; i < queued; ++i) {
      if (x->nodes[i].kind == PORTA_GRAPH_NODE_EVENT_WAIT) {
        porta::hal::NoteWait(*s, *x->nodes[i].event, sequence);
      }
    }
    if (pending > porta::hal::kPendingQueryThreshold) {
      BackendMessage idle;
      if (PORTA_SLOT_CALL(t, stream_query, s->be, idle.get()) == PORTA_OK) {
        s->ReleaseUpTo(sequence);
        porta::hal::ResolveWaits(*s, sequence);
      }
    }
  }
  if (status != PORTA_OK) {
    if (status == PORTA_ERROR_DEVICE_LOST) s->SetSticky(status, message.text());
    const GraphNode& failed = x->nodes[queued];
    std::string text =
        failed_run > 0
            ? std::string(message.text()) + " (native graph of nodes " + std::to_string(queued) +
                  " to " + std::to_string(queued + failed_run - 1) + ")"
            : std::string(message.text()) + " (graph node " + std::to_string(queued) + ", " +
                  porta::hal::GraphNodeKindName(failed.kind) + ")";
    message.Set(text);
    return porta::hal::BackendFail(status, kFn, *s->device, message);
  }
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_launch");
}

PORTA_API porta_status_t porta_graph_exec_native_node_count(porta_graph_exec_t exec,
                                                            uint32_t* out_count) try {
  constexpr const char* kFn = "porta_graph_exec_native_node_count";
  porta_status_t status;
  Ref<GraphExec> x = Lookup<GraphExec>(exec, kFn, "exec", &status);
  if (!x) return status;
  if (out_count == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_count is NULL");
  std::lock_guard<std::mutex> lock(x->mutex);
  *out_count = x->NativeNodeCount();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_exec_native_node_count");
}

PORTA_API porta_status_t porta_graph_exec_destroy(porta_graph_exec_t exec) try {
  porta_status_t status;
  Ref<GraphExec> x = Lookup<GraphExec>(exec, "porta_graph_exec_destroy", "exec", &status);
  if (!x) return status;
  porta::hal::Registry::Remove(x.get());
  x->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_graph_exec_destroy");
}

}  // extern "C"
