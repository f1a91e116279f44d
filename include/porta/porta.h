// Porta: one C API for devices, streams, events, memory and kernels on every accelerator.
//
// This header is the whole public contract a framework links against. It compiles as C11 and as
// C++. Every function that can fail returns a porta_status_t; the detail of the most recent
// failure on the calling thread is available from porta_last_error_message().
//
// Objects: runtime -> device -> buffer, stream, event, module -> kernel. Handles are opaque
// pointers. Objects that queued work may still use (buffers, modules) are reference counted
// inside the runtime: destroying one while work is queued is safe, and the memory is released
// once that work has completed and been observed (a synchronize, a completed query or a
// completed event wait on the stream that used it).
//
// Thread safety: every function may be called from any thread, and a stream may be fed from
// several threads at once (calls on one stream are serialized by the runtime).
#ifndef PORTA_PORTA_H_
#define PORTA_PORTA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//===------------------------------------------------------------------------------------------===//
// Types
//===------------------------------------------------------------------------------------------===//

#if defined(_WIN32)
#define PORTA_API_EXPORT __declspec(dllexport)
#else
#define PORTA_API_EXPORT __attribute__((visibility("default")))
#endif

// Marks every function of the public API; exported from libporta.
#define PORTA_API PORTA_API_EXPORT

// Version of this header. The library reports its own with porta_version().
#define PORTA_VERSION_MAJOR 0
#define PORTA_VERSION_MINOR 1
#define PORTA_VERSION_PATCH 0

// Result of every fallible call. PORTA_OK is 0; PORTA_NOT_READY is a non-error answer of the
// query functions; everything else is an error whose detail is in porta_last_error_message().
typedef enum porta_status {
  PORTA_OK = 0,
  // A query found work still pending. Not an error.
  PORTA_NOT_READY = 1,
  // An argument is NULL where it must not be, zero where zero is illegal, or otherwise malformed.
  PORTA_ERROR_INVALID_ARGUMENT = 2,
  // A handle is NULL, already destroyed, or a handle of another kind of object.
  PORTA_ERROR_INVALID_HANDLE = 3,
  // The device or host could not provide the memory.
  PORTA_ERROR_OUT_OF_MEMORY = 4,
  // The device or backend lacks the capability or format the call needs.
  PORTA_ERROR_UNSUPPORTED = 5,
  // A named thing (kernel entry, device index, plugin file) does not exist.
  PORTA_ERROR_NOT_FOUND = 6,
  // An offset, size or count falls outside a buffer or exceeds a device limit.
  PORTA_ERROR_OUT_OF_RANGE = 7,
  // Building a module failed; the message carries the compiler's log.
  PORTA_ERROR_BUILD_FAILED = 8,
  // Work on the device faulted or the device was lost. Sticky on the stream it happened on.
  PORTA_ERROR_DEVICE_LOST = 9,
  // A wait with a finite timeout expired before the work completed.
  PORTA_ERROR_TIMEOUT = 10,
  // A backend plugin implements an incompatible version of the backend ABI.
  PORTA_ERROR_ABI_MISMATCH = 11,
  // The backend's own library reported an error; the message carries its code. Also a backend
  // that broke its contract (an unknown status, a missing object) or an internal error: no C++
  // exception ever leaves a Porta function.
  PORTA_ERROR_BACKEND = 12,
  // The call is not allowed in the current state of an object it names, e.g. synchronizing a
  // stream that is capturing a graph. The message says which state and why.
  PORTA_ERROR_INVALID_OPERATION = 13,
} porta_status_t;

// Initializer of a struct that starts with struct_size: sets it, zeroes the rest. Designated in
// C, a value-initializing function in C++ (constexpr from C++14), so that
// -Wmissing-field-initializers stays quiet in applications with every compiler and standard.
#ifdef __cplusplus
extern "C++" {
template <typename T>
#if __cplusplus >= 201402L
constexpr
#else
inline
#endif
    T
    porta_struct_init_() {
  T value = T();
  value.struct_size = sizeof(T);
  return value;
}
}
#define PORTA_STRUCT_INIT(type) porta_struct_init_<type>()
#else
#define PORTA_STRUCT_INIT(type) \
  { .struct_size = sizeof(type) }
#endif

// Opaque handles.
typedef struct porta_runtime* porta_runtime_t;
typedef struct porta_device* porta_device_t;
typedef struct porta_buffer* porta_buffer_t;
typedef struct porta_stream* porta_stream_t;
typedef struct porta_event* porta_event_t;
typedef struct porta_module* porta_module_t;
typedef struct porta_kernel* porta_kernel_t;
typedef struct porta_graph* porta_graph_t;
typedef struct porta_graph_exec* porta_graph_exec_t;

// What kind of processor a device is.
typedef enum porta_device_type {
  PORTA_DEVICE_TYPE_CPU = 1,
  PORTA_DEVICE_TYPE_GPU = 2,
  // A neural processing unit.
  PORTA_DEVICE_TYPE_NPU = 3,
  // Any other accelerator (DSP, FPGA, custom device).
  PORTA_DEVICE_TYPE_ACCELERATOR = 4,
} porta_device_type_t;

// Formats in which kernels can be handed to a device. A device lists the ones it accepts as a
// bit mask of PORTA_FORMAT_BIT(format) in porta_device_info_t.kernel_formats.
typedef enum porta_kernel_format {
  // C functions compiled into the application; data points to porta_host_kernel_t entries.
  PORTA_FORMAT_HOST = 1,
  // OpenCL C source text, compiled by the driver at load time.
  PORTA_FORMAT_OPENCL_C = 2,
  // OpenCL-flavour SPIR-V (Kernel capability), as Level Zero and OpenCL 2.1+ take.
  PORTA_FORMAT_SPIRV_KERNEL = 3,
  // Vulkan compute SPIR-V (Shader capability).
  PORTA_FORMAT_SPIRV_SHADER = 4,
  // CUDA PTX text, JIT-compiled by the driver.
  PORTA_FORMAT_PTX = 5,
  // CUDA cubin or fatbin.
  PORTA_FORMAT_CUBIN = 6,
  // AMD HIP code object.
  PORTA_FORMAT_HSACO = 7,
  // A vendor's own binary for one architecture (an NPU's compiled graph, a DSP's object file):
  // a porta_native_header_t naming the architecture, then the binary as the vendor's compiler
  // wrote it. A device runs only binaries whose tag it lists in porta_device_info_t.native_tags.
  PORTA_FORMAT_NATIVE = 8,
} porta_kernel_format_t;

// Number of porta_kernel_format_t values plus one; formats are 1..PORTA_FORMAT_COUNT-1.
#define PORTA_FORMAT_COUNT 9
#define PORTA_FORMAT_BIT(format) (1u << (uint32_t)(format))

// Bytes of a native architecture tag with its terminating NUL: a tag has 1 to 55 characters.
#define PORTA_NATIVE_TAG_SIZE 56
// Most native tags one device lists.
#define PORTA_MAX_NATIVE_TAGS 8
// The 8 bytes a PORTA_FORMAT_NATIVE source starts with (no NUL follows them).
#define PORTA_NATIVE_MAGIC "PORTANB1"

// The first 64 bytes of a PORTA_FORMAT_NATIVE source; the vendor's binary follows at byte 64,
// unchanged. |tag| names the architecture the binary was built for, as its vendor spells it,
// conventionally "<vendor>-<architecture>[:<revision>]" ("acme-npu2:v3"): 1 to 55 letters,
// digits and characters of "._:+-", then a NUL, and zeros to the end of the field. Tags are
// compared exactly. Characters only, so the layout is the same on every platform.
typedef struct porta_native_header {
  // PORTA_NATIVE_MAGIC.
  char magic[8];
  char tag[PORTA_NATIVE_TAG_SIZE];
} porta_native_header_t;

// Capability flags of porta_device_info_t.capabilities.
#define PORTA_CAP_FP16 (1ull << 0)
#define PORTA_CAP_BF16 (1ull << 1)
#define PORTA_CAP_FP64 (1ull << 2)
#define PORTA_CAP_INT64 (1ull << 3)
// 32-bit atomics on global and local memory.
#define PORTA_CAP_ATOMICS (1ull << 4)
// Buffers can be allocated with PORTA_MEMORY_HOST_VISIBLE and mapped.
#define PORTA_CAP_HOST_VISIBLE_MEMORY (1ull << 5)
// Device and host share one physical memory (integrated GPUs, the CPU).
#define PORTA_CAP_UNIFIED_MEMORY (1ull << 6)
#define PORTA_CAP_INT8 (1ull << 7)
// Events recorded on the device's streams carry timestamps (porta_event_elapsed_ms works).
#define PORTA_CAP_TIMESTAMPS (1ull << 8)
// Graph instances replay each run of two or more kernel, device-to-device copy and fill nodes as
// one native graph (porta_graph_exec_native_node_count counts those nodes), as the device was
// found when the runtime opened it. Not set when PORTA_GRAPH_NATIVE=0.
#define PORTA_CAP_NATIVE_GRAPHS (1ull << 9)

