// A small but complete in-memory backend used to test the plugin loader. Buffers live in host
// memory, streams execute every command synchronously at enqueue time, and modules accept the
// host kernel format, so everything the runtime does with a plugin can be observed end to end.
//
// The same source is compiled into several plugins; each compile-time option turns it into one
// of the cases the loader must handle:
//   MINI_NAME="x"              table name, also used in device names (required)
//   MINI_DEVICES_ENV="VAR"     environment variable that overrides the device count (default 1)
//   MINI_ABI_MAJOR=n           answer this ABI major instead of the header's
//   MINI_OLD_MINOR             answer ABI 1.0 with a table that ends before the 1.1 slots
//   MINI_MISSING_STREAM_QUERY  leave the required stream_query slot NULL
//   MINI_INIT_FAILS            init fails with PORTA_ERROR_BACKEND and a message
//   MINI_MEMORY_BYTES=n        buffer_alloc fails with PORTA_ERROR_OUT_OF_MEMORY once the plugin's
//                              live buffers would exceed n bytes (a small device memory)
//   MINI_ZERO_DEVICES          report zero devices, with the reason
//   MINI_NO_ENTRY              do not export porta_backend_entry at all
//   MINI_HOSTILE               misbehave as PORTA_TEST_HOSTILE_MODE (read at init) says:
//                              huge_count, unterminated_init, unterminated_names, null_buffer,
//                              status_999 (from stream_synchronize) or throw (C++ exceptions from
//                              buffer_alloc and stream_create) — what the runtime must survive
//   MINI_GRAPHS                native graphs without graph_update_kernel_args (the runtime must
//                              rebuild after an update); every third replay of a graph declines
//                              with PORTA_ERROR_UNSUPPORTED (the runtime must replay it node by
//                              node); shutdown aborts when a native graph was never destroyed
//   MINI_FAULTY                fail the n-th call into the plugin as PORTA_TEST_FAULT_WALK says
//                              (fault_walk.h), for the walks of tests/call_fault_test.cpp
//   MINI_KERNEL_FORMATS=mask   declare this kernel_formats mask instead of the host format's bit
//                              (0: a device the operator library has no kernels for)
//   MINI_NATIVE                also take PORTA_FORMAT_NATIVE modules in the byte-code of
//                              mini_native.h, declaring the native tags of PORTA_TEST_NATIVE_TAGS
//                              (read at init; comma-separated, written as given even when
//                              malformed; default mini_native::kTag) and, when
//                              PORTA_TEST_NATIVE_TAG_COUNT is set, that native_tag_count
//   MINI_CRASHES               misbehave as PORTA_TEST_CRASH_MODE (read at init) says, for
//                              porta-cts --isolate: segv (a fault in event_elapsed_ms), abort
//                              (std::abort there), hang (event_elapsed_ms never returns),
//                              segv_at_shutdown (a fault in shutdown)
//
// By the ABI's rule a plugin does no work in static constructors: every global here is
// constant-initialized (enforced with constinit) and all state is created in init.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "porta/porta_backend.h"
#include "porta/sdk/message.h"
#include "tests/plugins/fault_walk.h"
#include "tests/plugins/mini_native.h"

#ifndef MINI_NAME
#error "MINI_NAME must name the test backend"
#endif
#ifndef MINI_KERNEL_FORMATS
#define MINI_KERNEL_FORMATS PORTA_FORMAT_BIT(PORTA_FORMAT_HOST)
#endif
#ifndef MINI_ABI_MAJOR
#define MINI_ABI_MAJOR PORTA_BACKEND_ABI_MAJOR
#endif

using porta::common::Fail;
using porta::common::SetMessage;

struct porta_be_backend {
  uint32_t device_count = 0;
  const porta_backend_host_t* host = nullptr;
#ifdef MINI_NATIVE
  std::vector<std::string> native_tags{mini_native::kTag};
  // native_tag_count as declared; the number of tags unless PORTA_TEST_NATIVE_TAG_COUNT says.
  uint32_t native_tag_count = 1;
#endif
};

struct porta_be_device {
  porta_be_backend* backend = nullptr;
  uint32_t index = 0;
};

struct porta_be_buffer {
  porta_be_device* device = nullptr;
  uint8_t* data = nullptr;
  uint64_t size = 0;
  porta_memory_kind_t kind = PORTA_MEMORY_DEVICE;
};

struct porta_be_stream {
  porta_be_device* device = nullptr;
  // First fault of the stream; once set, every later command returns it.
  porta_status_t sticky = PORTA_OK;
  std::string sticky_message;
};

struct porta_be_event {
  porta_be_device* device = nullptr;
  uint32_t flags = 0;
  // Recording and reading may come from different threads.
  std::mutex mutex;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
  porta_status_t status = PORTA_OK;
  std::string message;
};

struct porta_be_kernel {
  std::string name;
  // A host-format kernel's function; null for a native kernel, which runs |native|.
  porta_host_kernel_fn fn = nullptr;
  mini_native::Kernel native;
};

struct porta_be_module {
  std::vector<std::unique_ptr<porta_be_kernel>> kernels;
};

