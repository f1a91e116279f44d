// Objects of the Vulkan backend and the functions its files share. The porta_be_* handles of the
// ABI are these types behind reinterpret_cast; they live in this namespace (not as the ABI's
// struct names) so that several built-in backends linked into one libporta never define the same
// class twice.
//
// The table's slots: Init, Shutdown and DeviceCount in vulkan_backend.cpp, the device slots in
// vulkan_device.cpp, buffers, copies and fills in vulkan_memory.cpp, host registration in
// vulkan_host_register.cpp, streams and events in vulkan_stream.cpp, modules, kernels and launches
// in vulkan_module.cpp, native graphs in vulkan_graph.cpp.
#ifndef PORTA_BACKENDS_VULKAN_VULKAN_OBJECTS_H_
#define PORTA_BACKENDS_VULKAN_VULKAN_OBJECTS_H_

#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "backends/vulkan/spirv_reflect.h"
#include "backends/vulkan/vulkan_library.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/sticky_error.h"

namespace porta::vulkan {

using common::As;
using common::ToHandle;

PORTA_DECLARE_BACKEND_SLOTS()
PORTA_DECLARE_BACKEND_GRAPH_SLOTS()

// Validation-layer messages of severity ERROR, kept until a Porta call reports them.
class ValidationLog {
 public:
  void Add(const std::string& text);
  // Moves every pending message into |out| (newline separated); false when there is none.
  bool Take(std::string* out);
  uint64_t total() const { return total_.load(); }

 private:
  std::mutex mutex_;
  std::vector<std::string> pending_;
  std::atomic<uint64_t> total_{0};
};

// A physical device that qualifies as a Porta device, with everything read from it at init.
struct PhysicalDevice {
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  uint32_t queue_count = 0;
  VkPhysicalDeviceProperties properties{};
  VkPhysicalDeviceMemoryProperties memory{};
  uint32_t timestamp_valid_bits = 0;
  uint32_t max_push_descriptors = 0;  // 0 when VK_KHR_push_descriptor is absent
  bool memory_budget = false;         // VK_EXT_memory_budget: free memory can be asked
  // VK_EXT_external_memory_host: host memory can be imported (host_register); the alignment of
  // its pointer and size. 0 when the device lacks the extension.
  uint64_t host_import_alignment = 0;
  // VK_EXT_calibrated_timestamps with the device time domain: the host can read the device's
  // clock now, as vkCmdWriteTimestamp would (an event recorded on an idle stream takes its time
  // so, without a submission).
  bool calibrated_device_time = false;
  // Buffers can be read through texel views (uniform texel buffers of VK_FORMAT_R32G32B32A32_UINT,
  // every Vulkan device's mandatory format), which some drivers load faster than storage buffers.
  bool texel_views = false;
  // Optional features the device has; each is enabled at device creation.
  VkPhysicalDeviceFeatures core_features{};
  VkPhysicalDeviceVulkan11Features features11{};
  VkPhysicalDeviceVulkan12Features features12{};
  porta_device_info_t info{};
};

// The Vulkan version the loader and a device must support.
inline constexpr uint32_t kRequiredApi = VK_API_VERSION_1_2;

// Memory the host maps and sees the device's writes in without flushes.
inline constexpr VkMemoryPropertyFlags kHostMappable =
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

// The backend: the loader, one VkInstance and the qualifying physical devices.
struct Backend {
  std::string cache_dir;
  std::string porta_version;
  Library vk;
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  bool validation = false;
  bool force_staging = false;
  bool disable_push_descriptor = false;
  bool disable_texel_views = false;
  std::vector<PhysicalDevice> devices;
  // Why there are no devices (or which physical devices were skipped).
  std::string reason;
  ValidationLog validation_log;