#define PORTA_NAME_SIZE 256
#define PORTA_MAX_SUBGROUP_SIZES 8

// Everything Porta knows about a device. Set struct_size (PORTA_DEVICE_INFO_INIT does) before
// calling porta_device_get_info; fields that start beyond struct_size are not written.
typedef struct porta_device_info {
  size_t struct_size;
  // Device and vendor names exactly as the driver reports them.
  char name[PORTA_NAME_SIZE];
  char vendor[PORTA_NAME_SIZE];
  // Backend that drives the device: "cpu", "opencl", "vulkan", "cuda", "hip", "level_zero", or
  // a plugin's own name.
  char backend[64];
  porta_device_type_t type;
  // Architecture as the vendor names it: "sm_90", "gfx90a", "x86_64", "OpenCL C 1.2 ...".
  char architecture[PORTA_NAME_SIZE];
  char driver_version[PORTA_NAME_SIZE];
  // Index of the device inside its backend.
  uint32_t backend_device_index;
  // Memory for buffers, as the driver reports it, and the limit the runtime holds the device's
  // buffers to: the bytes of all live buffers of the device (both kinds, including the blocks
  // the device pool caches) never exceed it. 0 when a backend reports no figure (no limit then).
  // The system may have less to give (an address-space limit, other processes); allocations
  // then fail earlier, also with PORTA_ERROR_OUT_OF_MEMORY.
  uint64_t global_memory_bytes;
  // Largest single buffer porta_buffer_alloc accepts.
  uint64_t max_allocation_bytes;
  uint32_t compute_units;
  // Largest work-group (block) size in work items, and the largest size in each dimension.
  uint32_t max_work_group_size;
  uint32_t max_work_group_dims[3];
  // Largest grid (number of work-groups) in each dimension.
  uint32_t max_grid_dims[3];
  // Local (shared) memory available to one work-group, in bytes.
  uint64_t local_memory_bytes;
  // Subgroup (warp, wavefront, SIMD width) sizes the device supports.
  uint32_t subgroup_sizes[PORTA_MAX_SUBGROUP_SIZES];
  uint32_t subgroup_size_count;
  // PORTA_CAP_* flags.
  uint64_t capabilities;
  // Bit mask of PORTA_FORMAT_BIT(porta_kernel_format_t).
  uint32_t kernel_formats;
  // Device UUID as the driver reports it; all zero when the driver has none.
  uint8_t uuid[16];
  // Bytes a kernel can reach through one buffer argument, counted from the argument's offset:
  // max_allocation_bytes on most devices, less where the API caps a binding (Vulkan's
  // maxStorageBufferRange; lavapipe's is 128 MiB). Bytes beyond it are invisible to the kernel.
  uint64_t max_kernel_buffer_range_bytes;
  // Architecture tags of the PORTA_FORMAT_NATIVE binaries the device runs, native_tag_count of
  // them (several when it also runs binaries built for older revisions), each as
  // porta_native_header_t describes. kernel_formats has PORTA_FORMAT_NATIVE exactly when
  // native_tag_count is nonzero.
  char native_tags[PORTA_MAX_NATIVE_TAGS][PORTA_NATIVE_TAG_SIZE];
  uint32_t native_tag_count;
} porta_device_info_t;

#define PORTA_DEVICE_INFO_INIT PORTA_STRUCT_INIT(porta_device_info_t)

// Where a buffer lives.
typedef enum porta_memory_kind {
  // Fastest memory for the device; not mappable on the host.
  PORTA_MEMORY_DEVICE = 0,
  // Memory the host can map with porta_buffer_map (needs PORTA_CAP_HOST_VISIBLE_MEMORY).
  PORTA_MEMORY_HOST_VISIBLE = 1,
} porta_memory_kind_t;

// Statistics of a device's buffer pool, written by porta_device_pool_get_stats. Set struct_size
// (PORTA_POOL_STATS_INIT does); fields that start beyond struct_size are not written. Byte counts
// are of whole blocks: a request is rounded up to its size class (at most 25% more, at least 256
// bytes), and that is what the backend allocated.
typedef struct porta_pool_stats {
  size_t struct_size;
  // Nonzero when the pool caches blocks; 0 when PORTA_POOL=0 turned it off. Then the byte counts
  // and hit_count stay 0, every porta_buffer_alloc_async is a miss, and the calls are counted.
  uint32_t enabled;
  // Backend memory the pool holds: blocks in use, blocks cached, and trimmed blocks that queued
  // work still uses (released to the backend once that work completes).
  uint64_t reserved_bytes;
  // Blocks lent out by porta_buffer_alloc_async and not yet freed.
  uint64_t in_use_bytes;
  // Blocks in the cache, waiting for reuse (including those still pending on their stream).
  uint64_t cached_bytes;
  // Highest reserved_bytes so far.
  uint64_t peak_reserved_bytes;
  // The limit of porta_device_pool_set_limit; 0 when there is none.
  uint64_t limit_bytes;
  // Successful porta_buffer_alloc_async and porta_buffer_free_async calls on the device.
  uint64_t alloc_count;
  uint64_t free_count;
  // Allocations served from the cache, and those that allocated from the backend.
  uint64_t hit_count;
  uint64_t miss_count;
  // Cached blocks released to the backend by trims (explicit, to meet the limit, or to retry an
  // allocation the backend refused), and their bytes.
  uint64_t trimmed_blocks;
  uint64_t trimmed_bytes;
} porta_pool_stats_t;

#define PORTA_POOL_STATS_INIT PORTA_STRUCT_INIT(porta_pool_stats_t)

// porta_memory_info_t.free_bytes when the driver does not tell.
#define PORTA_MEMORY_UNKNOWN UINT64_MAX

// A device's memory right now, written by porta_device_get_memory_info. Set struct_size
// (PORTA_MEMORY_INFO_INIT does); fields that start beyond struct_size are not written.
typedef struct porta_memory_info {
  size_t struct_size;
  // Bytes the driver says are free on the device now, for this process and every other; what
  // other processes allocate comes off it. PORTA_MEMORY_UNKNOWN where the driver does not tell.
  uint64_t free_bytes;
  // The device's memory for buffers: global_memory_bytes of porta_device_info_t (0 when the
  // backend reports no figure).
  uint64_t total_bytes;
  // Bytes of this process's live buffers on the device, as the runtime holds them against
  // total_bytes: every buffer of both kinds, the blocks the device pool caches included.
  uint64_t allocated_bytes;
} porta_memory_info_t;

#define PORTA_MEMORY_INFO_INIT PORTA_STRUCT_INIT(porta_memory_info_t)

// Most native objects a porta_native_handles_t carries.
#define PORTA_NATIVE_HANDLE_MAX 8

// A device's, stream's or buffer's objects in the backend's own API (a cl_context, a CUstream, a
// VkBuffer), written by porta_device_get_native_handles, porta_stream_get_native_handles and
// porta_buffer_get_native_handles, and read by porta_buffer_import. Set struct_size
// (PORTA_NATIVE_HANDLES_INIT does). Pointers and Vulkan handles are stored as uint64_t; which
// handle sits at which index is fixed per backend by the PORTA_NATIVE_* indices below.
typedef struct porta_native_handles {
  size_t struct_size;
  // The backend the handles belong to, as porta_device_info_t.backend names it ("cuda", "opencl",
  // ...); check it before casting the handles.
  char backend[64];
  // Handles set; the rest of |handles| is zero.
  uint32_t count;
  uint64_t handles[PORTA_NATIVE_HANDLE_MAX];
} porta_native_handles_t;

#define PORTA_NATIVE_HANDLES_INIT PORTA_STRUCT_INIT(porta_native_handles_t)