namespace {

constexpr uint64_t kGlobalMemoryBytes = 256ull << 20;
constexpr uint64_t kMaxAllocationBytes = 64ull << 20;
constexpr uint32_t kMaxWorkGroupSize = 256;
constexpr uint64_t kLocalMemoryBytes = 32u << 10;
constexpr uint32_t kMaxDevices = 8;

#ifdef MINI_HOSTILE
enum class Hostile {
  kNone,
  kHugeCount,
  kUnterminatedInit,
  kUnterminatedNames,
  kNullBuffer,
  kStatus999,
  kThrow
};
constinit std::atomic<Hostile> hostile{Hostile::kNone};

Hostile ReadHostileMode() {
  const char* mode = std::getenv("PORTA_TEST_HOSTILE_MODE");
  const std::string text = mode == nullptr ? "" : mode;
  if (text == "huge_count") return Hostile::kHugeCount;
  if (text == "unterminated_init") return Hostile::kUnterminatedInit;
  if (text == "unterminated_names") return Hostile::kUnterminatedNames;
  if (text == "null_buffer") return Hostile::kNullBuffer;
  if (text == "status_999") return Hostile::kStatus999;
  if (text == "throw") return Hostile::kThrow;
  return Hostile::kNone;
}

bool Is(Hostile mode) {
  return hostile.load() == mode;
}
#endif

#ifdef MINI_CRASHES
enum class Crash { kNone, kSegv, kAbort, kHang, kSegvAtShutdown };
constinit std::atomic<Crash> crash{Crash::kNone};

Crash ReadCrashMode() {
  const char* mode = std::getenv("PORTA_TEST_CRASH_MODE");
  const std::string text = mode == nullptr ? "" : mode;
  if (text == "segv") return Crash::kSegv;
  if (text == "abort") return Crash::kAbort;
  if (text == "hang") return Crash::kHang;
  if (text == "segv_at_shutdown") return Crash::kSegvAtShutdown;
  return Crash::kNone;
}

// Crashes or hangs as |when| says, when the mode is |when|. UBSan would stop the null store
// itself (exit status 1); the check wants the signal a real crash delivers.
[[gnu::no_sanitize_undefined]] void CrashIf(Crash when) {
  if (crash.load() != when) return;
  if (when == Crash::kAbort) std::abort();
  if (when == Crash::kHang) {
    while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  // A real invalid access: the address comes through a volatile, so it cannot be folded away.
  volatile uintptr_t address = 0;
  *reinterpret_cast<volatile int*>(address) = 1;
}
#endif

#ifdef MINI_FAULTY
// The walk the test named in PORTA_TEST_FAULT_WALK, read by the entry function.
constinit std::atomic<porta_test::FaultWalk*> fault_walk{nullptr};

void ReadFaultWalk() {
  fault_walk.store(nullptr);
  const char* text = std::getenv(porta_test::kFaultWalkVariable);
  if (text == nullptr) return;
  long long n = -1;
  unsigned long long address = 0;
  if (std::sscanf(text, "%lld %llx", &n, &address) != 2 || address == 0) return;
  auto* walk = reinterpret_cast<porta_test::FaultWalk*>(static_cast<uintptr_t>(address));
  walk->countdown.store(n);
  walk->calls.store(0);
  walk->fired[0] = '\0';
  fault_walk.store(walk);
}

// True when this call into the plugin is the one the walk fails.
bool FaultHere(const char* slot) {
  porta_test::FaultWalk* walk = fault_walk.load();
  if (walk == nullptr) return false;
  walk->calls.fetch_add(1);
  if (walk->countdown.fetch_sub(1) != 0) return false;
  std::snprintf(walk->fired, sizeof walk->fired, "%s", slot);
  return true;
}

template <size_t N>
struct SlotName {
  char text[N];
  constexpr SlotName(const char (&name)[N]) { std::copy_n(name, N, text); }  // NOLINT
};

// The table slot |Fn| behind the walk: a slot that returns a status fails when its call is the
// walk's n-th (its message is its last argument); the void slots (releases) pass through.
template <auto Fn, SlotName Name>
struct Faulty;

template <typename... Args, porta_status_t (*Fn)(Args...), SlotName Name>
struct Faulty<Fn, Name> {
  static porta_status_t Call(Args... args) {
    if (FaultHere(Name.text)) {
      const porta_be_msg msg = std::get<sizeof...(Args) - 1>(std::tuple<Args...>(args...));
      return Fail(msg, PORTA_ERROR_BACKEND, "mini %s: injected failure of %s", MINI_NAME,
                  Name.text);
    }
    return Fn(args...);
  }
};

template <typename... Args, void (*Fn)(Args...), SlotName Name>
struct Faulty<Fn, Name> {
  static void Call(Args... args) { Fn(args...); }
};

#define SLOT(fn) (&Faulty<&fn, SlotName(#fn)>::Call)
#else
#define SLOT(fn) fn
#endif

#ifdef MINI_GRAPHS
// Native graphs created and not yet destroyed; the runtime must destroy every one.
constinit std::atomic<int> live_graphs{0};
#endif

// Every command on a faulted stream fails with the stream's first error.
porta_status_t CheckSticky(const porta_be_stream* stream, porta_be_msg msg) {
  if (stream->sticky == PORTA_OK) return PORTA_OK;
  return Fail(msg, stream->sticky, "%s", stream->sticky_message.c_str());
}

[[maybe_unused]] porta_status_t ReadDeviceCount(uint32_t* out_count, porta_be_msg msg) {
  *out_count = 1;
#ifdef MINI_DEVICES_ENV
  const char* text = std::getenv(MINI_DEVICES_ENV);
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    unsigned long value = std::strtoul(text, &end, 10);
    if (*end != '\0' || value > kMaxDevices) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "%s=\"%s\" is not a device count 0..%u",
                  MINI_DEVICES_ENV, text, kMaxDevices);
    }
    *out_count = static_cast<uint32_t>(value);
  }
