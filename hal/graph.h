// Graph capture and replay: the recorded nodes, the graph a stream captures into, the executable
// instance, and the capture bookkeeping the other API files consult (capturing streams, events
// recorded inside a capture, buffers a capture uses).
#ifndef PORTA_HAL_GRAPH_H_
#define PORTA_HAL_GRAPH_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "hal/objects.h"

namespace porta::hal {

// Largest scalar argument and argument count of a launch (porta_kernel_launch's limits).
constexpr uint32_t kMaxScalarSize = 256;
constexpr uint32_t kMaxArgs = 128;

// Checks launch argument |index| against |device| (kind, buffer handle, device, offset, scalar
// size) and resolves it into |out| (a scalar's pointer is the caller's); |out_buffer| receives
// the buffer of a buffer argument. The message names "<array>[index]".
porta_status_t ResolveKernelArg(const char* function, const Device& device,
                                const porta_kernel_arg_t& arg, uint32_t index, porta_be_arg_t* out,
                                Ref<Buffer>* out_buffer);

// One recorded piece of stream work, validated when it was captured and holding references to
// everything it uses. Only the fields of its kind are set.
struct GraphNode {
  GraphNode() = default;
  // Copies re-point scalar arguments at the copy's own bytes.
  GraphNode(const GraphNode& other);
  GraphNode& operator=(const GraphNode& other) = delete;
  GraphNode(GraphNode&&) noexcept = default;
  GraphNode& operator=(GraphNode&&) noexcept = default;

  // Sets launch argument |index| (args already sized), copying a scalar's bytes.
  void SetArg(uint32_t index, const porta_be_arg_t& arg, Ref<Buffer> buffer);

  porta_graph_node_kind_t kind = PORTA_GRAPH_NODE_KERNEL;
  // Kernel nodes: the kernel (its reference keeps the module alive), the configuration, the
  // resolved arguments, the buffer of each buffer argument and kMaxScalarSize bytes per argument
  // that scalar arguments point into.
  Ref<Kernel> kernel;
  porta_launch_config_t config{};
  std::vector<porta_be_arg_t> args;
  std::vector<Ref<Buffer>> arg_buffers;
  std::vector<uint8_t> scalars;
  // Copies and fills. Host pointers are read or written at replay time.
  Ref<Buffer> dst;
  Ref<Buffer> src;
  uint64_t dst_offset = 0;
  uint64_t src_offset = 0;
  uint64_t size = 0;
  const void* host_src = nullptr;
  void* host_dst = nullptr;
  uint8_t pattern[4] = {};
  uint32_t pattern_size = 0;
  // Event record and wait nodes.
  Ref<Event> event;
};

// Returns the name of a node kind ("kernel", "copy host to device", ...).
const char* GraphNodeKindName(porta_graph_node_kind_t kind);

// A graph: open while its stream captures into it (not yet a public handle), then a finished,
// immutable node list.
// Adds |delta| (1 or -1) to the graph_holds of every buffer |nodes| use, once per use.
void CountGraphHolds(const std::vector<GraphNode>& nodes, int delta);

class Graph final : public Object {
 public:
  Graph(Ref<Device> device, const Stream* stream)
      : Object(HandleType::kGraph), device(std::move(device)), stream_(stream) {}
  ~Graph() override {
    if (finished_) CountGraphHolds(nodes, -1);
  }

  // Appends a node to an open capture; fails when the capture was invalidated. The caller holds
  // the capturing stream's lock.
  porta_status_t Append(const char* function, GraphNode node);
  // Marks an open capture invalid (the first reason is kept) and drops its nodes, so that the
  // objects they used are not held by a capture that can no longer produce a graph.
  void Invalidate(const std::string& reason);
  // True when an open capture's nodes use |buffer|.
  bool Uses(const Buffer* buffer);
  // Notes that |event| was recorded by this capture; waits on it from outside are then errors.
  void NoteRecordedEvent(Ref<Event> event);
  // Ends the capture: forgets the events it recorded. Returns the invalidation reason, or an
  // empty string when the graph is valid.
  std::string Close();
  // Marks a valid graph finished: its nodes now hold their buffers (see Buffer::graph_holds).
  void Finish() {
    finished_ = true;
    CountGraphHolds(nodes, 1);
  }
  // True when |stream| is the stream capturing into this graph.
  bool CapturedBy(const Stream* stream) const { return stream == stream_; }

  const Ref<Device> device;
  // Immutable once the capture has ended.
  std::vector<GraphNode> nodes;

