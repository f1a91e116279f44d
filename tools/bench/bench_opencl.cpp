#include "tools/bench/bench_opencl.h"

#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "porta/sdk/dynamic_library.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {
namespace {

// Launches and copies through Porta should cost at most 1.05x the raw OpenCL calls.
constexpr double kRawTarget = 1.0 / 1.05;

constexpr char kEmptyKernel[] = "__kernel void porta_bench_empty(__global uint* data, uint n) {}\n";

// The raw OpenCL calls of the baseline, opened at run time like the backend does.
struct RawCl {
  std::unique_ptr<porta::common::DynamicLibrary> library;
#define PORTA_RAW_CL(name) decltype(&::name) name = nullptr;
// clang-format off
#define PORTA_RAW_CL_LIST                                                                        \
  PORTA_RAW_CL(clGetMemObjectInfo) PORTA_RAW_CL(clGetContextInfo) PORTA_RAW_CL(clGetDeviceInfo) \
  PORTA_RAW_CL(clRetainContext) PORTA_RAW_CL(clReleaseContext)                                   \
  PORTA_RAW_CL(clCreateCommandQueue) PORTA_RAW_CL(clReleaseCommandQueue)                         \
  PORTA_RAW_CL(clCreateProgramWithSource) PORTA_RAW_CL(clBuildProgram)                           \
  PORTA_RAW_CL(clReleaseProgram) PORTA_RAW_CL(clCreateKernel) PORTA_RAW_CL(clReleaseKernel)      \
  PORTA_RAW_CL(clSetKernelArg) PORTA_RAW_CL(clEnqueueNDRangeKernel) PORTA_RAW_CL(clFinish)       \
  PORTA_RAW_CL(clCreateBuffer) PORTA_RAW_CL(clReleaseMemObject)                                  \
  PORTA_RAW_CL(clEnqueueWriteBuffer) PORTA_RAW_CL(clEnqueueReadBuffer)                           \
  PORTA_RAW_CL(clEnqueueCopyBuffer) PORTA_RAW_CL(clGetExtensionFunctionAddressForPlatform)
  // clang-format on
  PORTA_RAW_CL_LIST
#undef PORTA_RAW_CL