#else
  (void)msg;
#endif
  return PORTA_OK;
}

#ifdef MINI_NATIVE
void ReadNativeTags(porta_be_backend* backend) {
  const char* text = std::getenv("PORTA_TEST_NATIVE_TAGS");
  if (text != nullptr) {
    backend->native_tags.clear();
    std::string list = text;
    size_t start = 0;
    while (start <= list.size() && !list.empty()) {
      const size_t end = std::min(list.find(',', start), list.size());
      backend->native_tags.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  backend->native_tag_count = static_cast<uint32_t>(backend->native_tags.size());
  if (const char* count = std::getenv("PORTA_TEST_NATIVE_TAG_COUNT")) {
    backend->native_tag_count = static_cast<uint32_t>(std::strtoul(count, nullptr, 10));
  }
}
#endif

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
#ifdef MINI_INIT_FAILS
  (void)host;
  (void)out_backend;
  return Fail(msg, PORTA_ERROR_BACKEND, "mini %s: simulated driver failure (code 42)", MINI_NAME);
#else
#ifdef MINI_CRASHES
  crash.store(ReadCrashMode());
#endif
#ifdef MINI_HOSTILE
  hostile.store(ReadHostileMode());
  if (Is(Hostile::kUnterminatedInit)) {
    std::memset(msg->text, 'x', msg->capacity);  // no NUL anywhere
    return PORTA_ERROR_BACKEND;
  }
  if (Is(Hostile::kHugeCount)) {
    auto* backend = new (std::nothrow) porta_be_backend;
    if (backend == nullptr) return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory");
    backend->device_count = UINT32_MAX;
    *out_backend = backend;
    return PORTA_OK;
  }
#endif
  uint32_t count = 0;
  porta_status_t status = ReadDeviceCount(&count, msg);
  if (status != PORTA_OK) return status;
#ifdef MINI_ZERO_DEVICES
  count = 0;
#endif
  auto* backend = new (std::nothrow) porta_be_backend;
  if (backend == nullptr) return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory");
  backend->device_count = count;
  backend->host = host;
#ifdef MINI_NATIVE
  ReadNativeTags(backend);
#endif
  if (host->log != nullptr) {
    std::string text =
        std::string("mini ") + MINI_NAME + ": " + std::to_string(count) + " device(s)";
    host->log(host->log_user, PORTA_LOG_INFO, text.c_str());
  }
  *out_backend = backend;
  return PORTA_OK;
#endif
}

void Shutdown(porta_be_backend_t backend) {
#ifdef MINI_CRASHES
  CrashIf(Crash::kSegvAtShutdown);
#endif
#ifdef MINI_GRAPHS
  if (live_graphs.load() != 0) {
    std::fprintf(stderr, "mini: %d native graphs were never destroyed\n", live_graphs.load());
    std::abort();
  }
#endif
  delete backend;
}

porta_status_t DeviceCount(porta_be_backend_t backend, uint32_t* out_count, porta_be_msg msg) {
  *out_count = backend->device_count;
  if (backend->device_count == 0) {
#ifdef MINI_ZERO_DEVICES
    SetMessage(msg, "mini %s: no devices on a simulated empty machine", MINI_NAME);
#else
    SetMessage(msg, "mini %s: device count set to 0 by the environment", MINI_NAME);
#endif
  }
  return PORTA_OK;
}

porta_status_t DeviceOpen(porta_be_backend_t backend, uint32_t index, porta_be_device_t* out_device,
                          porta_be_msg msg) {
  if (index >= backend->device_count) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE, "mini: device index %u >= count %u", index,
                backend->device_count);
  }
  auto* device = new (std::nothrow) porta_be_device{backend, index};
  if (device == nullptr) return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory");
  *out_device = device;
  return PORTA_OK;
}

void DeviceClose(porta_be_device_t device) {
  delete device;
}

void CopyName(char* dst, size_t capacity, const std::string& text) {
  size_t n = std::min(capacity - 1, text.size());
  std::memcpy(dst, text.data(), n);
  dst[n] = '\0';
}