  // Destroys the messenger and the instance (every device is closed before).
  ~Backend();
};

// A VkQueue shared by the streams assigned to it; vkQueueSubmit needs external synchronization.
struct Queue {
  VkQueue queue = VK_NULL_HANDLE;
  std::mutex mutex;
};

// A host-visible, coherent buffer used to move bytes between host memory and device buffers.
struct StagingBlock {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint8_t* mapped = nullptr;
  uint64_t size = 0;
};

// Descriptor-set and pipeline layout for one argument shape (buffer count, push-constant bytes).
struct Layout {
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
  uint32_t buffer_count = 0;
  // Bit i: binding kTexelBindingBase + i is a uniform texel buffer (a view of buffer argument i);
  // texel_count of them.
  uint32_t texel_views = 0;
  uint32_t texel_count = 0;
  uint32_t push_bytes = 0;
  // Descriptors are pushed with vkCmdPushDescriptorSetKHR instead of allocated sets.
  bool push_descriptor = false;
};

// The timestamp of one event recording: a one-query pool the GPU writes the time into, and a
// small host-visible buffer the same command buffer copies the result to. The host reads the
// buffer once the recording's timeline value is reached and never calls vkGetQueryPoolResults:
// lavapipe implements that call by waiting for the whole device to go idle, from the caller's
// thread and unsynchronized with other threads' submissions to the queue.
struct TimestampSlot {
  VkQueryPool pool = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  volatile uint64_t* result = nullptr;  // the mapped buffer
};

struct Module;
struct Kernel;
struct Buffer;

// An open device.
struct Device {
  Backend* backend = nullptr;
  const PhysicalDevice* physical = nullptr;
  DeviceFunctions vk;
  VkDevice device = VK_NULL_HANDLE;
  std::vector<std::unique_ptr<Queue>> queues;
  std::atomic<uint32_t> next_queue{0};

  VkPipelineCache pipeline_cache = VK_NULL_HANDLE;
  std::string pipeline_cache_key;
  std::atomic<bool> pipeline_cache_dirty{false};

  std::mutex staging_mutex;
  std::vector<StagingBlock> free_staging;
  uint64_t free_staging_bytes = 0;

  std::mutex layout_mutex;
  // Keyed by (buffer count, texel views, push-constant bytes).
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::unique_ptr<Layout>> layouts;

  // A 16-byte buffer and its texel view, bound where a kernel declares a texel view that a launch
  // cannot have (the kernel learns so from specialization constant 4); made on first need.
  std::mutex dummy_view_mutex;
  VkBuffer dummy_view_buffer = VK_NULL_HANDLE;
  VkDeviceMemory dummy_view_memory = VK_NULL_HANDLE;
  VkBufferView dummy_view = VK_NULL_HANDLE;

  // The built-in 1- and 2-byte fill shader, loaded on first use.
  std::mutex fill_mutex;
  Module* fill_module = nullptr;
  Kernel* fill_kernel = nullptr;

  std::atomic<bool> lost{false};
  std::mutex lost_mutex;
  std::string lost_reason;

