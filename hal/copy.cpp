// Copies as runs: the decomposition of a box, and the queuing of runs on a stream, in a capture,
// through a backend's peer path, or staged through host memory between devices.
#include "hal/copy.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "hal/graph.h"
#include "hal/host_register.h"
#include "hal/slot_guard.h"
#include "hal/stream_ops.h"

namespace porta::hal {
namespace {

// A stream of its own on |device|, for staging; destroyed with the object.
class TemporaryStream {
 public:
  explicit TemporaryStream(Device& device) : device_(device) {}
  ~TemporaryStream() {
    if (be_ != nullptr) PORTA_SLOT_CALL(device_.table(), stream_destroy, be_);
  }
  porta_status_t Create(const char* fn) {
    BackendMessage message;
    porta_status_t status =
        PORTA_SLOT_CALL(device_.table(), stream_create, device_.be(), &be_, message.get());
    status = Created(status, be_, "stream", &message);
    return status == PORTA_OK ? status : BackendFail(status, fn, device_, message);
  }
  porta_be_stream_t be() const { return be_; }

 private:
  Device& device_;
  porta_be_stream_t be_ = nullptr;
};

// Where staging has got to: byte |within| of run |run|.
struct StagingCursor {
  uint64_t run = 0;
  uint64_t within = 0;
};

// Calls |fn|(src_offset, dst_offset, size, staging_offset) for the pieces of the runs from |from|
// that fill up to |capacity| bytes of staging, in order, and returns where they end. Stops at the
// first piece |fn| fails, writing its status to |status|.
template <typename Fn>
StagingCursor StageBatch(const CopyRuns& runs, StagingCursor from, uint64_t capacity,
                         porta_status_t* status, Fn&& fn) {
  *status = PORTA_OK;
  for (uint64_t filled = 0; from.run < runs.count() && filled < capacity;) {
    const CopyRun run = runs.At(from.run);
    const uint64_t n = std::min(run.size - from.within, capacity - filled);
    *status = fn(run.src_offset + from.within, run.dst_offset + from.within, n, filled);
    if (*status != PORTA_OK) break;
    filled += n;
    from.within += n;
    if (from.within == run.size) from = StagingCursor{from.run + 1, 0};
  }
  return from;
}

// Copies between devices through host memory, in batches of runs that fill the staging buffer,
// blocking until done. The stream's earlier work completes first, so stream order holds.
porta_status_t StagedCopy(const char* fn, Stream& stream, Buffer& dst, Buffer& src,
                          const CopyRuns& runs) {
  std::lock_guard<std::mutex> lock(stream.mutex);
  if (stream.capture != nullptr) return RejectInCapture(fn, stream, "a copy between two devices");
  porta_status_t status = SyncLocked(fn, stream);
  if (status != PORTA_OK) return status;
  Device& src_device = *src.device;
  Device& dst_device = *dst.device;
  // Work for the device that is not the stream's goes on a temporary stream of that device.
  TemporaryStream other(&src_device == stream.device.get() ? dst_device : src_device);
  status = other.Create(fn);
  if (status != PORTA_OK) return status;
  porta_be_stream_t src_stream = &src_device == stream.device.get() ? stream.be : other.be();
  porta_be_stream_t dst_stream = &dst_device == stream.device.get() ? stream.be : other.be();

  constexpr uint64_t kChunk = 16ull << 20;
  std::vector<uint8_t> staging(static_cast<size_t>(std::min(runs.bytes(), kChunk)));
  for (StagingCursor at; at.run < runs.count();) {
    BackendMessage message;
    StageBatch(runs, at, staging.size(), &status,
               [&](uint64_t offset, uint64_t, uint64_t n, uint64_t staged) {
                 return PORTA_SLOT_CALL(src_device.table(), copy_device_to_host, src_stream,
                                        staging.data() + staged, src.be, offset, n, message.get());
               });
    if (status == PORTA_OK) {
      status = PORTA_SLOT_CALL(src_device.table(), stream_synchronize, src_stream, message.get());
    }
    if (status != PORTA_OK) return BackendFail(status, fn, src_device, message);
    at = StageBatch(runs, at, staging.size(), &status,
                    [&](uint64_t, uint64_t offset, uint64_t n, uint64_t staged) {
                      return PORTA_SLOT_CALL(dst_device.table(), copy_host_to_device, dst_stream,
                                             dst.be, offset, staging.data() + staged, n,
                                             message.get());
                    });
    if (status == PORTA_OK) {
      status = PORTA_SLOT_CALL(dst_device.table(), stream_synchronize, dst_stream, message.get());
    }
    if (status != PORTA_OK) return BackendFail(status, fn, dst_device, message);
  }
  return PORTA_OK;
}

// Queues |runs| on |stream|, |copy|(run, message) calling the backend for one run; in a capture,
// records one node per run: |like| (kind, buffers, host base pointers) at the run's offsets.
template <typename CopyFn>
porta_status_t QueueRuns(const char* function, Stream& stream, UseList& uses, const CopyRuns& runs,
                         const GraphNode& like, CopyFn&& copy) {
  return EnqueueEach(
      function, stream, uses, runs.count(),
      [&](uint64_t i, porta_be_msg msg) { return copy(runs.At(i), msg); },
      [&] {
        for (uint64_t i = 0; i < runs.count(); ++i) {
          const CopyRun run = runs.At(i);
          GraphNode node(like);
          node.size = run.size;
          if (node.src) {
            node.src_offset = run.src_offset;
          } else {
            node.host_src = static_cast<const uint8_t*>(like.host_src) + run.src_offset;
          }
          if (node.dst) {
            node.dst_offset = run.dst_offset;
          } else {
            node.host_dst = static_cast<uint8_t*>(like.host_dst) + run.dst_offset;
          }
          porta_status_t status = CaptureNode(function, stream, std::move(node));
          if (status != PORTA_OK) return status;
        }
        return PORTA_OK;
      });
}

// The registration of the stream's device that holds the host bytes [host + begin, host + end) of
// a copy, with a reference added to |uses| so that it lives as long as the copy; null when there is
// none and the copy takes the ordinary path.
HostRegistration* AddRegistration(Stream& stream, const uint8_t* host, uint64_t begin, uint64_t end,
                                  UseList& uses) {
  const auto base = reinterpret_cast<uintptr_t>(host);
  Ref<HostRegistration> found = stream.device->host_registry().Find(base + begin, base + end);
  HostRegistration* registration = found.get();
  if (found) uses.Add(std::move(found));
  return registration;
}

}  // namespace

CopyRuns CopyRuns::Linear(uint64_t src_offset, uint64_t dst_offset, uint64_t size) {
  CopyRuns runs;
  runs.size_ = size;
  runs.src_offset_ = src_offset;
  runs.dst_offset_ = dst_offset;
  return runs;
}

CopyRuns CopyRuns::Box(const porta_copy_region_t& region) {
  CopyRuns runs;
  runs.size_ = region.width_bytes;
  runs.rows_ = region.height;
  runs.slices_ = region.depth;
  runs.src_offset_ = region.src_offset;
  runs.src_row_pitch_ = region.src_row_pitch;
  runs.src_slice_pitch_ = region.src_slice_pitch;
  runs.dst_offset_ = region.dst_offset;
  runs.dst_row_pitch_ = region.dst_row_pitch;
  runs.dst_slice_pitch_ = region.dst_slice_pitch;
  // No product below overflows: each is at most the box's extent on a side, which fits 64 bits.
  if (runs.rows_ == 1 || (runs.src_row_pitch_ == runs.size_ && runs.dst_row_pitch_ == runs.size_)) {
    runs.size_ *= runs.rows_;
    runs.rows_ = 1;
    if (runs.slices_ == 1 ||
        (runs.src_slice_pitch_ == runs.size_ && runs.dst_slice_pitch_ == runs.size_)) {
      runs.size_ *= runs.slices_;
      runs.slices_ = 1;
    }
  }
  return runs;
}

CopyRun CopyRuns::At(uint64_t index) const {
  const uint64_t slice = index / rows_;
  const uint64_t row = index % rows_;
  return CopyRun{src_offset_ + slice * src_slice_pitch_ + row * src_row_pitch_,
                 dst_offset_ + slice * dst_slice_pitch_ + row * dst_row_pitch_, size_};
}

bool CopyRuns::FindOverlap(CopyRun* src_run, CopyRun* dst_run) const {
  // Each side's runs are in increasing order and disjoint, so one merge pass meets every pair
  // that could share a byte.
  for (uint64_t s = 0, d = 0; s < count() && d < count();) {
    const CopyRun a = At(s);
    const CopyRun b = At(d);
    if (a.src_offset + size_ <= b.dst_offset) {
      ++s;
    } else if (b.dst_offset + size_ <= a.src_offset) {
      ++d;
    } else {
      *src_run = a;
      *dst_run = b;
      return true;
    }
  }
  return false;
}

porta_status_t CheckOnStreamDevice(const char* function, const char* arg, const Buffer& buffer,
                                   const Stream& stream) {
  if (buffer.device.get() != stream.device.get()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, function,
                "%s belongs to device %s but the stream belongs to device %s", arg,
                buffer.device->label().c_str(), stream.device->label().c_str());
  }
  return PORTA_OK;
}