porta_status_t DeviceGetInfo(porta_be_device_t device, porta_device_info_t* info,
                             porta_be_msg /*msg*/) {
  CopyName(info->name, sizeof(info->name),
           std::string(MINI_NAME) + " device " + std::to_string(device->index));
  CopyName(info->vendor, sizeof(info->vendor), "Porta tests");
  CopyName(info->backend, sizeof(info->backend), MINI_NAME);
  info->type = PORTA_DEVICE_TYPE_ACCELERATOR;
  CopyName(info->architecture, sizeof(info->architecture), "host-memory");
  CopyName(info->driver_version, sizeof(info->driver_version), "1.0");
  info->backend_device_index = device->index;
  info->global_memory_bytes = kGlobalMemoryBytes;
  info->max_allocation_bytes = kMaxAllocationBytes;
  info->compute_units = 1;
  info->max_work_group_size = kMaxWorkGroupSize;
  info->max_work_group_dims[0] = kMaxWorkGroupSize;
  info->max_work_group_dims[1] = kMaxWorkGroupSize;
  info->max_work_group_dims[2] = 64;
  info->max_grid_dims[0] = 65535;
  info->max_grid_dims[1] = 65535;
  info->max_grid_dims[2] = 65535;
  info->local_memory_bytes = kLocalMemoryBytes;
  info->subgroup_sizes[0] = 1;
  info->subgroup_size_count = 1;
  info->capabilities = PORTA_CAP_INT64 | PORTA_CAP_INT8 | PORTA_CAP_HOST_VISIBLE_MEMORY |
                       PORTA_CAP_UNIFIED_MEMORY | PORTA_CAP_TIMESTAMPS;
#ifdef MINI_GRAPHS
  info->capabilities |= PORTA_CAP_NATIVE_GRAPHS;
#endif
  info->kernel_formats = MINI_KERNEL_FORMATS;
#ifdef MINI_NATIVE
  // Only a runtime whose porta_device_info_t has the tags gets them.
  if (info->struct_size >= offsetof(porta_device_info_t, native_tag_count) + sizeof(uint32_t)) {
    info->kernel_formats |= PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE);
    const std::vector<std::string>& tags = device->backend->native_tags;
    for (size_t i = 0; i < tags.size() && i < PORTA_MAX_NATIVE_TAGS; ++i) {
      // As given, even unterminated: the runtime must cope with what a plugin writes.
      std::memcpy(info->native_tags[i], tags[i].data(),
                  std::min(tags[i].size(), sizeof(info->native_tags[i])));
    }
    info->native_tag_count = device->backend->native_tag_count;
  }
#endif
#ifdef MINI_HOSTILE
  if (Is(Hostile::kUnterminatedNames)) {
    for (char* field : {info->name, info->vendor, info->architecture, info->driver_version}) {
      std::memset(field, 'n', PORTA_NAME_SIZE);
    }
  }
#endif
  // Distinct per plugin and device so that UUID-based matching can tell the devices apart.
  for (size_t i = 0; i < sizeof(info->uuid); ++i) {
    const char* name = MINI_NAME;
    info->uuid[i] = static_cast<uint8_t>(i < std::strlen(name) ? name[i] : device->index + 1);
  }
  return PORTA_OK;
}

#ifdef MINI_MEMORY_BYTES
// Bytes of the plugin's live buffers, against MINI_MEMORY_BYTES.
constinit std::atomic<uint64_t> memory_in_use{0};
#endif

porta_status_t BufferAlloc(porta_be_device_t device, uint64_t size, porta_memory_kind_t kind,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
#ifdef MINI_HOSTILE
  if (Is(Hostile::kNullBuffer)) {
    *out_buffer = nullptr;
    return PORTA_OK;
  }
  if (Is(Hostile::kThrow)) throw std::runtime_error("mini: buffer_alloc throws");
#endif
#ifdef MINI_MEMORY_BYTES
  const uint64_t used = memory_in_use.fetch_add(size) + size;
  if (used > MINI_MEMORY_BYTES) {
    memory_in_use.fetch_sub(size);
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY,
                "mini: device memory full (%llu bytes asked, %llu of %llu in use)",
                static_cast<unsigned long long>(size), static_cast<unsigned long long>(used - size),
                static_cast<unsigned long long>(MINI_MEMORY_BYTES));
  }
#endif
  auto* buffer = new (std::nothrow) porta_be_buffer{device, nullptr, size, kind};
  if (buffer == nullptr) return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory");
  buffer->data = static_cast<uint8_t*>(std::malloc(static_cast<size_t>(size)));
  if (buffer->data == nullptr) {
    delete buffer;
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: malloc of %llu bytes failed",
                static_cast<unsigned long long>(size));
  }
  *out_buffer = buffer;
  return PORTA_OK;
}

void BufferFree(porta_be_buffer_t buffer) {
#ifdef MINI_MEMORY_BYTES
  memory_in_use.fetch_sub(buffer->size);
#endif
  std::free(buffer->data);
  delete buffer;
}

porta_status_t BufferMap(porta_be_buffer_t buffer, uint64_t offset, uint64_t /*size*/,
                         void** out_ptr, porta_be_msg /*msg*/) {
  *out_ptr = buffer->data + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t /*buffer*/, porta_be_msg /*msg*/) {
  return PORTA_OK;
}

