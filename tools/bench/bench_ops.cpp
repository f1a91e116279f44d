// The operator-library rows of porta-bench (see bench_ops.h). Each row runs its operation once
// untimed (the first call builds the kernels), checks that result against a host computation in
// double precision (and against the baseline's result where there is one), then reports the
// median of host-clock times around a stream synchronize. Baselines: OpenBLAS on the CPU device,
// CLBlast on OpenCL devices (both opened with dlopen, so porta-bench runs without them), a
// device-to-device copy of the same bytes for the memory-bound rows, and the same computation
// composed from three library calls for the fused attention.
#include "tools/bench/bench_ops.h"

#if defined(PORTA_BENCH_HAS_CLBLAST)
#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <clblast_c.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "porta/porta_ops.h"
#include "porta/sdk/dynamic_library.h"

namespace porta::bench {
namespace {

using porta::common::DynamicLibrary;

constexpr char kNoBaseline[] = "none (no baseline)";

// A result that disagrees with its reference. Unlike a failing Porta call, which ends the
// device's rows (its stream may be unusable), it drops only the row.
class Mismatch : public Failure {
 public:
  using Failure::Failure;
};

// How often a row runs: at least min_reps timed calls, more while they have taken less than
// target_s in all, at most max_reps. Big shapes on the CPU-emulated devices take seconds per
// call and stop at min_reps; small ones repeat until the median is steady.
struct Plan {
  int min_reps;
  int max_reps;
  double target_s;
};

constexpr Plan kFullPlan{3, 15, 1.0};
constexpr Plan kQuickPlan{3, 5, 0.05};

Measure TimeSeconds(const Plan& plan, const std::function<void()>& call) {
  std::vector<double> samples;
  double spent = 0.0;
  while (static_cast<int>(samples.size()) < plan.min_reps ||
         (spent < plan.target_s && static_cast<int>(samples.size()) < plan.max_reps)) {
    const double start = NowSeconds();
    call();
    samples.push_back(NowSeconds() - start);
    spent += samples.back();
  }
  return Summarize(samples);
}

// out (M x N) = a (M x K) times b (K x N): M is the tokens (rows of the activations), N the
// output features (the weight rows of a transposed b, as models store weights), K the summed
// dimension. ggml's test-backend-ops names the same product m = N, n = M, k = K.
struct MatmulShape {
  uint32_t m, k, n;
};

// A product with block-quantized weights: a (M x K) times the weights, stored [N, K] as a GGUF
// file holds them.
struct QuantShape {
  porta_dtype_t dtype;
  MatmulShape shape;
};

// The shapes of one run.
struct Shapes {
  std::vector<MatmulShape> matmul_f32;
  MatmulShape matmul_f16;
  uint32_t softmax_rows, softmax_cols;
  uint32_t norm_rows, norm_cols;
  uint32_t add_elements;
  uint32_t heads, seq, head_dim;
  std::vector<QuantShape> quant;
};

const Shapes& ShapesFor(bool quick) {
  // Square products, a MiniLM FFN up-projection (128 tokens, 384 -> 1536) and a LLaMA-class one
  // (512 tokens, 4096 -> 14336); f16 weights at ggml's benchmark shape (MUL_MAT m=4096 n=512
  // k=14336: 512 tokens through 4096 weight rows of 14336, the FFN down-projection).
  static const Shapes full{
      .matmul_f32 = {{1024, 1024, 1024}, {2048, 2048, 2048}, {128, 384, 1536}, {512, 4096, 14336}},
      .matmul_f16 = {512, 14336, 4096},
      .softmax_rows = 4096,
      .softmax_cols = 1024,
      .norm_rows = 4096,
      .norm_cols = 1024,
      .add_elements = 16u << 20,
      .heads = 12,
      .seq = 512,
      .head_dim = 64,
      // SmolLM2-135M's decode products (M = 1: attention q/o 576x576, k/v 576x192, FFN up 576x1536
      // and down 1536x576, all Q4_1; the tied LM head 576x49152, Q8_0) and a 512-token prefill.
      .quant = {{PORTA_DTYPE_Q4_1, {1, 576, 576}},
                {PORTA_DTYPE_Q4_1, {1, 576, 192}},
                {PORTA_DTYPE_Q4_1, {1, 576, 1536}},
                {PORTA_DTYPE_Q4_1, {1, 1536, 576}},
                {PORTA_DTYPE_Q8_0, {1, 576, 49152}},
                {PORTA_DTYPE_Q4_1, {512, 576, 1536}}}};
  static const Shapes tiny{.matmul_f32 = {{64, 64, 64}},
                           .matmul_f16 = {64, 64, 64},
                           .softmax_rows = 64,
                           .softmax_cols = 64,
                           .norm_rows = 64,
                           .norm_cols = 64,
                           .add_elements = 4096,
                           .heads = 2,
                           .seq = 32,
                           .head_dim = 16,
                           .quant = {{PORTA_DTYPE_Q4_1, {1, 64, 96}},
                                     {PORTA_DTYPE_Q8_0, {1, 64, 64}},
                                     {PORTA_DTYPE_Q4_0, {33, 64, 96}}}};
  return quick ? tiny : full;
}

// "16M" for 16 << 20, else the digits.
std::string CountText(uint32_t count) {
  return count % (1u << 20) == 0 ? std::to_string(count >> 20) + "M" : std::to_string(count);
}

// "M512 N4096 K14336": the row names say which dimension is which (see MatmulShape).
std::string MatmulShapeText(const MatmulShape& s) {
  return "M" + std::to_string(s.m) + " N" + std::to_string(s.n) + " K" + std::to_string(s.k);
}

// Deterministic inputs (xorshift64), so that every device and baseline sees the same data.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull | 1u) {}

  uint32_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<uint32_t>(state_ >> 32);
  }

  float Uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(Next() >> 8) * (1.0f / 16777216.0f);
  }

  // A multiple of 1/1024 in [-1, 1]: exact in f16, so an f16 copy holds the same values.
  float F16Exact() { return static_cast<float>(static_cast<int>(Next() % 2049) - 1024) / 1024.0f; }

 private:
  uint64_t state_;
};

std::vector<float> UniformVector(size_t count, uint64_t seed, float lo, float hi) {
  Random random(seed);
  std::vector<float> values(count);
  for (float& value : values) value = random.Uniform(lo, hi);
  return values;
}

// The f16 bits of |value|, a multiple of 1/1024 in [-1, 1] (a normal f16 with at most 11
// significant bits, so no rounding is involved).
uint16_t HalfBits(float value) {
  if (value == 0.0f) return 0;
  const uint16_t sign = value < 0.0f ? 0x8000u : 0u;
  int exponent = 0;
  const float fraction = std::frexp(std::fabs(value), &exponent);  // in [0.5, 1)
  const auto mantissa = static_cast<uint16_t>((fraction * 2.0f - 1.0f) * 1024.0f);
  return static_cast<uint16_t>(sign | ((exponent - 1 + 15) << 10) | mantissa);
}