// Indices into porta_native_handles_t.handles, per backend and object. The CPU device and its
// streams have no native objects (count 0); a CPU buffer is its host address.
//   device                          stream                         buffer
//   cuda:   CUdevice, CUcontext     CUstream                       CUdeviceptr, host address*
//   hip:    hipDevice_t             hipStream_t                    device pointer, host address*
//   opencl: cl_platform_id,         cl_command_queue               cl_mem
//           cl_device_id, cl_context
//   vulkan: VkInstance,             VkQueue, its family index,     VkBuffer, VkDeviceMemory,
//           VkPhysicalDevice,       the stream's timeline          host address*
//           VkDevice, the compute   VkSemaphore
//           queue family index
//   level_zero: ze_driver_handle_t, ze_command_queue_handle_t      pointer
//           ze_device_handle_t, ze_context_handle_t
// (* host-visible buffers only: where the pinned host memory is mapped on the host; 0 otherwise.)
#define PORTA_NATIVE_CPU_BUFFER_POINTER 0
#define PORTA_NATIVE_CUDA_DEVICE 0
#define PORTA_NATIVE_CUDA_CONTEXT 1
#define PORTA_NATIVE_CUDA_STREAM 0
#define PORTA_NATIVE_CUDA_BUFFER_POINTER 0
#define PORTA_NATIVE_CUDA_BUFFER_HOST_POINTER 1
#define PORTA_NATIVE_HIP_DEVICE 0
#define PORTA_NATIVE_HIP_STREAM 0
#define PORTA_NATIVE_HIP_BUFFER_POINTER 0
#define PORTA_NATIVE_HIP_BUFFER_HOST_POINTER 1
#define PORTA_NATIVE_OPENCL_PLATFORM 0
#define PORTA_NATIVE_OPENCL_DEVICE 1
#define PORTA_NATIVE_OPENCL_CONTEXT 2
#define PORTA_NATIVE_OPENCL_QUEUE 0
#define PORTA_NATIVE_OPENCL_BUFFER_MEM 0
#define PORTA_NATIVE_VULKAN_INSTANCE 0
#define PORTA_NATIVE_VULKAN_PHYSICAL_DEVICE 1
#define PORTA_NATIVE_VULKAN_DEVICE 2
#define PORTA_NATIVE_VULKAN_QUEUE_FAMILY 3
#define PORTA_NATIVE_VULKAN_QUEUE 0
#define PORTA_NATIVE_VULKAN_STREAM_QUEUE_FAMILY 1
#define PORTA_NATIVE_VULKAN_STREAM_TIMELINE 2
#define PORTA_NATIVE_VULKAN_BUFFER 0
#define PORTA_NATIVE_VULKAN_BUFFER_MEMORY 1
#define PORTA_NATIVE_VULKAN_BUFFER_HOST_POINTER 2
#define PORTA_NATIVE_LEVEL_ZERO_DRIVER 0
#define PORTA_NATIVE_LEVEL_ZERO_DEVICE 1
#define PORTA_NATIVE_LEVEL_ZERO_CONTEXT 2
#define PORTA_NATIVE_LEVEL_ZERO_QUEUE 0
#define PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER 0

// Called once when an imported buffer is gone: freed, and every piece of queued work that used
// it completed. It runs on whichever thread drops the last use (an API call, a synchronize).
typedef void (*porta_release_fn)(void* user_data);

// What porta_buffer_import wraps. Set struct_size (PORTA_BUFFER_IMPORT_DESC_INIT does).
typedef struct porta_buffer_import_desc {
  size_t struct_size;
  // The memory, laid out as porta_buffer_get_native_handles writes a buffer of the backend:
  // native->backend must name the device's backend.
  const porta_native_handles_t* native;
  // Bytes the buffer covers, from the start of the memory; nonzero.
  uint64_t size;
  // PORTA_MEMORY_HOST_VISIBLE only for memory the host can map (see porta_buffer_import).
  porta_memory_kind_t kind;
  // Optional; called with release_user_data once the buffer is gone.
  porta_release_fn release;
  void* release_user_data;
} porta_buffer_import_desc_t;

#define PORTA_BUFFER_IMPORT_DESC_INIT PORTA_STRUCT_INIT(porta_buffer_import_desc_t)

// A box of bytes for the strided copies (porta_copy_rect_*): |depth| slices of |height| rows of
// |width_bytes| bytes, laid out on each side by its own offset and pitches, like cudaMemcpy3D's
// and clEnqueueCopyBufferRect's. Row y of slice z starts at
//   offset + z * slice_pitch + y * row_pitch
// bytes from the start of the buffer (or of the host pointer). A pitch is read only where it is
// used: the row pitches when height > 1, the slice pitches when depth > 1. Set struct_size
// (PORTA_COPY_REGION_INIT does, with height and depth 1 and everything else 0, so a 2D copy sets
// only the offsets, the row pitches, width_bytes and height).
typedef struct porta_copy_region {
  size_t struct_size;
  // Bytes from the start of each side to the box's first byte.
  uint64_t src_offset;
  uint64_t dst_offset;
  // Bytes from one row to the next (>= width_bytes) and from one slice to the next
  // (>= row pitch * height; >= width_bytes when height is 1), on each side.
  uint64_t src_row_pitch;
  uint64_t src_slice_pitch;
  uint64_t dst_row_pitch;
  uint64_t dst_slice_pitch;
  // The box: bytes per row, rows per slice, slices. A box with any of them 0 is empty.
  uint64_t width_bytes;
  uint64_t height;
  uint64_t depth;
} porta_copy_region_t;

#ifdef __cplusplus
#define PORTA_COPY_REGION_INIT \
  { sizeof(porta_copy_region_t), 0u, 0u, 0u, 0u, 0u, 0u, 0u, 1u, 1u }
#else
#define PORTA_COPY_REGION_INIT \
  { .struct_size = sizeof(porta_copy_region_t), .height = 1u, .depth = 1u }
#endif

// Flags of porta_event_create.
#define PORTA_EVENT_DEFAULT 0u
// The event carries no timestamp; porta_event_elapsed_ms on it fails. Cheaper on some backends.
#define PORTA_EVENT_DISABLE_TIMING (1u << 0)

// Flags of porta_runtime_options_t.flags.
// Do not register the installed backends: those built into libporta and the plugins of the system
// plugin folder (<libdir>/porta/plugins beside libporta). Only the plugins named by
// PORTA_PLUGIN_PATH and |plugin_paths| are loaded.
#define PORTA_RUNTIME_NO_BUILTIN_BACKENDS (1u << 0)
// Ignore the PORTA_PLUGIN_PATH environment variable.
#define PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV (1u << 1)

// Options of porta_runtime_create. Set struct_size (PORTA_RUNTIME_OPTIONS_INIT does).
typedef struct porta_runtime_options {
  size_t struct_size;
  // Extra plugins: colon-separated shared-library files or folders (every lib*.so inside is
  // tried). Loaded after the built-in backends and after PORTA_PLUGIN_PATH, and before the
  // system plugin folder (<libdir>/porta/plugins beside libporta), whose plugins are skipped
  // where one of the same name was loaded already. May be NULL.
  const char* plugin_paths;
  // Device filter and order, same syntax as the PORTA_DEVICES environment variable, e.g.
  // "opencl:0,vulkan:*,cpu". NULL means use PORTA_DEVICES; an empty string means no filter.
  const char* device_filter;
  // PORTA_RUNTIME_* flags.
  uint32_t flags;
} porta_runtime_options_t;

#define PORTA_RUNTIME_OPTIONS_INIT PORTA_STRUCT_INIT(porta_runtime_options_t)

// One backend the runtime tried to load, as reported by porta_runtime_backend_report.
typedef struct porta_backend_report {
  size_t struct_size;
  // Backend name ("cpu", "opencl", ...) or, when loading failed before the name was known, the
  // plugin file's base name.
  char name[64];
  // "built-in" or the plugin's file path.
  char source[1024];
  // Nonzero when the backend loaded and initialized (it may still have zero devices).
  int32_t loaded;
  // Devices the backend found, before the device filter.
  uint32_t device_count;
  // ABI version the backend implements; zero when unknown.
  uint32_t abi_major;
  uint32_t abi_minor;
  // Why it did not load, or why it has no devices; empty when it loaded with devices.
  char reason[2048];
} porta_backend_report_t;

#define PORTA_BACKEND_REPORT_INIT PORTA_STRUCT_INIT(porta_backend_report_t)

// A host-format kernel sees one work-group at a time. Buffer arguments arrive as host pointers
// (base address plus the launch offset), scalar arguments as pointers to their bytes.
typedef struct porta_host_arg {
  void* ptr;
  // Bytes of a scalar; for a buffer, bytes from ptr to the end of the buffer.
  uint64_t size;
} porta_host_arg_t;