porta_status_t StreamCreate(porta_be_device_t device, porta_be_stream_t* out_stream,
                            porta_be_msg msg) {
#ifdef MINI_HOSTILE
  if (Is(Hostile::kThrow)) throw std::bad_alloc();
#endif
  auto* stream = new (std::nothrow) porta_be_stream;
  if (stream == nullptr) return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory");
  stream->device = device;
  *out_stream = stream;
  return PORTA_OK;
}

void StreamDestroy(porta_be_stream_t stream) {
  delete stream;
}

// Commands run at enqueue time, so waiting only has to report a fault.
porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg) {
#ifdef MINI_HOSTILE
  if (Is(Hostile::kStatus999)) {
    return Fail(msg, static_cast<porta_status_t>(999), "mini: a status no header defines");
  }
#endif
  return CheckSticky(stream, msg);
}

[[maybe_unused]] porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg) {
  return CheckSticky(stream, msg);
}

porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  if (porta_status_t status = CheckSticky(stream, msg); status != PORTA_OK) return status;
  std::memcpy(dst->data + dst_offset, src, static_cast<size_t>(size));
  return PORTA_OK;
}

porta_status_t CopyDeviceToHost(porta_be_stream_t stream, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  if (porta_status_t status = CheckSticky(stream, msg); status != PORTA_OK) return status;
  std::memcpy(dst, src->data + src_offset, static_cast<size_t>(size));
  return PORTA_OK;
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg) {
  if (porta_status_t status = CheckSticky(stream, msg); status != PORTA_OK) return status;
  std::memmove(dst->data + dst_offset, src->data + src_offset, static_cast<size_t>(size));
  return PORTA_OK;
}

porta_status_t FillBuffer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  if (porta_status_t status = CheckSticky(stream, msg); status != PORTA_OK) return status;
  for (uint64_t i = 0; i < size; i += pattern_size) {
    std::memcpy(dst->data + offset + i, pattern, pattern_size);
  }
  return PORTA_OK;
}

porta_status_t EventCreate(porta_be_device_t device, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg) {
  auto* event = new (std::nothrow) porta_be_event;
  if (event == nullptr) return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory");
  event->device = device;
  event->flags = flags;
  *out_event = event;
  return PORTA_OK;
}

void EventDestroy(porta_be_event_t event) {
  delete event;
}

porta_status_t EventRecord(porta_be_event_t event, porta_be_stream_t stream, porta_be_msg /*msg*/) {
  std::lock_guard<std::mutex> lock(event->mutex);
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  event->status = stream->sticky;
  event->message = stream->sticky_message;
  return PORTA_OK;
}

// Work before the event has already run, so the wait only has to propagate a fault.
porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t /*event*/,
                               porta_be_msg msg) {
  return CheckSticky(stream, msg);
}

porta_status_t EventQuery(porta_be_event_t event, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(event->mutex);
  if (event->status != PORTA_OK) return Fail(msg, event->status, "%s", event->message.c_str());
  return PORTA_OK;
}

porta_status_t EventWait(porta_be_event_t event, uint64_t /*timeout_ns*/, porta_be_msg msg) {
  return EventQuery(event, msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                              porta_be_msg msg) {
#ifdef MINI_CRASHES
  CrashIf(Crash::kSegv);
  CrashIf(Crash::kAbort);
  CrashIf(Crash::kHang);
#endif
  std::chrono::steady_clock::time_point t0;
  std::chrono::steady_clock::time_point t1;
  {
    std::lock_guard<std::mutex> lock(start->mutex);
    if (!start->recorded || (start->flags & PORTA_EVENT_DISABLE_TIMING) != 0) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "mini: start event has no timestamp");
    }
    t0 = start->time;
  }
  {
    std::lock_guard<std::mutex> lock(end->mutex);
    if (!end->recorded || (end->flags & PORTA_EVENT_DISABLE_TIMING) != 0) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "mini: end event has no timestamp");
    }
    t1 = end->time;
  }
  *out_ms = std::chrono::duration<float, std::milli>(t1 - t0).count();
  return PORTA_OK;
}

#ifdef MINI_NATIVE
// A PORTA_FORMAT_NATIVE source: the runtime has checked the header and that its tag is one this
// device declared; the byte-code after the header is the plugin's to check.
porta_status_t LoadNative(const porta_module_source_t* source, porta_be_module* module,
                          porta_be_msg msg) {
  const auto* bytes = static_cast<const uint8_t*>(source->data);
  const auto* header = static_cast<const porta_native_header_t*>(source->data);
  std::vector<mini_native::Kernel> kernels;
  const std::string problem =
      mini_native::Decode(bytes + sizeof(porta_native_header_t),
                          source->size - sizeof(porta_native_header_t), &kernels);
  if (!problem.empty()) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED, "mini: native binary (tag %s): %s", header->tag,
                problem.c_str());
  }
  for (mini_native::Kernel& kernel : kernels) {
    auto entry = std::make_unique<porta_be_kernel>();
    entry->name = kernel.name;
    entry->native = std::move(kernel);
    module->kernels.push_back(std::move(entry));
  }
  return PORTA_OK;
}
#endif

