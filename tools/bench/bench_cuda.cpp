#include "tools/bench/bench_cuda.h"

#include <cuda.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/dynamic_library.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {
namespace {

// An empty kernel in PTX, so the benchmark needs no compiler: everything a launch of it costs
// is overhead. sm_50 PTX is JIT-compiled for whatever GPU runs it.
constexpr char kEmptyPtx[] =
    ".version 7.0\n"
    ".target sm_50\n"
    ".address_size 64\n"
    ".visible .entry porta_bench_empty()\n"
    "{\n"
    "  ret;\n"
    "}\n";

// The raw driver calls of the baseline, resolved from libcuda.so.1 as the backend does (the
// versioned exports that cuda.h maps the plain names to).
struct RawCuda {
  std::unique_ptr<porta::common::DynamicLibrary> library;
#define PORTA_RAW_CUDA_LIST(X)    \
  X(cuInit)                       \
  X(cuGetErrorName)               \
  X(cuDeviceGet)                  \
  X(cuDevicePrimaryCtxRetain)     \
  X(cuDevicePrimaryCtxRelease_v2) \
  X(cuCtxSetCurrent)              \
  X(cuModuleLoadData)             \
  X(cuModuleUnload)               \
  X(cuModuleGetFunction)          \
  X(cuStreamCreate)               \
  X(cuStreamDestroy_v2)           \
  X(cuStreamSynchronize)          \
  X(cuLaunchKernel)               \
  X(cuMemAlloc_v2)                \
  X(cuMemFree_v2)                 \
  X(cuMemcpyHtoDAsync_v2)         \
  X(cuMemcpyDtoHAsync_v2)         \
  X(cuMemcpyDtoDAsync_v2)
#define PORTA_RAW_CUDA_MEMBER(name) decltype(&::name) name = nullptr;
  PORTA_RAW_CUDA_LIST(PORTA_RAW_CUDA_MEMBER)
#undef PORTA_RAW_CUDA_MEMBER