  bool Load(std::string* error) {
    library = porta::common::DynamicLibrary::Open({"libOpenCL.so.1", "libOpenCL.so"}, error);
    if (library == nullptr) return false;
    std::string missing;
#define PORTA_RAW_CL(name) library->Load(&name, #name, &missing);
    PORTA_RAW_CL_LIST
#undef PORTA_RAW_CL
    if (!missing.empty()) *error = "libOpenCL lacks " + missing;
    return missing.empty();
  }
};

void CheckCl(cl_int error, const char* call) {
  if (error != CL_SUCCESS)
    throw Failure(std::string(call) + " failed: OpenCL error " + std::to_string(error));
}

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// A raw cl_khr_command_buffer of |count| launches of |kernel| (one work-item each, in order),
// recorded once and replayed whole; not ready (with the reason) where the driver lacks the
// extension at a version whose entry points the headers declare (0.9.0 to 0.9.4) or refuses to
// record it.
class RawCommandBuffer {
 public:
  RawCommandBuffer(const RawCl& cl, cl_device_id device, cl_command_queue queue, cl_kernel kernel,
                   cl_mem arg, int count)
      : cl_(cl), queue_(queue) {
    size_t bytes = 0;
    if (cl.clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS_WITH_VERSION, 0, nullptr, &bytes) !=
        CL_SUCCESS) {
      reason_ = "the driver does not list extension versions";
      return;
    }
    std::vector<cl_name_version> list(bytes / sizeof(cl_name_version));
    cl.clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS_WITH_VERSION, bytes, list.data(), nullptr);
    cl_version version = 0;
    for (const cl_name_version& entry : list) {
      if (std::strcmp(entry.name, "cl_khr_command_buffer") == 0) version = entry.version;
    }
    if (version < CL_MAKE_VERSION(0, 9, 0) || version > CL_MAKE_VERSION(0, 9, 4)) {
      reason_ = version == 0 ? "the device lacks cl_khr_command_buffer"
                             : "the device's cl_khr_command_buffer is not version 0.9.0 to 0.9.4";
      return;
    }
    cl_platform_id platform = nullptr;
    cl.clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof(platform), &platform, nullptr);
    auto resolve = [&](auto* fn, const char* name) {
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(
          cl.clGetExtensionFunctionAddressForPlatform(platform, name));
      return *fn != nullptr;
    };
    clCreateCommandBufferKHR_fn create = nullptr;
    clCommandNDRangeKernelKHR_fn ndrange = nullptr;
    clFinalizeCommandBufferKHR_fn finalize = nullptr;
    if (!resolve(&create, "clCreateCommandBufferKHR") ||
        !resolve(&ndrange, "clCommandNDRangeKernelKHR") ||
        !resolve(&finalize, "clFinalizeCommandBufferKHR") ||
        !resolve(&enqueue_, "clEnqueueCommandBufferKHR") ||
        !resolve(&release_, "clReleaseCommandBufferKHR")) {
      reason_ = "the platform lacks some cl_khr_command_buffer entry points";
      return;
    }
    // A driver that refuses the raw queue (required queue properties) or a command gets no row,
    // with the reason, rather than failing the device's other rows.
    cl_int error = CL_SUCCESS;
    cl_command_buffer_khr buffer = create(1, &queue, nullptr, &error);
    if (error != CL_SUCCESS) {
      reason_ = "clCreateCommandBufferKHR failed: OpenCL error " + std::to_string(error);
      return;
    }
    const cl_uint n = 1;
    const size_t one = 1;
    cl_sync_point_khr previous = 0;
    const char* call = "clSetKernelArg";
    error = cl.clSetKernelArg(kernel, 0, sizeof(cl_mem), &arg);
    if (error == CL_SUCCESS) error = cl.clSetKernelArg(kernel, 1, sizeof(n), &n);
    for (int i = 0; i < count && error == CL_SUCCESS; ++i) {
      call = "clCommandNDRangeKernelKHR";
      cl_sync_point_khr point = 0;
      error = ndrange(buffer, nullptr, nullptr, kernel, 1, nullptr, &one, &one, i > 0 ? 1 : 0,
                      i > 0 ? &previous : nullptr, &point, nullptr);
      previous = point;
    }
    if (error == CL_SUCCESS) {
      call = "clFinalizeCommandBufferKHR";
      error = finalize(buffer);
    }
    if (error != CL_SUCCESS) {
      release_(buffer);
      reason_ = std::string(call) + " failed: OpenCL error " + std::to_string(error);
      return;
    }
    buffer_ = buffer;
  }
  ~RawCommandBuffer() {
    if (buffer_ != nullptr) release_(buffer_);
  }
  RawCommandBuffer(const RawCommandBuffer&) = delete;
  RawCommandBuffer& operator=(const RawCommandBuffer&) = delete;

  bool ready() const { return buffer_ != nullptr; }
  const std::string& reason() const { return reason_; }

  // Seconds for one replay until the queue has drained.
  double Replay() {
    const double start = NowSeconds();
    CheckCl(enqueue_(1, &queue_, buffer_, 0, nullptr, nullptr), "clEnqueueCommandBufferKHR");
    CheckCl(cl_.clFinish(queue_), "clFinish");
    return NowSeconds() - start;
  }

 private:
  const RawCl& cl_;
  cl_command_queue queue_;
  cl_command_buffer_khr buffer_ = nullptr;
  clEnqueueCommandBufferKHR_fn enqueue_ = nullptr;
  clReleaseCommandBufferKHR_fn release_ = nullptr;
  std::string reason_;
};