porta_status_t LoadHost(const porta_module_source_t* source, porta_be_module* module,
                        porta_be_msg msg) {
  if (source->data == nullptr || source->size % sizeof(porta_host_kernel_t) != 0) {
    return Fail(msg, PORTA_ERROR_BUILD_FAILED,
                "mini: host module size %zu is not a multiple of porta_host_kernel_t (%zu)",
                source->size, sizeof(porta_host_kernel_t));
  }
  const auto* entries = static_cast<const porta_host_kernel_t*>(source->data);
  for (size_t i = 0; i < source->size / sizeof(porta_host_kernel_t); ++i) {
    if (entries[i].name == nullptr || entries[i].fn == nullptr) {
      return Fail(msg, PORTA_ERROR_BUILD_FAILED, "mini: host kernel entry %zu has no %s", i,
                  entries[i].name == nullptr ? "name" : "function");
    }
    module->kernels.push_back(
        std::make_unique<porta_be_kernel>(porta_be_kernel{entries[i].name, entries[i].fn, {}}));
  }
  return PORTA_OK;
}

porta_status_t ModuleLoad(porta_be_device_t /*device*/, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  auto module = std::make_unique<porta_be_module>();
  porta_status_t status;
  if (source->format == PORTA_FORMAT_HOST) {
    status = LoadHost(source, module.get(), msg);
#ifdef MINI_NATIVE
  } else if (source->format == PORTA_FORMAT_NATIVE) {
    status = LoadNative(source, module.get(), msg);
#endif
  } else {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "mini: kernel format %d is not accepted",
                static_cast<int>(source->format));
  }
  if (status != PORTA_OK) return status;
  for (uint32_t i = 0; i < source->entry_count; ++i) {
    const char* wanted = source->entry_names[i];
    bool found = std::any_of(module->kernels.begin(), module->kernels.end(),
                             [&](const auto& kernel) { return kernel->name == wanted; });
    if (!found) return Fail(msg, PORTA_ERROR_NOT_FOUND, "mini: no kernel named '%s'", wanted);
  }
  *out_module = module.release();
  return PORTA_OK;
}

void ModuleDestroy(porta_be_module_t module) {
  delete module;
}

porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  for (const auto& kernel : module->kernels) {
    if (kernel->name == name) {
      *out_kernel = kernel.get();
      return PORTA_OK;
    }
  }
  return Fail(msg, PORTA_ERROR_NOT_FOUND, "mini: no kernel named '%s'", name);
}

porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  if (porta_status_t status = CheckSticky(stream, msg); status != PORTA_OK) return status;
  if (kernel->fn == nullptr) {
    // A native kernel's signature is its own limit, which only the backend knows.
    const std::string& kinds = kernel->native.args;
    if (arg_count != kinds.size()) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "mini: native kernel '%s' takes %zu arguments (\"%s\"), not %u",
                  kernel->name.c_str(), kinds.size(), kinds.c_str(), arg_count);
    }
    for (uint32_t i = 0; i < arg_count; ++i) {
      const bool buffer = kinds[i] == 'b';
      if ((args[i].kind == PORTA_ARG_BUFFER) != buffer || (!buffer && args[i].scalar_size != 4)) {
        return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                    "mini: argument %u of native kernel '%s' must be %s", i, kernel->name.c_str(),
                    buffer ? "a buffer" : "a 4-byte scalar");
      }
    }
  }
  std::vector<porta_host_arg_t> host_args(arg_count);
  for (uint32_t i = 0; i < arg_count; ++i) {
    if (args[i].kind == PORTA_ARG_BUFFER) {
      host_args[i].ptr = args[i].buffer->data + args[i].offset;
      host_args[i].size = args[i].buffer->size - args[i].offset;
    } else {
      host_args[i].ptr = const_cast<void*>(args[i].scalar);
      host_args[i].size = args[i].scalar_size;
    }
  }
  // Rounded up to the alignment, as aligned_alloc requires a multiple of it.
  uint64_t local_bytes = (config->local_memory_bytes + 63) / 64 * 64;
  std::unique_ptr<void, decltype(&std::free)> local(
      local_bytes == 0 ? nullptr : std::aligned_alloc(64, static_cast<size_t>(local_bytes)),
      &std::free);
  if (local_bytes != 0 && local == nullptr) {
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "mini: no memory for %llu bytes of local memory",
                static_cast<unsigned long long>(local_bytes));
  }
  porta_host_group_t group = {};
  for (int d = 0; d < 3; ++d) {
    group.group_count[d] = config->grid[d];
    group.group_size[d] = config->block[d];
  }
  group.local_memory = local.get();
  group.local_memory_bytes = config->local_memory_bytes;
  group.args = host_args.data();
  group.arg_count = arg_count;
  for (uint32_t z = 0; z < config->grid[2]; ++z) {
    for (uint32_t y = 0; y < config->grid[1]; ++y) {
      for (uint32_t x = 0; x < config->grid[0]; ++x) {
        group.group_id[0] = x;
        group.group_id[1] = y;
        group.group_id[2] = z;
        std::string fault;
        int32_t result = kernel->fn != nullptr
                             ? kernel->fn(&group)
                             : mini_native::RunGroup(kernel->native, group, &fault);
        if (result != 0) {
          // A fault is reported by the next synchronize, like on an asynchronous device.
          stream->sticky = PORTA_ERROR_DEVICE_LOST;
          stream->sticky_message = "mini: kernel '" + kernel->name + "' returned " +
                                   std::to_string(result) + " in work-group (" + std::to_string(x) +
                                   ", " + std::to_string(y) + ", " + std::to_string(z) + ")" +
                                   (fault.empty() ? "" : ": " + fault);
          return PORTA_OK;
        }
      }
    }
  }
  return PORTA_OK;
}