// The work-group a host-format kernel is called for.
typedef struct porta_host_group {
  uint32_t group_id[3];
  uint32_t group_count[3];
  uint32_t group_size[3];
  // Dynamic local memory of this work-group (NULL when the launch asked for none), aligned to 64
  // bytes; private to the call.
  void* local_memory;
  uint64_t local_memory_bytes;
  const porta_host_arg_t* args;
  uint32_t arg_count;
} porta_host_group_t;

// A host-format kernel: called once per work-group, possibly concurrently for different groups.
// Returns 0 on success; any other value is a device fault that becomes the stream's sticky
// PORTA_ERROR_DEVICE_LOST, with the value in the message.
typedef int32_t (*porta_host_kernel_fn)(const porta_host_group_t* group);

// One entry of a PORTA_FORMAT_HOST module: the source's data points to an array of these and its
// size is the array's size in bytes.
typedef struct porta_host_kernel {
  const char* name;
  porta_host_kernel_fn fn;
} porta_host_kernel_t;

// One way to build a module. porta_module_load takes the first source whose format the device
// accepts (and, for PORTA_FORMAT_NATIVE, whose tag it lists).
typedef struct porta_module_source {
  porta_kernel_format_t format;
  // Source text (not necessarily NUL-terminated), binary, porta_host_kernel_t array, or
  // porta_native_header_t followed by the vendor's binary.
  const void* data;
  size_t size;
  // Compiler options passed to the driver (OpenCL C build options, PTX JIT is not affected);
  // may be NULL.
  const char* build_options;
  // Kernels the module must contain; loading fails with PORTA_ERROR_NOT_FOUND naming the first
  // missing one. May be NULL when entry_count is 0.
  const char* const* entry_names;
  uint32_t entry_count;
} porta_module_source_t;

// Arguments of porta_module_load. Set struct_size (PORTA_MODULE_DESC_INIT does).
typedef struct porta_module_desc {
  size_t struct_size;
  const porta_module_source_t* sources;
  uint32_t source_count;
} porta_module_desc_t;

#define PORTA_MODULE_DESC_INIT PORTA_STRUCT_INIT(porta_module_desc_t)

// Kind of a kernel argument.
typedef enum porta_arg_kind {
  PORTA_ARG_BUFFER = 1,
  PORTA_ARG_SCALAR = 2,
} porta_arg_kind_t;

// One kernel argument: a buffer plus a byte offset, or the bytes of a scalar (copied at launch).
typedef struct porta_kernel_arg {
  porta_arg_kind_t kind;
  porta_buffer_t buffer;
  uint64_t offset;
  const void* scalar;
  uint32_t scalar_size;
} porta_kernel_arg_t;

// Grid and work-group shape of a launch. Set struct_size (PORTA_LAUNCH_CONFIG_INIT does).
typedef struct porta_launch_config {
  size_t struct_size;
  // Number of work-groups in each dimension (CUDA's grid, OpenCL's global size / local size).
  uint32_t grid[3];
  // Work items of one work-group in each dimension.
  uint32_t block[3];
  // Dynamic local memory per work-group in bytes. How a kernel reaches it depends on the format:
  // see docs/api_guide.md ("Dynamic local memory").
  uint64_t local_memory_bytes;
} porta_launch_config_t;

#ifdef __cplusplus
#define PORTA_LAUNCH_CONFIG_INIT \
  { sizeof(porta_launch_config_t), {1u, 1u, 1u}, {1u, 1u, 1u}, 0u }
#else
#define PORTA_LAUNCH_CONFIG_INIT                                                                \
  {                                                                                             \
    .struct_size = sizeof(porta_launch_config_t), .grid = {1u, 1u, 1u}, .block = { 1u, 1u, 1u } \
  }
#endif

// What one node of a captured graph does (porta_graph_node_kind).
typedef enum porta_graph_node_kind {
  PORTA_GRAPH_NODE_KERNEL = 1,
  PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE = 2,
  PORTA_GRAPH_NODE_COPY_DEVICE_TO_HOST = 3,
  PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE = 4,
  PORTA_GRAPH_NODE_FILL = 5,
  PORTA_GRAPH_NODE_EVENT_RECORD = 6,
  PORTA_GRAPH_NODE_EVENT_WAIT = 7,
} porta_graph_node_kind_t;

//===------------------------------------------------------------------------------------------===//
// API
//===------------------------------------------------------------------------------------------===//

// Writes the library's version (which may be newer than this header's). Any pointer may be NULL.
PORTA_API void porta_version(uint32_t* major, uint32_t* minor, uint32_t* patch);

// Returns the library's version as "major.minor.patch". Never NULL.
PORTA_API const char* porta_version_string(void);

// Returns the name of a status code ("PORTA_ERROR_OUT_OF_RANGE"), or "PORTA_STATUS_UNKNOWN".
PORTA_API const char* porta_status_string(porta_status_t status);

// Returns the short name of a kernel format ("host", "opencl-c", "spirv-kernel", "spirv-shader",
// "ptx", "cubin", "hsaco", "native"), or "unknown". Takes an integer so any value can be asked
// about.
PORTA_API const char* porta_kernel_format_name(int32_t format);

// Checks that the |size| bytes at |data| are a PORTA_FORMAT_NATIVE source: a porta_native_header_t
// with PORTA_NATIVE_MAGIC and a well-formed tag, followed by at least one byte of the vendor's
// binary. Writes the tag, NUL-terminated, to |out_tag| (PORTA_NATIVE_TAG_SIZE bytes) when it is
// not NULL. Returns PORTA_ERROR_INVALID_ARGUMENT saying what is wrong otherwise (porta_module_load
// makes the same check of every native source).
PORTA_API porta_status_t porta_native_binary_tag(const void* data, size_t size, char* out_tag);

// Returns the detail of the most recent failed call on the calling thread: which argument, which
// limit, the backend's own error code, a compiler log. Successful calls leave it unchanged. The
// text stays valid until the next failing call on this thread. Never NULL ("" before any
// failure).
PORTA_API const char* porta_last_error_message(void);

// Makes |message| the calling thread's last-error text (what porta_last_error_message() returns)
// and returns |status|. For libraries layered on Porta, such as the operator library, so that
// their failures reach the application through the same channel as the runtime's. A NULL
// |message| sets "". Never fails.
PORTA_API porta_status_t porta_set_last_error(porta_status_t status, const char* message);

// --- Runtime -------------------------------------------------------------------------------------

// Creates a runtime: registers the built-in backends, loads the plugins named by
// PORTA_PLUGIN_PATH and |options|, then those of the system plugin folder (every lib*.so in
// <libdir>/porta/plugins, the folder beside libporta), opens every device and applies the device
// filter. A backend
// or plugin that fails is skipped and reported in the diagnostics; it never fails the call.
// |options| may be NULL for defaults. Returns PORTA_ERROR_INVALID_ARGUMENT when the device filter
// cannot be parsed.
PORTA_API porta_status_t porta_runtime_create(const porta_runtime_options_t* options,
                                              porta_runtime_t* out_runtime);

// Releases the application's reference to |runtime|. Its device handles become invalid at once
// (PORTA_ERROR_INVALID_HANDLE); buffers, streams and other objects that are still alive stay
// usable and keep the backends loaded until they are destroyed, but porta_buffer_device and
// porta_stream_device on them then fail with PORTA_ERROR_INVALID_OPERATION.
PORTA_API porta_status_t porta_runtime_destroy(porta_runtime_t runtime);

// Writes the number of devices that passed the device filter.
PORTA_API porta_status_t porta_runtime_device_count(porta_runtime_t runtime, uint32_t* out_count);

// Writes device |index| (0 <= index < count) in filter order. Device handles are owned by the
// runtime and valid for its lifetime. Returns PORTA_ERROR_OUT_OF_RANGE for a bad index.
PORTA_API porta_status_t porta_runtime_device(porta_runtime_t runtime, uint32_t index,
                                              porta_device_t* out_device);

// Writes the number of backends the runtime tried (built-in and plugins, loaded or not).
PORTA_API porta_status_t porta_runtime_backend_count(porta_runtime_t runtime, uint32_t* out_count);

// Fills |report| for backend |index|. Set report->struct_size first.
PORTA_API porta_status_t porta_runtime_backend_report(porta_runtime_t runtime, uint32_t index,
                                                      porta_backend_report_t* report);

// Writes a human-readable list of every backend tried, loaded or not and why, into |buffer| as
// a NUL-terminated string, truncated to |buffer_size|. |out_required| (may be NULL) receives the
// size needed including the NUL. |buffer| may be NULL when |buffer_size| is 0.
PORTA_API porta_status_t porta_runtime_diagnostics(porta_runtime_t runtime, char* buffer,
                                                   size_t buffer_size, size_t* out_required);

// --- Devices -------------------------------------------------------------------------------------

