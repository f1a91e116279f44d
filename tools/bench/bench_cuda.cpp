#include "tools/bench/bench_cuda.h"

#include <cuda.h>
// cuBLAS's header comes with a full toolkit; without it the bf16 row is skipped with a note.
#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#define PORTA_BENCH_HAS_CUBLAS 1
#else
#define PORTA_BENCH_HAS_CUBLAS 0
#endif

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "porta/porta_ops.h"
#include "porta/sdk/dynamic_library.h"
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
  X(cuMemcpyDtoDAsync_v2)         \
  X(cuCtxSynchronize)
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

#if PORTA_BENCH_HAS_CUBLAS

// cuBLAS, opened at run time for the bf16 matmul baseline only (the cuBLAS the toolkit ships).
struct CuBlas {
  std::unique_ptr<porta::common::DynamicLibrary> library;
  decltype(&::cublasCreate_v2) create = nullptr;
  decltype(&::cublasDestroy_v2) destroy = nullptr;
  // cublasGemmEx's C signature (C++ sees it overloaded, so decltype cannot name it).
  using GemmExFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                      int, int, const void*, const void*, cudaDataType, int,
                                      const void*, cudaDataType, int, const void*, void*,
                                      cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
  GemmExFn gemm = nullptr;
  std::string problem;

  CuBlas() {
    library = porta::common::DynamicLibrary::Open(
        {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}, &problem);
    if (library == nullptr) return;
    std::string missing;
    library->Load(&create, "cublasCreate_v2", &missing);
    library->Load(&destroy, "cublasDestroy_v2", &missing);
    library->Load(&gemm, "cublasGemmEx", &missing);
    if (!missing.empty()) {
      problem = library->name() + " lacks " + missing;
      gemm = nullptr;
    }
  }
  bool ok() const { return gemm != nullptr; }
};

// bf16 bits of |value|, which must be exact in bf16 (the values below are multiples of 1/128 in
// [-1, 1]).
uint16_t Bf16Bits(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return static_cast<uint16_t>(bits >> 16);
}

// Checks |got| (M x N, row-major) against double-precision dot products at the corners and 60
// pseudo-random positions; the bound, 1e-4 of sum |a b|, is far above f32 accumulation error.
void CheckProductSamples(const std::string& who, uint32_t m, uint32_t k, uint32_t n,
                         const std::vector<float>& a, const std::vector<float>& b,
                         const std::vector<float>& got) {
  std::vector<std::pair<uint32_t, uint32_t>> positions = {
      {0, 0}, {0, n - 1}, {m - 1, 0}, {m - 1, n - 1}};
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int s = 0; s < 60; ++s) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    positions.emplace_back(static_cast<uint32_t>(state % m),
                           static_cast<uint32_t>((state >> 32) % n));
  }
  for (const auto& [i, j] : positions) {
    double sum = 0.0, magnitude = 0.0;
    for (uint32_t kk = 0; kk < k; ++kk) {
      const double product = static_cast<double>(a[size_t{i} * k + kk]) * b[size_t{kk} * n + j];
      sum += product;
      magnitude += std::fabs(product);
    }
    const float value = got[size_t{i} * n + j];
    if (!(std::fabs(value - sum) <= 1e-4 * magnitude + 1e-5)) {
      throw Failure(who + " disagrees with the host reference at (" + std::to_string(i) + ", " +
                    std::to_string(j) + "): got " + std::to_string(value) + ", want " +
                    std::to_string(sum));
    }
  }
}