porta_status_t CheckEitherOnStreamDevice(const char* function, const Buffer& dst, const Buffer& src,
                                         const Stream& stream) {
  const Device* stream_device = stream.device.get();
  if (dst.device.get() != stream_device && src.device.get() != stream_device) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, function,
                "neither dst (device %s) nor src (device %s) belongs to the stream's device %s",
                dst.device->label().c_str(), src.device->label().c_str(),
                stream_device->label().c_str());
  }
  return PORTA_OK;
}

porta_status_t QueueHostToDevice(const char* function, Stream& stream, const Ref<Buffer>& dst,
                                 const uint8_t* src, const CopyRuns& runs) {
  const porta_backend_table_t& t = stream.device->table();
  UseList uses;
  uses.Add(Ref<Buffer>::Share(dst.get()));
  GraphNode like;
  like.kind = PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE;
  like.dst = dst;
  like.host_src = src;
  HostRegistration* registered =
      AddRegistration(stream, src, runs.At(0).src_offset,
                      runs.At(runs.count() - 1).src_offset + runs.run_size(), uses);
  return QueueRuns(function, stream, uses, runs, like, [&](const CopyRun& run, porta_be_msg msg) {
    if (registered != nullptr) {
      return registered->CopyHostToDevice(stream, dst->be, run.dst_offset, src + run.src_offset,
                                          run.size, msg);
    }
    return PORTA_SLOT_CALL(t, copy_host_to_device, stream.be, dst->be, run.dst_offset,
                           src + run.src_offset, run.size, msg);
  });
}