// Fills |info|; set info->struct_size first (PORTA_DEVICE_INFO_INIT). Returns
// PORTA_ERROR_INVALID_ARGUMENT when struct_size is smaller than the first field's end.
PORTA_API porta_status_t porta_device_get_info(porta_device_t device, porta_device_info_t* info);

// Fills |info| with the device's free, total and allocated bytes now (porta_memory_info_t); set
// info->struct_size first (PORTA_MEMORY_INFO_INIT). free_bytes comes from the driver on every
// call (cudaMemGetInfo's answer on CUDA and HIP, the memory budget on Vulkan, available system
// memory on the CPU device) or is PORTA_MEMORY_UNKNOWN. Returns PORTA_ERROR_INVALID_ARGUMENT for
// a NULL |info| or a struct_size smaller than the first field's end, and the driver's error when
// asking it failed.
PORTA_API porta_status_t porta_device_get_memory_info(porta_device_t device,
                                                      porta_memory_info_t* info);

// --- Buffers -------------------------------------------------------------------------------------

// Allocates |size| bytes of |kind| memory on |device|. Returns PORTA_ERROR_INVALID_ARGUMENT for
// size 0, PORTA_ERROR_OUT_OF_RANGE (with the limit) when |size| exceeds the device's
// max_allocation_bytes, PORTA_ERROR_UNSUPPORTED for host-visible memory on a device without it,
// PORTA_ERROR_OUT_OF_MEMORY (with the sizes) when the device's buffers would exceed its
// global_memory_bytes even after the device pool gave back its cached blocks, or when the driver
// or the system has no memory left. The contents start undefined.
PORTA_API porta_status_t porta_buffer_alloc(porta_device_t device, uint64_t size,
                                            porta_memory_kind_t kind, porta_buffer_t* out_buffer);

// Releases one of the application's references to |buffer| (the allocation's, or one of
// porta_buffer_retain). When it was the last one the handle is invalid immediately, and queued
// work that uses the buffer keeps the memory alive until it completes. Returns
// PORTA_ERROR_INVALID_HANDLE for a buffer freed more often than it was allocated and retained.
PORTA_API porta_status_t porta_buffer_free(porta_buffer_t buffer);

// Adds a reference to |buffer|, as clRetainMemObject does: each retain needs one more
// porta_buffer_free (or porta_buffer_free_async), and the handle stays valid, with its memory
// and contents, until the last of them. Lets a holder that outlives the buffer's owner (a
// DLPack export, a framework's tensor) keep it without coordinating with that owner. Any thread
// may retain and free concurrently. Returns PORTA_ERROR_INVALID_HANDLE for a buffer already
// freed.
PORTA_API porta_status_t porta_buffer_retain(porta_buffer_t buffer);

// Writes the buffer's size in bytes.
PORTA_API porta_status_t porta_buffer_size(porta_buffer_t buffer, uint64_t* out_size);

// Writes the device that owns |buffer|. Returns PORTA_ERROR_INVALID_OPERATION when that device
// was closed with its runtime (porta_runtime_destroy) while the buffer lived on.
PORTA_API porta_status_t porta_buffer_device(porta_buffer_t buffer, porta_device_t* out_device);

// Maps bytes [offset, offset + size) of a host-visible buffer and writes a host pointer to them.
// The call does not wait for queued work: synchronize the streams that use the buffer first.
// One mapping per buffer at a time. Returns PORTA_ERROR_UNSUPPORTED for a device-local buffer,
// PORTA_ERROR_OUT_OF_RANGE when the range does not fit, PORTA_ERROR_INVALID_ARGUMENT when the
// buffer is already mapped.
PORTA_API porta_status_t porta_buffer_map(porta_buffer_t buffer, uint64_t offset, uint64_t size,
                                          void** out_ptr);

// Ends the mapping of |buffer|; host writes become visible to later device work. Returns
// PORTA_ERROR_INVALID_ARGUMENT when the buffer is not mapped.
PORTA_API porta_status_t porta_buffer_unmap(porta_buffer_t buffer);

// Writes the backend's native handle of the buffer: a cl_mem, a VkBuffer (as uint64_t), a
// CUdeviceptr or hipDeviceptr_t, a Level Zero pointer, or the host address for the CPU.
// Returns PORTA_ERROR_UNSUPPORTED when the backend does not expose one.
PORTA_API porta_status_t porta_buffer_native_handle(porta_buffer_t buffer, uint64_t* out_handle);

// --- Native interop ------------------------------------------------------------------------------
//
// A framework that already drives a device through its vendor API (cuBLAS, CLBlast, its own
// kernels) reaches the objects behind Porta's, and wraps its own memory as Porta buffers. Each
// get function fills a porta_native_handles_t (set struct_size first) and returns
// PORTA_ERROR_INVALID_ARGUMENT for a NULL |out| or a struct_size smaller than the struct, and
// PORTA_ERROR_UNSUPPORTED naming the backend when it does not expose the objects (a plugin built
// before ABI 1.4). The handles stay valid while the Porta object lives; do not destroy them.
//
// Ordering between native work and Porta work on one stream:
// - CUDA, HIP and OpenCL: the native queue is the stream's own in-order queue. Work enqueued on it
//   runs after the Porta work queued before and before the Porta work queued after, exactly as on
//   a CUDA stream; events recorded on the stream cover both.
// - Vulkan and Level Zero: Porta batches commands and submits them to the queue later (on a
//   synchronize, an event record, or a full batch), and the queue is shared by the device's
//   streams. Synchronize the Porta stream before submitting native work, wait for that work to
//   complete before queuing more Porta work on any stream of the device, and make no Porta call
//   on the device from another thread while you submit (Vulkan requires queue submissions to be
//   externally synchronized).
// Between devices, or from native work to a Porta stream that is not its own, synchronize on the
// native side, or record a Porta event and wait for it.

// Writes the device's native objects (the layout per backend is above porta_native_handles_t).
PORTA_API porta_status_t porta_device_get_native_handles(porta_device_t device,
                                                         porta_native_handles_t* out);

// Writes the stream's native queue. On OpenCL this also moves the stream to its profiling queue
// (which it otherwise does when an event with timing is first recorded), so the queue handed out
// stays the stream's queue. Returns PORTA_ERROR_INVALID_OPERATION while the stream captures, and
// invalidates that capture (work queued on the native queue would bypass it).
PORTA_API porta_status_t porta_stream_get_native_handles(porta_stream_t stream,
                                                         porta_native_handles_t* out);

// Writes the buffer's native memory objects. A buffer of porta_buffer_alloc_async is a block of
// the device pool, and its memory may be larger than porta_buffer_size says.
PORTA_API porta_status_t porta_buffer_get_native_handles(porta_buffer_t buffer,
                                                         porta_native_handles_t* out);

// Wraps memory the application allocated on |device| as a buffer of desc->size bytes, without
// copying. The runtime never frees that memory: porta_buffer_free ends the wrapper, and once the
// queued work that used it has completed, desc->release (when set) is called. Until then the
// memory must stay allocated. What each backend accepts in desc->native:
// - cpu: a host address, at least 16-byte aligned (either kind);
// - cuda / hip: a device pointer of the device's context; for PORTA_MEMORY_HOST_VISIBLE also the
//   host address of the same (pinned, mapped) memory;
// - opencl: a cl_mem of the device's context of at least desc->size bytes (the buffer holds a
//   reference to it, released before desc->release runs);
// - vulkan: a VkBuffer of the device, created with storage, transfer-source and
//   transfer-destination usage and bound to memory; for PORTA_MEMORY_HOST_VISIBLE also the host
//   address where the application mapped the buffer's first byte (host-coherent memory, mapped
//   for the buffer's whole life); the VkDeviceMemory handle is not read;
// - level_zero: a device, shared or host allocation of the device's context.
// A handle that is not a live object of the backend's API (a freed cl_mem, a made-up VkBuffer) is
// as undefined as in that API: OpenCL and Vulkan give no way to recognize one, so Porta checks
// only what the driver can answer about a valid object. The imported buffer does not count
// towards the device's allocated bytes (its memory is not the
// runtime's) and works with every call that takes a buffer. Returns PORTA_ERROR_INVALID_ARGUMENT
// for a NULL or short |desc|, a NULL native, a size of 0, a bad kind, a zero handle, or handles
// of another backend (naming both), PORTA_ERROR_UNSUPPORTED for host-visible memory on a device
// without PORTA_CAP_HOST_VISIBLE_MEMORY or a backend without import, and the driver's answer when
// it refuses the memory (a cl_mem of another context, a buffer smaller than desc->size).
PORTA_API porta_status_t porta_buffer_import(porta_device_t device,
                                             const porta_buffer_import_desc_t* desc,
                                             porta_buffer_t* out_buffer);