// Owns the Porta objects and the raw OpenCL objects of one device.
class DeviceBench {
 public:
  DeviceBench(const RawCl& cl, porta_device_t device, int same_name_index,
              const BenchConfig& config)
      : cl_(cl), device_(device), config_(config) {
    Check(porta_stream_create(device, &stream_), "porta_stream_create");
    Check(porta_buffer_alloc(device, 64, PORTA_MEMORY_DEVICE, &arg_buffer_), "porta_buffer_alloc");
    Check(porta_buffer_alloc(device, config.copy_bytes, PORTA_MEMORY_DEVICE, &src_),
          "porta_buffer_alloc");
    Check(porta_buffer_alloc(device, config.copy_bytes, PORTA_MEMORY_DEVICE, &dst_),
          "porta_buffer_alloc");
    porta_module_source_t source = {
        PORTA_FORMAT_OPENCL_C, kEmptyKernel, sizeof(kEmptyKernel) - 1, nullptr, nullptr, 0};
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = &source;
    desc.source_count = 1;
    Check(porta_module_load(device, &desc, &module_), "porta_module_load");
    Check(porta_module_get_kernel(module_, "porta_bench_empty", &kernel_),
          "porta_module_get_kernel");

    // The raw side shares Porta's context, so both measure the same device and driver state.
    uint64_t handle = 0;
    Check(porta_buffer_native_handle(arg_buffer_, &handle), "porta_buffer_native_handle");
    cl_mem porta_mem = reinterpret_cast<cl_mem>(handle);
    CheckCl(cl_.clGetMemObjectInfo(porta_mem, CL_MEM_CONTEXT, sizeof(context_), &context_, nullptr),
            "clGetMemObjectInfo");
    cl_.clRetainContext(context_);
    raw_device_ = FindDevice(same_name_index);
    cl_int error = CL_SUCCESS;
    queue_ = cl_.clCreateCommandQueue(context_, raw_device_, 0, &error);
    CheckCl(error, "clCreateCommandQueue");
    const char* text = kEmptyKernel;
    const size_t length = sizeof(kEmptyKernel) - 1;
    program_ = cl_.clCreateProgramWithSource(context_, 1, &text, &length, &error);
    CheckCl(error, "clCreateProgramWithSource");
    CheckCl(cl_.clBuildProgram(program_, 1, &raw_device_, "", nullptr, nullptr), "clBuildProgram");
    raw_kernel_ = cl_.clCreateKernel(program_, "porta_bench_empty", &error);
    CheckCl(error, "clCreateKernel");
    raw_arg_ = cl_.clCreateBuffer(context_, CL_MEM_READ_WRITE, 64, nullptr, &error);
    CheckCl(error, "clCreateBuffer");
    raw_src_ = cl_.clCreateBuffer(context_, CL_MEM_READ_WRITE, config.copy_bytes, nullptr, &error);
    CheckCl(error, "clCreateBuffer");
    raw_dst_ = cl_.clCreateBuffer(context_, CL_MEM_READ_WRITE, config.copy_bytes, nullptr, &error);
    CheckCl(error, "clCreateBuffer");
    host_.assign(config.copy_bytes, 1);
  }

  ~DeviceBench() {
    if (raw_dst_ != nullptr) cl_.clReleaseMemObject(raw_dst_);
    if (raw_src_ != nullptr) cl_.clReleaseMemObject(raw_src_);
    if (raw_arg_ != nullptr) cl_.clReleaseMemObject(raw_arg_);
    if (raw_kernel_ != nullptr) cl_.clReleaseKernel(raw_kernel_);
    if (program_ != nullptr) cl_.clReleaseProgram(program_);
    if (queue_ != nullptr) cl_.clReleaseCommandQueue(queue_);
    if (context_ != nullptr) cl_.clReleaseContext(context_);
    if (module_ != nullptr) porta_module_destroy(module_);
    for (porta_buffer_t buffer : {arg_buffer_, src_, dst_}) {
      if (buffer != nullptr) porta_buffer_free(buffer);
    }
    if (stream_ != nullptr) porta_stream_destroy(stream_);
  }

