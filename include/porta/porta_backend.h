// Porta backend ABI: the contract between libporta and a backend, built in or shipped by a
// vendor as a plugin (a shared library).
//
// A plugin exports exactly one symbol, porta_backend_entry (PORTA_BACKEND_ENTRY_SYMBOL), and hides
// everything else. The runtime calls it with a porta_backend_host_t that offers the runtime's ABI
// major and highest minor; the plugin answers with a pointer to its static function table, whose
// abi_major / abi_minor say what it implements and whose struct_size says how many slots it has.
//
// Compatibility rules:
// - A different major is refused (PORTA_ERROR_ABI_MISMATCH, reported in the diagnostics).
// - An older minor is accepted: slots beyond the plugin's struct_size are treated as absent.
// - The table only ever grows at its end. Slots marked "required" must be non-NULL in every
//   version that has them (a NULL one is a load error naming the slot); optional slots may be
//   NULL, and the runtime then answers PORTA_ERROR_UNSUPPORTED or takes a generic path.
// - Errors cross the boundary as a porta_status_t plus text the backend writes into a
//   porta_be_message_t the runtime owns. No C++ exception or C++ type crosses the boundary.
//   The runtime does not trust the answers: text is cut at its buffer's end, a status outside
//   porta_status_t becomes PORTA_ERROR_BACKEND naming the value, PORTA_OK without the object a
//   create slot promised becomes PORTA_ERROR_BACKEND, device_count above 1024 skips the backend,
//   device_get_info's text fields are terminated, and an exception that escapes a slot (or the
//   entry function) anyway is caught at the slot boundary and reported as PORTA_ERROR_BACKEND
//   (std::bad_alloc as PORTA_ERROR_OUT_OF_MEMORY) with a message naming the slot ("the
//   buffer_alloc slot threw ..."); one from a slot without a status (a destroy) is logged.
// - The entry function does no work beyond returning the table; the plugin does nothing in static
//   constructors. All set-up happens in init.
//
// Threading: the runtime serializes all calls on one stream. Calls on different streams,
// devices, buffers and events may arrive concurrently from different threads.
//
// Object lifetimes are managed by the runtime: it never destroys a buffer or module while work
// queued on a stream may still use it, it destroys every object of a device before closing the
// device, and closes every device before shutdown.
#ifndef PORTA_PORTA_BACKEND_H_
#define PORTA_PORTA_BACKEND_H_

#include "porta/porta.h"