// --- Host memory registration --------------------------------------------------------------------
//
// Registering a range of ordinary host memory (malloc, new, mmap) with a device makes it a faster
// source and destination of that device's copies, as cudaHostRegister does: the backend pins the
// pages or wraps them in a native buffer, so a copy runs as one device transfer straight from or
// to them instead of through the driver's or the runtime's staging memory. Registration is per
// device: a range used with two devices is registered with each, and a registration has no
// effect on another device's copies.
//
// Every host copy (porta_copy_host_to_device, porta_copy_device_to_host and the porta_copy_rect_*
// pair) whose host bytes, from the first to the last, lie inside one registered range of the
// stream's device takes the registered path; any other copy, including one that straddles the
// end of a range, takes the ordinary path, with the same result. Copies recorded into a graph
// replay through the ordinary path. Where the backend has no faster path (the CPU device, whose
// buffers are host memory already; a backend built before ABI 1.4; a driver without the feature;
// an alignment the backend needs and the range does not meet) registration still succeeds and
// only records the range: copies take the ordinary path, and correctness never depends on it.
// Which backends use which path, and their alignment needs, is in docs/backends/<name>.md.
//
// Rules while a range is registered: the memory must stay allocated until
// porta_host_unregister returns; the application may read and write it with the host as before,
// subject to the usual copy rule (a copy's source unchanged and its destination untouched until
// the copy completes).

// Flags of porta_host_register.
#define PORTA_HOST_REGISTER_DEFAULT 0u

// Registers the |size| bytes at |ptr| with |device|. |flags| must be PORTA_HOST_REGISTER_DEFAULT
// (other values are reserved). No alignment is required by the API. Returns
// PORTA_ERROR_INVALID_ARGUMENT, naming the argument, for a NULL |ptr|, a |size| of 0, a range that
// wraps around the address space, or unknown |flags|; PORTA_ERROR_INVALID_OPERATION when the range
// overlaps one already registered with |device| (naming that range); the driver's error when it
// refuses the memory (PORTA_ERROR_OUT_OF_MEMORY when it cannot pin that much).
PORTA_API porta_status_t porta_host_register(porta_device_t device, void* ptr, uint64_t size,
                                             uint32_t flags);

// Unregisters the range that starts at |ptr| (the pointer given to porta_host_register) from
// |device|. The copies queued before this call whose host bytes lie inside the range (those that
// take the registered path, or would on a backend that has one; not graph replays) are waited
// for: the call blocks until they have completed, on every stream that queued one, even one that
// faulted or is capturing, then releases the backend's registration. Once it returns, the
// application may free the memory and read what those copies wrote. Copies queued after it take
// the ordinary path. Returns PORTA_ERROR_INVALID_ARGUMENT, naming |ptr|, for a NULL |ptr| or one
// that does not start a range registered with |device| (also for a pointer inside a range, naming
// that range). A copy that another thread queues from the range while this call runs races with
// it (as with any use of memory being released); the runtime then keeps the backend's
// registration until that copy has completed. Ranges still registered when the runtime is
// destroyed are released with their device, once the device's last buffer and stream are gone.
PORTA_API porta_status_t porta_host_unregister(porta_device_t device, void* ptr);

// --- Stream-ordered allocation and the device pool ----------------------------------------------
//
// Each device has a pool of backend buffers. porta_buffer_alloc_async takes a block from it (or
// allocates one) and porta_buffer_free_async gives it back in stream order, so a model's
// per-operation temporaries cost no backend allocation once the pool is warm. A block freed on
// stream A is reused at once by later allocations on A (A runs in order), and by allocations on
// another stream B only when B is ordered after the free: the runtime has seen A pass it (a
// synchronize, a completed query, or a completed wait or query of an event recorded on A after
// the free), or B waits (porta_stream_wait_event) on an event recorded on A after the free.
// Setting the environment variable PORTA_POOL=0 before creating the runtime turns caching off for
// debugging: the calls keep their meaning but allocate from and free to the backend directly.
// Neither call can be captured into a graph: on a capturing stream both fail with
// PORTA_ERROR_INVALID_OPERATION and invalidate the capture (allocate before capturing instead).

// Allocates |size| bytes of |kind| memory on the stream's device, for work queued on |stream|
// after this call (or on another stream once it is ordered after this call, for example by an
// event recorded on |stream|). Fails like porta_buffer_alloc (PORTA_ERROR_INVALID_ARGUMENT for
// size 0 or a bad kind, PORTA_ERROR_OUT_OF_RANGE beyond max_allocation_bytes,
// PORTA_ERROR_UNSUPPORTED for host-visible memory on a device without it), and with
// PORTA_ERROR_OUT_OF_MEMORY naming the limit when the block would take the pool beyond the limit
// of porta_device_pool_set_limit even after trimming the cache. When the backend runs out of
// memory the pool trims its cache and tries once more. The contents start undefined (a reused
// block holds what its last user wrote). The buffer may also be freed with porta_buffer_free; its
// block then returns to the pool once all queued work that uses it has completed.
PORTA_API porta_status_t porta_buffer_alloc_async(porta_stream_t stream, uint64_t size,
                                                  porta_memory_kind_t kind,
                                                  porta_buffer_t* out_buffer);

// Frees |buffer| in stream order: the handle is invalid at once, and the block returns to the pool
// when |stream| reaches this point (work queued on |stream| before this call may still use it;
// work on other streams that uses it must be ordered before this call, as with CUDA's
// cudaFreeAsync, or it may see a later user's data). A mapped buffer is unmapped first. A buffer
// from porta_buffer_alloc is accepted too and released as porta_buffer_free does (once queued
// work that uses it has completed); it does not join the pool. A buffer that a graph or graph
// instance uses keeps its memory until they and their queued replays are gone. A buffer retained
// (porta_buffer_retain) more often than freed only loses one reference, as with
// porta_buffer_free: it stays valid, and its block goes with its last reference. Returns
// PORTA_ERROR_INVALID_HANDLE for a buffer already freed, PORTA_ERROR_INVALID_ARGUMENT when the
// buffer belongs to another device than the stream.
PORTA_API porta_status_t porta_buffer_free_async(porta_stream_t stream, porta_buffer_t buffer);

// Releases cached blocks to the backend, least recently freed first, until at most |keep_bytes|
// stay cached. Blocks in use are not touched; a cached block that queued work still uses is
// released once that work completes. A no-op when pooling is off.
PORTA_API porta_status_t porta_device_pool_trim(porta_device_t device, uint64_t keep_bytes);

// Caps the backend memory the device's pool holds (reserved_bytes) at |limit_bytes|; 0 removes
// the cap. An allocation that would exceed it first trims the cache, then fails with
// PORTA_ERROR_OUT_OF_MEMORY. A limit below what the pool holds now trims the cache at once; blocks
// in use stay valid. No effect while pooling is off (PORTA_POOL=0).
PORTA_API porta_status_t porta_device_pool_set_limit(porta_device_t device, uint64_t limit_bytes);

// Fills |stats| with the device pool's statistics; set stats->struct_size first
// (PORTA_POOL_STATS_INIT). Returns PORTA_ERROR_INVALID_ARGUMENT when struct_size is smaller than
// the first field's end.
PORTA_API porta_status_t porta_device_pool_get_stats(porta_device_t device,
                                                     porta_pool_stats_t* stats);

// --- Streams -------------------------------------------------------------------------------------

// Creates an in-order, asynchronous work queue on |device|.
PORTA_API porta_status_t porta_stream_create(porta_device_t device, porta_stream_t* out_stream);

// Waits for the stream's queued work, then destroys it. A sticky device error is not returned
// here; destroying never fails on a valid handle.
PORTA_API porta_status_t porta_stream_destroy(porta_stream_t stream);

// Writes the device |stream| belongs to. Returns PORTA_ERROR_INVALID_OPERATION when that device
// was closed with its runtime (porta_runtime_destroy) while the stream lived on.
PORTA_API porta_status_t porta_stream_device(porta_stream_t stream, porta_device_t* out_device);

// Waits until every piece of work queued on |stream| has completed. Returns the stream's sticky
// error (PORTA_ERROR_DEVICE_LOST with the fault's detail) if any work faulted; the error stays on
// the stream and every later call on it returns it too.
PORTA_API porta_status_t porta_stream_synchronize(porta_stream_t stream);