  bool Load(std::string* error) {
    library = porta::common::DynamicLibrary::Open({"libcuda.so.1", "libcuda.so"}, error);
    if (library == nullptr) return false;
    std::string missing;
#define PORTA_RAW_CUDA_LOAD(name) library->Load(&name, #name, &missing);
    PORTA_RAW_CUDA_LIST(PORTA_RAW_CUDA_LOAD)
#undef PORTA_RAW_CUDA_LOAD
    if (!missing.empty()) *error = "libcuda lacks " + missing;
    return missing.empty();
  }
};

void CheckCu(const RawCuda& cu, CUresult result, const char* call) {
  if (result == CUDA_SUCCESS) return;
  const char* name = nullptr;
  if (cu.cuGetErrorName(result, &name) != CUDA_SUCCESS) name = "unknown CUDA error";
  throw Failure(std::string("raw ") + call + " failed: " + name + " (" +
                std::to_string(static_cast<int>(result)) + ")");
}

// Runs |cleanup| on scope exit, however the measurement ends.
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Cleanup() {
    if (fn_) fn_();
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;

 private:
  std::function<void()> fn_;
};

// Launches and copies through Porta should cost at most 1.05x the raw driver API.
constexpr double kRawTarget = 1.0 / 1.05;

void BenchDevice(const RawCuda& cu, porta_device_t device, uint32_t ordinal,
                 const std::string& device_name, const BenchConfig& config, const RowSink& sink) {
  // Porta side.
  PortaObjects objects;
  porta_kernel_t kernel = nullptr;
  const porta_module_source_t source = {PORTA_FORMAT_PTX, kEmptyPtx, sizeof(kEmptyPtx) - 1,
                                        nullptr,          nullptr,   0};
  std::string error;
  if (!CreateStreamAndKernel(device, source, "porta_bench_empty", &objects, &kernel, &error)) {
    throw Failure(error);
  }
  porta_stream_t stream = objects.stream;
  porta_buffer_t* buffers = objects.buffers;
  for (porta_buffer_t& buffer : objects.buffers) {
    Check(porta_buffer_alloc(device, config.copy_bytes, PORTA_MEMORY_DEVICE, &buffer),
          "porta_buffer_alloc");
  }

  // Raw side: the same device's primary context (the one Porta uses), its own stream.
  CUdevice raw_device = 0;
  CUcontext context = nullptr;
  CUmodule raw_module = nullptr;
  CUstream raw_stream = nullptr;
  CUdeviceptr raw_buffers[2] = {0, 0};
  CheckCu(cu, cu.cuDeviceGet(&raw_device, static_cast<int>(ordinal)), "cuDeviceGet");
  CheckCu(cu, cu.cuDevicePrimaryCtxRetain(&context, raw_device), "cuDevicePrimaryCtxRetain");
  Cleanup raw_cleanup([&] {
    cu.cuCtxSetCurrent(context);
    for (CUdeviceptr buffer : raw_buffers) {
      if (buffer != 0) cu.cuMemFree_v2(buffer);
    }
    if (raw_module != nullptr) cu.cuModuleUnload(raw_module);
    if (raw_stream != nullptr) cu.cuStreamDestroy_v2(raw_stream);
    cu.cuDevicePrimaryCtxRelease_v2(raw_device);
  });
  CheckCu(cu, cu.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  CheckCu(cu, cu.cuModuleLoadData(&raw_module, kEmptyPtx), "cuModuleLoadData");
  CUfunction function = nullptr;
  CheckCu(cu, cu.cuModuleGetFunction(&function, raw_module, "porta_bench_empty"),
          "cuModuleGetFunction");
  CheckCu(cu, cu.cuStreamCreate(&raw_stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  for (CUdeviceptr& buffer : raw_buffers) {
    CheckCu(cu, cu.cuMemAlloc_v2(&buffer, config.copy_bytes), "cuMemAlloc");
  }

  porta_launch_config_t launch = PORTA_LAUNCH_CONFIG_INIT;
  auto porta_launch = [&] {
    Check(porta_kernel_launch(stream, kernel, &launch, nullptr, 0), "porta_kernel_launch");
  };
  auto raw_launch = [&] {
    CheckCu(cu, cu.cuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, raw_stream, nullptr, nullptr),
            "cuLaunchKernel");
  };
  auto porta_sync = [&] { Check(porta_stream_synchronize(stream), "porta_stream_synchronize"); };
  auto raw_sync = [&] { CheckCu(cu, cu.cuStreamSynchronize(raw_stream), "cuStreamSynchronize"); };
  // Warm-up: module JIT, first-launch set-up and allocator paths are not what is measured.
  for (int i = 0; i < 100; ++i) {
    porta_launch();
    raw_launch();
  }
  porta_sync();
  raw_sync();

  auto throughput = [&](const std::function<void()>& launch_fn,
                        const std::function<void()>& sync_fn) {
    return MeasureOf(config.repetitions, [&] {
      const double start = NowSeconds();
      for (int i = 0; i < config.launches; ++i) launch_fn();
      sync_fn();
      return (NowSeconds() - start) * 1e6 / config.launches;
    });
  };
  auto latency = [&](const std::function<void()>& launch_fn, const std::function<void()>& sync_fn) {
    return MeasureOf(config.repetitions, [&] {
      const double start = NowSeconds();
      for (int i = 0; i < config.latency_iterations; ++i) {
        launch_fn();
        sync_fn();
      }
      return (NowSeconds() - start) * 1e6 / config.latency_iterations;
    });
  };
  // Each row measures Porta first and then the raw path, so both see the same warm state.
  const char* kThroughput = "launch throughput (empty kernel)";
  if (sink.Start(device_name, kThroughput)) {
    const Measure porta_throughput = throughput(porta_launch, porta_sync);
    sink.row(MakeRow(device_name, kThroughput, "us/launch", porta_throughput, "raw CUDA driver",
                     throughput(raw_launch, raw_sync), kRawTarget));
  }
  const char* kLatency = "launch + synchronize latency";
  if (sink.Start(device_name, kLatency)) {
    const Measure porta_latency = latency(porta_launch, porta_sync);
    sink.row(MakeRow(device_name, kLatency, "us/launch", porta_latency, "raw CUDA driver",
                     latency(raw_launch, raw_sync), kRawTarget));
  }

  // Both sides copy from and to the same pageable host memory, as an application would.
  std::vector<unsigned char> host(config.copy_bytes, 0x5a);
  const double gigabytes = static_cast<double>(config.copy_bytes) * config.copies / 1e9;
  auto bandwidth = [&](const std::function<void()>& copy_fn, const std::function<void()>& sync_fn) {
    copy_fn();
    sync_fn();
    return RateOf(gigabytes, MeasureOf(config.repetitions, [&] {
                    const double start = NowSeconds();
                    for (int i = 0; i < config.copies; ++i) copy_fn();
                    sync_fn();
                    return NowSeconds() - start;
                  }));
  };
  auto copy_row = [&](const char* name, const std::function<void()>& porta_copy,
                      const std::function<void()>& raw_copy) {
    if (!sink.Start(device_name, name)) return;
    const Measure porta_gbps = bandwidth(porta_copy, porta_sync);
    sink.row(MakeRow(device_name, name, "GB/s", porta_gbps, "raw CUDA driver",
                     bandwidth(raw_copy, raw_sync), kRawTarget));
  };
  const uint64_t size = config.copy_bytes;
  copy_row(
      "copy host to device",
      [&] {
        Check(porta_copy_host_to_device(stream, buffers[0], 0, host.data(), size),
              "porta_copy_host_to_device");
      },
      [&] {
        CheckCu(cu, cu.cuMemcpyHtoDAsync_v2(raw_buffers[0], host.data(), size, raw_stream),
                "cuMemcpyHtoDAsync");
      });
  copy_row(
      "copy device to host",
      [&] {
        Check(porta_copy_device_to_host(stream, host.data(), buffers[0], 0, size),
              "porta_copy_device_to_host");
      },
      [&] {
        CheckCu(cu, cu.cuMemcpyDtoHAsync_v2(host.data(), raw_buffers[0], size, raw_stream),
                "cuMemcpyDtoHAsync");
      });
  copy_row(
      "copy device to device",
      [&] {
        Check(porta_copy_device_to_device(stream, buffers[1], 0, buffers[0], 0, size),
              "porta_copy_device_to_device");
      },
      [&] {
        CheckCu(cu, cu.cuMemcpyDtoDAsync_v2(raw_buffers[1], raw_buffers[0], size, raw_stream),
                "cuMemcpyDtoDAsync");
      });
}

}  // namespace

void RunCudaRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  const BenchConfig config = quick ? BenchConfig{3, 1000, 100, uint64_t{1} << 20, 2}
                                   : BenchConfig{7, 20000, 2000, uint64_t{256} << 20, 4};
  const auto devices = DevicesOf(runtime, "cuda");
  if (devices.empty()) {
    // The backend's report says why (no driver, no device); the filter may also exclude them.
    std::string reason = "no CUDA device passed the device filter";
    uint32_t backends = 0;
    porta_runtime_backend_count(runtime, &backends);
    for (uint32_t i = 0; i < backends; ++i) {
      porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
      if (porta_runtime_backend_report(runtime, i, &report) == PORTA_OK &&
          std::strcmp(report.name, "cuda") == 0 && report.device_count == 0) {
        reason = report.reason[0] != '\0' ? report.reason : "the cuda backend found no device";
      }
    }
    sink.note("cuda rows skipped: " + reason);
    return;
  }
  RawCuda cu;
  std::string error;
  if (!cu.Load(&error)) {
    sink.error("cuda: the raw baseline cannot open libcuda: " + error);
    return;
  }
  const CUresult init = cu.cuInit(0);
  if (init != CUDA_SUCCESS) {
    sink.error("cuda: the raw baseline's cuInit failed (" + std::to_string(init) + ")");
    return;
  }
  for (const auto& [device, info] : devices) {
    const std::string label = DeviceLabel(info);
    try {
      BenchDevice(cu, device, info.backend_device_index, label, config, sink);
    } catch (const Failure& failure) {
      sink.error(label + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
