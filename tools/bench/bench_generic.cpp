// The generic rows of porta-bench (see bench_generic.h).
#include "tools/bench/bench_generic.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/bench_kernels.h"

namespace porta::bench {
namespace {

// On the cpu device, launch + synchronize and copies through Porta should cost at most 1.05x
// their host baselines (the goal set for the host backend; other devices have none).
constexpr double kCpuTarget = 1.0 / 1.05;

constexpr const char* kNoBaseline = "none";

// How many of each thing one repetition does.
struct GenericConfig {
  int repetitions;
  int launches;      // launches per throughput repetition
  int synchronized;  // launch + synchronize pairs per latency repetition
  int events;        // record + wait pairs per event repetition
  uint64_t bytes;    // bytes per copy or fill
  int copies;        // copies or fills per bandwidth repetition
};

constexpr GenericConfig kQuick = {3, 100, 20, 50, uint64_t{1} << 20, 2};
constexpr GenericConfig kFull = {7, 10000, 1000, 1000, uint64_t{64} << 20, 4};

// The irreducible cost of running work off-thread: hand a task to a waiting worker through a
// condition variable and wait for its completion notice. An asynchronous host queue cannot do
// better than this, so it is the baseline of a host-format kernel's launch + synchronize.
class HandoffWorker {
 public:
  HandoffWorker() : thread_([this] { Loop(); }) {}
  ~HandoffWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  HandoffWorker(const HandoffWorker&) = delete;
  HandoffWorker& operator=(const HandoffWorker&) = delete;

