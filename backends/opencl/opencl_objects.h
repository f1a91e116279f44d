// The OpenCL backend's objects behind the opaque porta_be_* handles, and the table slots that
// the backend's source files implement.
#ifndef PORTA_BACKENDS_OPENCL_OPENCL_OBJECTS_H_
#define PORTA_BACKENDS_OPENCL_OPENCL_OBJECTS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/opencl/opencl_library.h"
#include "backends/opencl/quirks.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/disk_cache.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/sticky_error.h"

namespace porta::opencl {

// Limits of the constrained profile (PORTA_OPENCL_PROFILE=npu): what a typical NPU's OpenCL 1.2
// driver offers.
inline constexpr uint32_t kNpuMaxWorkGroupSize = 128;
inline constexpr uint64_t kNpuLocalMemoryBytes = 32 * 1024;

// One OpenCL platform and the context its devices share, created when the first of them opens.
struct Platform {
  cl_platform_id id = nullptr;
  std::string name;
  std::string version;
  std::vector<cl_device_id> devices;
  std::mutex mutex;
  // Shared by every device of the platform so that their buffers can be copied directly; NULL
  // until first needed, or when the driver refuses a multi-device context.
  cl_context context = nullptr;
  bool context_failed = false;
};

// A device the backend found at init.
struct DeviceRecord {
  Platform* platform = nullptr;
  cl_device_id id = nullptr;
};

// The loaded backend.
struct Backend {
  Library api;
  std::string porta_version;
  common::DiskCache cache{""};
  // Set by PORTA_OPENCL_PROFILE=npu.
  bool constrained = false;
  std::vector<std::unique_ptr<Platform>> platforms;
  std::vector<DeviceRecord> devices;
  // Why there are no devices (or why some platforms contributed none).
  std::string reason;
};

// Per-device utility kernels: buffer fills for drivers (and the constrained profile) where
// clEnqueueFillBuffer is missing, broken or not to be used.
struct FillKernels {
  std::once_flag once;
  porta_status_t status = PORTA_OK;
  std::string error;
  cl_program program = nullptr;
  // Index 0, 1, 2: element sizes 1, 2, 4 bytes.
  cl_kernel kernels[3] = {nullptr, nullptr, nullptr};
  std::mutex mutex[3];
};

// The cl_khr_command_buffer entry points of a device's platform (native graphs,
// opencl_graph.cpp). |create| is NULL when the device gets no native graphs; |reason| says why.
struct CommandBufferApi {
  clCreateCommandBufferKHR_fn create = nullptr;
  clFinalizeCommandBufferKHR_fn finalize = nullptr;
  clReleaseCommandBufferKHR_fn release = nullptr;
  clEnqueueCommandBufferKHR_fn enqueue = nullptr;
  clCommandNDRangeKernelKHR_fn ndrange = nullptr;
  clCommandCopyBufferKHR_fn copy = nullptr;
  clCommandFillBufferKHR_fn fill = nullptr;
  clGetCommandBufferInfoKHR_fn info = nullptr;
  // Whether one command buffer may be enqueued again while an earlier enqueue is pending.
  bool simultaneous_use = false;
  // Properties a queue must have for command buffers recorded on it.
  cl_command_queue_properties required_queue_properties = 0;
  std::string reason;
};

// An open device.
struct Device {
  Backend* backend = nullptr;
  const Library* api = nullptr;
  Platform* platform = nullptr;
  cl_device_id id = nullptr;
  cl_context context = nullptr;
  uint32_t index = 0;
  // What the runtime validates against (already narrowed by the constrained profile).
  porta_device_info_t info{};
  bool constrained = false;
  Quirks quirks;
  std::string device_version;
  std::string platform_version;
  std::string extensions;
  uint32_t base_address_align = 1;
  uint32_t address_bits = 64;
  bool profiling = false;
  // Whether the device compiles OpenCL C 2.0+ (used to reject 2.0 options in the profile).
  int opencl_c_major = 1;
  int opencl_c_minor = 2;
  // Optional SPIR-V entry (the core 2.1 one or the cl_khr_il_program extension's).
  clCreateProgramWithILKHR_fn create_program_with_il = nullptr;
  // Cleared when clEnqueueFillBuffer fails in a way that means the driver lacks it.
  std::atomic<bool> use_fill_buffer{true};
  // A queue of the device's own for mapping, unmapping and internal work.
  std::mutex utility_mutex;
  cl_command_queue utility_queue = nullptr;
  FillKernels fill;
  CommandBufferApi command_buffers;
};

// A stream's sticky error, shared with the events recorded on it so that a wait on an event can
// report (and set) the error after the stream is gone.
using StreamState = common::StickyError;

struct Stream {
  Device* device = nullptr;
  // Created without profiling: a profiling queue makes some drivers time-stamp every command
  // (PoCL: about 2 us more per launch). The first event recorded with timing moves the stream to
  // a profiling queue (EnableProfiling), ordered after everything on the first.
  cl_command_queue queue = nullptr;
  bool profiled = false;
  std::shared_ptr<StreamState> state = std::make_shared<StreamState>();
  // Idle tracking for stream_query without an event per command (which would slow every
  // launch): |generation| counts enqueued commands, |idle_generation| is the count known to have
  // completed, and |probe| is a marker enqueued at |probe_generation|. The runtime serializes
  // calls on one stream, so plain fields suffice.
  uint64_t generation = 0;
  uint64_t idle_generation = 0;
  cl_event probe = nullptr;
  uint64_t probe_generation = 0;
  // When the last probe was enqueued: probes are rate-limited so that a caller polling after
  // every launch does not double the commands on the queue.
  std::chrono::steady_clock::time_point probe_time;
  // Set once |queue| was handed out (stream_native_handles): the application may enqueue work
  // that |generation| does not count, so stream_query probes with a fresh marker every time.
  bool native_exposed = false;
};

struct Buffer {
  Device* device = nullptr;
  cl_mem mem = nullptr;
  uint64_t size = 0;
  porta_memory_kind_t kind = PORTA_MEMORY_DEVICE;
  void* mapped = nullptr;
  // Sub-buffers for aligned kernel-argument offsets, reused across launches.
  std::mutex sub_mutex;
  std::map<uint64_t, cl_mem> sub_buffers;
};

struct Event {
  Device* device = nullptr;
  uint32_t flags = 0;
  std::mutex mutex;
  // Marker of the latest recording; NULL when never recorded (the event counts as complete).
  cl_event marker = nullptr;
  std::shared_ptr<StreamState> stream_state;
};

struct Kernel {
  cl_kernel kernel = nullptr;
  std::string name;
  uint32_t num_args = 0;
  uint64_t work_group_size = 0;
  uint64_t static_local_bytes = 0;
  // clSetKernelArg followed by the enqueue must not interleave between two streams that launch
  // the same kernel.
  std::mutex launch_mutex;
};

struct Module {
  Device* device = nullptr;
  cl_program program = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

using common::As;
using common::ToHandle;

// Creates (once) the device's utility queue and returns it, or NULL with the reason in |msg|.
cl_command_queue UtilityQueue(Device* device, porta_be_msg msg);

// Builds the fill kernels (once) and returns their status.
porta_status_t EnsureFillKernels(Device* device, porta_be_msg msg);

// Builds |source| (OpenCL C or SPIR-V) for |device| with the profile's, the quirks' and the
// caller's options, going through the on-disk program cache. |what| names the program in logs.
porta_status_t BuildProgram(Device* device, porta_kernel_format_t format, const void* data,
                            size_t size, const char* options, const char* what,
                            cl_program* out_program, porta_be_msg msg);

// Sets the kernel arguments and enqueues a launch over |global| work items in groups of
// |local|, holding |kernel_mutex|. Used by kernel_launch and the internal fill kernels. When
// clSetKernelArg fails, |failed_arg| (may be NULL) receives the argument's index, otherwise -1.
cl_int EnqueueKernel(Device* device, cl_command_queue queue, cl_kernel kernel,
                     std::mutex* kernel_mutex, const size_t global[3], const size_t local[3],
                     uint32_t dims, const void* const* values, const size_t* sizes, uint32_t count,
                     int* failed_arg = nullptr);

// The table slots: Init, Shutdown and DeviceCount in opencl_backend.cpp, DeviceOpen ...
// DeviceGetInfo in opencl_device.cpp, buffers, copies and fills in opencl_memory.cpp, host
// registration in opencl_host_register.cpp, streams and events in opencl_stream.cpp, modules,
// kernels and launches in opencl_module.cpp, native graphs in opencl_graph.cpp.
PORTA_DECLARE_BACKEND_SLOTS()
PORTA_DECLARE_BACKEND_GRAPH_SLOTS()

// opencl_module.cpp
// Checks a launch of |kernel| with |config| and |arg_count| arguments against the kernel's own
// limits (its work-group size, its static plus the dynamic local memory, its parameter count);
// the runtime has checked the device's.
porta_status_t CheckLaunch(const Device* device, const Kernel* kernel,
                           const porta_launch_config_t* config, uint32_t arg_count,
                           porta_be_msg msg);
// The NDRange of |config|: global and local sizes and the number of dimensions used.
void LaunchGeometry(const porta_launch_config_t* config, size_t global[3], size_t local[3],
                    uint32_t* dims);

// opencl_graph.cpp
// Decides whether |device| gets native graphs (cl_khr_command_buffer at a version whose entry
// points match the headers, outside the constrained profile) and resolves the entry points.
void LoadCommandBuffers(Device* device);

// opencl_memory.cpp
// Returns the cl_mem to pass for |buffer| at |offset| (a cached sub-buffer when the offset is
// aligned), or NULL when the offset is not aligned for a sub-buffer.
porta_status_t BufferArgument(Buffer* buffer, uint64_t offset, cl_mem* out, porta_be_msg msg);
// opencl_stream.cpp
// Moves |stream| to a profiling queue (once; nothing when the device cannot profile), so that
// the markers of events recorded from now on carry time stamps.
porta_status_t EnableProfiling(Stream* stream, porta_be_msg msg);

// Turns an enqueue failure on |stream| into a status, making device faults sticky.
porta_status_t StreamEnqueueFailed(Stream* stream, cl_int error, const char* call,
                                   porta_be_msg msg);

}  // namespace porta::opencl

#endif  // PORTA_BACKENDS_OPENCL_OPENCL_OBJECTS_H_