  // Picks a memory type allowed by |type_bits| with every |required| flag, preferring
  // |preferred| flags and avoiding |avoided| ones. UINT32_MAX when none has |required|.
  uint32_t FindMemoryType(uint32_t type_bits, VkMemoryPropertyFlags required,
                          VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoided) const;
  // Creates a buffer with its own memory of a type chosen as in FindMemoryType.
  porta_status_t CreateBuffer(uint64_t size, VkBufferUsageFlags usage,
                              VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
                              VkMemoryPropertyFlags avoided, VkBuffer* out_buffer,
                              VkDeviceMemory* out_memory, uint32_t* out_type, porta_be_msg msg);
  // A staging block of at least |size| bytes, reused from earlier copies when one is free.
  porta_status_t AcquireStaging(uint64_t size, StagingBlock* out, porta_be_msg msg);
  void ReleaseStaging(const StagingBlock& block);
  void DestroyStaging(const StagingBlock& block);
  // A timestamp slot (query pool and mapped result buffer), and its destruction.
  porta_status_t CreateTimestampSlot(TimestampSlot* out, porta_be_msg msg);
  void DestroyTimestampSlot(const TimestampSlot& slot);
  // The layout for |buffer_count| storage buffers, the texel views of the buffer arguments in
  // the mask |texel_views| and |push_bytes| of push constants.
  porta_status_t GetLayout(uint32_t buffer_count, uint32_t texel_views, uint32_t push_bytes,
                           const Layout** out, porta_be_msg msg);
  // The texel view of |buffer| from byte |offset| to its last whole texel (VK_NULL_HANDLE when it
  // can have none: an imported buffer, a misaligned offset, fewer than 16 bytes or more than
  // maxTexelBufferElements texels); made on first use, kept until the buffer is freed.
  porta_status_t TexelView(Buffer* buffer, uint64_t offset, VkBufferView* out, porta_be_msg msg);
  // The dummy view, made on first use.
  porta_status_t DummyView(VkBufferView* out, porta_be_msg msg);
  // Turns a failed VkResult into a Porta status with |what| and the result's name. Device loss
  // is recorded and becomes sticky for every stream of the device.
  porta_status_t Check(VkResult result, const char* what, porta_be_msg msg);
  // PORTA_ERROR_DEVICE_LOST with the recorded reason when the device was lost, else PORTA_OK.
  porta_status_t LostStatus(porta_be_msg msg);
};

// A device buffer.
struct Buffer {
  Device* device = nullptr;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t size = 0;
  // Size of the VkBuffer: |size| rounded up to whole 32-bit words, so that shaders (the fill
  // shader, kernels reading bytes as words) can touch the last partial word.
  uint64_t padded_size = 0;
  porta_memory_kind_t kind = PORTA_MEMORY_DEVICE;
  // Persistent host mapping: always for PORTA_MEMORY_HOST_VISIBLE, and for device buffers whose
  // memory happens to be host-visible and coherent unless PORTA_VULKAN_FORCE_STAGING is set.
  uint8_t* mapped = nullptr;
  // The VkBuffer (and its memory and mapping) are the application's (buffer_import).
  bool imported = false;
  // Created with VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT (the device has texel views), and the
  // views made of it so far, by byte offset.
  bool texel_usage = false;
  std::mutex view_mutex;
  std::vector<std::pair<uint64_t, VkBufferView>> views;
};

// A host range imported with VK_EXT_external_memory_host (host_register): the pages around it
// as device memory bound to a transfer buffer. The range starts |offset| bytes into the buffer.
struct HostRegistration {
  Device* device = nullptr;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t offset = 0;
};

// A loaded SPIR-V module.
struct Module {
  Device* device = nullptr;
  VkShaderModule shader = VK_NULL_HANDLE;
  SpirvModuleInfo info;
  std::mutex mutex;
  std::unordered_map<std::string, std::unique_ptr<Kernel>> kernels;
};

// One entry point of a module with its pipelines, one per argument signature and launch shape.
struct Kernel {
  Module* module = nullptr;
  const SpirvEntryPoint* entry = nullptr;
  std::mutex mutex;
  struct Pipeline {
    VkPipeline pipeline = VK_NULL_HANDLE;
    const Layout* layout = nullptr;
  };
  std::unordered_map<std::string, Pipeline> pipelines;
};

class StreamCore;
struct GraphRecording;

// A timeline wait a submission carries: on |stream|'s semaphore reaching |value|.
struct TimelineWait {
  std::shared_ptr<StreamCore> stream;
  uint64_t value = 0;
};

// A copy from staging memory to the caller's memory that must run once the GPU has written it.
struct HostCopy {
  void* dst = nullptr;
  const uint8_t* src = nullptr;
  size_t size = 0;
};

// Commands recorded into one command buffer and submitted together, plus everything that must
// stay alive (or run on the host) until the GPU has executed them.
struct Batch {
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  uint32_t commands = 0;
  uint64_t value = 0;  // timeline value signalled when the batch completes
  VkPipeline bound_pipeline = VK_NULL_HANDLE;
  std::vector<StagingBlock> staging;
  uint64_t staging_used = 0;  // bytes used of staging.back()
  uint64_t staging_bytes = 0;
  std::vector<HostCopy> host_copies;
  std::vector<VkDescriptorPool> descriptor_pools;
  std::vector<TimestampSlot> dead_timestamps;
  std::vector<TimelineWait> waits;
  // Native graph recordings the batch executes; a recording an argument update replaced lives
  // until the last batch that executes it retires.
  std::vector<std::shared_ptr<const GraphRecording>> graphs;
};

// The state of a stream. Shared with the events recorded on it, which outlive the stream handle.
class StreamCore : public std::enable_shared_from_this<StreamCore> {
 public:
  ~StreamCore();
  static porta_status_t Create(Device* device, std::shared_ptr<StreamCore>* out, porta_be_msg msg);

  Device* device() const { return device_; }
  VkSemaphore timeline() const { return timeline_; }
  VkQueue queue() const { return queue_->queue; }

  std::mutex& mutex() { return mutex_; }
  Batch& open_batch() { return open_; }

  // The functions named *Locked expect the caller to hold mutex(); the others take it.

