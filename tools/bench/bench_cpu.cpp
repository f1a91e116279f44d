#include "tools/bench/bench_cpu.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "tools/bench/bench_util.h"

namespace porta::bench {
namespace {

// Launch latency and copies through Porta should cost at most 1.05x their raw baseline.
constexpr double kRawTarget = 1.0 / 1.05;

// The kernel whose launch cost is measured: it does nothing, so everything timed is overhead.
int32_t EmptyKernel(const porta_host_group_t* group) {
  return group == nullptr ? 1 : 0;
}

const porta_host_kernel_t kEmptyKernels[] = {{"empty", EmptyKernel}};

// The irreducible cost of running work off-thread: hand a task to a waiting worker through a
// condition variable and wait for its completion notice. A host stream cannot do better than
// this, so it is the honest baseline for launch + synchronize latency.
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

porta_host_group_t OneGroup() {
  porta_host_group_t group;
  std::memset(&group, 0, sizeof(group));
  for (int d = 0; d < 3; ++d) {
    group.group_count[d] = 1;
    group.group_size[d] = 1;
  }
  return group;
}

bool BenchLaunch(const std::string& device_name, porta_stream_t stream, porta_kernel_t kernel,
                 const BenchConfig& config, const RowSink& sink, std::string* error) {
  const char* kThroughput = "launch throughput (empty kernel)";
  const char* kLatency = "launch + synchronize latency";
  const bool want_throughput = sink.Start(device_name, kThroughput);
  const bool want_latency = sink.Start(device_name, kLatency);
  if (!want_throughput && !want_latency) return true;
  porta_launch_config_t launch = PORTA_LAUNCH_CONFIG_INIT;
  // Warm-up: the first launches pay for thread start-up and first-touch allocations.
  for (int i = 0; i < 100; ++i) {
    if (!Check(porta_kernel_launch(stream, kernel, &launch, nullptr, 0), "porta_kernel_launch",
               error)) {
      return false;
    }
  }
  if (!Check(porta_stream_synchronize(stream), "porta_stream_synchronize", error)) return false;

  // A volatile pointer keeps the compiler from inlining or deleting the direct calls.
  porta_host_kernel_fn volatile direct = EmptyKernel;
  const porta_host_group_t group = OneGroup();
  std::vector<double> porta_throughput, raw_throughput, porta_latency, raw_latency;
  HandoffWorker worker;
  for (int rep = 0; rep < config.repetitions; ++rep) {
    double start = NowSeconds();
    for (int i = 0; i < config.launches; ++i) {
      if (!Check(porta_kernel_launch(stream, kernel, &launch, nullptr, 0), "porta_kernel_launch",
                 error)) {
        return false;
      }
    }
    if (!Check(porta_stream_synchronize(stream), "porta_stream_synchronize", error)) return false;
    porta_throughput.push_back((NowSeconds() - start) * 1e6 / config.launches);

    start = NowSeconds();
    for (int i = 0; i < config.launches; ++i) direct(&group);
    raw_throughput.push_back((NowSeconds() - start) * 1e6 / config.launches);

    start = NowSeconds();
    for (int i = 0; i < config.latency_iterations; ++i) {
      if (!Check(porta_kernel_launch(stream, kernel, &launch, nullptr, 0), "porta_kernel_launch",
                 error) ||
          !Check(porta_stream_synchronize(stream), "porta_stream_synchronize", error)) {
        return false;
      }
    }
    porta_latency.push_back((NowSeconds() - start) * 1e6 / config.latency_iterations);

    start = NowSeconds();
    for (int i = 0; i < config.latency_iterations; ++i) worker.Run(direct, &group);
    raw_latency.push_back((NowSeconds() - start) * 1e6 / config.latency_iterations);
  }
  // A direct call has no queue at all, so that row has no target; the handoff is what any host
  // stream must pay, so latency is held to it.
  if (want_throughput) {
    sink.row(MakeRow(device_name, kThroughput, "us/launch", Summarize(porta_throughput),
                     "direct call", Summarize(raw_throughput)));
  }
  if (want_latency) {
    sink.row(MakeRow(device_name, kLatency, "us/launch", Summarize(porta_latency),
                     "thread handoff (condvar)", Summarize(raw_latency), kRawTarget));
  }
  return true;
}

// "64 MiB", "1 MiB", "512 KiB": the copy size as the row's label shows it.
std::string SizeText(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (uint64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

enum class CopyKind { kHostToDevice, kDeviceToHost, kDeviceToDevice };

bool TimePortaCopy(CopyKind kind, porta_stream_t stream, porta_buffer_t a, porta_buffer_t b,
                   std::vector<unsigned char>& host, const BenchConfig& config, double* out_seconds,
                   std::string* error) {
  const double start = NowSeconds();
  for (int i = 0; i < config.copies; ++i) {
    porta_status_t status = PORTA_OK;
    switch (kind) {
      case CopyKind::kHostToDevice:
        status = porta_copy_host_to_device(stream, a, 0, host.data(), config.copy_bytes);
        break;
      case CopyKind::kDeviceToHost:
        status = porta_copy_device_to_host(stream, host.data(), a, 0, config.copy_bytes);
        break;
      case CopyKind::kDeviceToDevice:
        status = porta_copy_device_to_device(stream, b, 0, a, 0, config.copy_bytes);
        break;
    }
    if (!Check(status, "porta_copy_*", error)) return false;
  }
  if (!Check(porta_stream_synchronize(stream), "porta_stream_synchronize", error)) return false;
  *out_seconds = NowSeconds() - start;
  return true;
}

bool BenchCopies(const std::string& device_name, porta_device_t device, porta_stream_t stream,
                 PortaObjects* objects, const BenchConfig& config, const RowSink& sink,
                 std::string* error) {
  for (porta_buffer_t& buffer : objects->buffers) {
    if (!Check(porta_buffer_alloc(device, config.copy_bytes, PORTA_MEMORY_DEVICE, &buffer),
               "porta_buffer_alloc", error)) {
      return false;
    }
  }
  // Both sides of the raw memcpy are touched up front, as the Porta buffers are by the warm-up
  // copies, so neither side pays for page faults in the timed loops.
  std::vector<unsigned char> host(config.copy_bytes, 0x5a);
  std::vector<unsigned char> raw_src(config.copy_bytes, 0x3c);
  std::vector<unsigned char> raw_dst(config.copy_bytes, 0x00);

  struct CopyCase {
    CopyKind kind;
    const char* name;
  };
  const CopyCase cases[] = {{CopyKind::kHostToDevice, "copy host to device"},
                            {CopyKind::kDeviceToHost, "copy device to host"},
                            {CopyKind::kDeviceToDevice, "copy device to device"}};
  const double bytes = static_cast<double>(config.copy_bytes) * config.copies;
  for (const CopyCase& copy : cases) {
    const std::string name = std::string(copy.name) + " (" + SizeText(config.copy_bytes) + ")";
    if (!sink.Start(device_name, name)) continue;
    double seconds = 0.0;
    if (!TimePortaCopy(copy.kind, stream, objects->buffers[0], objects->buffers[1], host, config,
                       &seconds, error)) {
      return false;
    }
    std::vector<double> porta_gbps, raw_gbps;
    for (int rep = 0; rep < config.repetitions; ++rep) {
      if (!TimePortaCopy(copy.kind, stream, objects->buffers[0], objects->buffers[1], host, config,
                         &seconds, error)) {
        return false;
      }
      porta_gbps.push_back(bytes / seconds / 1e9);

      const double start = NowSeconds();
      for (int i = 0; i < config.copies; ++i) {
        std::memcpy(raw_dst.data(), raw_src.data(), config.copy_bytes);
      }
      // Reading one byte back keeps the copies from being optimized away.
      volatile unsigned char sink = raw_dst[config.copy_bytes / 2];
      (void)sink;
      raw_gbps.push_back(bytes / (NowSeconds() - start) / 1e9);
    }
    sink.row(MakeRow(device_name, name, "GB/s", Summarize(porta_gbps), "memcpy",
                     Summarize(raw_gbps), kRawTarget));
  }
  return true;
}

bool BenchDevice(porta_device_t device, const std::string& device_name, const BenchConfig& config,
                 const RowSink& sink, std::string* error) {
  PortaObjects objects;
  const porta_module_source_t source = {PORTA_FORMAT_HOST, kEmptyKernels, sizeof(kEmptyKernels),
                                        nullptr,           nullptr,       0};
  porta_kernel_t kernel = nullptr;
  if (!CreateStreamAndKernel(device, source, "empty", &objects, &kernel, error)) return false;
  return BenchLaunch(device_name, objects.stream, kernel, config, sink, error) &&
         BenchCopies(device_name, device, objects.stream, &objects, config, sink, error);
}

}  // namespace

void RunCpuRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  const BenchConfig config = quick ? BenchConfig{3, 1000, 100, uint64_t{1} << 20, 2}
                                   : BenchConfig{7, 20000, 2000, uint64_t{64} << 20, 4};
  for (const auto& [device, info] : DevicesOf(runtime, "cpu")) {
    const std::string name = DeviceLabel(info);
    std::string error;
    if (!BenchDevice(device, name, config, sink, &error)) sink.error(name + ": " + error);
  }
}

}  // namespace porta::bench