  // Runs |fn|(|group|) on the worker and returns once it has finished.
  void Run(porta_host_kernel_fn fn, const porta_host_group_t* group) {
    std::unique_lock<std::mutex> lock(mutex_);
    fn_ = fn;
    group_ = group;
    pending_ = true;
    wake_.notify_one();
    done_.wait(lock, [this] { return !pending_; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return pending_ || stop_; });
      if (stop_) return;
      fn_(group_);
      pending_ = false;
      done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  porta_host_kernel_fn fn_ = nullptr;
  const porta_host_group_t* group_ = nullptr;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// The one work-group a direct call of a host kernel passes.
porta_host_group_t OneGroup(const porta_launch_config_t& config) {
  porta_host_group_t group;
  std::memset(&group, 0, sizeof(group));
  for (int d = 0; d < 3; ++d) {
    group.group_count[d] = 1;
    group.group_size[d] = config.block[d];
  }
  return group;
}

// "64 MiB", "1 MiB", "512 KiB": a size as the row names show it.
std::string SizeText(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (uint64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Seconds of |count| calls of |call|.
double TimeCalls(int count, const std::function<void()>& call) {
  const double start = NowSeconds();
  for (int i = 0; i < count; ++i) call();
  return NowSeconds() - start;
}

// One device's generic rows.
class DeviceRows {
 public:
  DeviceRows(porta_device_t device, const porta_device_info_t& info, const GenericConfig& config,
             const RowSink& sink)
      : device_(device),
        info_(info),
        name_(DeviceLabel(info)),
        config_(config),
        sink_(sink),
        cpu_(std::strcmp(info.backend, "cpu") == 0) {}

  ~DeviceRows() {
    for (porta_buffer_t buffer : buffers_) {
      if (buffer != nullptr) porta_buffer_free(buffer);
    }
    if (event_ != nullptr) porta_event_destroy(event_);
    if (stream_ != nullptr) porta_stream_destroy(stream_);
  }
  DeviceRows(const DeviceRows&) = delete;
  DeviceRows& operator=(const DeviceRows&) = delete;

  void Run() {
    Check(porta_stream_create(device_, &stream_), "porta_stream_create");
    LaunchRows();
    EventRow();
    TransferRows();
  }

 private:
  void Synchronize() { Check(porta_stream_synchronize(stream_), "porta_stream_synchronize"); }

  void LaunchRows() {
    const porta_kernel_format_t format = EmptyKernel::FormatFor(info_);
    // "launch throughput, empty spirv-shader": the kernel's format in at most 40 characters, the
    // table's width for a name.
    const std::string what =
        format == 0 ? "" : std::string(", empty ") + porta_kernel_format_name(format);
    const std::string throughput_row = "launch throughput" + what;
    const std::string latency_row = "launch + synchronize" + what;
    const bool want_throughput = sink_.Wants(name_, throughput_row);
    const bool want_latency = sink_.Wants(name_, latency_row);
    if (!want_throughput && !want_latency) return;
    if (format == 0) {
      sink_.note(name_ + ": no launch rows: the device accepts none of the formats porta-bench " +
                 "has its empty kernel in (" + EmptyKernelFormats() + ")");
      return;
    }
    const EmptyKernel empty(device_, info_);
    auto launch = [&] {
      Check(porta_kernel_launch(stream_, empty.kernel(), &empty.config(), nullptr, 0),
            "porta_kernel_launch");
    };
    // Warm-up: the first launches pay for compilation, pipelines, threads and first touches.
    TimeCalls(20, launch);
    Synchronize();

    const porta_host_kernel_fn host = empty.host_function();
    const porta_host_group_t group = OneGroup(empty.config());
    // A volatile pointer keeps the compiler from inlining or deleting the direct calls.
    porta_host_kernel_fn volatile direct = host;
    if (want_throughput && sink_.Start(name_, throughput_row)) {
      std::vector<double> porta_us, direct_us;
      for (int rep = 0; rep < config_.repetitions; ++rep) {
        const double start = NowSeconds();
        TimeCalls(config_.launches, launch);
        Synchronize();
        porta_us.push_back((NowSeconds() - start) * 1e6 / config_.launches);
        if (host != nullptr) {
          direct_us.push_back(TimeCalls(config_.launches, [&] { direct(&group); }) * 1e6 /
                              config_.launches);
        }
      }
      sink_.row(MakeRow(name_, throughput_row, "us/launch", Summarize(porta_us),
                        host != nullptr ? "direct call" : kNoBaseline, Summarize(direct_us)));
    }
    if (want_latency && sink_.Start(name_, latency_row)) {
      std::vector<double> porta_us, handoff_us;
      HandoffWorker worker;
      for (int rep = 0; rep < config_.repetitions; ++rep) {
        porta_us.push_back(TimeCalls(config_.synchronized,
                                     [&] {
                                       launch();
                                       Synchronize();
                                     }) *
                           1e6 / config_.synchronized);
        if (host != nullptr) {
          handoff_us.push_back(
              TimeCalls(config_.synchronized, [&] { worker.Run(direct, &group); }) * 1e6 /
              config_.synchronized);
        }
      }
      sink_.row(MakeRow(name_, latency_row, "us/launch", Summarize(porta_us),
                        host != nullptr ? "thread handoff (condvar)" : kNoBaseline,
                        Summarize(handoff_us), cpu_ && host != nullptr ? kCpuTarget : 0.0));
    }
  }

  void EventRow() {
    const std::string row = "event record + wait (idle stream)";
    if (!sink_.Start(name_, row)) return;
    Check(porta_event_create(device_, PORTA_EVENT_DEFAULT, &event_), "porta_event_create");
    auto record_and_wait = [&] {
      Check(porta_event_record(event_, stream_), "porta_event_record");
      Check(porta_event_wait(event_, UINT64_MAX), "porta_event_wait");
    };
    TimeCalls(10, record_and_wait);
    const Measure us = Scale(
        MeasureOf(config_.repetitions, [&] { return TimeCalls(config_.events, record_and_wait); }),
        1e6 / config_.events);
    sink_.row(MakeRow(name_, row, "us", us, kNoBaseline, Measure{}));
  }

  // The bytes of each copy and fill: the configured size, less where the device's largest buffer
  // or a quarter of its memory (two buffers live at once) is smaller, in whole KiB.
  uint64_t TransferBytes() const {
    uint64_t bytes = config_.bytes;
    if (info_.max_allocation_bytes != 0) bytes = std::min(bytes, info_.max_allocation_bytes);
    if (info_.global_memory_bytes != 0) bytes = std::min(bytes, info_.global_memory_bytes / 4);
    return bytes / 1024 * 1024;
  }

  void TransferRows() {
    const uint64_t bytes = TransferBytes();
    const std::string size = " (" + SizeText(bytes) + ")";
    const std::string rows[] = {"copy host to device" + size, "copy device to host" + size,
                                "copy device to device" + size, "fill 4-byte pattern" + size};
    bool any = false;
    for (const std::string& row : rows) any = any || sink_.Wants(name_, row);
    if (!any) return;
    if (bytes == 0) {
      sink_.note(name_ + ": no copy or fill rows: the device's largest buffer is under 1 KiB");
      return;
    }
    if (bytes < config_.bytes) {
      sink_.note(name_ + ": copies and fills move " + SizeText(bytes) + ", not " +
                 SizeText(config_.bytes) + ": the device's memory limits allow no more");
    }
    for (porta_buffer_t& buffer : buffers_) {
      Check(porta_buffer_alloc(device_, bytes, PORTA_MEMORY_DEVICE, &buffer), "porta_buffer_alloc");
    }
    // Both sides of the host baselines are touched up front, as the device buffers are by the
    // warm-up, so neither pays for page faults in the timed loops.
    std::vector<uint32_t> host(bytes / 4, 0x5a5a5a5au);
    std::vector<uint32_t> host_src(bytes / 4, 0x3c3c3c3cu);
    std::vector<uint32_t> host_dst(bytes / 4, 0);
    const uint32_t pattern = 0x01020304u;
    const std::function<void()> porta_calls[] = {
        [&] {
          Check(porta_copy_host_to_device(stream_, buffers_[0], 0, host.data(), bytes),
                "porta_copy_host_to_device");
        },
        [&] {
          Check(porta_copy_device_to_host(stream_, host.data(), buffers_[0], 0, bytes),
                "porta_copy_device_to_host");
        },
        [&] {
          Check(porta_copy_device_to_device(stream_, buffers_[1], 0, buffers_[0], 0, bytes),
                "porta_copy_device_to_device");
        },
        [&] {
          Check(porta_fill_buffer(stream_, buffers_[0], 0, bytes, &pattern, sizeof(pattern)),
                "porta_fill_buffer");
        }};
    const std::function<void()> host_copy = [&] {
      std::memcpy(host_dst.data(), host_src.data(), bytes);
    };
    const std::function<void()> host_fill = [&] {
      std::fill_n(host_dst.data(), host_dst.size(), pattern);
    };
    const double gigabytes = static_cast<double>(bytes) * config_.copies / 1e9;
    for (int i = 0; i < 4; ++i) {
      if (!sink_.Start(name_, rows[i])) continue;
      const bool fill = i == 3;
      auto porta_seconds = [&] {
        const double start = NowSeconds();
        TimeCalls(config_.copies, porta_calls[i]);
        Synchronize();
        return NowSeconds() - start;
      };
      porta_seconds();
      std::vector<double> porta_gbps, host_gbps;
      for (int rep = 0; rep < config_.repetitions; ++rep) {
        porta_gbps.push_back(gigabytes / porta_seconds());
        host_gbps.push_back(gigabytes / TimeCalls(config_.copies, fill ? host_fill : host_copy));
        // Reading one value back keeps the host loops from being optimized away.
        volatile uint32_t keep = host_dst[host_dst.size() / 2];
        (void)keep;
      }
      sink_.row(MakeRow(name_, rows[i], "GB/s", Summarize(porta_gbps),
                        fill ? "host fill (std::fill_n)" : "memcpy", Summarize(host_gbps),
                        cpu_ && !fill ? kCpuTarget : 0.0));
    }
  }

  porta_device_t device_;
  const porta_device_info_t& info_;
  std::string name_;
  GenericConfig config_;
  const RowSink& sink_;
  bool cpu_;
  porta_stream_t stream_ = nullptr;
  porta_event_t event_ = nullptr;
  porta_buffer_t buffers_[2] = {nullptr, nullptr};
};

}  // namespace

void RunGenericRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  for (const auto& [device, info] : DevicesOf(runtime, nullptr)) {
    try {
      DeviceRows rows(device, info, quick ? kQuick : kFull, sink);
      rows.Run();
    } catch (const Failure& failure) {
      sink.error(DeviceLabel(info) + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