[[maybe_unused]] porta_status_t BufferNativeHandle(porta_be_buffer_t buffer, uint64_t* out_handle,
                                                   porta_be_msg /*msg*/) {
  *out_handle = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(buffer->data));
  return PORTA_OK;
}

// Both devices belong to this backend and all memory is host memory.
[[maybe_unused]] porta_status_t CopyPeer(porta_be_stream_t stream, porta_be_buffer_t dst,
                                         uint64_t dst_offset, porta_be_buffer_t src,
                                         uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  return CopyDeviceToDevice(stream, dst, dst_offset, src, src_offset, size, msg);
}

// The ABI 1.0 variant still fills the 1.1 slots, with functions that fail loudly: a runtime that
// read past the table's struct_size would call them and the tests would see this error.
[[maybe_unused]] porta_status_t TripwireNativeHandle(porta_be_buffer_t, uint64_t*,
                                                     porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_BACKEND,
              "mini: buffer_native_handle called although it lies beyond struct_size");
}

[[maybe_unused]] porta_status_t TripwireCopyPeer(porta_be_stream_t, porta_be_buffer_t, uint64_t,
                                                 porta_be_buffer_t, uint64_t, uint64_t,
                                                 porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_BACKEND,
              "mini: copy_peer called although it lies beyond struct_size");
}

#ifdef MINI_GRAPHS
// A native graph: a copy of its nodes, replayed through the ordinary slot functions.
struct MiniGraphNode {
  porta_be_graph_node_t node{};
  porta_launch_config_t config{};
  std::vector<porta_be_arg_t> args;
  std::vector<std::vector<uint8_t>> scalars;
  uint8_t pattern[4] = {};
};

porta_status_t GraphCreate(porta_be_device_t /*device*/, const porta_be_graph_node_t* nodes,
                           uint32_t count, porta_be_graph_t* out_graph, porta_be_msg msg) {
  if (count < 2) return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "mini: a graph of %u nodes", count);
  auto graph = std::make_unique<std::vector<MiniGraphNode>>(count);
  for (uint32_t i = 0; i < count; ++i) {
    MiniGraphNode& copy = (*graph)[i];
    copy.node = nodes[i];
    if (nodes[i].kind == PORTA_GRAPH_NODE_KERNEL) {
      copy.config = *nodes[i].config;
      copy.args.assign(nodes[i].args, nodes[i].args + nodes[i].arg_count);
      copy.scalars.resize(nodes[i].arg_count);
      for (uint32_t a = 0; a < nodes[i].arg_count; ++a) {
        if (copy.args[a].kind != PORTA_ARG_SCALAR) continue;
        const auto* bytes = static_cast<const uint8_t*>(copy.args[a].scalar);
        copy.scalars[a].assign(bytes, bytes + copy.args[a].scalar_size);
      }
    } else if (nodes[i].kind == PORTA_GRAPH_NODE_FILL) {
      std::memcpy(copy.pattern, nodes[i].pattern, nodes[i].pattern_size);
    } else if (nodes[i].kind != PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "mini: graph node %u has kind %d", i,
                  static_cast<int>(nodes[i].kind));
    }
  }
  // Scalars point into the copies, which no longer move.
  for (MiniGraphNode& copy : *graph) {
    for (size_t a = 0; a < copy.args.size(); ++a) {
      if (copy.args[a].kind == PORTA_ARG_SCALAR) copy.args[a].scalar = copy.scalars[a].data();
    }
  }
  *out_graph = reinterpret_cast<porta_be_graph_t>(graph.release());
  live_graphs.fetch_add(1);
  return PORTA_OK;
}

porta_status_t GraphLaunch(porta_be_stream_t stream, porta_be_graph_t graph, porta_be_msg msg) {
  static constinit std::atomic<uint32_t> launches{0};
  if (launches.fetch_add(1) % 3 == 2) {
    return Fail(msg, PORTA_ERROR_UNSUPPORTED, "mini: this replay goes node by node");
  }
  for (MiniGraphNode& copy : *reinterpret_cast<std::vector<MiniGraphNode>*>(graph)) {
    const porta_be_graph_node_t& node = copy.node;
    porta_status_t status = PORTA_OK;
    switch (node.kind) {
      case PORTA_GRAPH_NODE_KERNEL:
        status = KernelLaunch(stream, node.kernel, &copy.config, copy.args.data(),
                              static_cast<uint32_t>(copy.args.size()), msg);
        break;
      case PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE:
        status = CopyDeviceToDevice(stream, node.dst, node.dst_offset, node.src, node.src_offset,
                                    node.size, msg);
        break;
      default:
        status = FillBuffer(stream, node.dst, node.dst_offset, node.size, copy.pattern,
                            node.pattern_size, msg);
        break;
    }
    if (status != PORTA_OK) return status;
  }
  return PORTA_OK;
}