// Returns PORTA_OK when all queued work has completed, PORTA_NOT_READY while some is pending, or
// the stream's sticky error.
PORTA_API porta_status_t porta_stream_query(porta_stream_t stream);

// A function the application queues on a stream with porta_stream_enqueue_host_func.
typedef void (*porta_host_fn)(void* user_data);

// Queues a call of |fn|(|user_data|) on |stream|, as cudaLaunchHostFunc does: it runs on a thread
// of the runtime or the driver once all work queued on |stream| before it has completed, and the
// work queued after it starts only once |fn| has returned; events recorded after it complete
// after it. |fn| must not make Porta calls on |stream| (it would wait for itself) and should
// return soon, since the stream waits for it. It is not called when work queued before it
// faulted (the stream's sticky error tells of the fault). Per backend: CUDA and HIP hand it to
// the driver; the CPU device's worker and OpenCL (an event callback gating a user event) run it
// without blocking the caller; Vulkan submits the work queued after |fn| once |fn| has returned,
// so a call that has to submit (an event record, a synchronize, a full batch) waits for |fn|;
// Level Zero, HIP runtimes without hipLaunchHostFunc (ROCm 5.2) and plugins without the
// stream_host_func slot run |fn| here, on the calling thread, after synchronizing the stream.
// Returns PORTA_ERROR_INVALID_ARGUMENT for a NULL |fn|, and PORTA_ERROR_INVALID_OPERATION on a
// capturing stream (and invalidates the capture: a host function cannot be captured yet).
PORTA_API porta_status_t porta_stream_enqueue_host_func(porta_stream_t stream, porta_host_fn fn,
                                                        void* user_data);

// Copies |size| bytes from host memory |src| into |dst| at |dst_offset|, in stream order.
// |src| must stay valid and unchanged until the copy completes (synchronize the stream, or wait
// on an event recorded after the copy). Returns PORTA_ERROR_OUT_OF_RANGE, with the buffer's size
// in the message, when the range does not fit inside |dst|. |dst| must belong to the stream's
// device. A size of 0 is a no-op.
PORTA_API porta_status_t porta_copy_host_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                   uint64_t dst_offset, const void* src,
                                                   uint64_t size);

// Copies |size| bytes of |src| at |src_offset| into host memory |dst|, in stream order. |dst|
// must stay valid until the copy completes; its contents are defined only after that.
PORTA_API porta_status_t porta_copy_device_to_host(porta_stream_t stream, void* dst,
                                                   porta_buffer_t src, uint64_t src_offset,
                                                   uint64_t size);

// Copies |size| bytes between two buffers, in stream order. The buffers may belong to different
// devices, even of different backends, as long as one of them belongs to the stream's device.
// Such a copy uses the backend's peer path when it has one; otherwise it is staged through host
// memory and the call blocks until it has completed. Overlapping ranges of one buffer are
// rejected with PORTA_ERROR_INVALID_ARGUMENT.
PORTA_API porta_status_t porta_copy_device_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                     uint64_t dst_offset, porta_buffer_t src,
                                                     uint64_t src_offset, uint64_t size);

// Fills |size| bytes of |dst| at |offset| with a repeated pattern of |pattern_size| bytes
// (1, 2 or 4), in stream order. |offset| and |size| must be multiples of |pattern_size|
// (PORTA_ERROR_INVALID_ARGUMENT otherwise). The pattern is copied at call time.
PORTA_API porta_status_t porta_fill_buffer(porta_stream_t stream, porta_buffer_t dst,
                                           uint64_t offset, uint64_t size, const void* pattern,
                                           uint32_t pattern_size);

// --- Strided copies (2D and 3D) ------------------------------------------------------------------
//
// Copy the box that |region| describes (porta_copy_region_t), in stream order, as
// cudaMemcpy2D/3D and clEnqueue{Read,Write,Copy}BufferRect do. Each behaves as its 1D counterpart
// above for everything but the shape: the same stream and device rules, the same lifetime rule
// for host memory (|src| valid and unchanged, |dst| valid, until the copy completes), and the same
// graph capture (the host pointer is recorded and used at every replay). A box whose rows and
// slices follow one another without a gap on both sides is one backend copy; otherwise the copy
// is one backend copy per contiguous run (row, or slice where rows are contiguous) and a capture
// records one copy node per run, all queued under one hold of the stream, so no other work
// interleaves. An empty box (width_bytes, height or depth 0) is a no-op once the arguments are
// checked.
//
// Failure modes, each with the argument named in porta_last_error_message():
// - PORTA_ERROR_INVALID_ARGUMENT: a NULL host pointer or region, region->struct_size smaller than
//   sizeof(porta_copy_region_t), a row pitch below width_bytes (rows would overlap) or a slice
//   pitch below row pitch * height (slices would overlap) where they are used, a buffer on the
//   wrong device, or, within one buffer, a src box that shares bytes with the dst box.
// - PORTA_ERROR_OUT_OF_RANGE: a box whose end (one past its last byte) is beyond its buffer,
//   naming the end and the buffer's size, or does not fit in 64 bits (or, for host memory, the
//   address space).
// - A backend that fails part way returns its error with "call k of n" in the message: the runs
//   before call k stay queued and complete, so the destination box is partly written (its
//   contents are undefined); the stream stays usable unless the error is a device fault
//   (PORTA_ERROR_DEVICE_LOST, sticky as always).

// Copies the box of host memory |src| into |dst|, in stream order.
PORTA_API porta_status_t porta_copy_rect_host_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                        const void* src,
                                                        const porta_copy_region_t* region);

// Copies the box of |src| into host memory |dst|, in stream order. The bytes of |dst| between the
// box's rows and slices are left untouched.
PORTA_API porta_status_t porta_copy_rect_device_to_host(porta_stream_t stream, void* dst,
                                                        porta_buffer_t src,
                                                        const porta_copy_region_t* region);

// Copies the box between two buffers, in stream order. They may belong to different devices as for
// porta_copy_device_to_device (then it blocks when staged through host memory, and a capture
// refuses it). Within one buffer the src and dst boxes may interleave but not share a byte.
PORTA_API porta_status_t porta_copy_rect_device_to_device(porta_stream_t stream, porta_buffer_t dst,
                                                          porta_buffer_t src,
                                                          const porta_copy_region_t* region);

// --- Events --------------------------------------------------------------------------------------

// Creates an event on |device| with PORTA_EVENT_* |flags|. A new event counts as complete.
PORTA_API porta_status_t porta_event_create(porta_device_t device, uint32_t flags,
                                            porta_event_t* out_event);

// Destroys |event|. Pending work it was recorded after is not affected.
PORTA_API porta_status_t porta_event_destroy(porta_event_t event);

// Records |event| at the current end of |stream|: the event completes when all work queued on
// the stream before this call has completed. Re-recording replaces the previous point, and with
// it the previous point's fault: an event re-recorded on a healthy stream is clean again (as in
// CUDA; the fault stays sticky on the stream it happened on). The stream must belong to the
// event's device (PORTA_ERROR_INVALID_ARGUMENT otherwise). On a stream with a sticky error the
// call returns that error and the event still takes the new point, carrying the fault: waits and
// queries of it then report the fault rather than answer for its previous recording.
PORTA_API porta_status_t porta_event_record(porta_event_t event, porta_stream_t stream);

// Makes work queued on |stream| after this call wait until |event| completes. The event may
// belong to another device, even of another backend; then the call blocks the host until the
// event completes. The wait captures the event's current recording.
// A fault of the work before that recording reaches |stream|: |stream| gets the sticky error
// PORTA_ERROR_DEVICE_LOST, with the message "waited on an event recorded after a fault on stream
// 0x<handle> of device <device>: <the fault's detail>". When the fault is already known (always
// for an event of another device, since the host waited) this call returns it; otherwise it
// surfaces from the next porta_stream_synchronize or porta_stream_query of |stream|, or a wait or
// query of an event recorded on |stream| after this call. Whether work queued on |stream| after
// the wait ran is unspecified: treat its results as lost. A graph replay's wait nodes behave the
// same way.
PORTA_API porta_status_t porta_stream_wait_event(porta_stream_t stream, porta_event_t event);

// Blocks the host until |event| completes or |timeout_ns| nanoseconds pass (UINT64_MAX waits
// forever). Returns PORTA_ERROR_TIMEOUT on expiry, or PORTA_ERROR_DEVICE_LOST with the fault's
// detail when work before the event's recording faulted (on the stream it was recorded on, or
// on a stream that stream waited on before the recording); that also becomes the recording
// stream's sticky error.
PORTA_API porta_status_t porta_event_wait(porta_event_t event, uint64_t timeout_ns);