 private:
  const Stream* stream_;  // identity only, never dereferenced
  bool finished_ = false;
  std::mutex mutex_;  // guards everything below and |nodes| while the capture is open
  std::string invalid_reason_;
  std::unordered_set<const Buffer*> buffers_;
  std::vector<Ref<Event>> recorded_events_;
};

// A run of consecutive device-side nodes (kernels, device-to-device copies, fills) that replays
// through the backend's native graph (ABI 1.2).
struct NativeRun {
  uint32_t first = 0;
  uint32_t count = 0;
  porta_be_graph_t be = nullptr;  // nullptr: (re)built before the next replay
};

// True when |table| has the native graph slots and PORTA_GRAPH_NATIVE is not "0".
bool NativeGraphsEnabled(const porta_backend_table_t& table);

// An executable instance: a copy of a graph's nodes that replays without validation, with the
// runs the backend replays natively.
class GraphExec final : public Object {
 public:
  GraphExec(Ref<Device> device, std::vector<GraphNode> nodes);
  // Destroys the native graphs; no replay is in flight once the last reference is gone.
  ~GraphExec() override;

  // Finds the runs a native graph may cover (none when the backend has no native graphs).
  void PlanNativeRuns();
  // Builds the native graph of every run that has none; a run the backend declines
  // (PORTA_ERROR_UNSUPPORTED) replays node by node from then on. Caller holds |mutex|.
  porta_status_t BuildNative(const char* function);
  // The run containing node |index|, or nullptr. Caller holds |mutex|.
  NativeRun* RunOf(uint32_t index);
  // Takes the native graph out of |run| (it is rebuilt before the next replay) and destroys it
  // once every replay queued so far has completed. Caller holds |mutex|.
  void RetireNative(NativeRun* run);
  // Nodes that replay through native graphs. Caller holds |mutex|.
  uint32_t NativeNodeCount() const;

  // Notes a replay queued on |stream| as its work number |sequence|. Caller holds |mutex|.
  void NoteReplay(const Stream& stream, uint64_t sequence);
  // Keeps |buffer|, which an argument update took out of a node, alive until every replay queued
  // so far has completed (a replay in flight still reads it). Caller holds |mutex|.
  void Retire(Ref<Buffer> buffer);

  const Ref<Device> device;
  // Serializes replays with argument updates.
  std::mutex mutex;
  std::vector<GraphNode> nodes;
  // In node order, disjoint.
  std::vector<NativeRun> runs;

 private:
  struct Replay {
    std::shared_ptr<StreamProgress> progress;
    uint64_t sequence;
  };
  // True when the runtime has seen every one of |replays| complete.
  static bool Completed(const std::vector<Replay>& replays);
  // Forgets replays seen complete, and retired objects no replay needs any more.
  void Prune();

  // A buffer or native graph taken out of the instance while replays that use it may be queued.
  struct Retired {
    Ref<Buffer> buffer;
    porta_be_graph_t native = nullptr;
    std::vector<Replay> until;
  };
  void DestroyRetired(Retired& retired);
  std::vector<Replay> in_flight_;  // the latest replay per stream
  std::vector<Retired> retired_;
};

template <>
struct HandleTraits<Graph> {
  static constexpr HandleType kType = HandleType::kGraph;
};
template <>
struct HandleTraits<GraphExec> {
  static constexpr HandleType kType = HandleType::kGraphExec;
};

//===------------------------------------------------------------------------------------------===//
// Capture bookkeeping for the other API calls
//===------------------------------------------------------------------------------------------===//

// Starts a capture on |stream|. The caller holds stream.mutex and has checked that it is not
// capturing.
void BeginCapture(Stream& stream);

// Ends the capture of |stream| and hands over the graph (with the stream's reference), or returns
// nullptr with |reason| set when the capture was invalidated. The caller holds stream.mutex and
// has checked that it is capturing.
Graph* EndCapture(Stream& stream, std::string* reason);

// Records |node| into the capture of |stream|. The caller holds stream.mutex and has checked that
// stream.capture is set.
porta_status_t CaptureNode(const char* function, Stream& stream, GraphNode node);

// Fails a call that has no graph form on a capturing stream: invalidates the capture, naming
// |what|, and returns PORTA_ERROR_INVALID_OPERATION. The caller holds stream.mutex.
porta_status_t RejectInCapture(const char* function, Stream& stream, const char* what);

// Ends the capture of |stream|, if any, without producing a graph. The caller holds stream.mutex.
void DiscardCapture(Stream& stream);

// Fails (and invalidates the capture) when |event| was recorded by a capture that is still open
// and |stream| (may be nullptr: the host) is not the stream capturing it. |what| names the call.
porta_status_t CheckEventOutsideCapture(const char* function, Event& event, const Stream* stream,
                                        const char* what);

// Fails (and invalidates those captures) when an open capture uses |buffer|.
porta_status_t CheckBufferNotCaptured(const char* function, const Buffer* buffer);

}  // namespace porta::hal

#endif  // PORTA_HAL_GRAPH_H_