void GraphDestroy(porta_be_graph_t graph) {
  delete reinterpret_cast<std::vector<MiniGraphNode>*>(graph);
  live_graphs.fetch_sub(1);
}
#endif

#ifdef MINI_OLD_MINOR
constexpr size_t kTableSize = offsetof(porta_backend_table_t, buffer_native_handle);
constexpr uint32_t kAbiMinor = 0;
#else
constexpr size_t kTableSize = sizeof(porta_backend_table_t);
constexpr uint32_t kAbiMinor = PORTA_BACKEND_ABI_MINOR;
#endif

constinit const porta_backend_table_t kTable = {
    .struct_size = kTableSize,
    .abi_major = MINI_ABI_MAJOR,
    .abi_minor = kAbiMinor,
    .name = MINI_NAME,
    .init = SLOT(Init),
    .shutdown = SLOT(Shutdown),
    .device_count = SLOT(DeviceCount),
    .device_open = SLOT(DeviceOpen),
    .device_close = SLOT(DeviceClose),
    .device_get_info = SLOT(DeviceGetInfo),
    .buffer_alloc = SLOT(BufferAlloc),
    .buffer_free = SLOT(BufferFree),
    .buffer_map = SLOT(BufferMap),
    .buffer_unmap = SLOT(BufferUnmap),
    .stream_create = SLOT(StreamCreate),
    .stream_destroy = SLOT(StreamDestroy),
    .stream_synchronize = SLOT(StreamSynchronize),
#ifdef MINI_MISSING_STREAM_QUERY
    .stream_query = nullptr,
#else
    .stream_query = SLOT(StreamQuery),
#endif
    .copy_host_to_device = SLOT(CopyHostToDevice),
    .copy_device_to_host = SLOT(CopyDeviceToHost),
    .copy_device_to_device = SLOT(CopyDeviceToDevice),
    .fill_buffer = SLOT(FillBuffer),
    .event_create = SLOT(EventCreate),
    .event_destroy = SLOT(EventDestroy),
    .event_record = SLOT(EventRecord),
    .stream_wait_event = SLOT(StreamWaitEvent),
    .event_wait = SLOT(EventWait),
    .event_query = SLOT(EventQuery),
    .event_elapsed_ms = SLOT(EventElapsedMs),
    .module_load = SLOT(ModuleLoad),
    .module_destroy = SLOT(ModuleDestroy),
    .module_get_kernel = SLOT(ModuleGetKernel),
    .kernel_launch = SLOT(KernelLaunch),
#ifdef MINI_OLD_MINOR
    .buffer_native_handle = SLOT(TripwireNativeHandle),
    .copy_peer = SLOT(TripwireCopyPeer),
#else
    .buffer_native_handle = SLOT(BufferNativeHandle),
    .copy_peer = SLOT(CopyPeer),
#endif
#ifdef MINI_GRAPHS
    .graph_create = SLOT(GraphCreate),
    .graph_launch = SLOT(GraphLaunch),
    .graph_update_kernel_args = nullptr,
    .graph_destroy = SLOT(GraphDestroy),
#endif
};

porta_status_t Entry(const porta_backend_host_t* host, const porta_backend_table_t** out_table,
                     porta_be_msg msg) {
  // The ABI-2 variant answers regardless, so that refusing it is the runtime's job.
  if (MINI_ABI_MAJOR == PORTA_BACKEND_ABI_MAJOR && host->abi_major != PORTA_BACKEND_ABI_MAJOR) {
    return Fail(msg, PORTA_ERROR_ABI_MISMATCH, "mini %s implements ABI major %u, offered %u",
                MINI_NAME, PORTA_BACKEND_ABI_MAJOR, host->abi_major);
  }
#ifdef MINI_FAULTY
  ReadFaultWalk();
  if (FaultHere("porta_backend_entry")) {
    return Fail(msg, PORTA_ERROR_BACKEND, "mini %s: injected failure of porta_backend_entry",
                MINI_NAME);
  }
#endif
  *out_table = &kTable;
  return PORTA_OK;
}

}  // namespace

#ifdef MINI_NO_ENTRY
// A plugin whose author forgot to export the entry: the function exists but stays hidden.
extern "C" porta_status_t porta_mini_hidden_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg) {
  return Entry(host, out_table, msg);
}
#else
PORTA_BACKEND_EXPORT porta_status_t porta_backend_entry(const porta_backend_host_t* host,
                                                        const porta_backend_table_t** out_table,
                                                        porta_be_msg msg) {
  return Entry(host, out_table, msg);
}
#endif