  void Run(const std::string& device_name, const RowSink& sink) {
    const int repetitions = config_.repetitions;
    // Each row interleaves Porta's repetitions with the raw path's (MeasurePair).
    auto launch_row = [&](const char* name, int count, bool synchronize_each, bool calls_only) {
      if (!sink.Start(device_name, name)) return;
      Measure porta, raw;
      MeasurePair(
          repetitions, [&] { return PortaLaunches(count, synchronize_each, calls_only); },
          [&] { return RawLaunches(count, synchronize_each, calls_only); }, &porta, &raw);
      sink.row(MakeRow(device_name, name, "us/launch", Scale(porta, 1e6 / count), "raw OpenCL",
                       Scale(raw, 1e6 / count), kRawTarget));
    };
    const double gigabytes = static_cast<double>(config_.copy_bytes) * config_.copies / 1e9;
    auto copy_row = [&](const char* name, const std::function<void()>& porta_copy,
                        const std::function<void()>& raw_copy) {
      if (!sink.Start(device_name, name)) return;
      Measure porta, raw;
      MeasurePair(
          repetitions, [&] { return PortaCopies(porta_copy); }, [&] { return RawCopies(raw_copy); },
          &porta, &raw);
      sink.row(MakeRow(device_name, name, "GB/s", RateOf(gigabytes, porta), "raw OpenCL",
                       RateOf(gigabytes, raw), kRawTarget));
    };

    // Warm both paths (first launches page in driver code and build caches).
    PortaLaunches(32, false);
    RawLaunches(32, false);
    launch_row("empty-kernel launch throughput", config_.launches, false, false);
    // CPU time of the calling thread in the launch calls alone (the queue drains afterwards,
    // untimed): the part of the launch cost that is Porta's own, without the device's execution
    // time, and steady on a loaded machine where wall time is not.
    launch_row("launch call (thread CPU time)", config_.launches, false, true);
    launch_row("launch-to-completion latency", config_.latency_iterations, true, false);
    GraphRow(device_name, sink);
    const uint64_t size = config_.copy_bytes;
    copy_row(
        "host-to-device bandwidth",
        [&] {
          Check(porta_copy_host_to_device(stream_, src_, 0, host_.data(), size),
                "porta_copy_host_to_device");
        },
        [&] {
          CheckCl(cl_.clEnqueueWriteBuffer(queue_, raw_src_, CL_FALSE, 0, size, host_.data(), 0,
                                           nullptr, nullptr),
                  "clEnqueueWriteBuffer");
        });
    copy_row(
        "device-to-host bandwidth",
        [&] {
          Check(porta_copy_device_to_host(stream_, host_.data(), src_, 0, size),
                "porta_copy_device_to_host");
        },
        [&] {
          CheckCl(cl_.clEnqueueReadBuffer(queue_, raw_src_, CL_FALSE, 0, size, host_.data(), 0,
                                          nullptr, nullptr),
                  "clEnqueueReadBuffer");
        });
    copy_row(
        "device-to-device bandwidth",
        [&] {
          Check(porta_copy_device_to_device(stream_, dst_, 0, src_, 0, size),
                "porta_copy_device_to_device");
        },
        [&] {
          CheckCl(
              cl_.clEnqueueCopyBuffer(queue_, raw_src_, raw_dst_, 0, 0, size, 0, nullptr, nullptr),
              "clEnqueueCopyBuffer");
        });
  }