// Throws Mismatch naming the first element of |got| farther than atol + rtol * |want| from
// |want|, and how many are.
void CompareArrays(const std::string& what, const float* got, const float* want, size_t count,
                   double atol, double rtol) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < count; ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(diff <= atol + rtol * std::fabs(static_cast<double>(want[i])))) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad == 0) return;
  throw Mismatch(what + ": " + std::to_string(bad) + " of " + std::to_string(count) +
                 " elements out of tolerance, first at index " + std::to_string(first) + ": got " +
                 std::to_string(got[first]) + ", want " + std::to_string(want[first]));
}

void CompareArrays(const std::string& what, const float* got, const std::vector<double>& want,
                   double atol, double rtol) {
  std::vector<float> rounded(want.begin(), want.end());
  CompareArrays(what, got, rounded.data(), want.size(), atol, rtol);
}

// The inputs of a matrix product: a (M x K) and b (K x N), row-major; b also as f16 bits, N x K
// (the layout of model weights), for the f16-weights row.
struct MatmulData {
  MatmulShape shape;
  std::vector<float> a, b;
  std::vector<uint16_t> b16;  // f16 weights: |b| transposed, N x K
};

MatmulData MakeMatmulData(const MatmulShape& shape, bool f16_weights) {
  MatmulData data{shape, {}, {}, {}};
  Random random(uint64_t{shape.m} * 131 + shape.k * 7 + shape.n);
  data.a.resize(size_t{shape.m} * shape.k);
  for (float& value : data.a) value = random.Uniform(-1.0f, 1.0f);
  data.b.resize(size_t{shape.k} * shape.n);
  for (float& value : data.b) value = f16_weights ? random.F16Exact() : random.Uniform(-1.0f, 1.0f);
  if (f16_weights) {
    // Stored as models store weights: N rows of K (the product takes them transposed).
    data.b16.resize(data.b.size());
    for (size_t kk = 0; kk < shape.k; ++kk) {
      for (size_t j = 0; j < shape.n; ++j) {
        data.b16[j * shape.k + kk] = HalfBits(data.b[kk * shape.n + j]);
      }
    }
  }
  return data;
}

// Checks |got| (M x N) against dot products in double precision: every element of a small
// product, else the four corners and pseudo-random positions. The bound, 1e-4 sum |a b|, is far
// above f32 accumulation error in practice (it grows like sqrt(K) eps) and far below what a
// dropped or repeated k-tile changes (about 16 / K of sum |a b| per 16 products).
void CheckMatmulSamples(const std::string& who, const MatmulData& data,
                        const std::vector<float>& got) {
  const uint32_t m = data.shape.m, k = data.shape.k, n = data.shape.n;
  std::vector<std::pair<uint32_t, uint32_t>> positions;
  if (uint64_t{m} * n <= 4096) {
    for (uint32_t i = 0; i < m; ++i) {
      for (uint32_t j = 0; j < n; ++j) positions.emplace_back(i, j);
    }
  } else {
    positions = {{0, 0}, {0, n - 1}, {m - 1, 0}, {m - 1, n - 1}};
    Random random(99);
    for (int s = 0; s < 60; ++s) positions.emplace_back(random.Next() % m, random.Next() % n);
  }
  for (const auto& [i, j] : positions) {
    double sum = 0.0, magnitude = 0.0;
    for (uint32_t kk = 0; kk < k; ++kk) {
      const double product = static_cast<double>(data.a[size_t{i} * k + kk]) *
                             static_cast<double>(data.b[size_t{kk} * n + j]);
      sum += product;
      magnitude += std::fabs(product);
    }
    const float value = got[size_t{i} * n + j];
    if (!(std::fabs(value - sum) <= 1e-4 * magnitude + 1e-5)) {
      throw Mismatch(who + " result disagrees with the host reference at (" + std::to_string(i) +
                     ", " + std::to_string(j) + "): got " + std::to_string(value) + ", want " +
                     std::to_string(sum));
    }
  }
}

// Weights in a block-quantized format: the blocks, and the same values as f32 in |data.b| (K x N,
// as MakeMatmulData lays it out) for the reference, the f32 baselines and the checks. Scales are
// multiples of 1/1024 (exact in f16), Q4_1's min -8 d, the quants random.
struct QuantData {
  MatmulData data;
  std::vector<uint8_t> blocks;
  std::vector<float> weights;  // N x K, the f32 weights as the quantized product reads them
};

QuantData MakeQuantData(const QuantShape& q) {
  const MatmulShape& s = q.shape;
  QuantData out{MakeMatmulData({s.m, s.k, 1}, false), {}, {}};
  out.data.shape = s;
  const size_t block_bytes = porta_dtype_size(q.dtype);
  const size_t blocks = size_t{s.n} * s.k / 32;
  out.blocks.resize(blocks * block_bytes);
  out.weights.resize(size_t{s.n} * s.k);
  Random random(uint64_t{s.n} * 31 + s.k);
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t* block = out.blocks.data() + b * block_bytes;
    const float d = static_cast<float>(1 + random.Next() % 8) / 1024.0f;
    const uint16_t d_bits = HalfBits(d);
    std::memcpy(block, &d_bits, 2);
    float* w = out.weights.data() + b * 32;
    if (q.dtype == PORTA_DTYPE_Q8_0) {
      for (int j = 0; j < 32; ++j) {
        const auto v = static_cast<int8_t>(random.Next() & 255u);
        block[2 + j] = static_cast<uint8_t>(v);
        w[j] = d * v;
      }
      continue;
    }
    const bool with_min = q.dtype == PORTA_DTYPE_Q4_1;
    const float m = with_min ? -8.0f * d : 0.0f;
    if (with_min) {
      const uint16_t m_bits = HalfBits(m);
      std::memcpy(block + 2, &m_bits, 2);
    }
    uint8_t* qs = block + (with_min ? 4 : 2);
    for (int j = 0; j < 16; ++j) {
      qs[j] = static_cast<uint8_t>(random.Next() & 255u);
      const int lo = qs[j] & 15, hi = qs[j] >> 4;
      w[j] = with_min ? d * lo + m : d * (lo - 8);
      w[j + 16] = with_min ? d * hi + m : d * (hi - 8);
    }
  }
  out.data.b.resize(size_t{s.k} * s.n);
  for (size_t n = 0; n < s.n; ++n) {
    for (size_t k = 0; k < s.k; ++k) out.data.b[k * s.n + n] = out.weights[n * s.k + k];
  }
  return out;
}

