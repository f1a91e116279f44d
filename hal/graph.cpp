// Graph nodes, the capture state of a graph, and the registry of open captures that buffer frees
// and event waits consult.
#include "hal/graph.h"
#include "hal/slot_guard.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace porta::hal {
namespace {

// Every open capture, so that porta_buffer_free can find the ones that use a buffer. The count
// lets the common case (no capture open) skip the lock.
struct OpenCaptures {
  std::mutex mutex;
  std::vector<Graph*> graphs;
  std::atomic<size_t> count{0};
};

OpenCaptures& Open() {
  static OpenCaptures* open = new OpenCaptures();  // never destroyed: streams outlive statics
  return *open;
}

void AddOpen(Graph* graph) {
  std::lock_guard<std::mutex> lock(Open().mutex);
  Open().graphs.push_back(graph);
  Open().count.store(Open().graphs.size());
}

void RemoveOpen(Graph* graph) {
  std::lock_guard<std::mutex> lock(Open().mutex);
  auto& graphs = Open().graphs;
  graphs.erase(std::remove(graphs.begin(), graphs.end(), graph), graphs.end());
  Open().count.store(graphs.size());
}

porta_status_t InvalidFail(const char* function, const char* what) {
  return Fail(PORTA_ERROR_INVALID_OPERATION, function,
              "%s is not allowed while a stream captures a graph; the capture is now invalid "
              "(porta_stream_end_capture reports it) and the stream stays usable",
              what);
}

}  // namespace

GraphNode::GraphNode(const GraphNode& other)
    : kind(other.kind),
      kernel(other.kernel),
      config(other.config),
      args(other.args),
      arg_buffers(other.arg_buffers),
      scalars(other.scalars),
      dst(other.dst),
      src(other.src),
      dst_offset(other.dst_offset),
      src_offset(other.src_offset),
      size(other.size),
      host_src(other.host_src),
      host_dst(other.host_dst),
      pattern_size(other.pattern_size),
      event(other.event) {
  std::memcpy(pattern, other.pattern, sizeof(pattern));
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind == PORTA_ARG_SCALAR) args[i].scalar = scalars.data() + i * kMaxScalarSize;
  }
}

void GraphNode::SetArg(uint32_t index, const porta_be_arg_t& arg, Ref<Buffer> buffer) {
  args[index] = arg;
  arg_buffers[index] = std::move(buffer);
  if (arg.kind == PORTA_ARG_SCALAR) {
    uint8_t* bytes = scalars.data() + size_t{index} * kMaxScalarSize;
    std::memcpy(bytes, arg.scalar, arg.scalar_size);
    args[index].scalar = bytes;
  }
}

const char* GraphNodeKindName(porta_graph_node_kind_t kind) {
  switch (kind) {
    case PORTA_GRAPH_NODE_KERNEL:
      return "kernel";
    case PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE:
      return "copy host to device";
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_HOST:
      return "copy device to host";
    case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
      return "copy device to device";
    case PORTA_GRAPH_NODE_FILL:
      return "fill";
    case PORTA_GRAPH_NODE_EVENT_RECORD:
      return "event record";
    case PORTA_GRAPH_NODE_EVENT_WAIT:
      return "event wait";
  }
  return "unknown";
}

porta_status_t Graph::Append(const char* function, GraphNode node) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!invalid_reason_.empty()) {
    return Fail(PORTA_ERROR_INVALID_OPERATION, function,
                "the stream's capture was invalidated earlier (%s); end it with "
                "porta_stream_end_capture",
                invalid_reason_.c_str());
  }
  for (const Ref<Buffer>& buffer : node.arg_buffers) {
    if (buffer) buffers_.insert(buffer.get());
  }
  if (node.dst) buffers_.insert(node.dst.get());
  if (node.src) buffers_.insert(node.src.get());
  nodes.push_back(std::move(node));
  return PORTA_OK;
}

void Graph::Invalidate(const std::string& reason) {
  std::vector<GraphNode> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!invalid_reason_.empty()) return;
    invalid_reason_ = reason;
    dropped.swap(nodes);
    buffers_.clear();
  }
  // |dropped| releases its references here, outside the lock: a last reference calls the backend.
}

bool Graph::Uses(const Buffer* buffer) {
  std::lock_guard<std::mutex> lock(mutex_);
  return buffers_.count(buffer) != 0;
}

void Graph::NoteRecordedEvent(Ref<Event> event) {
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    event->captured_by = this;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  recorded_events_.push_back(std::move(event));
}