// Returns PORTA_OK when |event| has completed, PORTA_NOT_READY when not yet, or
// PORTA_ERROR_DEVICE_LOST with the detail when work before its recording faulted (as
// porta_event_wait).
PORTA_API porta_status_t porta_event_query(porta_event_t event);

// Writes the time in milliseconds between two completed events of one device. Never waits, for
// the events or for other work of the device. Returns PORTA_NOT_READY when either has not
// completed, PORTA_ERROR_INVALID_ARGUMENT when they belong to different devices, were never
// recorded, or were created with PORTA_EVENT_DISABLE_TIMING.
PORTA_API porta_status_t porta_event_elapsed_ms(porta_event_t start, porta_event_t end,
                                                float* out_ms);

// --- Modules and kernels -------------------------------------------------------------------------

// Builds a module on |device| from the first of desc->sources whose format the device accepts; a
// PORTA_FORMAT_NATIVE source fits only when its tag is one of the device's native_tags, so
// native binaries for several architectures and portable sources can share one list. Returns
// PORTA_ERROR_UNSUPPORTED naming the accepted formats and native tags, and those offered, when
// none fits; PORTA_ERROR_INVALID_ARGUMENT for a malformed source (a native one as
// porta_native_binary_tag checks it); PORTA_ERROR_NOT_FOUND naming a missing entry;
// PORTA_ERROR_BUILD_FAILED with the build log or SPIR-V validator's reason.
PORTA_API porta_status_t porta_module_load(porta_device_t device, const porta_module_desc_t* desc,
                                           porta_module_t* out_module);

// Releases the application's reference to |module|; its kernel handles become invalid at once.
// Launches already queued keep the module alive until they complete.
PORTA_API porta_status_t porta_module_destroy(porta_module_t module);

// Writes the kernel called |name| in |module|. The kernel handle belongs to the module: it is
// valid until the module is destroyed, and getting the same name twice returns the same handle.
// Returns PORTA_ERROR_NOT_FOUND when there is no such kernel.
PORTA_API porta_status_t porta_module_get_kernel(porta_module_t module, const char* name,
                                                 porta_kernel_t* out_kernel);

// Queues |kernel| on |stream| with |arg_count| arguments. Validates the launch against the
// device's limits and each argument. A value over a device limit (grid or work-group dimension,
// work-group size, local memory, argument count) or a buffer offset outside its buffer is
// PORTA_ERROR_OUT_OF_RANGE naming the value and the limit; a malformed request (a zero grid or
// block dimension, a NULL pointer, an unknown argument kind, a scalar size outside 1..256 bytes,
// a buffer of another device) is PORTA_ERROR_INVALID_ARGUMENT naming the argument.
PORTA_API porta_status_t porta_kernel_launch(porta_stream_t stream, porta_kernel_t kernel,
                                             const porta_launch_config_t* config,
                                             const porta_kernel_arg_t* args, uint32_t arg_count);

// Builds a buffer argument.
static inline porta_kernel_arg_t porta_arg_buffer(porta_buffer_t buffer, uint64_t offset) {
  porta_kernel_arg_t arg = {PORTA_ARG_BUFFER, buffer, offset, NULL, 0u};
  return arg;
}

// Builds a scalar argument from |size| bytes at |value| (copied when the kernel is launched).
static inline porta_kernel_arg_t porta_arg_scalar(const void* value, uint32_t size) {
  porta_kernel_arg_t arg = {PORTA_ARG_SCALAR, NULL, 0u, value, size};
  return arg;
}

// --- Graphs --------------------------------------------------------------------------------------
//
// A graph is a sequence of stream work captured once and replayed many times with one call, which
// skips the per-call validation and handle lookups (and, where the backend has a native path, the
// per-command submission cost).
//
// Capture: between porta_stream_begin_capture and porta_stream_end_capture, kernel launches,
// copies, fills, event records and stream waits queued on the stream are validated and recorded
// as graph nodes, not run. Host pointers of copies are recorded, not read: a replay reads the
// source and writes the destination of a host copy at the time the replay runs, so that memory
// must be valid then. Scalar arguments and fill patterns are copied at capture time. Only the
// capturing stream is recorded; work on other streams runs as usual.
//
// While a stream captures, these calls fail with PORTA_ERROR_INVALID_OPERATION and invalidate the
// capture (porta_stream_end_capture then reports why, and the stream stays usable): synchronizing
// or querying the capturing stream, a copy between devices, a wait on an event of another device,
// porta_graph_launch on the capturing stream, waiting on, querying or timing (from anywhere
// outside the capture) an event recorded inside it, and porta_buffer_free of a buffer the capture
// uses (the buffer is then not freed). Destroying a capturing stream discards its capture.
//
// Lifetimes: a graph and each instance hold references to every buffer, module and event their
// nodes use, so the application may free those handles after the capture; the memory stays
// until the last graph or instance using it is destroyed and its replays have completed. An
// instance does not depend on its graph.

// Starts capturing |stream| into a new graph. Returns PORTA_ERROR_INVALID_OPERATION when the
// stream is already capturing, or the stream's sticky error.
PORTA_API porta_status_t porta_stream_begin_capture(porta_stream_t stream);

// Ends the capture of |stream| and writes the captured graph (which may have no nodes). Returns
// PORTA_ERROR_INVALID_OPERATION when the stream is not capturing, or when the capture was
// invalidated: the message names the call that invalidated it, no graph is written, and the
// stream is usable again either way.
PORTA_API porta_status_t porta_stream_end_capture(porta_stream_t stream, porta_graph_t* out_graph);

// Writes 1 to |out_capturing| when |stream| is capturing (even an invalidated capture that has
// not been ended yet), 0 otherwise.
PORTA_API porta_status_t porta_stream_is_capturing(porta_stream_t stream, int32_t* out_capturing);

// Destroys |graph|. Instances made from it stay valid.
PORTA_API porta_status_t porta_graph_destroy(porta_graph_t graph);

// Writes the number of nodes of |graph|, in capture order.
PORTA_API porta_status_t porta_graph_node_count(porta_graph_t graph, uint32_t* out_count);

// Writes the kind of node |index| (0 <= index < node count; PORTA_ERROR_OUT_OF_RANGE otherwise).
PORTA_API porta_status_t porta_graph_node_kind(porta_graph_t graph, uint32_t index,
                                               porta_graph_node_kind_t* out_kind);

// Makes an executable instance of |graph|: its nodes with their arguments as captured, ready to
// be replayed on any stream of the graph's device. Instances of one graph are independent.
PORTA_API porta_status_t porta_graph_instantiate(porta_graph_t graph, porta_graph_exec_t* out_exec);

// Replaces every argument of kernel node |node| of |exec| for later replays (replays already
// queued are not affected). |arg_count| must equal the captured launch's, and each argument must
// have the captured kind; a scalar must have the captured size; buffers are checked as
// porta_kernel_launch checks them. Returns PORTA_ERROR_OUT_OF_RANGE for a node index beyond the
// node count, PORTA_ERROR_INVALID_ARGUMENT for a node that is not a kernel node or a mismatched
// argument, naming it.
PORTA_API porta_status_t porta_graph_exec_update_kernel_args(porta_graph_exec_t exec, uint32_t node,
                                                             const porta_kernel_arg_t* args,
                                                             uint32_t arg_count);

// Queues one replay of |exec| on |stream|, in stream order: the nodes run in capture order, as if
// their calls had been made on |stream|, and event nodes record or wait on their events then.
// The stream must belong to the graph's device (PORTA_ERROR_INVALID_ARGUMENT) and must not be
// capturing (PORTA_ERROR_INVALID_OPERATION, which also invalidates that capture). Replays of one
// instance may be queued on several streams and from several threads.
PORTA_API porta_status_t porta_graph_launch(porta_graph_exec_t exec, porta_stream_t stream);

// Writes how many nodes of |exec| replay through the backend's native graph (a CUDA graph, a
// recorded command buffer, a prebuilt task list) rather than one backend call each. Runs of two or
// more consecutive kernel, device-to-device copy and fill nodes are offered to the backend; host
// copies and event nodes always replay one by one. 0 when the backend has no native graphs or
// PORTA_GRAPH_NATIVE=0 is set. Results are the same either way; this is for tests and tuning.
PORTA_API porta_status_t porta_graph_exec_native_node_count(porta_graph_exec_t exec,
                                                            uint32_t* out_count);

// Destroys |exec|. Replays already queued complete normally.
PORTA_API porta_status_t porta_graph_exec_destroy(porta_graph_exec_t exec);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // PORTA_PORTA_H_
