#include "tools/bench/bench_cuda.h"

#include <cuda.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/dynamic_library.h"
#include "tools/bench/bench_util.h"

namespace {

using porta::bench::Median;
using porta::bench::NowSeconds;

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

struct Config {
  int repetitions;
  int launches;
  int latency_iterations;
  uint64_t copy_bytes;
  int copies;
};

struct Row {
  const char* name;
  const char* unit;
  double porta;
  double raw;
};

class Failure {
 public:
  explicit Failure(std::string text) : text_(std::move(text)) {}
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

void Check(porta_status_t status, const char* call) {
  if (status != PORTA_OK) {
    throw Failure(std::string(call) + " failed: " + porta_status_string(status) + ": " +
                  porta_last_error_message());
  }
}

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

// Median over the repetitions of |fn|, which returns one sample.
double MedianOf(int repetitions, const std::function<double()>& fn) {
  std::vector<double> samples;
  for (int rep = 0; rep < repetitions; ++rep) samples.push_back(fn());
  return Median(samples);
}

std::vector<Row> BenchDevice(const RawCuda& cu, porta_device_t device, uint32_t ordinal,
                             const Config& config) {
  // Porta side.
  porta_stream_t stream = nullptr;
  porta_module_t module = nullptr;
  porta_buffer_t buffers[2] = {nullptr, nullptr};
  Cleanup porta_cleanup([&] {
    for (porta_buffer_t buffer : buffers) {
      if (buffer != nullptr) porta_buffer_free(buffer);
    }
    if (module != nullptr) porta_module_destroy(module);
    if (stream != nullptr) porta_stream_destroy(stream);
  });
  Check(porta_stream_create(device, &stream), "porta_stream_create");
  porta_module_source_t source = {PORTA_FORMAT_PTX, kEmptyPtx, sizeof(kEmptyPtx) - 1,
                                  nullptr,          nullptr,   0};
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = &source;
  desc.source_count = 1;
  Check(porta_module_load(device, &desc, &module), "porta_module_load");
  porta_kernel_t kernel = nullptr;
  Check(porta_module_get_kernel(module, "porta_bench_empty", &kernel), "porta_module_get_kernel");
  for (porta_buffer_t& buffer : buffers) {
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

  std::vector<Row> rows;
  auto throughput = [&](const std::function<void()>& launch_fn,
                        const std::function<void()>& sync_fn) {
    return MedianOf(config.repetitions, [&] {
      const double start = NowSeconds();
      for (int i = 0; i < config.launches; ++i) launch_fn();
      sync_fn();
      return (NowSeconds() - start) * 1e6 / config.launches;
    });
  };
  auto latency = [&](const std::function<void()>& launch_fn, const std::function<void()>& sync_fn) {
    return MedianOf(config.repetitions, [&] {
      const double start = NowSeconds();
      for (int i = 0; i < config.latency_iterations; ++i) {
        launch_fn();
        sync_fn();
      }
      return (NowSeconds() - start) * 1e6 / config.latency_iterations;
    });
  };
  rows.push_back({"launch throughput (empty kernel)", "us/launch",
                  throughput(porta_launch, porta_sync), throughput(raw_launch, raw_sync)});
  rows.push_back({"launch + synchronize latency", "us/launch", latency(porta_launch, porta_sync),
                  latency(raw_launch, raw_sync)});

  // Both sides copy from and to the same pageable host memory, as an application would.
  std::vector<unsigned char> host(config.copy_bytes, 0x5a);
  const double bytes = static_cast<double>(config.copy_bytes) * config.copies;
  auto bandwidth = [&](const std::function<void()>& copy_fn, const std::function<void()>& sync_fn) {
    copy_fn();
    sync_fn();
    return MedianOf(config.repetitions, [&] {
      const double start = NowSeconds();
      for (int i = 0; i < config.copies; ++i) copy_fn();
      sync_fn();
      return bytes / (NowSeconds() - start) / 1e9;
    });
  };
  const uint64_t size = config.copy_bytes;
  rows.push_back(
      {"copy host to device", "GB/s",
       bandwidth(
           [&] {
             Check(porta_copy_host_to_device(stream, buffers[0], 0, host.data(), size),
                   "porta_copy_host_to_device");
           },
           porta_sync),
       bandwidth(
           [&] {
             CheckCu(cu, cu.cuMemcpyHtoDAsync_v2(raw_buffers[0], host.data(), size, raw_stream),
                     "cuMemcpyHtoDAsync");
           },
           raw_sync)});
  rows.push_back(
      {"copy device to host", "GB/s",
       bandwidth(
           [&] {
             Check(porta_copy_device_to_host(stream, host.data(), buffers[0], 0, size),
                   "porta_copy_device_to_host");
           },
           porta_sync),
       bandwidth(
           [&] {
             CheckCu(cu, cu.cuMemcpyDtoHAsync_v2(host.data(), raw_buffers[0], size, raw_stream),
                     "cuMemcpyDtoHAsync");
           },
           raw_sync)});
  rows.push_back(
      {"copy device to device", "GB/s",
       bandwidth(
           [&] {
             Check(porta_copy_device_to_device(stream, buffers[1], 0, buffers[0], 0, size),
                   "porta_copy_device_to_device");
           },
           porta_sync),
       bandwidth(
           [&] {
             CheckCu(cu, cu.cuMemcpyDtoDAsync_v2(raw_buffers[1], raw_buffers[0], size, raw_stream),
                     "cuMemcpyDtoDAsync");
           },
           raw_sync)});
  return rows;
}

}  // namespace

int porta_bench_cuda(porta_runtime_t runtime, std::FILE* out) {
  const bool quick = porta::bench::QuickMode();
  const Config config = quick ? Config{3, 1000, 100, uint64_t{1} << 20, 2}
                              : Config{7, 20000, 2000, uint64_t{256} << 20, 4};
  uint32_t count = 0;
  if (porta_runtime_device_count(runtime, &count) != PORTA_OK) {
    std::fprintf(out, "cuda: porta_runtime_device_count failed: %s\n", porta_last_error_message());
    return 1;
  }
  std::vector<std::pair<porta_device_t, porta_device_info_t>> devices;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    if (porta_runtime_device(runtime, i, &device) != PORTA_OK ||
        porta_device_get_info(device, &info) != PORTA_OK) {
      std::fprintf(out, "cuda: reading device %u failed: %s\n", i, porta_last_error_message());
      return 1;
    }
    if (std::strcmp(info.backend, "cuda") == 0) devices.emplace_back(device, info);
  }
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
    std::fprintf(out, "cuda: rows skipped: %s\n", reason.c_str());
    return 0;
  }

  RawCuda cu;
  std::string error;
  if (!cu.Load(&error)) {
    std::fprintf(out, "cuda: the raw baseline cannot open libcuda: %s\n", error.c_str());
    return 1;
  }
  const CUresult init = cu.cuInit(0);
  if (init != CUDA_SUCCESS) {
    std::fprintf(out, "cuda: the raw baseline's cuInit failed (%d)\n", static_cast<int>(init));
    return 1;
  }
  std::fprintf(out, "%-34s %-32s %12s %12s %-10s %8s\n", "device", "benchmark", "porta", "raw",
               "unit", "ratio");
  int status = 0;
  for (const auto& [device, info] : devices) {
    try {
      for (const Row& row : BenchDevice(cu, device, info.backend_device_index, config)) {
        std::fprintf(out, "%-34.34s %-32s %12.3f %12.3f %-10s %8.3f\n", info.name, row.name,
                     row.porta, row.raw, row.unit, row.raw > 0.0 ? row.porta / row.raw : 0.0);
      }
    } catch (const Failure& failure) {
      std::fprintf(out, "cuda: %s: %s\n", info.name, failure.text().c_str());
      status = 1;
    }
  }
  return status;
}