// bf16 matmul (f32 accumulation and output) through the operator library against cuBLAS's
// cublasGemmEx on the same device buffers (found through their native handles), both checked
// against the host first; the goal is 0.7x cuBLAS. The caller has made the primary context
// current.
void BlasRow(const RawCuda& cu, const CuBlas& blas, porta_device_t device,
             const std::string& device_name, bool quick, const RowSink& sink) {
  const uint32_t size = quick ? 256 : 8192;
  const std::string name = "matmul bf16 " + std::to_string(size) + "x" + std::to_string(size) +
                           "x" + std::to_string(size);
  if (!sink.Start(device_name, name)) return;
  if (!blas.ok()) {
    sink.note(device_name + ": " + name + " skipped: no cuBLAS baseline: " + blas.problem);
    return;
  }
  const uint32_t m = size, k = size, n = size;
  std::vector<float> a(size_t{m} * k), b(size_t{k} * n);
  std::vector<uint16_t> a16(a.size()), b16(b.size());
  uint64_t state = 12345;
  auto fill = [&](std::vector<float>& values, std::vector<uint16_t>& bits) {
    for (size_t i = 0; i < values.size(); ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      values[i] = static_cast<float>(static_cast<int>((state >> 33) % 257) - 128) / 128.0f;
      bits[i] = Bf16Bits(values[i]);
    }
  };
  fill(a, a16);
  fill(b, b16);

  porta_ops_context_t context = nullptr;
  Check(porta_ops_context_create(device, nullptr, &context), "porta_ops_context_create");
  PortaObjects objects;  // the stream, and a and b
  porta_buffer_t out[2] = {nullptr, nullptr};
  cublasHandle_t handle = nullptr;
  Cleanup cleanup([&] {
    if (handle != nullptr) blas.destroy(handle);
    for (porta_buffer_t buffer : out) {
      if (buffer != nullptr) porta_buffer_free(buffer);
    }
    porta_ops_context_destroy(context);
  });
  Check(porta_stream_create(device, &objects.stream), "porta_stream_create");
  porta_stream_t stream = objects.stream;
  const uint64_t a_bytes = a16.size() * 2, b_bytes = b16.size() * 2;
  const uint64_t out_bytes = uint64_t{m} * n * sizeof(float);
  Check(porta_buffer_alloc(device, a_bytes, PORTA_MEMORY_DEVICE, &objects.buffers[0]),
        "porta_buffer_alloc");
  Check(porta_buffer_alloc(device, b_bytes, PORTA_MEMORY_DEVICE, &objects.buffers[1]),
        "porta_buffer_alloc");
  for (porta_buffer_t& buffer : out) {
    Check(porta_buffer_alloc(device, out_bytes, PORTA_MEMORY_DEVICE, &buffer),
          "porta_buffer_alloc");
  }
  Check(porta_copy_host_to_device(stream, objects.buffers[0], 0, a16.data(), a_bytes),
        "porta_copy_host_to_device");
  Check(porta_copy_host_to_device(stream, objects.buffers[1], 0, b16.data(), b_bytes),
        "porta_copy_host_to_device");
  Check(porta_stream_synchronize(stream), "porta_stream_synchronize");

  const int64_t a_shape[2] = {m, k}, b_shape[2] = {k, n}, out_shape[2] = {m, n};
  const porta_tensor_t ta =
      porta_tensor_contiguous(objects.buffers[0], 0, PORTA_DTYPE_BF16, 2, a_shape);
  const porta_tensor_t tb =
      porta_tensor_contiguous(objects.buffers[1], 0, PORTA_DTYPE_BF16, 2, b_shape);
  const porta_tensor_t tout = porta_tensor_contiguous(out[0], 0, PORTA_DTYPE_F32, 2, out_shape);
  const porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
  auto porta_call = [&] {
    Check(porta_ops_matmul(context, stream, &desc, &ta, &tb, nullptr, &tout), "porta_ops_matmul");
    Check(porta_stream_synchronize(stream), "porta_stream_synchronize");
  };

  uint64_t handles[3] = {0, 0, 0};
  Check(porta_buffer_native_handle(objects.buffers[0], &handles[0]), "porta_buffer_native_handle");
  Check(porta_buffer_native_handle(objects.buffers[1], &handles[1]), "porta_buffer_native_handle");
  Check(porta_buffer_native_handle(out[1], &handles[2]), "porta_buffer_native_handle");
  if (blas.create(&handle) != CUBLAS_STATUS_SUCCESS) throw Failure("cublasCreate failed");
  const float alpha = 1.0f, beta = 0.0f;
  auto blas_call = [&] {
    // Row-major C = A B is column-major C^T = B^T A^T: the operands swap, nothing transposes.
    const cublasStatus_t status =
        blas.gemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                  static_cast<int>(k), &alpha, reinterpret_cast<const void*>(handles[1]),
                  CUDA_R_16BF, static_cast<int>(n), reinterpret_cast<const void*>(handles[0]),
                  CUDA_R_16BF, static_cast<int>(k), &beta, reinterpret_cast<void*>(handles[2]),
                  CUDA_R_32F, static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (status != CUBLAS_STATUS_SUCCESS) {
      throw Failure("cublasGemmEx failed: status " + std::to_string(static_cast<int>(status)));
    }
    CheckCu(cu, cu.cuCtxSynchronize(), "cuCtxSynchronize");
  };

  // First calls build kernels and pick algorithms; their results are checked.
  porta_call();
  blas_call();
  std::vector<float> result(size_t{m} * n);
  for (int side = 0; side < 2; ++side) {
    Check(porta_copy_device_to_host(stream, result.data(), out[side], 0, out_bytes),
          "porta_copy_device_to_host");
    Check(porta_stream_synchronize(stream), "porta_stream_synchronize");
    CheckProductSamples(side == 0 ? "porta bf16 matmul" : "cuBLAS", m, k, n, a, b, result);
  }
  const int repetitions = quick ? 3 : 10;
  std::vector<double> porta_s, blas_s;
  for (int r = 0; r < repetitions; ++r) {
    double start = NowSeconds();
    porta_call();
    porta_s.push_back(NowSeconds() - start);
    start = NowSeconds();
    blas_call();
    blas_s.push_back(NowSeconds() - start);
  }
  const double gflop = 2.0 * m * n * k / 1e9;
  sink.row(MakeRow(device_name, name, "GFLOP/s", RateOf(gflop, Summarize(porta_s)),
                   "cuBLAS cublasGemmEx", RateOf(gflop, Summarize(blas_s)), 0.7));
}

#else

struct CuBlas {};

void BlasRow(const RawCuda&, const CuBlas&, porta_device_t, const std::string& device_name, bool,
             const RowSink& sink) {
  sink.note(device_name +
            ": the bf16 matmul row is skipped: porta-bench was built without "
            "cublas_v2.h");
}

#endif  // PORTA_BENCH_HAS_CUBLAS

void BenchDevice(const RawCuda& cu, const CuBlas& blas, porta_device_t device, uint32_t ordinal,
                 const std::string& device_name, const BenchConfig& config, bool quick,
                 const RowSink& sink) {
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
  BlasRow(cu, blas, device, device_name, quick, sink);
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
  const CuBlas blas;
  for (const auto& [device, info] : devices) {
    const std::string label = DeviceLabel(info);
    try {
      BenchDevice(cu, blas, device, info.backend_device_index, label, config, quick, sink);
    } catch (const Failure& failure) {
      sink.error(label + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