porta_status_t QueueDeviceToHost(const char* function, Stream& stream, uint8_t* dst,
                                 const Ref<Buffer>& src, const CopyRuns& runs) {
  const porta_backend_table_t& t = stream.device->table();
  UseList uses;
  uses.Add(Ref<Buffer>::Share(src.get()));
  GraphNode like;
  like.kind = PORTA_GRAPH_NODE_COPY_DEVICE_TO_HOST;
  like.src = src;
  like.host_dst = dst;
  HostRegistration* registered =
      AddRegistration(stream, dst, runs.At(0).dst_offset,
                      runs.At(runs.count() - 1).dst_offset + runs.run_size(), uses);
  return QueueRuns(function, stream, uses, runs, like, [&](const CopyRun& run, porta_be_msg msg) {
    if (registered != nullptr) {
      return registered->CopyDeviceToHost(stream, dst + run.dst_offset, src->be, run.src_offset,
                                          run.size, msg);
    }
    return PORTA_SLOT_CALL(t, copy_device_to_host, stream.be, dst + run.dst_offset, src->be,
                           run.src_offset, run.size, msg);
  });
}

porta_status_t QueueDeviceToDevice(const char* function, Stream& stream, const Ref<Buffer>& dst,
                                   const Ref<Buffer>& src, const CopyRuns& runs) {
  const porta_backend_table_t& t = stream.device->table();
  UseList uses;
  uses.Add(Ref<Buffer>::Share(dst.get()));
  uses.Add(Ref<Buffer>::Share(src.get()));
  if (dst->device.get() == src->device.get()) {
    GraphNode like;
    like.kind = PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE;
    like.dst = dst;
    like.src = src;
    return QueueRuns(function, stream, uses, runs, like, [&](const CopyRun& run, porta_be_msg msg) {
      return PORTA_SLOT_CALL(t, copy_device_to_device, stream.be, dst->be, run.dst_offset, src->be,
                             run.src_offset, run.size, msg);
    });
  }
  if (dst->device->backend() == src->device->backend() && t.copy_peer != nullptr) {
    porta_status_t status = EnqueueEach(
        function, stream, uses, runs.count(),
        [&](uint64_t i, porta_be_msg msg) {
          const CopyRun run = runs.At(i);
          return PORTA_SLOT_CALL(t, copy_peer, stream.be, dst->be, run.dst_offset, src->be,
                                 run.src_offset, run.size, msg);
        },
        [&] { return RejectInCapture(function, stream, "a copy between two devices"); });
    // A pair without a peer path declines; staging then copies every run, after the ones the
    // peer path queued (it synchronizes the stream first).
    if (status != PORTA_ERROR_UNSUPPORTED) return status;
  }
  return StagedCopy(function, stream, *dst, *src, runs);
}

}  // namespace porta::hal
