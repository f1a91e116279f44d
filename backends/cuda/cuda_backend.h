// Objects of the CUDA backend and the table slots implemented in cuda_backend.cpp (backend and
// devices) and cuda_objects.cpp (memory, streams, events, modules, launches).
#ifndef PORTA_BACKENDS_CUDA_CUDA_BACKEND_H_
#define PORTA_BACKENDS_CUDA_CUDA_BACKEND_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_driver.h"
#include "porta/porta_backend.h"

namespace porta::cuda {

// The loaded driver and the devices it found. With no usable driver, |driver| is null and
// |zero_reason| says why.
struct Backend {
  std::unique_ptr<Driver> driver;
  std::vector<CUdevice> devices;
  std::string zero_reason;
  // Ordered device pairs (ordinals) whose peer access has been enabled, so it is enabled once.
  std::mutex peer_mutex;
  std::set<std::pair<CUdevice, CUdevice>> peers_enabled;
};

// An opened device: its primary context (shared with any CUDA runtime code in the process).
struct Device {
  Backend* backend = nullptr;
  const Driver* driver = nullptr;
  uint32_t index = 0;
  CUdevice device = 0;
  CUcontext context = nullptr;
  int shared_per_block = 0;
  int shared_per_block_optin = 0;
  bool can_map_host = false;
};

// A device allocation, or pinned host memory mapped into the device's address space.
struct Buffer {
  Device* device = nullptr;
  CUdeviceptr pointer = 0;
  void* host = nullptr;
  uint64_t size = 0;
};

// The sticky error of a stream, shared with the events recorded on it so that an event query
// after the stream is gone still reports the fault.
struct StickyError {
  std::mutex mutex;
  porta_status_t status = PORTA_OK;
  std::string message;
};

struct Stream {
  Device* device = nullptr;
  CUstream stream = nullptr;
  std::shared_ptr<StickyError> sticky = std::make_shared<StickyError>();
};

struct Event {
  Device* device = nullptr;
  CUevent event = nullptr;
  bool timing = false;
  std::mutex mutex;
  bool recorded = false;
  std::shared_ptr<StickyError> recorded_on;
};

struct Module;

struct Kernel {
  Module* module = nullptr;
  CUfunction function = nullptr;
  std::string name;
  int max_threads = 0;
  int static_shared = 0;
  // Byte size of each parameter, when the driver can tell (cuFuncGetParamInfo).
  bool params_known = false;
  std::vector<size_t> param_sizes;
  // Dynamic shared memory the function has been opted in to beyond the default 48 KiB.
  std::mutex mutex;
  uint64_t dynamic_shared_limit = 0;
};

struct Module {
  Device* device = nullptr;
  CUmodule module = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

// Makes |device|'s context current on the calling thread (a no-op when it already is); on failure
// writes the reason into |msg| and returns its status.
porta_status_t MakeCurrent(const Device* device, porta_be_msg msg);

// Slots implemented in cuda_objects.cpp.
porta_status_t BufferAlloc(porta_be_device_t device, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg);
void BufferFree(porta_be_buffer_t buffer);
porta_status_t BufferMap(porta_be_buffer_t buffer, uint64_t offset, uint64_t size, void** out_ptr,
                         porta_be_msg msg);
porta_status_t BufferUnmap(porta_be_buffer_t buffer, porta_be_msg msg);
porta_status_t BufferNativeHandle(porta_be_buffer_t buffer, uint64_t* out_handle, porta_be_msg msg);
porta_status_t StreamCreate(porta_be_device_t device, porta_be_stream_t* out_stream,
                            porta_be_msg msg);
void StreamDestroy(porta_be_stream_t stream);
porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg);
porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg);
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
porta_status_t EventCreate(porta_be_device_t device, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg);
void EventDestroy(porta_be_event_t event);
porta_status_t EventRecord(porta_be_event_t event, porta_be_stream_t stream, porta_be_msg msg);
porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t event, porta_be_msg msg);
porta_status_t EventWait(porta_be_event_t event, uint64_t timeout_ns, porta_be_msg msg);
porta_status_t EventQuery(porta_be_event_t event, porta_be_msg msg);
porta_status_t EventElapsedMs(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                              porta_be_msg msg);
porta_status_t ModuleLoad(porta_be_device_t device, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg);
void ModuleDestroy(porta_be_module_t module);
porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg);
porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg);

}  // namespace porta::cuda

#endif  // PORTA_BACKENDS_CUDA_CUDA_BACKEND_H_