#ifdef __cplusplus
extern "C" {
#endif

//===------------------------------------------------------------------------------------------===//
// Types
//===------------------------------------------------------------------------------------------===//

// ABI version of this header. Minor 1 appended buffer_native_handle and copy_peer; minor 2 the
// native graph slots (graph_create, graph_launch, graph_update_kernel_args, graph_destroy);
// minor 3 device_memory_info; minor 4 the native interop slots (device_native_handles,
// stream_native_handles, buffer_native_handles, buffer_import) and host memory registration
// (host_register, host_unregister, copy_host_to_device_registered,
// copy_device_to_host_registered), and stream_host_func.
#define PORTA_BACKEND_ABI_MAJOR 1u
#define PORTA_BACKEND_ABI_MINOR 4u

// Name of the one symbol a plugin exports.
#define PORTA_BACKEND_ENTRY_SYMBOL "porta_backend_entry"

// Opaque backend-side objects; each backend defines the structs.
typedef struct porta_be_backend* porta_be_backend_t;
typedef struct porta_be_device* porta_be_device_t;
typedef struct porta_be_buffer* porta_be_buffer_t;
typedef struct porta_be_stream* porta_be_stream_t;
typedef struct porta_be_event* porta_be_event_t;
typedef struct porta_be_module* porta_be_module_t;
typedef struct porta_be_kernel* porta_be_kernel_t;
typedef struct porta_be_graph* porta_be_graph_t;
typedef struct porta_be_host_registration* porta_be_host_registration_t;

// Runtime-owned text buffer for an error message (and a compiler's log). The backend writes a
// NUL-terminated string of at most capacity bytes, truncating if needed. It is also used to
// report why a backend has zero devices (device_count returning PORTA_OK with count 0).
typedef struct porta_be_message {
  char* text;
  size_t capacity;
} porta_be_message_t;

// Log levels of porta_backend_host_t.log.
#define PORTA_LOG_ERROR 0
#define PORTA_LOG_WARNING 1
#define PORTA_LOG_INFO 2
#define PORTA_LOG_DEBUG 3

// What the runtime offers a backend.
typedef struct porta_backend_host {
  size_t struct_size;
  // ABI major the runtime speaks and the highest minor it knows.
  uint32_t abi_major;
  uint32_t abi_minor;
  // Porta's version string ("0.1.0"); part of on-disk cache keys.
  const char* porta_version;
  // Folder for on-disk caches (compiled programs, pipeline caches), already created; NULL when
  // caching is disabled. Each backend uses its own subfolder.
  const char* cache_dir;
  // Diagnostic log sink; may be NULL.
  void (*log)(void* log_user, int level, const char* text);
  void* log_user;
} porta_backend_host_t;

// A kernel argument as the backend sees it: buffers are already resolved to backend buffers and
// checked (the offset lies within the buffer, the buffer belongs to the stream's device).
typedef struct porta_be_arg {
  porta_arg_kind_t kind;
  porta_be_buffer_t buffer;
  uint64_t offset;
  const void* scalar;
  uint32_t scalar_size;
} porta_be_arg_t;

// One node of a native graph (ABI 1.2), as graph_create receives it: a kernel launch, a copy
// between two buffers of the device, or a fill, validated as the matching slot's call would be.
// Only the fields of its kind are set; every pointer is valid during graph_create only.
typedef struct porta_be_graph_node {
  // PORTA_GRAPH_NODE_KERNEL, PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE or PORTA_GRAPH_NODE_FILL.
  porta_graph_node_kind_t kind;
  // Kernel nodes: as kernel_launch's parameters.
  porta_be_kernel_t kernel;
  const porta_launch_config_t* config;
  const porta_be_arg_t* args;
  uint32_t arg_count;
  // Copies (dst, src, offsets, size) and fills (dst, dst_offset, size, pattern).
  porta_be_buffer_t dst;
  uint64_t dst_offset;
  porta_be_buffer_t src;
  uint64_t src_offset;
  uint64_t size;
  const void* pattern;
  uint32_t pattern_size;
} porta_be_graph_node_t;

typedef porta_be_message_t* porta_be_msg;

// The function table. Slots are grouped by the ABI minor that introduced them; never reorder.
typedef struct porta_backend_table {
  // sizeof the table as the backend was compiled; the runtime reads no slot beyond it.
  size_t struct_size;
  // ABI version the backend implements.
  uint32_t abi_major;
  uint32_t abi_minor;
  // Short lower-case backend name ("cpu", "opencl", "acme_npu").
  const char* name;

  // ---- ABI 1.0 --------------------------------------------------------------------------------

  // Required. Sets the backend up (loads the vendor library, enumerates devices). |host| stays
  // valid until shutdown. A failure skips the backend and its message goes into the diagnostics.
  porta_status_t (*init)(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                         porta_be_msg msg);
  // Required. Releases everything init acquired. Every device is closed before.
  void (*shutdown)(porta_be_backend_t backend);
  // Required. Writes the number of devices. With zero devices, writes the reason into msg.
  porta_status_t (*device_count)(porta_be_backend_t backend, uint32_t* out_count, porta_be_msg msg);
  // Required. Opens device |index| (< device_count).
  porta_status_t (*device_open)(porta_be_backend_t backend, uint32_t index,
                                porta_be_device_t* out_device, porta_be_msg msg);
  // Required.
  void (*device_close)(porta_be_device_t device);
  // Required. Fills every field of |info| (the runtime passes a zeroed struct of its own size, in
  // info->struct_size: write no field that starts beyond it, since a runtime older than the
  // plugin's header passes a smaller one). A device that runs native binaries lists their tags
  // in native_tags / native_tag_count; the runtime drops a malformed or repeated tag (noting it in
  // the backend's report), keeps at most PORTA_MAX_NATIVE_TAGS, and sets the PORTA_FORMAT_NATIVE
  // bit of kernel_formats exactly when a tag remains.
  porta_status_t (*device_get_info)(porta_be_device_t device, porta_device_info_t* info,
                                    porta_be_msg msg);

  // Required. |size| is nonzero and within max_allocation_bytes; |kind| is supported.
  porta_status_t (*buffer_alloc)(porta_be_device_t device, uint64_t size, porta_memory_kind_t kind,
                                 porta_be_buffer_t* out_buffer, porta_be_msg msg);
  // Required. No queued work uses the buffer any more.
  void (*buffer_free)(porta_be_buffer_t buffer);
  // Required. Only called for host-visible buffers with an in-range, nonempty range, and never
  // while the buffer is already mapped.
  porta_status_t (*buffer_map)(porta_be_buffer_t buffer, uint64_t offset, uint64_t size,
                               void** out_ptr, porta_be_msg msg);
  // Required. Only called for a mapped buffer.
  porta_status_t (*buffer_unmap)(porta_be_buffer_t buffer, porta_be_msg msg);

  // Required. Creates an in-order asynchronous queue.
  porta_status_t (*stream_create)(porta_be_device_t device, porta_be_stream_t* out_stream,
                                  porta_be_msg msg);
  // Required. The stream has been synchronized and no event waits on it.
  void (*stream_destroy)(porta_be_stream_t stream);
  // Required. Blocks until queued work completes; returns a device fault as
  // PORTA_ERROR_DEVICE_LOST (and keeps returning it).
  porta_status_t (*stream_synchronize)(porta_be_stream_t stream, porta_be_msg msg);
  // Required. PORTA_OK when idle, PORTA_NOT_READY when busy, or the sticky error.
  porta_status_t (*stream_query)(porta_be_stream_t stream, porta_be_msg msg);

  // Required. Ranges are checked and nonempty; buffers belong to the stream's device.
  porta_status_t (*copy_host_to_device)(porta_be_stream_t stream, porta_be_buffer_t dst,
                                        uint64_t dst_offset, const void* src, uint64_t size,
                                        porta_be_msg msg);
  // Required.
  porta_status_t (*copy_device_to_host)(porta_be_stream_t stream, void* dst, porta_be_buffer_t src,
                                        uint64_t src_offset, uint64_t size, porta_be_msg msg);
  // Required. Both buffers belong to the stream's device; ranges do not overlap.
  porta_status_t (*copy_device_to_device)(porta_be_stream_t stream, porta_be_buffer_t dst,
                                          uint64_t dst_offset, porta_be_buffer_t src,
                                          uint64_t src_offset, uint64_t size, porta_be_msg msg);
  // Required. |pattern_size| is 1, 2 or 4; offset and size are multiples of it.
  porta_status_t (*fill_buffer)(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                                uint64_t size, const void* pattern, uint32_t pattern_size,
                                porta_be_msg msg);

  // Required. A new event counts as complete.
  porta_status_t (*event_create)(porta_be_device_t device, uint32_t flags,
                                 porta_be_event_t* out_event, porta_be_msg msg);
  // Required.
  void (*event_destroy)(porta_be_event_t event);
  // Required. The stream belongs to the event's device.
  porta_status_t (*event_record)(porta_be_event_t event, porta_be_stream_t stream,
                                 porta_be_msg msg);
  // Required. The event belongs to the stream's device.
  porta_status_t (*stream_wait_event)(porta_be_stream_t stream, porta_be_event_t event,
                                      porta_be_msg msg);
  // Required. PORTA_ERROR_TIMEOUT on expiry; UINT64_MAX waits forever.
  porta_status_t (*event_wait)(porta_be_event_t event, uint64_t timeout_ns, porta_be_msg msg);
  // Required. PORTA_OK, PORTA_NOT_READY or the recorded stream's sticky error.
  porta_status_t (*event_query)(porta_be_event_t event, porta_be_msg msg);
  // Required. Both events belong to one device that declares PORTA_CAP_TIMESTAMPS, were created
  // without PORTA_EVENT_DISABLE_TIMING and have been recorded (outside a capture);
  // PORTA_NOT_READY when either is incomplete.
  porta_status_t (*event_elapsed_ms)(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                                     porta_be_msg msg);

  // Required. |source| has a format the device declared in kernel_formats, data that is not NULL,
  // a nonzero size, and entry_count names that are neither NULL nor empty. A PORTA_FORMAT_NATIVE
  // source has passed porta_native_binary_tag's check and its tag is one of the device's
  // native_tags: the vendor's binary is the source->size - sizeof(porta_native_header_t) bytes
  // after the header. Returns PORTA_ERROR_BUILD_FAILED with the compiler log (or why the binary
  // is unusable) in msg.
  porta_status_t (*module_load)(porta_be_device_t device, const porta_module_source_t* source,
                                porta_be_module_t* out_module, porta_be_msg msg);
  // Required. No queued launch uses the module any more.
  void (*module_destroy)(porta_be_module_t module);
  // Required. |name| is neither NULL nor empty. The kernel belongs to the module and lives as
  // long as it. PORTA_ERROR_NOT_FOUND when the module has no such entry.
  porta_status_t (*module_get_kernel)(porta_be_module_t module, const char* name,
                                      porta_be_kernel_t* out_kernel, porta_be_msg msg);
  // Required. The configuration is within the device's limits (no zero grid or block dimension,
  // block, grid, work-group size and local_memory_bytes within what device_get_info reports); the
  // kernel was loaded on the stream's device; |args| is not NULL when arg_count is nonzero, and
  // each argument is a buffer of the stream's device whose offset lies within it, or a scalar of
  // 1 to 256 bytes whose value is not NULL. A kernel's own limits (its work-group size, its
  // parameters) are the backend's to check.
  porta_status_t (*kernel_launch)(porta_be_stream_t stream, porta_be_kernel_t kernel,
                                  const porta_launch_config_t* config, const porta_be_arg_t* args,
                                  uint32_t arg_count, porta_be_msg msg);

  // ---- ABI 1.1 --------------------------------------------------------------------------------

  // Optional. Writes the native handle (see porta_buffer_native_handle).
  porta_status_t (*buffer_native_handle)(porta_be_buffer_t buffer, uint64_t* out_handle,
                                         porta_be_msg msg);
  // Optional. Copies between buffers of two different devices of this backend, in the order of
  // |stream| (which belongs to one of the two devices). May return PORTA_ERROR_UNSUPPORTED for a
  // pair of devices without a peer path; the runtime then stages through the host.
  porta_status_t (*copy_peer)(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t dst_offset,
                              porta_be_buffer_t src, uint64_t src_offset, uint64_t size,
                              porta_be_msg msg);

  // ---- ABI 1.2 --------------------------------------------------------------------------------
  //
  // Native graphs. A graph instance's runs of two or more consecutive kernel, device-to-device
  // copy and fill nodes are offered to the backend as one native graph (a CUDA graph, a recorded
  // command buffer, a prebuilt task list); host copies and event nodes between the runs are
  // queued through the ordinary slots. graph_create, graph_launch and graph_destroy come as a
  // group: unless all three are set, the runtime uses none of them and replays every node with
  // one slot call each. The runtime keeps every buffer and kernel a native graph names alive until
  // graph_destroy.

  // Optional. Builds a native graph of |count| (>= 2) nodes for |device|; copy what you keep, the
  // pointers in |nodes| are valid during the call only. PORTA_ERROR_UNSUPPORTED when the backend
  // has no native form for these nodes (or this device): the runtime then replays them one slot
  // call at a time. Any other error fails the graph's instantiation with the message.
  porta_status_t (*graph_create)(porta_be_device_t device, const porta_be_graph_node_t* nodes,
                                 uint32_t count, porta_be_graph_t* out_graph, porta_be_msg msg);
  // Optional. Queues one replay of |graph| on |stream| (a stream of the graph's device), in stream
  // order exactly as the slot calls it stands for. Replays of one graph may be queued on several
  // streams at once, and calls for different streams may arrive concurrently. Returning
  // PORTA_ERROR_UNSUPPORTED (before queuing anything) makes the runtime queue this replay's nodes
  // through the ordinary slots instead, e.g. when a replay still pending elsewhere prevents
  // another native one.
  porta_status_t (*graph_launch)(porta_be_stream_t stream, porta_be_graph_t graph,
                                 porta_be_msg msg);
  // Optional. Replaces the arguments of kernel node |node| (its index among graph_create's nodes)
  // for replays queued after this call; replays already queued must run with the old ones. The
  // runtime has checked |args| like kernel_launch's and that they have the node's count, kinds and
  // scalar sizes. NULL or PORTA_ERROR_UNSUPPORTED: the runtime destroys the graph once its queued
  // replays have completed and creates a new one with the new arguments.
  porta_status_t (*graph_update_kernel_args)(porta_be_graph_t graph, uint32_t node,
                                             const porta_be_arg_t* args, uint32_t arg_count,
                                             porta_be_msg msg);
  // Optional. No queued replay uses the graph any more.
  void (*graph_destroy)(porta_be_graph_t graph);

  // --- ABI 1.3 -----------------------------------------------------------------------------------
  // Optional. The device's free memory in bytes right now, as the driver tells it (for every
  // process). PORTA_ERROR_UNSUPPORTED (or a NULL slot) when the driver does not tell: the runtime
  // then reports PORTA_MEMORY_UNKNOWN. Any other error fails porta_device_get_memory_info.
  porta_status_t (*device_memory_info)(porta_be_device_t device, uint64_t* out_free_bytes,
                                       porta_be_msg msg);

  // --- ABI 1.4 -----------------------------------------------------------------------------------
  //
  // Native interop (see porta_device_get_native_handles and porta_buffer_import in porta.h for
  // the layout of porta_native_handles_t per backend). The get slots receive a zeroed, full-size
  // struct whose backend field the runtime fills; they set count and handles. A NULL slot makes
  // the public call return PORTA_ERROR_UNSUPPORTED.

  // Optional. The device's native objects.
  porta_status_t (*device_native_handles)(porta_be_device_t device, porta_native_handles_t* out,
                                          porta_be_msg msg);
  // Optional. The stream's native queue, which stays the stream's queue from now on. Called
  // under the stream's lock, never while it captures.
  porta_status_t (*stream_native_handles)(porta_be_stream_t stream, porta_native_handles_t* out,
                                          porta_be_msg msg);
  // Optional. The buffer's native memory objects; the runtime falls back to buffer_native_handle
  // (one handle) when this slot is NULL.
  porta_status_t (*buffer_native_handles)(porta_be_buffer_t buffer, porta_native_handles_t* out,
                                          porta_be_msg msg);
  // Optional. Wraps the memory |native| describes (its backend field already checked, its
  // handles as buffer_native_handles writes them) as a buffer of |size| bytes and |kind|.
  // buffer_free on it releases only what the backend acquired here (a reference), never the
  // memory. Returns PORTA_ERROR_INVALID_ARGUMENT (naming the handle) for memory the backend
  // cannot use: another device's or context's, smaller than |size|, not host-visible when |kind|
  // asks for it.
  porta_status_t (*buffer_import)(porta_be_device_t device, const porta_native_handles_t* native,
                                  uint64_t size, porta_memory_kind_t kind,
                                  porta_be_buffer_t* out_buffer, porta_be_msg msg);

  // Host memory registration (see porta_host_register in porta.h). The runtime owns the
  // registration table: it has checked the range (nonempty, not overlapping another registration
  // of the device), looks up the host pointer of every copy, and passes the registration to the
  // two copy slots below only when the copy's whole host span lies inside it. Without these slots
  // registration is runtime-only bookkeeping and copies take copy_host_to_device and
  // copy_device_to_host as always.

  // Optional. Makes the |size| bytes at |ptr| (application memory that stays valid until
  // host_unregister) a faster source and destination of copies on |device|: pins them, or wraps
  // them in a native buffer the device copies from directly. |flags| is
  // PORTA_HOST_REGISTER_DEFAULT. Returns PORTA_ERROR_UNSUPPORTED, with the reason, when the
  // backend has no faster path for this range (an alignment it cannot meet, a missing driver
  // feature): the runtime then keeps a runtime-only registration. Any other error fails
  // porta_host_register with the message.
  porta_status_t (*host_register)(porta_be_device_t device, void* ptr, uint64_t size,
                                  uint32_t flags, porta_be_host_registration_t* out_registration,
                                  porta_be_msg msg);
  // Optional; required with host_register. Releases a registration; no queued copy uses it any
  // more, and the application may free the memory once this returns.
  void (*host_unregister)(porta_be_host_registration_t registration);
  // Optional. copy_host_to_device whose |src| lies inside |src_registration| at |src_offset| bytes
  // from the start of its range (src == the registered ptr + src_offset), as are all |size|
  // bytes. Returns PORTA_ERROR_UNSUPPORTED before queuing anything to make the runtime take
  // copy_host_to_device for this copy instead.
  porta_status_t (*copy_host_to_device_registered)(porta_be_stream_t stream, porta_be_buffer_t dst,
                                                   uint64_t dst_offset,
                                                   porta_be_host_registration_t src_registration,
                                                   uint64_t src_offset, const void* src,
                                                   uint64_t size, porta_be_msg msg);
  // Optional. copy_device_to_host whose |dst| lies inside |dst_registration| at |dst_offset| bytes
  // from the start of its range, as copy_host_to_device_registered.
  porta_status_t (*copy_device_to_host_registered)(porta_be_stream_t stream,
                                                   porta_be_host_registration_t dst_registration,
                                                   uint64_t dst_offset, void* dst,
                                                   porta_be_buffer_t src, uint64_t src_offset,
                                                   uint64_t size, porta_be_msg msg);

  // Optional. Queues a call of |fn|(|user_data|) in stream order (porta_stream_enqueue_host_func):
  // after the work queued before it has completed, before the work queued after it starts, and
  // not at all when that earlier work faulted. Must not call |fn| on the calling thread before
  // returning unless the earlier work has completed. NULL or PORTA_ERROR_UNSUPPORTED (returned
  // before queuing anything): the runtime synchronizes the stream and calls |fn| itself.
  porta_status_t (*stream_host_func)(porta_be_stream_t stream, porta_host_fn fn, void* user_data,
                                     porta_be_msg msg);
} porta_backend_table_t;

// Signature of porta_backend_entry. Returns PORTA_OK and the backend's static table, or an error
// (PORTA_ERROR_ABI_MISMATCH when the plugin cannot serve the offered major) with text in msg.
typedef porta_status_t (*porta_backend_entry_fn)(const porta_backend_host_t* host,
                                                 const porta_backend_table_t** out_table,
                                                 porta_be_msg msg);

//===------------------------------------------------------------------------------------------===//
// Implementation details
//===------------------------------------------------------------------------------------------===//

// Declares a plugin's exported entry with C linkage and default visibility:
//   PORTA_BACKEND_EXPORT porta_status_t porta_backend_entry(const porta_backend_host_t* host,
//                                                          const porta_backend_table_t** out_table,
//                                                          porta_be_msg msg) { ... }
#ifdef __cplusplus
#define PORTA_BACKEND_EXPORT extern "C" PORTA_API_EXPORT
#else
#define PORTA_BACKEND_EXPORT PORTA_API_EXPORT
#endif

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // PORTA_PORTA_BACKEND_H_