// cblas_sgemm as libopenblas.so.0 exports it (the LP64 build: 32-bit integers), declared here so
// that building porta-bench needs no BLAS header. The enumerators are CBLAS's values.
using CblasSgemmFn = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                              const float* a, int lda, const float* b, int ldb, float beta,
                              float* c, int ldc);
constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;

struct OpenBlas {
  std::unique_ptr<DynamicLibrary> library;
  CblasSgemmFn sgemm = nullptr;
  std::string problem;

  OpenBlas() {
    library = DynamicLibrary::Open({"libopenblas.so.0", "libopenblas.so"}, &problem);
    if (library != nullptr && !library->Load(&sgemm, "cblas_sgemm", nullptr)) {
      problem = library->name() + " lacks cblas_sgemm";
    }
  }
  bool ok() const { return sgemm != nullptr; }
};

#if defined(PORTA_BENCH_HAS_CLBLAST)

// The raw OpenCL calls and CLBlastSgemm, opened at run time.
struct ClBlastApi {
  std::unique_ptr<DynamicLibrary> opencl;
  std::unique_ptr<DynamicLibrary> clblast;
  decltype(&::CLBlastSgemm) sgemm = nullptr;
#define PORTA_OPS_CL(name) decltype(&::name) name = nullptr;
  // clang-format off
#define PORTA_OPS_CL_LIST                                                                        \
  PORTA_OPS_CL(clGetPlatformIDs) PORTA_OPS_CL(clGetDeviceIDs) PORTA_OPS_CL(clGetDeviceInfo)      \
  PORTA_OPS_CL(clCreateContext) PORTA_OPS_CL(clReleaseContext)                                   \
  PORTA_OPS_CL(clCreateCommandQueue) PORTA_OPS_CL(clReleaseCommandQueue)                         \
  PORTA_OPS_CL(clCreateBuffer) PORTA_OPS_CL(clReleaseMemObject)                                  \
  PORTA_OPS_CL(clEnqueueWriteBuffer) PORTA_OPS_CL(clEnqueueReadBuffer) PORTA_OPS_CL(clFinish)    \
  PORTA_OPS_CL(clReleaseEvent)
  // clang-format on
  PORTA_OPS_CL_LIST
#undef PORTA_OPS_CL
  std::string problem;

  ClBlastApi() {
    clblast = DynamicLibrary::Open({"libclblast.so.1", "libclblast.so"}, &problem);
    if (clblast == nullptr) return;
    if (!clblast->Load(&sgemm, "CLBlastSgemm", nullptr)) {
      problem = clblast->name() + " lacks CLBlastSgemm";
      return;
    }
    opencl = DynamicLibrary::Open({"libOpenCL.so.1", "libOpenCL.so"}, &problem);
    if (opencl == nullptr) {
      sgemm = nullptr;
      return;
    }
    std::string missing;
#define PORTA_OPS_CL(name) opencl->Load(&name, #name, &missing);
    PORTA_OPS_CL_LIST
#undef PORTA_OPS_CL
    if (!missing.empty()) {
      problem = opencl->name() + " lacks " + missing;
      sgemm = nullptr;
    }
  }
  bool ok() const {
    return sgemm != nullptr;
  }
};

void CheckCl(cl_int status, const char* call) {
  if (status != CL_SUCCESS) {
    throw Failure(std::string(call) + " failed: OpenCL error " + std::to_string(status));
  }
}

// CLBlast on a context and queue of its own, on the OpenCL device Porta names |name|.
class ClBlastDevice {
 public:
  // |same_name_index| picks among devices of the same name, counted over every platform in
  // order, as Porta counts its OpenCL devices.
  ClBlastDevice(const ClBlastApi& api, const char* name, int same_name_index) : api_(api) {
    cl_uint platform_count = 0;
    CheckCl(api_.clGetPlatformIDs(0, nullptr, &platform_count), "clGetPlatformIDs");
    std::vector<cl_platform_id> platforms(platform_count);
    CheckCl(api_.clGetPlatformIDs(platform_count, platforms.data(), nullptr), "clGetPlatformIDs");
    int seen = 0;
    for (cl_platform_id platform : platforms) {
      cl_uint count = 0;
      if (api_.clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, nullptr, &count) != CL_SUCCESS) {
        continue;
      }
      std::vector<cl_device_id> devices(count);
      CheckCl(api_.clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count, devices.data(), nullptr),
              "clGetDeviceIDs");
      for (cl_device_id candidate : devices) {
        char candidate_name[PORTA_NAME_SIZE] = "";
        api_.clGetDeviceInfo(candidate, CL_DEVICE_NAME, sizeof(candidate_name), candidate_name,
                             nullptr);
        if (std::strcmp(candidate_name, name) == 0 && seen++ == same_name_index) {
          device_ = candidate;
        }
      }
    }
    if (device_ == nullptr) {
      throw Failure(std::string("no OpenCL device named '") + name + "' for the CLBlast baseline");
    }
    cl_int status = CL_SUCCESS;
    context_ = api_.clCreateContext(nullptr, 1, &device_, nullptr, nullptr, &status);
    CheckCl(status, "clCreateContext");
    queue_ = api_.clCreateCommandQueue(context_, device_, 0, &status);
    CheckCl(status, "clCreateCommandQueue");
  }

  ~ClBlastDevice() {
    if (queue_ != nullptr) api_.clReleaseCommandQueue(queue_);
    if (context_ != nullptr) api_.clReleaseContext(context_);
  }
  ClBlastDevice(const ClBlastDevice&) = delete;
  ClBlastDevice& operator=(const ClBlastDevice&) = delete;

  // c = a b on the device: one untimed call (CLBlast compiles its kernels then), whose result is
  // read back into |result|, then the median seconds of CLBlastSgemm + clFinish.
  Measure Sgemm(const Plan& plan, const MatmulData& data, std::vector<float>* result) {
    const MatmulShape& s = data.shape;
    Mem a(*this, data.a.size() * sizeof(float));
    Mem b(*this, data.b.size() * sizeof(float));
    Mem c(*this, size_t{s.m} * s.n * sizeof(float));
    CheckCl(api_.clEnqueueWriteBuffer(queue_, a.mem, CL_TRUE, 0, a.bytes, data.a.data(), 0, nullptr,
                                      nullptr),
            "clEnqueueWriteBuffer");
    CheckCl(api_.clEnqueueWriteBuffer(queue_, b.mem, CL_TRUE, 0, b.bytes, data.b.data(), 0, nullptr,
                                      nullptr),
            "clEnqueueWriteBuffer");
    auto call = [&] {
      cl_event event = nullptr;
      const CLBlastStatusCode status =
          api_.sgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, s.m, s.n, s.k,
                     1.0f, a.mem, 0, s.k, b.mem, 0, s.n, 0.0f, c.mem, 0, s.n, &queue_, &event);
      if (status != CLBlastSuccess) {
        throw Failure("CLBlastSgemm failed: CLBlast status " + std::to_string(status));
      }
      CheckCl(api_.clFinish(queue_), "clFinish");
      if (event != nullptr) api_.clReleaseEvent(event);
    };
    call();
    result->resize(size_t{s.m} * s.n);
    CheckCl(api_.clEnqueueReadBuffer(queue_, c.mem, CL_TRUE, 0, c.bytes, result->data(), 0, nullptr,
                                     nullptr),
            "clEnqueueReadBuffer");
    return TimeSeconds(plan, call);
  }

 private:
  struct Mem {
    Mem(const ClBlastDevice& owner, size_t size) : api(owner.api_), bytes(size) {
      cl_int status = CL_SUCCESS;
      mem = api.clCreateBuffer(owner.context_, CL_MEM_READ_WRITE, bytes, nullptr, &status);
      CheckCl(status, "clCreateBuffer");
    }
    ~Mem() {
      if (mem != nullptr) api.clReleaseMemObject(mem);
    }
    Mem(const Mem&) = delete;
    Mem& operator=(const Mem&) = delete;
    const ClBlastApi& api;
    size_t bytes;
    cl_mem mem = nullptr;
  };

  const ClBlastApi& api_;
  cl_device_id device_ = nullptr;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
};