 private:
  cl_device_id FindDevice(int same_name_index) {
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    Check(porta_device_get_info(device_, &info), "porta_device_get_info");
    size_t bytes = 0;
    CheckCl(cl_.clGetContextInfo(context_, CL_CONTEXT_DEVICES, 0, nullptr, &bytes),
            "clGetContextInfo");
    std::vector<cl_device_id> devices(bytes / sizeof(cl_device_id));
    CheckCl(cl_.clGetContextInfo(context_, CL_CONTEXT_DEVICES, bytes, devices.data(), nullptr),
            "clGetContextInfo");
    int seen = 0;
    for (cl_device_id candidate : devices) {
      char name[PORTA_NAME_SIZE] = "";
      cl_.clGetDeviceInfo(candidate, CL_DEVICE_NAME, sizeof(name), name, nullptr);
      if (std::strcmp(name, info.name) == 0 && seen++ == same_name_index) return candidate;
    }
    throw Failure(std::string("no device named '") + info.name + "' in Porta's OpenCL context");
  }

  // One replay of a captured graph of kGraphLaunches launches, until the queue has drained,
  // against as many raw launches and a clFinish (the target row: what a replay saves per launch
  // is what Porta must gain on the raw API, whose calls carry no validation), and, where the
  // driver has cl_khr_command_buffer, against the raw API's own replay of a command buffer
  // holding as many launches: the least the driver itself takes.
  void GraphRow(const std::string& device_name, const RowSink& sink) {
    const std::string name =
        "graph replay of " + std::to_string(kGraphLaunches) + " launches + sync";
    const std::string buffer_name = name + ", vs command buffer";
    const bool separate_row = sink.Start(device_name, name);
    const bool buffer_row = sink.Start(device_name, buffer_name);
    if (!separate_row && !buffer_row) return;
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    const uint32_t n = 1;
    const porta_kernel_arg_t args[2] = {porta_arg_buffer(arg_buffer_, 0),
                                        porta_arg_scalar(&n, sizeof(n))};
    LaunchGraph graph(stream_, kernel_, config, args, 2, kGraphLaunches);
    auto replay = [&] {
      const double start = NowSeconds();
      graph.Replay();
      Check(porta_stream_synchronize(stream_), "porta_stream_synchronize");
      return NowSeconds() - start;
    };
    RawCommandBuffer buffer(cl_, raw_device_, queue_, raw_kernel_, raw_arg_, kGraphLaunches);
    replay();
    if (buffer.ready()) buffer.Replay();
    // Interleaved, so that a change in machine load falls on all alike.
    std::vector<double> porta, raw, raw_buffer;
    for (int r = 0; r < 5 * config_.repetitions; ++r) {
      porta.push_back(replay());
      raw.push_back(RawLaunches(kGraphLaunches, false));
      if (buffer.ready()) raw_buffer.push_back(buffer.Replay());
    }
    const Measure porta_us = Scale(Summarize(porta), 1e6);
    if (separate_row) {
      sink.row(MakeRow(device_name, name, "us", porta_us, "raw OpenCL, separate launches",
                       Scale(Summarize(raw), 1e6), 2.0));
    }
    if (buffer_row) {
      if (buffer.ready()) {
        sink.row(MakeRow(device_name, buffer_name, "us", porta_us, "raw OpenCL, command buffer",
                         Scale(Summarize(raw_buffer), 1e6)));
      } else {
        sink.note(device_name + ": " + buffer_name + " skipped: " + buffer.reason());
      }
    }
  }

  // Seconds for |count| launches until the queue has drained, or, with |calls_only|, for the
  // launch calls alone.
  double PortaLaunches(int count, bool synchronize_each, bool calls_only = false) {
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    const uint32_t n = 1;
    const porta_kernel_arg_t args[2] = {porta_arg_buffer(arg_buffer_, 0),
                                        porta_arg_scalar(&n, sizeof(n))};
    const double cpu_start = ThreadCpuSeconds();
    const double start = NowSeconds();
    for (int i = 0; i < count; ++i) {
      Check(porta_kernel_launch(stream_, kernel_, &config, args, 2), "porta_kernel_launch");
      if (synchronize_each) Check(porta_stream_synchronize(stream_), "porta_stream_synchronize");
    }
    const double calls = ThreadCpuSeconds() - cpu_start;
    Check(porta_stream_synchronize(stream_), "porta_stream_synchronize");
    return calls_only ? calls : NowSeconds() - start;
  }

