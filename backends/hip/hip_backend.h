// Objects of the HIP backend and the table slots implemented in hip_backend.cpp (backend and
// devices) and hip_objects.cpp (memory, streams, events, modules, launches).
#ifndef PORTA_BACKENDS_HIP_HIP_BACKEND_H_
#define PORTA_BACKENDS_HIP_HIP_BACKEND_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backends/hip/hip_library.h"
#include "porta/porta_backend.h"

namespace porta::hip {

// The loaded runtime and its device count. With no usable runtime, |library| is null and
// |zero_reason| says why.
struct Backend {
  std::unique_ptr<Library> library;
  int device_count = 0;
  std::string zero_reason;
  // Ordered device pairs whose peer access has been enabled, so it is enabled once.
  std::mutex peer_mutex;
  std::set<std::pair<int, int>> peers_enabled;
};

// An opened device. HIP keeps one context per device; the calling thread's current device is
// switched to it before each call that depends on it.
struct Device {
  Backend* backend = nullptr;
  const Library* library = nullptr;
  int ordinal = 0;
  int shared_per_block = 0;
  bool can_map_host = false;
  std::string architecture;
};

// A device allocation, or pinned host memory mapped into the device's address space.
struct Buffer {
  Device* device = nullptr;
  void* pointer = nullptr;
  void* host = nullptr;
  uint64_t size = 0;
};

// The sticky error of a stream, shared with the events recorded on it.
struct StickyError {
  std::mutex mutex;
  porta_status_t status = PORTA_OK;
  std::string message;
};

struct Stream {
  Device* device = nullptr;
  hipStream_t stream = nullptr;
  std::shared_ptr<StickyError> sticky = std::make_shared<StickyError>();
};

struct Event {
  Device* device = nullptr;
  hipEvent_t event = nullptr;
  bool timing = false;
  std::mutex mutex;
  std::shared_ptr<StickyError> recorded_on;
};

struct Module;

struct Kernel {
  Module* module = nullptr;
  hipFunction_t function = nullptr;
  std::string name;
  int max_threads = 0;
  int static_shared = 0;
};

struct Module {
  Device* device = nullptr;
  hipModule_t module = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

// Makes |device| the calling thread's current HIP device (a no-op when it already is).
porta_status_t MakeCurrent(const Device* device, porta_be_msg msg);

// Slots implemented in hip_objects.cpp.
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

}  // namespace porta::hip

#endif  // PORTA_BACKENDS_HIP_HIP_BACKEND_H_