#endif  // PORTA_BENCH_HAS_CLBLAST

// The baseline libraries, opened the first time a device needs them and kept for the run.
class BaselineLibraries {
 public:
  explicit BaselineLibraries(const RowSink& sink) : sink_(sink) {}

  const OpenBlas& openblas() {
    if (openblas_ == nullptr) {
      openblas_ = std::make_unique<OpenBlas>();
      if (!openblas_->ok()) {
        sink_.note("the OpenBLAS baseline is missing: " + openblas_->problem);
      }
    }
    return *openblas_;
  }

#if defined(PORTA_BENCH_HAS_CLBLAST)
  const ClBlastApi& clblast() {
    if (clblast_ == nullptr) {
      clblast_ = std::make_unique<ClBlastApi>();
      if (!clblast_->ok()) sink_.note("the CLBlast baseline is missing: " + clblast_->problem);
    }
    return *clblast_;
  }
#endif

 private:
  const RowSink& sink_;
  std::unique_ptr<OpenBlas> openblas_;
#if defined(PORTA_BENCH_HAS_CLBLAST)
  std::unique_ptr<ClBlastApi> clblast_;
#endif
};

// A device buffer, freed however the row ends (queued work keeps it alive as long as it needs).
class DeviceBuffer {
 public:
  DeviceBuffer(porta_device_t device, uint64_t bytes) {
    Check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffer_), "porta_buffer_alloc");
  }
  ~DeviceBuffer() {
    if (buffer_ != nullptr) porta_buffer_free(buffer_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  porta_buffer_t get() const { return buffer_; }

 private:
  porta_buffer_t buffer_ = nullptr;
};

porta_tensor_t Tensor(const DeviceBuffer& buffer, porta_dtype_t dtype,
                      std::initializer_list<int64_t> shape) {
  const std::vector<int64_t> dims(shape);
  return porta_tensor_contiguous(buffer.get(), 0, dtype, static_cast<uint32_t>(dims.size()),
                                 dims.data());
}

// The operator rows of one device.
class DeviceOps {
 public:
  DeviceOps(porta_device_t device, const porta_device_info_t& info, std::string name,
            int same_name_index, bool quick, const RowSink& sink, BaselineLibraries& libraries)
      : device_(device),
        info_(info),
        name_(std::move(name)),
        same_name_index_(same_name_index),
        quick_(quick),
        plan_(quick ? kQuickPlan : kFullPlan),
        sink_(sink),
        libraries_(libraries) {
    Check(porta_ops_context_create(device, nullptr, &context_), "porta_ops_context_create");
    const porta_status_t status = porta_stream_create(device, &stream_);
    if (status != PORTA_OK) {
      const std::string text = FailureText(status, "porta_stream_create");
      porta_ops_context_destroy(context_);
      throw Failure(text);
    }
  }

  ~DeviceOps() {
    if (stream_ != nullptr) porta_stream_destroy(stream_);
    if (context_ != nullptr) porta_ops_context_destroy(context_);
  }
  DeviceOps(const DeviceOps&) = delete;
  DeviceOps& operator=(const DeviceOps&) = delete;

  // Returns false when a row disagreed with its reference or a baseline failed (both reported);
  // throws Failure when a Porta call failed.
  bool Run() {
    const porta_dtype_t f32_matmul[] = {PORTA_DTYPE_F32, PORTA_DTYPE_F32, PORTA_DTYPE_F32};
    if (!Supported(PORTA_OP_MATMUL, f32_matmul, 3, "every operator row")) return true;
    PrepareMatmulBaseline();
    const Shapes& shapes = ShapesFor(quick_);
    for (const MatmulShape& shape : shapes.matmul_f32) {
      const std::string label = "matmul f32 " + MatmulShapeText(shape);
      if (!Wanted(label) || !Reachable(shape, sizeof(float), label)) continue;
      Row(label, [&](const std::string& row) { MatmulRow(row, shape, false); });
    }
    const std::string f16_label = "matmul f16 weights^T " + MatmulShapeText(shapes.matmul_f16);
    const porta_dtype_t f16_matmul[] = {PORTA_DTYPE_F32, PORTA_DTYPE_F16, PORTA_DTYPE_F32};
    if (Wanted(f16_label) && Supported(PORTA_OP_MATMUL, f16_matmul, 3, f16_label) &&
        Reachable(shapes.matmul_f16, 2, f16_label)) {
      Row(f16_label, [&](const std::string& label) { MatmulRow(label, shapes.matmul_f16, true); });
    }
    Row("softmax f32 " + Dims(shapes.softmax_rows, shapes.softmax_cols),
        [&](const std::string& label) {
          SoftmaxRow(label, shapes.softmax_rows, shapes.softmax_cols);
        });
    Row("layernorm f32 " + Dims(shapes.norm_rows, shapes.norm_cols),
        [&](const std::string& label) { LayernormRow(label, shapes.norm_rows, shapes.norm_cols); });
    Row("add f32 2x" + CountText(shapes.add_elements),
        [&](const std::string& label) { AddRow(label, shapes.add_elements); });
    Row("attention causal 1x" + std::to_string(shapes.heads) + "x" + std::to_string(shapes.seq) +
            "x" + std::to_string(shapes.head_dim),
        [&](const std::string& label) {
          AttentionRow(label, shapes.heads, shapes.seq, shapes.head_dim);
        });
    for (const QuantShape& q : shapes.quant) {
      const std::string label =
          std::string("matmul ") + porta_dtype_name(q.dtype) + " " + MatmulShapeText(q.shape);
      const porta_dtype_t dtypes[] = {PORTA_DTYPE_F32, q.dtype, PORTA_DTYPE_F32};
      if (!Wanted(label) || !Supported(PORTA_OP_MATMUL, dtypes, 3, label) ||
          !Reachable(q.shape, 4, label)) {
        continue;
      }
      Row(label, [&](const std::string& row) { QuantRow(row, q); });
    }
    return ok_;
  }

 private:
  static std::string Dims(uint32_t rows, uint32_t cols) {
    return std::to_string(rows) + "x" + std::to_string(cols);
  }

  // Reports a problem that fails the run without ending the device's rows.
  void Error(const std::string& text) {
    ok_ = false;
    sink_.error(name_ + ": " + text);
  }

  // porta-bench --filter: whether the row is to be measured (also reported as in progress).
  bool Wanted(const std::string& label) const { return sink_.Start(name_, label); }

  // Runs one row; a mismatch is reported and drops the row, a failed call ends the device.
  void Row(const std::string& label, const std::function<void(const std::string&)>& body) {
    if (!Wanted(label)) return;
    try {
      body(label);
    } catch (const Mismatch& mismatch) {
      Error(label + ": " + mismatch.text());
    } catch (const Failure& failure) {
      throw Failure(label + ": " + failure.text());
    }
  }

  // False (with a note) when a matmul operand is larger than a kernel on the device can reach
  // through one buffer argument (lavapipe: 128 MiB); the library would refuse it.
  bool Reachable(const MatmulShape& shape, uint64_t b_element, const std::string& what) {
    const uint64_t largest = std::max({uint64_t{shape.m} * shape.k * sizeof(float),
                                       uint64_t{shape.k} * shape.n * b_element,
                                       uint64_t{shape.m} * shape.n * sizeof(float)});
    if (largest <= info_.max_kernel_buffer_range_bytes) return true;
    sink_.note(name_ + ": " + what + " skipped: an operand spans " + std::to_string(largest) +
               " bytes; kernels on this device reach " +
               std::to_string(info_.max_kernel_buffer_range_bytes) +
               " bytes through one buffer argument (max_kernel_buffer_range_bytes)");
    return false;
  }

  // False (with a note) when the device cannot run |op| with |dtypes|.
  bool Supported(porta_op_t op, const porta_dtype_t* dtypes, uint32_t count,
                 const std::string& what) {
    const porta_status_t status = porta_ops_supported(context_, op, dtypes, count);
    if (status == PORTA_ERROR_UNSUPPORTED) {
      sink_.note(name_ + ": " + what + " skipped: " + porta_last_error_message());
      return false;
    }
    Check(status, "porta_ops_supported");
    return true;
  }

  void Synchronize() { Check(porta_stream_synchronize(stream_), "porta_stream_synchronize"); }

  // Host copies wait for completion, so the host memory is free to go as soon as they return.
  void Upload(const DeviceBuffer& buffer, const void* data, uint64_t bytes) {
    Check(porta_copy_host_to_device(stream_, buffer.get(), 0, data, bytes),
          "porta_copy_host_to_device");
    Synchronize();
  }

  std::vector<float> Download(const DeviceBuffer& buffer, size_t count) {
    std::vector<float> values(count);
    Check(porta_copy_device_to_host(stream_, values.data(), buffer.get(), 0, count * sizeof(float)),
          "porta_copy_device_to_host");
    Synchronize();
    return values;
  }

  // Median seconds of |enqueue| followed by a stream synchronize.
  Measure TimeStream(const std::function<void()>& enqueue) {
    return TimeSeconds(plan_, [&] {
      enqueue();
      Synchronize();
    });
  }

  void PrepareMatmulBaseline() {
    const std::string backend = info_.backend;
    if (backend == "cpu") {
      baseline_name_ =
          libraries_.openblas().ok() ? "OpenBLAS cblas_sgemm" : "none: OpenBLAS missing";
    } else if (backend == "opencl") {
#if defined(PORTA_BENCH_HAS_CLBLAST)
      if (!libraries_.clblast().ok()) {
        baseline_name_ = "none: CLBlast missing";
        return;
      }
      try {
        clblast_ =
            std::make_unique<ClBlastDevice>(libraries_.clblast(), info_.name, same_name_index_);
        baseline_name_ = "CLBlast CLBlastSgemm";
      } catch (const Failure& failure) {
        Error("the CLBlast baseline failed: " + failure.text());
        baseline_name_ = "none: CLBlast failed";
      }
#else
      sink_.note(name_ + ": porta-bench was built without clblast_c.h: no CLBlast baseline");
      baseline_name_ = "none: CLBlast not built";
#endif
    } else {
      baseline_name_ = kNoBaseline;
    }
  }

  struct Baseline {
    std::string name;
    Measure seconds;  // median 0: none
  };

  // The baseline's median seconds for the product of |data|, after checking its result against
  // the host reference and against Porta's |porta_result|. A baseline that fails is reported and
  // leaves the row without one.
  Baseline MatmulBaseline([[maybe_unused]] const std::string& label, const MatmulData& data,
                          const std::vector<float>& porta_result) {
    const MatmulShape& s = data.shape;
    Baseline baseline{baseline_name_, {}};
    std::vector<float> result;
    const std::string backend = info_.backend;
    if (backend == "cpu" && libraries_.openblas().ok()) {
      const CblasSgemmFn sgemm = libraries_.openblas().sgemm;
      result.assign(size_t{s.m} * s.n, 0.0f);
      auto call = [&] {
        sgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, static_cast<int>(s.m),
              static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, data.a.data(),
              static_cast<int>(s.k), data.b.data(), static_cast<int>(s.n), 0.0f, result.data(),
              static_cast<int>(s.n));
      };
      call();  // OpenBLAS starts its threads on the first call
      CheckMatmulSamples("the OpenBLAS", data, result);
      baseline.seconds = TimeSeconds(plan_, call);
#if defined(PORTA_BENCH_HAS_CLBLAST)
    } else if (clblast_ != nullptr) {
      try {
        baseline.seconds = clblast_->Sgemm(plan_, data, &result);
      } catch (const Failure& failure) {
        Error(label + ": the CLBlast baseline failed: " + failure.text());
        return {"none: CLBlast failed", {}};
      }
      CheckMatmulSamples("the CLBlast", data, result);
#endif
    } else {
      return baseline;
    }
    // Both results passed the host check; this compares every element, with a bound of twice
    // that check's (two f32 results) taken at the typical sum |a b| of K / 4 for inputs in [-1, 1].
    CompareArrays("porta against the baseline", porta_result.data(), result.data(), result.size(),
                  5e-5 * s.k + 1e-5, 0.0);
    return baseline;
  }

  void MatmulRow(const std::string& label, const MatmulShape& s, bool f16_weights) {
    const MatmulData data = MakeMatmulData(s, f16_weights);
    const porta_dtype_t b_dtype = f16_weights ? PORTA_DTYPE_F16 : PORTA_DTYPE_F32;
    const uint64_t b_bytes = data.b.size() * (f16_weights ? sizeof(uint16_t) : sizeof(float));
    DeviceBuffer a(device_, data.a.size() * sizeof(float));
    DeviceBuffer b(device_, b_bytes);
    DeviceBuffer out(device_, uint64_t{s.m} * s.n * sizeof(float));
    Upload(a, data.a.data(), data.a.size() * sizeof(float));
    Upload(b, f16_weights ? static_cast<const void*>(data.b16.data()) : data.b.data(), b_bytes);
    const porta_tensor_t ta = Tensor(a, PORTA_DTYPE_F32, {s.m, s.k});
    const porta_tensor_t tb =
        f16_weights ? Tensor(b, b_dtype, {s.n, s.k}) : Tensor(b, b_dtype, {s.k, s.n});
    const porta_tensor_t tout = Tensor(out, PORTA_DTYPE_F32, {s.m, s.n});
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    desc.transpose_b = f16_weights ? 1 : 0;
    auto enqueue = [&] {
      Check(porta_ops_matmul(context_, stream_, &desc, &ta, &tb, nullptr, &tout),
            "porta_ops_matmul");
    };
    enqueue();
    Synchronize();
    const std::vector<float> result = Download(out, size_t{s.m} * s.n);
    CheckMatmulSamples("porta", data, result);
    const Measure seconds = TimeStream(enqueue);
    const double gflop = 2.0 * s.m * s.n * s.k / 1e9;
    if (f16_weights) {
      F16Row(label, s, RateOf(gflop, seconds));
      return;
    }
    const Baseline baseline = MatmulBaseline(label, data, result);
    sink_.row(MakeRow(name_, label, "GFLOP/s", RateOf(gflop, seconds), baseline.name,
                      RateOf(gflop, baseline.seconds), MatmulTarget(s)));
  }

  // The f32 matmul goals against the device's sgemm: 0.9x OpenBLAS on the cpu device, 2x
  // CLBlast on PoCL at 1024^3 and 2048^3.
  double MatmulTarget(const MatmulShape& s) const {
    const std::string backend = info_.backend;
    if (backend == "cpu") return 0.9;
    const bool square_big = s.m == s.n && s.n == s.k && (s.m == 1024 || s.m == 2048);
    if (backend == "opencl" && square_big && std::strstr(info_.architecture, "PoCL") != nullptr) {
      return 2.0;
    }
    return 0.0;
  }

  // f16 weights have no library baseline in the run. On lavapipe the goal at ggml's shape (512
  // tokens through 4096 weight rows of 14336: M512 N4096 K14336) is twice what ggml's Vulkan
  // backend reached for it on the development machine, 5.2 GFLOP/s; the row names that figure
  // as recorded.
  void F16Row(const std::string& label, const MatmulShape& s, const Measure& gflops) {
    const bool ggml_shape = s.m == 512 && s.k == 14336 && s.n == 4096;
    if (ggml_shape && std::strncmp(info_.name, "llvmpipe", 8) == 0) {
      sink_.row(
          MakeRow(name_, label, "GFLOP/s", gflops, "ggml Vulkan (recorded)", {5.2, 0.0}, 2.0));
    } else {
      sink_.row(MakeRow(name_, label, "GFLOP/s", gflops, kNoBaseline, {}));
    }
  }

  // A product with quantized weights: GFLOP/s against the same product with the f32 weights
  // through porta's f32 matmul and through the device's sgemm baseline, and for M = 1 the weight
  // bytes read per second against a device copy of as many bytes.
  void QuantRow(const std::string& label, const QuantShape& q) {
    const MatmulShape& s = q.shape;
    const QuantData quant = MakeQuantData(q);
    DeviceBuffer a(device_, quant.data.a.size() * sizeof(float));
    DeviceBuffer wq(device_, quant.blocks.size());
    DeviceBuffer wf(device_, quant.weights.size() * sizeof(float));
    DeviceBuffer out(device_, uint64_t{s.m} * s.n * sizeof(float));
    Upload(a, quant.data.a.data(), quant.data.a.size() * sizeof(float));
    Upload(wq, quant.blocks.data(), quant.blocks.size());
    Upload(wf, quant.weights.data(), quant.weights.size() * sizeof(float));
    const porta_tensor_t ta = Tensor(a, PORTA_DTYPE_F32, {s.m, s.k});
    const porta_tensor_t tq = Tensor(wq, q.dtype, {s.n, s.k});
    const porta_tensor_t tf = Tensor(wf, PORTA_DTYPE_F32, {s.n, s.k});
    const porta_tensor_t tout = Tensor(out, PORTA_DTYPE_F32, {s.m, s.n});
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    desc.transpose_b = 1;
    auto product = [&](const porta_tensor_t* weights) {
      return [this, &desc, &ta, &tout, weights] {
        Check(porta_ops_matmul(context_, stream_, &desc, &ta, weights, nullptr, &tout),
              "porta_ops_matmul");
      };
    };
    const auto quantized = product(&tq);
    const auto f32 = product(&tf);
    f32();
    Synchronize();
    CheckMatmulSamples("porta f32", quant.data, Download(out, size_t{s.m} * s.n));
    const Measure f32_seconds = TimeStream(f32);
    quantized();
    Synchronize();
    const std::vector<float> result = Download(out, size_t{s.m} * s.n);
    CheckMatmulSamples("porta " + std::string(porta_dtype_name(q.dtype)), quant.data, result);
    const Measure seconds = TimeStream(quantized);
    const double gflop = 2.0 * s.m * s.n * s.k / 1e9;
    sink_.row(MakeRow(name_, label, "GFLOP/s", RateOf(gflop, seconds), "porta f32 matmul",
                      RateOf(gflop, f32_seconds)));
    if (baseline_name_ != kNoBaseline && baseline_name_.rfind("none", 0) != 0) {
      const Baseline baseline = MatmulBaseline(label, quant.data, result);
      if (baseline.seconds.median > 0.0) {
        sink_.row(MakeRow(name_, label, "GFLOP/s", RateOf(gflop, seconds), baseline.name + " f32",
                          RateOf(gflop, baseline.seconds)));
      }
    }
    if (s.m == 1) {
      const auto bytes = static_cast<double>(quant.blocks.size());
      sink_.row(MakeRow(name_, label + " weights", "GB/s", RateOf(bytes / 1e9, seconds),
                        "copy d2d, same bytes", CopyGbps(quant.blocks.size())));
    }
  }

  // Effective GB/s of porta_copy_device_to_device moving |traffic| bytes (half read, half
  // written), the same count the memory-bound rows report.
  Measure CopyGbps(uint64_t traffic) {
    const uint64_t size = traffic / 2;
    DeviceBuffer src(device_, size);
    DeviceBuffer dst(device_, size);
    const uint32_t pattern = 0x3f800000u;
    Check(porta_fill_buffer(stream_, src.get(), 0, size, &pattern, sizeof(pattern)),
          "porta_fill_buffer");
    auto enqueue = [&] {
      Check(porta_copy_device_to_device(stream_, dst.get(), 0, src.get(), 0, size),
            "porta_copy_device_to_device");
    };
    enqueue();
    Synchronize();
    return RateOf(2.0 * static_cast<double>(size) / 1e9, TimeStream(enqueue));
  }

  void MemoryRow(const std::string& label, uint64_t traffic, const std::function<void()>& enqueue) {
    const Measure gbps = RateOf(static_cast<double>(traffic) / 1e9, TimeStream(enqueue));
    // On a GPU a memory-bound op should reach 0.8x the device's own copy bandwidth.
    const double target = std::strcmp(info_.backend, "cuda") == 0 ? 0.8 : 0.0;
    sink_.row(
        MakeRow(name_, label, "GB/s", gbps, "copy d2d, same bytes", CopyGbps(traffic), target));
  }

  void SoftmaxRow(const std::string& label, uint32_t rows, uint32_t cols) {
    const size_t count = size_t{rows} * cols;
    const std::vector<float> x = UniformVector(count, 11, -4.0f, 4.0f);
    DeviceBuffer x_buffer(device_, count * sizeof(float));
    DeviceBuffer out(device_, count * sizeof(float));
    Upload(x_buffer, x.data(), count * sizeof(float));
    const porta_tensor_t tx = Tensor(x_buffer, PORTA_DTYPE_F32, {rows, cols});
    const porta_tensor_t tout = Tensor(out, PORTA_DTYPE_F32, {rows, cols});
    const porta_softmax_desc_t desc = PORTA_SOFTMAX_DESC_INIT;
    auto enqueue = [&] {
      Check(porta_ops_softmax(context_, stream_, &desc, &tx, nullptr, &tout), "porta_ops_softmax");
    };
    enqueue();
    Synchronize();
    std::vector<double> want(count);
    for (size_t r = 0; r < rows; ++r) {
      const float* row = x.data() + r * cols;
      const double max = *std::max_element(row, row + cols);
      double sum = 0.0;
      for (size_t c = 0; c < cols; ++c) sum += std::exp(row[c] - max);
      for (size_t c = 0; c < cols; ++c) want[r * cols + c] = std::exp(row[c] - max) / sum;
    }
    CompareArrays("porta against the host reference", Download(out, count).data(), want, 1e-6,
                  1e-4);
    MemoryRow(label, 2 * count * sizeof(float), enqueue);
  }

  void LayernormRow(const std::string& label, uint32_t rows, uint32_t cols) {
    const size_t count = size_t{rows} * cols;
    const float eps = 1e-5f;
    const std::vector<float> x = UniformVector(count, 12, -4.0f, 4.0f);
    const std::vector<float> weight = UniformVector(cols, 13, 0.5f, 1.5f);
    const std::vector<float> bias = UniformVector(cols, 14, -1.0f, 1.0f);
    DeviceBuffer x_buffer(device_, count * sizeof(float));
    DeviceBuffer w_buffer(device_, cols * sizeof(float));
    DeviceBuffer b_buffer(device_, cols * sizeof(float));
    DeviceBuffer out(device_, count * sizeof(float));
    Upload(x_buffer, x.data(), count * sizeof(float));
    Upload(w_buffer, weight.data(), cols * sizeof(float));
    Upload(b_buffer, bias.data(), cols * sizeof(float));
    const porta_tensor_t tx = Tensor(x_buffer, PORTA_DTYPE_F32, {rows, cols});
    const porta_tensor_t tw = Tensor(w_buffer, PORTA_DTYPE_F32, {cols});
    const porta_tensor_t tb = Tensor(b_buffer, PORTA_DTYPE_F32, {cols});
    const porta_tensor_t tout = Tensor(out, PORTA_DTYPE_F32, {rows, cols});
    auto enqueue = [&] {
      Check(porta_ops_layernorm(context_, stream_, &tx, &tw, &tb, eps, &tout),
            "porta_ops_layernorm");
    };
    enqueue();
    Synchronize();
    std::vector<double> want(count);
    for (size_t r = 0; r < rows; ++r) {
      const float* row = x.data() + r * cols;
      double mean = 0.0, var = 0.0;
      for (size_t c = 0; c < cols; ++c) mean += row[c];
      mean /= cols;
      for (size_t c = 0; c < cols; ++c) var += (row[c] - mean) * (row[c] - mean);
      var /= cols;
      const double inv = 1.0 / std::sqrt(var + eps);
      for (size_t c = 0; c < cols; ++c) {
        want[r * cols + c] = (row[c] - mean) * inv * weight[c] + bias[c];
      }
    }
    CompareArrays("porta against the host reference", Download(out, count).data(), want, 1e-4,
                  1e-4);
    MemoryRow(label, (2 * count + 2 * cols) * sizeof(float), enqueue);
  }

  void AddRow(const std::string& label, uint32_t count) {
    const std::vector<float> a = UniformVector(count, 15, -1.0f, 1.0f);
    const std::vector<float> b = UniformVector(count, 16, -1.0f, 1.0f);
    DeviceBuffer a_buffer(device_, uint64_t{count} * sizeof(float));
    DeviceBuffer b_buffer(device_, uint64_t{count} * sizeof(float));
    DeviceBuffer out(device_, uint64_t{count} * sizeof(float));
    Upload(a_buffer, a.data(), uint64_t{count} * sizeof(float));
    Upload(b_buffer, b.data(), uint64_t{count} * sizeof(float));
    const porta_tensor_t ta = Tensor(a_buffer, PORTA_DTYPE_F32, {count});
    const porta_tensor_t tb = Tensor(b_buffer, PORTA_DTYPE_F32, {count});
    const porta_tensor_t tout = Tensor(out, PORTA_DTYPE_F32, {count});
    auto enqueue = [&] {
      Check(porta_ops_binary(context_, stream_, PORTA_BINARY_ADD, &ta, &tb, &tout),
            "porta_ops_binary");
    };
    enqueue();
    Synchronize();
    // f32 addition is correctly rounded everywhere, so the host's sum is the answer.
    std::vector<float> want(count);
    for (size_t i = 0; i < count; ++i) want[i] = a[i] + b[i];
    CompareArrays("porta against the host reference", Download(out, count).data(), want.data(),
                  count, 0.0, 1e-6);
    MemoryRow(label, uint64_t{3} * count * sizeof(float), enqueue);
  }

  void AttentionRow(const std::string& label, uint32_t heads, uint32_t seq, uint32_t dim) {
    const size_t count = size_t{heads} * seq * dim;
    const std::vector<float> q = UniformVector(count, 17, -1.0f, 1.0f);
    const std::vector<float> k = UniformVector(count, 18, -1.0f, 1.0f);
    const std::vector<float> v = UniformVector(count, 19, -1.0f, 1.0f);
    const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
    const size_t score_count = size_t{heads} * seq * seq;
    DeviceBuffer q_buffer(device_, count * sizeof(float));
    DeviceBuffer k_buffer(device_, count * sizeof(float));
    DeviceBuffer v_buffer(device_, count * sizeof(float));
    DeviceBuffer fused(device_, count * sizeof(float));
    DeviceBuffer scores(device_, score_count * sizeof(float));
    DeviceBuffer probs(device_, score_count * sizeof(float));
    DeviceBuffer composed(device_, count * sizeof(float));
    Upload(q_buffer, q.data(), count * sizeof(float));
    Upload(k_buffer, k.data(), count * sizeof(float));
    Upload(v_buffer, v.data(), count * sizeof(float));
    const porta_tensor_t tq = Tensor(q_buffer, PORTA_DTYPE_F32, {1, heads, seq, dim});
    const porta_tensor_t tk = Tensor(k_buffer, PORTA_DTYPE_F32, {1, heads, seq, dim});
    const porta_tensor_t tv = Tensor(v_buffer, PORTA_DTYPE_F32, {1, heads, seq, dim});
    const porta_tensor_t tfused = Tensor(fused, PORTA_DTYPE_F32, {1, heads, seq, dim});
    const porta_tensor_t tscores = Tensor(scores, PORTA_DTYPE_F32, {1, heads, seq, seq});
    const porta_tensor_t tprobs = Tensor(probs, PORTA_DTYPE_F32, {1, heads, seq, seq});
    const porta_tensor_t tcomposed = Tensor(composed, PORTA_DTYPE_F32, {1, heads, seq, dim});

    porta_attention_desc_t attention = PORTA_ATTENTION_DESC_INIT;
    attention.scale = scale;
    attention.causal = 1;
    porta_matmul_desc_t qk = PORTA_MATMUL_DESC_INIT;
    qk.transpose_b = 1;
    qk.alpha = scale;
    porta_softmax_desc_t softmax = PORTA_SOFTMAX_DESC_INIT;
    softmax.causal = 1;
    const porta_matmul_desc_t pv = PORTA_MATMUL_DESC_INIT;
    auto enqueue_fused = [&] {
      Check(porta_ops_attention(context_, stream_, &attention, &tq, &tk, &tv, nullptr, &tfused),
            "porta_ops_attention");
    };
    auto enqueue_composed = [&] {
      Check(porta_ops_matmul(context_, stream_, &qk, &tq, &tk, nullptr, &tscores),
            "porta_ops_matmul");
      Check(porta_ops_softmax(context_, stream_, &softmax, &tscores, nullptr, &tprobs),
            "porta_ops_softmax");
      Check(porta_ops_matmul(context_, stream_, &pv, &tprobs, &tv, nullptr, &tcomposed),
            "porta_ops_matmul");
    };
    enqueue_fused();
    enqueue_composed();
    Synchronize();

    std::vector<double> want(count);
    std::vector<double> weights(seq);
    for (size_t h = 0; h < heads; ++h) {
      for (size_t i = 0; i < seq; ++i) {
        const float* qi = q.data() + (h * seq + i) * dim;
        double max = -INFINITY;
        for (size_t j = 0; j <= i; ++j) {  // causal with Lq == Lk: keys up to the query's own
          const float* kj = k.data() + (h * seq + j) * dim;
          double dot = 0.0;
          for (size_t d = 0; d < dim; ++d) dot += static_cast<double>(qi[d]) * kj[d];
          weights[j] = dot * scale;
          max = std::max(max, weights[j]);
        }
        double sum = 0.0;
        for (size_t j = 0; j <= i; ++j) sum += (weights[j] = std::exp(weights[j] - max));
        double* out = want.data() + (h * seq + i) * dim;
        for (size_t j = 0; j <= i; ++j) {
          const float* vj = v.data() + (h * seq + j) * dim;
          for (size_t d = 0; d < dim; ++d) out[d] += weights[j] / sum * vj[d];
        }
      }
    }
    CompareArrays("fused attention against the host reference", Download(fused, count).data(), want,
                  1e-4, 1e-4);
    CompareArrays("composed attention against the host reference", Download(composed, count).data(),
                  want, 1e-4, 1e-4);

    const Measure fused_ms = Scale(TimeStream(enqueue_fused), 1e3);
    const Measure composed_ms = Scale(TimeStream(enqueue_composed), 1e3);
    sink_.row(MakeRow(name_, label, "ms", fused_ms, "composed mm+softmax+mm", composed_ms));
  }

  porta_device_t device_;
  porta_device_info_t info_;
  std::string name_;
  int same_name_index_;
  bool quick_;
  Plan plan_;
  const RowSink& sink_;
  BaselineLibraries& libraries_;
  porta_ops_context_t context_ = nullptr;
  porta_stream_t stream_ = nullptr;
  std::string baseline_name_ = kNoBaseline;
  bool ok_ = true;
#if defined(PORTA_BENCH_HAS_CLBLAST)
  std::unique_ptr<ClBlastDevice> clblast_;
#endif
};

}  // namespace