std::string Graph::Close() {
  std::vector<Ref<Event>> events;
  std::string reason;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events.swap(recorded_events_);
    buffers_.clear();
    reason = invalid_reason_;
  }
  for (const Ref<Event>& event : events) {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    if (event->captured_by == this) event->captured_by = nullptr;
  }
  return reason;
}

porta_status_t CaptureNode(const char* function, Stream& stream, GraphNode node) {
  return stream.capture->Append(function, std::move(node));
}

porta_status_t RejectInCapture(const char* function, Stream& stream, const char* what) {
  stream.capture->Invalidate(std::string(function) + ": " + what);
  return InvalidFail(function, what);
}

void DiscardCapture(Stream& stream) {
  Graph* graph = stream.capture;
  if (graph == nullptr) return;
  stream.capture = nullptr;
  RemoveOpen(graph);
  graph->Close();
  graph->Release();
}

porta_status_t CheckEventOutsideCapture(const char* function, Event& event, const Stream* stream,
                                        const char* what) {
  Ref<Graph> graph;
  {
    std::lock_guard<std::mutex> lock(event.mutex);
    // The capture clears captured_by under this lock before it ends, so the graph is alive here.
    if (event.captured_by == nullptr || event.captured_by->CapturedBy(stream)) return PORTA_OK;
    graph = Ref<Graph>::Share(event.captured_by);
  }
  graph->Invalidate(std::string(function) + ": " + what +
                    " an event recorded inside the capture, from outside it");
  return Fail(PORTA_ERROR_INVALID_OPERATION, function,
              "%s an event that an open graph capture recorded, from outside that capture; the "
              "capture is now invalid (porta_stream_end_capture reports it)",
              what);
}

porta_status_t CheckBufferNotCaptured(const char* function, const Buffer* buffer) {
  if (Open().count.load() == 0) return PORTA_OK;
  std::vector<Ref<Graph>> users;
  {
    std::lock_guard<std::mutex> lock(Open().mutex);
    for (Graph* graph : Open().graphs) {
      if (graph->Uses(buffer)) users.push_back(Ref<Graph>::Share(graph));
    }
  }
  if (users.empty()) return PORTA_OK;
  for (const Ref<Graph>& graph : users) {
    graph->Invalidate(std::string(function) + " was called on a buffer the capture uses");
  }
  return Fail(PORTA_ERROR_INVALID_OPERATION, function,
              "an open graph capture uses the buffer, so it was not freed; the capture is now "
              "invalid (porta_stream_end_capture reports it)");
}

void BeginCapture(Stream& stream) {
  auto* graph = new Graph(stream.device, &stream);
  stream.capture = graph;
  AddOpen(graph);
}