  double RawLaunches(int count, bool synchronize_each, bool calls_only = false) {
    const size_t one = 1;
    const cl_uint n = 1;
    const double cpu_start = ThreadCpuSeconds();
    const double start = NowSeconds();
    for (int i = 0; i < count; ++i) {
      // Arguments are set on every launch, as Porta's launch takes them every time.
      CheckCl(cl_.clSetKernelArg(raw_kernel_, 0, sizeof(cl_mem), &raw_arg_), "clSetKernelArg");
      CheckCl(cl_.clSetKernelArg(raw_kernel_, 1, sizeof(n), &n), "clSetKernelArg");
      CheckCl(cl_.clEnqueueNDRangeKernel(queue_, raw_kernel_, 1, nullptr, &one, &one, 0, nullptr,
                                         nullptr),
              "clEnqueueNDRangeKernel");
      if (synchronize_each) CheckCl(cl_.clFinish(queue_), "clFinish");
    }
    const double calls = ThreadCpuSeconds() - cpu_start;
    CheckCl(cl_.clFinish(queue_), "clFinish");
    return calls_only ? calls : NowSeconds() - start;
  }

  double PortaCopies(const std::function<void()>& copy) {
    const double start = NowSeconds();
    for (int i = 0; i < config_.copies; ++i) copy();
    Check(porta_stream_synchronize(stream_), "porta_stream_synchronize");
    return NowSeconds() - start;
  }

  double RawCopies(const std::function<void()>& copy) {
    const double start = NowSeconds();
    for (int i = 0; i < config_.copies; ++i) copy();
    CheckCl(cl_.clFinish(queue_), "clFinish");
    return NowSeconds() - start;
  }

  const RawCl& cl_;
  porta_device_t device_;
  BenchConfig config_;
  porta_stream_t stream_ = nullptr;
  porta_buffer_t arg_buffer_ = nullptr;
  porta_buffer_t src_ = nullptr;
  porta_buffer_t dst_ = nullptr;
  porta_module_t module_ = nullptr;
  porta_kernel_t kernel_ = nullptr;
  cl_context context_ = nullptr;
  cl_device_id raw_device_ = nullptr;
  cl_command_queue queue_ = nullptr;
  cl_program program_ = nullptr;
  cl_kernel raw_kernel_ = nullptr;
  cl_mem raw_arg_ = nullptr;
  cl_mem raw_src_ = nullptr;
  cl_mem raw_dst_ = nullptr;
  std::vector<uint8_t> host_;
};

}  // namespace

void RunOpenClRows(porta_runtime_t runtime, bool quick, const RowSink& sink) {
  const BenchConfig config = quick ? BenchConfig{3, 500, 100, uint64_t{4} << 20, 2}
                                   : BenchConfig{7, 20000, 2000, uint64_t{64} << 20, 4};
  const auto devices = DevicesOf(runtime, "opencl");
  if (devices.empty()) return;
  RawCl cl;
  std::string error;
  if (!cl.Load(&error)) {
    sink.error("opencl: the raw baseline cannot open libOpenCL: " + error);
    return;
  }
  for (size_t d = 0; d < devices.size(); ++d) {
    const porta_device_info_t& info = devices[d].second;
    int same_name_index = 0;
    for (size_t e = 0; e < d; ++e) {
      if (std::strcmp(devices[e].second.name, info.name) == 0) ++same_name_index;
    }
    const std::string label = DeviceLabel(info);
    try {
      DeviceBench bench(cl, devices[d].first, same_name_index, config);
      bench.Run(label, sink);
    } catch (const Failure& failure) {
      sink.error(label + ": " + failure.text());
    }
  }
}

}  // namespace porta::bench