bool RunOpsRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  bool ok = true;
  auto error = [&](const std::string& text) {
    ok = false;
    sink.error(text);
  };
  uint32_t count = 0;
  const porta_status_t count_status = porta_runtime_device_count(runtime, &count);
  if (count_status != PORTA_OK) {
    error(FailureText(count_status, "porta_runtime_device_count"));
    return false;
  }
  BaselineLibraries libraries(sink);
  std::vector<porta_device_info_t> seen;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    porta_status_t status = porta_runtime_device(runtime, i, &device);
    if (status == PORTA_OK) status = porta_device_get_info(device, &info);
    if (status != PORTA_OK) {
      error("device " + std::to_string(i) + ": " +
            FailureText(status, "porta_runtime_device / porta_device_get_info"));
      continue;
    }
    int same_name_index = 0;
    for (const porta_device_info_t& other : seen) {
      if (std::strcmp(other.backend, info.backend) == 0 &&
          std::strcmp(other.name, info.name) == 0) {
        ++same_name_index;
      }
    }
    seen.push_back(info);
    const std::string name = DeviceLabel(info);
    try {
      DeviceOps ops(device, info, name, same_name_index, quick, sink, libraries);
      if (!ops.Run()) ok = false;
    } catch (const Failure& failure) {
      error(name + ": " + failure.text());
    }
  }
  return ok;
}

}  // namespace porta::bench