  // Starts a command in the open batch: returns the sticky error, or a command buffer ready to
  // record into, with a barrier after the previous command (streams are in order).
  porta_status_t BeginCommandLocked(VkCommandBuffer* out_cmd, porta_be_msg msg);
  // Ends a command begun by BeginCommandLocked that stands for |slot_calls| slot calls (a graph
  // replay stands for its nodes); submits when the batch has grown large.
  porta_status_t EndCommandLocked(uint32_t slot_calls, porta_be_msg msg);
  // Space for |size| bytes of staging memory that lives until the open batch retires.
  porta_status_t AllocateStagingLocked(uint64_t size, VkBuffer* out_buffer, uint64_t* out_offset,
                                       uint8_t** out_ptr, porta_be_msg msg);
  // A descriptor set of |layout| that lives until the open batch retires.
  porta_status_t AllocateDescriptorSetLocked(const Layout& layout, VkDescriptorSet* out,
                                             porta_be_msg msg);
  // Submits the open batch when it holds commands or waits, and writes the timeline value that
  // marks the end of everything queued so far.
  // Also waits first for the host calls started so far to return, so that nothing queued after
  // a host call reaches the GPU before the call has returned.
  porta_status_t FlushLocked(uint64_t* out_value, porta_be_msg msg);
  porta_status_t Flush(uint64_t* out_value, porta_be_msg msg);
  // Queues a call of |fn|(|user_data|) after everything recorded so far (stream_host_func):
  // submits the open batch, and starts a thread that waits for it on the timeline and then calls
  // |fn| (not when the wait fails: the device was lost). The next submission waits for it.
  porta_status_t AddHostCall(porta_host_fn fn, void* user_data, porta_be_msg msg);
  // Adds a wait for |wait| to the next submission.
  void AddWaitLocked(const TimelineWait& wait) { open_.waits.push_back(wait); }
  // True when nothing is recorded, waited for or in flight, so the host may touch buffers
  // directly and still be in stream order. Retires what has completed first.
  bool IdleLocked();
  // The timeline value of everything submitted so far (reached once the stream is idle).
  uint64_t SubmittedLocked() const { return submitted_; }
  // Destroys |slot| once the batch that signals |value| has retired (it may still write to it).
  void DeferDestroyTimestamp(const TimestampSlot& slot, uint64_t value);

  // Blocks until the timeline reaches |value| (or |timeout_ns| passes) and retires what
  // completed, including the host copies of the streams this one waited on.
  porta_status_t Wait(uint64_t value, uint64_t timeout_ns, porta_be_msg msg);
  // PORTA_OK when everything queued has completed, PORTA_NOT_READY otherwise. Submits the open
  // batch only when nothing is in flight: that guarantees progress to a caller that polls,
  // without turning frequent polling (the runtime polls while work piles up) into one
  // submission per command.
  porta_status_t Query(porta_be_msg msg);
  // Retires completed batches; PORTA_OK when the timeline has reached |value|, else
  // PORTA_NOT_READY (or the sticky error).
  porta_status_t Poll(uint64_t value, porta_be_msg msg);

 private:
  explicit StreamCore(Device* device) : device_(device) {}
  porta_status_t StickyLocked(porta_be_msg msg);
  porta_status_t FailLocked(porta_status_t status, const std::string& text, porta_be_msg msg);
  // Retires every batch whose value the timeline has reached; their cross-stream waits go to
  // pending_upstream_ so those streams are retired too, after the lock is released.
  porta_status_t RetireLocked(porta_be_msg msg);
  void RetireBatch(Batch* batch);
  porta_status_t WaitOldestLocked(porta_be_msg msg);
  // Retires the streams collected in pending_upstream_ (called without the lock).
  void RetirePendingUpstream();
  // Joins the host calls that have returned; true while one still runs.
  bool HostCallsRunningLocked();
  // Waits (releasing mutex_ meanwhile) until every host call has returned, and joins them.
  void JoinHostCallsLocked();

