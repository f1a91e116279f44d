// Objects of the Level Zero backend behind the ABI's handles, and the functions its files share.
#ifndef PORTA_BACKENDS_LEVEL_ZERO_LEVEL_ZERO_OBJECTS_H_
#define PORTA_BACKENDS_LEVEL_ZERO_LEVEL_ZERO_OBJECTS_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/level_zero/level_zero_library.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/sticky_error.h"

namespace porta::level_zero {

using common::As;
using common::StickyError;

// One driver (one per GPU vendor stack) and the context Porta uses for all its devices, so that
// memory of one device can be copied to another of the same driver.
struct DriverEntry {
  ze_driver_handle_t driver = nullptr;
  ze_context_handle_t context = nullptr;
  ze_api_version_t api_version = ZE_API_VERSION_1_0;
  uint32_t driver_version = 0;
};

// The loaded loader, its drivers and their GPU devices. With no usable loader or driver,
// |library| is null or |devices| empty, and |zero_reason| says why.
struct Backend {
  std::unique_ptr<Library> library;
  std::vector<DriverEntry> drivers;
  struct DeviceEntry {
    size_t driver = 0;
    ze_device_handle_t device = nullptr;
  };
  std::vector<DeviceEntry> devices;
  std::string zero_reason;
  ~Backend();
};

struct Device {
  Backend* backend = nullptr;
  const Library* library = nullptr;
  uint32_t index = 0;
  const DriverEntry* driver = nullptr;
  ze_context_handle_t context = nullptr;
  ze_device_handle_t device = nullptr;
  ze_device_properties_t properties = {};
  // Ordinal of the first command queue group that runs compute work.
  uint32_t compute_ordinal = 0;
  // Shared (migrating) allocations serve host-visible buffers where the device has them;
  // otherwise host allocations do.
  bool shared_allocations = false;
  // The device reads and writes ordinary malloc'ed memory, so copies need no staging buffer.
  bool system_memory_access = false;
  // Nanoseconds per global timestamp tick, and the mask of its valid bits.
  double ns_per_tick = 1.0;
  uint64_t timestamp_mask = ~uint64_t{0};
};

// Intel's driver extension that makes a range of ordinary host memory device-accessible
// (zexDriverImportExternalPointer), the Level Zero counterpart of cuMemHostRegister.
using ImportExternalPointerFn = ze_result_t (*)(ze_driver_handle_t driver, void* ptr, size_t size);
using ReleaseImportedPointerFn = ze_result_t (*)(ze_driver_handle_t driver, void* ptr);

// A host range imported with zexDriverImportExternalPointer (host_register).
struct HostRegistration {
  Device* device = nullptr;
  void* pointer = nullptr;
  ReleaseImportedPointerFn release = nullptr;
};

struct Buffer {
  Device* device = nullptr;
  void* pointer = nullptr;
  uint64_t size = 0;
  bool host_visible = false;
  // The memory is the application's (buffer_import): never freed here.
  bool imported = false;
};

// One recording of a Porta event: a Level Zero event (its own one-entry pool) and, for timing,
// the device timestamp written when it was signaled. A re-record that finds the previous
// recording still referenced by queued work gets a fresh one, so a stream that already waits
// on the old point keeps waiting on it.
struct Recording {
  const Library* library = nullptr;
  ze_context_handle_t context = nullptr;
  ze_event_pool_handle_t pool = nullptr;
  ze_event_handle_t event = nullptr;
  uint64_t* timestamp = nullptr;
  ~Recording();
};

// A native graph's pre-recorded command list (level_zero_graph.cpp); a replay's batch holds it
// until its fence has signaled, so it is never executed again while the device still reads it.
struct RecordedList;

// Commands appended between two submissions: a command list, the fence that tells when the
// queue has run it, and what must stay alive until then. A batch that replays a native graph
// submits the graph's recorded list with its fence instead of its own (empty) list.
struct Batch {
  ze_command_list_handle_t list = nullptr;
  ze_fence_handle_t fence = nullptr;
  uint32_t commands = 0;
  std::vector<std::shared_ptr<Recording>> recordings;
  std::vector<void*> staging;
  std::vector<std::unique_ptr<uint32_t>> patterns;
  std::vector<std::shared_ptr<RecordedList>> replays;
};

// An in-order stream: a command queue fed with command lists. Work is appended to the open
// batch and submitted when the stream is synchronized or queried, when an event is recorded,
// when a copy needs its result on the host, and every kBatchLimit commands.
struct Stream {
  Device* device = nullptr;
  ze_command_queue_handle_t queue = nullptr;
  std::unique_ptr<Batch> open;
  std::deque<std::unique_ptr<Batch>> in_flight;
  std::vector<std::unique_ptr<Batch>> spare;
  std::shared_ptr<StickyError> sticky = std::make_shared<StickyError>();
};

struct Event {
  Device* device = nullptr;
  bool timing = false;
  std::mutex mutex;
  std::shared_ptr<Recording> current;
  std::shared_ptr<StickyError> recorded_on;
};

struct Module;

struct Kernel {
  Module* module = nullptr;
  ze_kernel_handle_t kernel = nullptr;
  std::string name;
  uint32_t arg_count = 0;
  // Arguments and the group size are state of the kernel object until the launch is appended.
  std::mutex mutex;
};

struct Module {
  Device* device = nullptr;
  ze_module_handle_t module = nullptr;
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

// Reports a failed call made for work on a stream: device loss becomes the stream's sticky
// error.
porta_status_t StreamFail(StickyError* sticky, ze_result_t result, const char* what,
                          porta_be_msg msg);
// Submits the stream's open batch, if it holds any command.
porta_status_t Flush(Stream* stream, porta_be_msg msg);
// Recycles submitted batches that have completed, oldest first; with |wait|, waits for all.
porta_status_t Retire(Stream* stream, bool wait, porta_be_msg msg);
// Appends to the stream's open batch (creating one if needed): |batch| receives it. Fails with
// the stream's sticky error, if any.
porta_status_t OpenBatch(Stream* stream, Batch** batch, porta_be_msg msg);
// Appends the barrier that keeps the stream in order after a command, and counts the command.
porta_status_t EndCommand(Stream* stream, Batch* batch, porta_be_msg msg);

// Submits the stream's open batch, then |list| (closed, recorded for the stream's queue group)
// with a fence of its own; the submission holds |keep| until that fence has signaled.
porta_status_t ExecuteRecorded(Stream* stream, ze_command_list_handle_t list,
                               std::shared_ptr<RecordedList> keep, porta_be_msg msg);
// Recycles the stream's oldest submitted batch once it has completed: with |wait| waits for it,
// without returns PORTA_NOT_READY while it runs. PORTA_OK when nothing is in flight.
porta_status_t RetireOldest(Stream* stream, bool wait, porta_be_msg msg);

// Appends a launch of |kernel| to |list|: sets the group size and arguments on the kernel object
// and appends the launch, under the kernel's mutex (arguments are captured at append time).
porta_status_t AppendLaunch(const Library& library, ze_command_list_handle_t list, Kernel* kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg);

// The table slots: Init, Shutdown and DeviceCount in level_zero_backend.cpp, the device slots in
// level_zero_device.cpp, buffers, host registration, copies and fills in level_zero_memory.cpp,
// streams and events in level_zero_stream.cpp, modules and launches in level_zero_module.cpp,
// native graphs in level_zero_graph.cpp.
PORTA_DECLARE_BACKEND_SLOTS()
PORTA_DECLARE_BACKEND_GRAPH_SLOTS()

}  // namespace porta::level_zero

#endif  // PORTA_BACKENDS_LEVEL_ZERO_LEVEL_ZERO_OBJECTS_H_
