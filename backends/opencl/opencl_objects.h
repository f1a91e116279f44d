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

#include "backends/common/disk_cache.h"
#include "backends/opencl/cl_api.h"
#include "backends/opencl/quirks.h"

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
  ClApi api;
  std::string porta_version;
  void (*log)(void* user, int level, const char* text) = nullptr;
  void* log_user = nullptr;
  common::DiskCache cache{""};
  // Set by PORTA_OPENCL_PROFILE=npu.
  bool constrained = false;
  std::vector<std::unique_ptr<Platform>> platforms;
  std::vector<DeviceRecord> devices;
  // Why there are no devices (or why some platforms contributed none).
  std::string reason;

  void Log(int level, const char* format, ...) const __attribute__((format(printf, 3, 4)));
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

// An open device.
struct Device {
  Backend* backend = nullptr;
  const ClApi* api = nullptr;
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
};

// A stream's sticky error, shared with the events recorded on it so that a wait on an event can
// report (and set) the error after the stream is gone.
struct StreamState {
  std::atomic<porta_status_t> status{PORTA_OK};
  std::mutex mutex;
  std::string message;

  // Records the first error; later ones are ignored so that the root cause stays visible.
  void SetSticky(porta_status_t error, const std::string& text);
  // Returns PORTA_OK or the sticky error with its message written into |msg|.
  porta_status_t Check(porta_be_msg msg);
};

struct Stream {
  Device* device = nullptr;
  cl_command_queue queue = nullptr;
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

// Casts between the ABI's opaque handles and the backend's objects.
template <typename T, typename Handle>
T* As(Handle handle) {
  return reinterpret_cast<T*>(handle);
}
template <typename Handle, typename T>
Handle ToHandle(T* object) {
  return reinterpret_cast<Handle>(object);
}

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

// Table slots, grouped by the file that implements them.
// opencl_device.cpp
porta_status_t DeviceOpen(porta_be_backend_t backend, uint32_t index, porta_be_device_t* out,
                          porta_be_msg msg);
void DeviceClose(porta_be_device_t device);
porta_status_t DeviceGetInfo(porta_be_device_t device, porta_device_info_t* info, porta_be_msg msg);
// opencl_memory.cpp
porta_status_t BufferAlloc(porta_be_device_t device, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out, porta_be_msg msg);
void BufferFree(porta_be_buffer_t buffer);
porta_status_t BufferMap(porta_be_buffer_t buffer, uint64_t offset, uint64_t size, void** out_ptr,
                         porta_be_msg msg);
porta_status_t BufferUnmap(porta_be_buffer_t buffer, porta_be_msg msg);
porta_status_t BufferNativeHandle(porta_be_buffer_t buffer, uint64_t* out, porta_be_msg msg);
porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg);
porta_status_t CopyDeviceToHost(porta_be_stream_t stream, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg);
porta_status_t CopyDeviceToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg);
porta_status_t CopyPeer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t dst_offset,
                        porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                        porta_be_msg msg);
porta_status_t FillBuffer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg);
// Returns the cl_mem to pass for |buffer| at |offset| (a cached sub-buffer when the offset is
// aligned), or NULL when the offset is not aligned for a sub-buffer.
porta_status_t BufferArgument(Buffer* buffer, uint64_t offset, cl_mem* out, porta_be_msg msg);
// opencl_stream.cpp
porta_status_t StreamCreate(porta_be_device_t device, porta_be_stream_t* out, porta_be_msg msg);
void StreamDestroy(porta_be_stream_t stream);
porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg);
porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg);
porta_status_t EventCreate(porta_be_device_t device, uint32_t flags, porta_be_event_t* out,
                           porta_be_msg msg);
void EventDestroy(porta_be_event_t event);
porta_status_t EventRecord(porta_be_event_t event, porta_be_stream_t stream, porta_be_msg msg);
porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t event, porta_be_msg msg);
porta_status_t EventWait(porta_be_event_t event, uint64_t timeout_ns, porta_be_msg msg);
porta_status_t EventQuery(porta_be_event_t event, porta_be_msg msg);
porta_status_t EventElapsedMs(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                              porta_be_msg msg);
// Turns an enqueue failure on |stream| into a status, making device faults sticky.
porta_status_t StreamEnqueueFailed(Stream* stream, cl_int error, const char* call,
                                   porta_be_msg msg);
// opencl_module.cpp
porta_status_t ModuleLoad(porta_be_device_t device, const porta_module_source_t* source,
                          porta_be_module_t* out, porta_be_msg msg);
void ModuleDestroy(porta_be_module_t module);
porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name, porta_be_kernel_t* out,
                               porta_be_msg msg);
porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg);

}  // namespace porta::opencl

#endif  // PORTA_BACKENDS_OPENCL_OPENCL_OBJECTS_H_