  Device* device_;
  Queue* queue_ = nullptr;
  VkSemaphore timeline_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::vector<VkCommandBuffer> free_cmds_;
  std::vector<VkDescriptorPool> free_descriptor_pools_;
  std::mutex mutex_;
  uint64_t submitted_ = 0;
  uint64_t retired_ = 0;
  Batch open_;
  std::deque<Batch> in_flight_;
  uint64_t in_flight_staging_ = 0;
  // Waits of retired batches whose streams still need retiring up to the waited value.
  std::vector<TimelineWait> pending_upstream_;
  // The first failure of work on the stream (or the device's loss), reported by every later call.
  common::StickyError sticky_;
  // Threads of AddHostCall, each with the flag it sets once its call has returned (or was
  // skipped).
  struct HostCall {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<HostCall> host_calls_;
  // Notified (under mutex_) when a host call has returned.
  std::condition_variable_any host_cv_;
};

// The ABI's stream handle.
struct Stream {
  std::shared_ptr<StreamCore> core;
};

// An event: a point (timeline value) on the stream it was last recorded on.
struct Event {
  Device* device = nullptr;
  TimestampSlot timestamp;  // pool null without timing
  std::mutex mutex;
  std::shared_ptr<StreamCore> stream;  // null until recorded
  uint64_t value = 0;
};

// Records the barrier that keeps a stream in order: every command sees the device writes of the
// commands before it.
void RecordInOrderBarrier(const DeviceFunctions& vk, VkCommandBuffer cmd);

// Returns PORTA_ERROR_BACKEND with the pending validation messages when there are any,
// otherwise |status|. Called at the end of every fallible entry point.
porta_status_t CheckValidation(Device* device, porta_status_t status, porta_be_msg msg);

// Loads |words| as a module (used for user modules and the built-in fill shader).
porta_status_t LoadModule(Device* device, const uint32_t* words, size_t word_count,
                          Module** out_module, porta_be_msg msg);
void DestroyModule(Module* module);
porta_status_t GetKernel(Module* module, const char* name, Kernel** out_kernel, porta_be_msg msg);
// A kernel launch checked against the kernel and the device and ready to record: its pipeline,
// packed push constants, buffer bindings (in binding order) and grid.
struct PreparedLaunch {
  Kernel::Pipeline pipeline;
  std::vector<uint8_t> push;
  std::vector<VkDescriptorBufferInfo> buffers;
  // The texel views for the layout's texel bindings, in binding order.
  std::vector<VkBufferView> views;
  uint32_t grid[3] = {1, 1, 1};
};

// Checks a launch and prepares it (creating its pipeline on first use).
porta_status_t PrepareLaunch(Kernel* kernel, const porta_launch_config_t* config,
                             const porta_be_arg_t* args, uint32_t arg_count, PreparedLaunch* out,
                             porta_be_msg msg);
// True when |launch| binds an allocated descriptor set (it has buffers and its layout does not
// push descriptors).
bool NeedsDescriptorSet(const PreparedLaunch& launch);
// Writes |launch|'s buffer bindings into |set|, a set of its layout.
void WriteDescriptorSet(Device* device, const PreparedLaunch& launch, VkDescriptorSet set);
// Records |launch| into |cmd|: the pipeline unless |*bound_pipeline| is it already (updated),
// |set| or pushed descriptors, push constants and the dispatch. No barrier.
void RecordLaunch(Device* device, VkCommandBuffer cmd, const PreparedLaunch& launch,
                  VkDescriptorSet set, VkPipeline* bound_pipeline);
// Records a launch of |kernel| on |stream|.
porta_status_t LaunchKernel(StreamCore* stream, Kernel* kernel, const porta_launch_config_t* config,
                            const porta_be_arg_t* args, uint32_t arg_count, porta_be_msg msg);

// A fill split into what records it: whole words with vkCmdFillBuffer, then the partial words
// at the edges with the built-in fill shader.
struct PreparedFill {
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t words_offset = 0;
  uint64_t words_size = 0;  // 0: no whole word
  uint32_t word = 0;
  bool has_edges = false;
  PreparedLaunch edges;
};

// Prepares a fill of |size| bytes at |offset| of |dst| with a 1-, 2- or 4-byte pattern.
porta_status_t PrepareFill(Device* device, Buffer* dst, uint64_t offset, uint64_t size,
                           const void* pattern, uint32_t pattern_size, PreparedFill* out,
                           porta_be_msg msg);

// Records a prepared launch (with its descriptor set, when it needs one) as one command of
// |stream| (vulkan_module.cpp).
porta_status_t RecordOnStream(StreamCore* stream, const PreparedLaunch& launch, porta_be_msg msg);

// "1.2.255" for a packed Vulkan version (vulkan_backend.cpp).
std::string VersionString(uint32_t version);
// True when |extensions| has the extension |name| (vulkan_backend.cpp).
bool HasExtension(const std::vector<VkExtensionProperties>& extensions, const char* name);

// Reads physical device |handle| (Porta device |index|) into |out|, with the porta_device_info_t
// the device reports (vulkan_device.cpp). Returns false with the reason it cannot be a Porta
// device.
bool ProbeDevice(Backend* backend, VkPhysicalDevice handle, uint32_t index, PhysicalDevice* out,
                 std::string* why);

// The stream behind a stream handle.
inline StreamCore* CoreOf(porta_be_stream_t stream) {
  return As<Stream>(stream)->core.get();
}

}  // namespace porta::vulkan

#endif  // PORTA_BACKENDS_VULKAN_VULKAN_OBJECTS_H_