bool NativeGraphsEnabled(const porta_backend_table_t& table) {
  static const bool enabled = [] {
    const char* value = std::getenv("PORTA_GRAPH_NATIVE");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled && table.graph_create != nullptr && table.graph_launch != nullptr &&
         table.graph_destroy != nullptr;
}

GraphExec::GraphExec(Ref<Device> device, std::vector<GraphNode> nodes)
    : Object(HandleType::kGraphExec), device(std::move(device)), nodes(std::move(nodes)) {
  CountGraphHolds(this->nodes, 1);
}

GraphExec::~GraphExec() {
  for (Retired& retired : retired_) DestroyRetired(retired);
  for (NativeRun& run : runs) {
    if (run.be != nullptr) PORTA_SLOT_CALL(device->table(), graph_destroy, run.be);
  }
  CountGraphHolds(nodes, -1);
}

void GraphExec::PlanNativeRuns() {
  runs.clear();
  if (!NativeGraphsEnabled(device->table())) return;
  auto device_side = [](const GraphNode& node) {
    return node.kind == PORTA_GRAPH_NODE_KERNEL ||
           node.kind == PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE ||
           node.kind == PORTA_GRAPH_NODE_FILL;
  };
  for (size_t i = 0; i < nodes.size();) {
    size_t end = i;
    while (end < nodes.size() && device_side(nodes[end])) ++end;
    if (end - i >= 2) {
      runs.push_back(NativeRun{static_cast<uint32_t>(i), static_cast<uint32_t>(end - i)});
    }
    i = end > i ? end : i + 1;
  }
}

porta_status_t GraphExec::BuildNative(const char* function) {
  const porta_backend_table_t& t = device->table();
  std::vector<porta_be_graph_node_t> be_nodes;
  for (auto it = runs.begin(); it != runs.end();) {
    if (it->be != nullptr) {
      ++it;
      continue;
    }
    be_nodes.assign(it->count, porta_be_graph_node_t{});
    for (uint32_t i = 0; i < it->count; ++i) {
      const GraphNode& node = nodes[it->first + i];
      porta_be_graph_node_t& out = be_nodes[i];
      out.kind = node.kind;
      if (node.kind == PORTA_GRAPH_NODE_KERNEL) {
        out.kernel = node.kernel->be;
        out.config = &node.config;
        out.args = node.args.data();
        out.arg_count = static_cast<uint32_t>(node.args.size());
      }
      out.dst = node.dst ? node.dst->be : nullptr;
      out.dst_offset = node.dst_offset;
      out.src = node.src ? node.src->be : nullptr;
      out.src_offset = node.src_offset;
      out.size = node.size;
      out.pattern = node.pattern;
      out.pattern_size = node.pattern_size;
    }
    BackendMessage message;
    porta_be_graph_t be = nullptr;
    porta_status_t status = PORTA_SLOT_CALL(t, graph_create, device->be(), be_nodes.data(),
                                            it->count, &be, message.get());
    status = Created(status, be, "native graph", &message);
    if (status == PORTA_ERROR_UNSUPPORTED) {
      it = runs.erase(it);  // replayed node by node from now on
      continue;
    }
    if (status != PORTA_OK) {
      message.Set("native graph of nodes " + std::to_string(it->first) + " to " +
                  std::to_string(it->first + it->count - 1) + ": " + message.text());
      return BackendFail(status, function, *device, message);
    }
    it->be = be;
    ++it;
  }
  return PORTA_OK;
}

NativeRun* GraphExec::RunOf(uint32_t index) {
  for (NativeRun& run : runs) {
    if (index >= run.first && index - run.first < run.count) return &run;
  }
  return nullptr;
}

void GraphExec::RetireNative(NativeRun* run) {
  if (run->be == nullptr) return;
  Prune();
  Retired retired{Ref<Buffer>(), run->be, in_flight_};
  run->be = nullptr;
  if (in_flight_.empty()) {
    DestroyRetired(retired);
  } else {
    retired_.push_back(std::move(retired));
  }
}

uint32_t GraphExec::NativeNodeCount() const {
  uint32_t count = 0;
  for (const NativeRun& run : runs) count += run.count;
  return count;
}

void GraphExec::DestroyRetired(Retired& retired) {
  if (retired.native != nullptr) PORTA_SLOT_CALL(device->table(), graph_destroy, retired.native);
  retired.native = nullptr;
}

bool GraphExec::Completed(const std::vector<Replay>& replays) {
  for (const Replay& replay : replays) {
    if (replay.progress->completed.load(std::memory_order_acquire) < replay.sequence) return false;
  }
  return true;
}

void GraphExec::Prune() {
  std::erase_if(in_flight_, [](const Replay& replay) { return Completed({replay}); });
  std::erase_if(retired_, [this](Retired& retired) {
    if (!Completed(retired.until)) return false;
    DestroyRetired(retired);
    return true;
  });
}

void GraphExec::NoteReplay(const Stream& stream, uint64_t sequence) {
  Prune();
  for (Replay& replay : in_flight_) {
    if (replay.progress == stream.progress) {
      replay.sequence = sequence;
      return;
    }
  }
  in_flight_.push_back(Replay{stream.progress, sequence});
}

void GraphExec::Retire(Ref<Buffer> buffer) {
  Prune();
  if (!buffer || in_flight_.empty()) return;
  retired_.push_back(Retired{std::move(buffer), nullptr, in_flight_});
}

void CountGraphHolds(const std::vector<GraphNode>& nodes, int delta) {
  auto count = [delta](const Ref<Buffer>& buffer) {
    if (buffer) buffer->graph_holds.fetch_add(static_cast<uint32_t>(delta));
  };
  for (const GraphNode& node : nodes) {
    for (const Ref<Buffer>& buffer : node.arg_buffers) count(buffer);
    count(node.dst);
    count(node.src);
  }
}

Graph* EndCapture(Stream& stream, std::string* reason) {
  Graph* graph = stream.capture;
  stream.capture = nullptr;
  RemoveOpen(graph);
  *reason = graph->Close();
  if (reason->empty()) {
    graph->Finish();
    return graph;
  }
  graph->Release();
  return nullptr;
}

}  // namespace porta::hal
