// The CPU backend: the host processor as a Porta device, through the backend ABI.
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_objects.h"
#include "backends/cpu/cpu_stream.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/disk_cache.h"
#include "porta/sdk/message.h"

namespace porta::cpu {

Work MakeMoveWork(void* dst, const void* src, uint64_t size) {
  return [dst, src, size](std::string*, Scratch&) {
    std::memmove(dst, src, static_cast<size_t>(size));
    return true;
  };
}

Work MakeFillWork(uint8_t* target, uint64_t size, const void* pattern, uint32_t pattern_size) {
  uint8_t bytes[4] = {};
  std::memcpy(bytes, pattern, pattern_size);
  return [target, size, pattern_size, bytes0 = bytes[0], bytes1 = bytes[1], bytes2 = bytes[2],
          bytes3 = bytes[3]](std::string*, Scratch&) {
    const uint8_t value[4] = {bytes0, bytes1, bytes2, bytes3};
    if (pattern_size == 1) {
      std::memset(target, value[0], static_cast<size_t>(size));
      return true;
    }
    for (uint64_t i = 0; i < size; i += pattern_size) std::memcpy(target + i, value, pattern_size);
    return true;
  };
}

namespace {

using common::Fail;
using common::Guard;

constexpr size_t kBufferAlignment = 64;
// Buffers from this size on come straight from mmap: a failed mmap reports ENOMEM, whereas a
// failed huge malloc aborts the process under AddressSanitizer. Smaller buffers stay on the heap,
// where the sanitizers see kernels that overrun them.
constexpr uint64_t kMmapThreshold = uint64_t{256} << 20;

template <size_t N>
void CopyText(char (&field)[N], const std::string& text) {
  std::snprintf(field, N, "%s", text.c_str());
}

// The first "key : value" line of /proc/cpuinfo for each of |keys|; "" when absent.
std::vector<std::string> CpuInfoFields(const std::vector<std::string>& keys) {
  std::vector<std::string> values(keys.size());
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  size_t found = 0;
  while (found < keys.size() && std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t key_end = line.find_last_not_of(" \t", colon == 0 ? 0 : colon - 1);
    if (key_end == std::string::npos) continue;
    const std::string key = line.substr(0, key_end + 1);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (key != keys[i] || !values[i].empty()) continue;
      const size_t begin = line.find_first_not_of(" \t", colon + 1);
      if (begin != std::string::npos) {
        values[i] = line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin);
        ++found;
      }
    }
  }
  return values;
}

// The machine name plus the vector extensions host kernels may be tuned for, from the kernel's
// cpuinfo flags (__builtin_cpu_supports would link a static constructor into the plugin).
std::string Architecture(const std::string& flags) {
  utsname names{};
  std::string arch = uname(&names) == 0 ? names.machine : "unknown";
  const std::string padded = " " + flags + " ";
  // cpuinfo flag name, name shown in the architecture string.
  static constexpr const char* kHints[][2] = {
      {"sse4_2", "sse4.2"},   {"avx", "avx"},    {"avx2", "avx2"}, {"fma", "fma"},
      {"avx512f", "avx512f"}, {"asimd", "neon"}, {"sve", "sve"},
  };
  std::string isa;
  for (const auto& hint : kHints) {
    if (padded.find(std::string(" ") + hint[0] + " ") == std::string::npos) continue;
    if (!isa.empty()) isa += ", ";
    isa += hint[1];
  }
  if (!isa.empty()) arch += " (" + isa + ")";
  return arch;
}

uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return uint64_t{1} << 30;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

porta_device_info_t DescribeHost(const char* porta_version) {
  porta_device_info_t info{};
  info.struct_size = sizeof(info);
  // "flags" on x86, "Features" on Arm.
  const std::vector<std::string> fields =
      CpuInfoFields({"model name", "vendor_id", "flags", "Features"});
  const std::string model = fields[0].empty() ? "host CPU" : fields[0];
  const std::string vendor = fields[1].empty() ? "unknown" : fields[1];
  CopyText(info.name, model);
  CopyText(info.vendor, vendor);
  CopyText(info.backend, "cpu");
  info.type = PORTA_DEVICE_TYPE_CPU;
  CopyText(info.architecture, Architecture(fields[2].empty() ? fields[3] : fields[2]));
  CopyText(info.driver_version, porta_version != nullptr ? porta_version : "unknown");
  info.backend_device_index = 0;
  info.global_memory_bytes = PhysicalMemoryBytes();
  // Half of RAM: a single buffer larger than that would leave the process nothing to work with.
  info.max_allocation_bytes = info.global_memory_bytes / 2;
  const unsigned threads = std::thread::hardware_concurrency();
  info.compute_units = threads == 0 ? 1 : threads;
  info.max_work_group_size = 1024;
  info.max_work_group_dims[0] = 1024;
  info.max_work_group_dims[1] = 1024;
  info.max_work_group_dims[2] = 64;
  info.max_grid_dims[0] = 0x7fffffffu;
  info.max_grid_dims[1] = 65535;
  info.max_grid_dims[2] = 65535;
  info.local_memory_bytes = 64 * 1024;
  info.subgroup_sizes[0] = 1;
  info.subgroup_size_count = 1;
  // Only what plain C++ host kernels do natively: no fp16/bf16 arithmetic.
  info.capabilities = PORTA_CAP_FP64 | PORTA_CAP_INT64 | PORTA_CAP_ATOMICS |
                      PORTA_CAP_HOST_VISIBLE_MEMORY | PORTA_CAP_UNIFIED_MEMORY | PORTA_CAP_INT8 |
                      PORTA_CAP_TIMESTAMPS | PORTA_CAP_NATIVE_GRAPHS;
  info.kernel_formats = PORTA_FORMAT_BIT(PORTA_FORMAT_HOST);
  // Stable across runs on one machine, different between machines and CPU models.
  char host_name[256] = {};
  if (gethostname(host_name, sizeof(host_name) - 1) != 0) host_name[0] = '\0';
  const std::string identity = std::string(host_name) + "|" + model;
  const uint64_t halves[2] = {common::Hash64(identity),
                              common::Hash64(identity, 0x9e3779b97f4a7c15ull)};
  for (int i = 0; i < 16; ++i) {
    info.uuid[i] = static_cast<uint8_t>(halves[i / 8] >> (8 * (i % 8)));
  }
  return info;
}

// True when [offset, offset + size) lies within |buffer| (overflow-safe).
bool InRange(const Buffer* buffer, uint64_t offset, uint64_t size) {
  return offset <= buffer->size && size <= buffer->size - offset;
}

porta_status_t RangeError(porta_be_msg msg, const char* what, uint64_t offset, uint64_t size,
                          const Buffer* buffer) {
  return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
              "%s range [%" PRIu64 ", +%" PRIu64 ") does not fit in the buffer's %" PRIu64 " bytes",
              what, offset, size, buffer->size);
}

//===--- Backend and device -------------------------------------------------------------------===//

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
  return Guard(msg, "cpu backend init", [&]() -> porta_status_t {
    const char* version = nullptr;
    if (host != nullptr && host->struct_size >= offsetof(porta_backend_host_t, porta_version) +
                                                    sizeof(host->porta_version)) {
      version = host->porta_version;
    }
    auto backend = std::make_unique<Backend>();
    backend->info = DescribeHost(version);
    *out_backend = reinterpret_cast<porta_be_backend_t>(backend.release());
    return PORTA_OK;
  });
}

void Shutdown(porta_be_backend_t backend) {
  delete ToBackend(backend);
}

porta_status_t DeviceCount(porta_be_backend_t, uint32_t* out_count, porta_be_msg) {
  *out_count = 1;
  return PORTA_OK;
}

porta_status_t DeviceOpen(porta_be_backend_t backend, uint32_t index, porta_be_device_t* out_device,
                          porta_be_msg msg) {
  if (index != 0) {
    return Fail(msg, PORTA_ERROR_NOT_FOUND, "the cpu backend has one device; index %u", index);
  }
  return Guard(msg, "opening the cpu device", [&]() -> porta_status_t {
    auto device = std::make_unique<Device>();
    device->info = ToBackend(backend)->info;
    // The stream worker that submits a launch runs groups too, so compute_units - 1 pool threads
    // keep one launch at exactly one thread per hardware thread.
    device->pool = std::make_unique<ThreadPool>(device->info.compute_units - 1);
    *out_device = reinterpret_cast<porta_be_device_t>(device.release());
    return PORTA_OK;
  });
}

void DeviceClose(porta_be_device_t device) {
  delete ToDevice(device);
}

porta_status_t DeviceGetInfo(porta_be_device_t device, porta_device_info_t* info, porta_be_msg) {
  *info = ToDevice(device)->info;
  return PORTA_OK;
}

// Memory the kernel says is available to new allocations (MemAvailable of /proc/meminfo: free
// memory plus the caches it can drop), or the free pages where that line is missing.
porta_status_t DeviceMemoryInfo(porta_be_device_t device, uint64_t* out_free_bytes,
                                porta_be_msg msg) {
  uint64_t available = 0;
  bool found = false;
  if (FILE* file = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kib = 0;
    while (std::fgets(line, sizeof line, file) != nullptr) {
      if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
        available = static_cast<uint64_t>(kib) * 1024u;
        found = true;
        break;
      }
    }
    std::fclose(file);
  }
  if (!found) {
    const long pages = sysconf(_SC_AVPHYS_PAGES);
    const long page_size = sysconf(_SC_PAGESIZE);
    if (pages < 0 || page_size <= 0) {
      return Fail(msg, PORTA_ERROR_UNSUPPORTED,
                  "cpu: neither /proc/meminfo nor sysconf(_SC_AVPHYS_PAGES) tells free memory");
    }
    available = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
  }
  *out_free_bytes = std::min(available, ToDevice(device)->info.global_memory_bytes);
  return PORTA_OK;
}

//===--- Memory -------------------------------------------------------------------------------===//

porta_status_t BufferAlloc(porta_be_device_t device, uint64_t size, porta_memory_kind_t,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  if (size == 0) return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "buffer size is 0");
  if (size > ToDevice(device)->info.max_allocation_bytes || size > SIZE_MAX) {
    return Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                "buffer size %" PRIu64 " exceeds max_allocation_bytes %" PRIu64, size,
                ToDevice(device)->info.max_allocation_bytes);
  }
  return Guard(msg, "buffer_alloc", [&]() -> porta_status_t {
    auto buffer = std::make_unique<Buffer>();
    buffer->device = ToDevice(device);
    buffer->size = size;
    void* data = nullptr;
    if (size >= kMmapThreshold) {
      data = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (data == MAP_FAILED) data = nullptr;
      buffer->mapped = data != nullptr;
    } else if (posix_memalign(&data, kBufferAlignment, static_cast<size_t>(size)) != 0) {
      data = nullptr;
    }
    if (data == nullptr) {
      return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY,
                  "could not allocate %" PRIu64 " bytes of host memory", size);
    }
    buffer->data = static_cast<uint8_t*>(data);
    *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
    return PORTA_OK;
  });
}

void BufferFree(porta_be_buffer_t handle) {
  Buffer* buffer = ToBuffer(handle);
  if (buffer == nullptr) return;
  if (buffer->imported) {
    // The memory is the application's.
  } else if (buffer->mapped) {
    munmap(buffer->data, static_cast<size_t>(buffer->size));
  } else {
    std::free(buffer->data);
  }
  delete buffer;
}

porta_status_t BufferMap(porta_be_buffer_t handle, uint64_t offset, uint64_t size, void** out_ptr,
                         porta_be_msg msg) {
  Buffer* buffer = ToBuffer(handle);
  if (!InRange(buffer, offset, size)) return RangeError(msg, "map", offset, size, buffer);
  // Host memory is the device's memory: mapping is pointer arithmetic.
  *out_ptr = buffer->data + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t, porta_be_msg) {
  return PORTA_OK;
}

porta_status_t BufferNativeHandle(porta_be_buffer_t handle, uint64_t* out_handle, porta_be_msg) {
  *out_handle = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ToBuffer(handle)->data));
  return PORTA_OK;
}

// The CPU device and its streams have no objects of a native API; a buffer is its address.
porta_status_t DeviceNativeHandles(porta_be_device_t, porta_native_handles_t* out, porta_be_msg) {
  out->count = 0;
  return PORTA_OK;
}

porta_status_t StreamNativeHandles(porta_be_stream_t, porta_native_handles_t* out, porta_be_msg) {
  out->count = 0;
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t handle, porta_native_handles_t* out,
                                   porta_be_msg msg) {
  out->count = 1;
  return BufferNativeHandle(handle, &out->handles[PORTA_NATIVE_CPU_BUFFER_POINTER], msg);
}

// buffer_alloc's memory is 64-byte aligned; imported memory needs at least malloc's 16 bytes, so
// that elements of up to 16 bytes (float4, double2) stay naturally aligned at offset 0.
constexpr uint64_t kImportAlignment = 16;

porta_status_t BufferImport(porta_be_device_t device, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t, porta_be_buffer_t* out_buffer,
                            porta_be_msg msg) {
  const uint64_t address = native->handles[PORTA_NATIVE_CPU_BUFFER_POINTER];
  if (address % kImportAlignment != 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "cpu: handles[0] (host address 0x%" PRIx64 ") is not %" PRIu64 "-byte aligned",
                address, kImportAlignment);
  }
  if (size > SIZE_MAX || address > UINTPTR_MAX - size) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "cpu: %" PRIu64 " bytes from host address 0x%" PRIx64
                " run past the end of the address space",
                size, address);
  }
  return Guard(msg, "buffer_import", [&]() -> porta_status_t {
    auto buffer = std::make_unique<Buffer>();
    buffer->device = ToDevice(device);
    buffer->size = size;
    buffer->imported = true;
    buffer->data = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(address));
    *out_buffer = reinterpret_cast<porta_be_buffer_t>(buffer.release());
    return PORTA_OK;
  });
}

//===--- Streams and transfers ----------------------------------------------------------------===//

porta_status_t StreamCreate(porta_be_device_t device, porta_be_stream_t* out_stream,
                            porta_be_msg msg) {
  return Guard(msg, "stream_create", [&]() -> porta_status_t {
    *out_stream = reinterpret_cast<porta_be_stream_t>(new Stream(ToDevice(device)));
    return PORTA_OK;
  });
}

void StreamDestroy(porta_be_stream_t stream) {
  delete ToStream(stream);
}

porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg) {
  return ToStream(stream)->Synchronize(msg);
}

porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg) {
  return ToStream(stream)->Query(msg);
}

// Queues a byte move.
porta_status_t EnqueueMove(porta_be_stream_t stream, void* dst, const void* src, uint64_t size,
                           porta_be_msg msg) {
  return Guard(msg, "queueing a copy", [&]() -> porta_status_t {
    Command command;
    command.work = MakeMoveWork(dst, src, size);
    return ToStream(stream)->Enqueue(std::move(command), msg);
  });
}

porta_status_t CopyHostToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                uint64_t dst_offset, const void* src, uint64_t size,
                                porta_be_msg msg) {
  Buffer* buffer = ToBuffer(dst);
  if (!InRange(buffer, dst_offset, size)) {
    return RangeError(msg, "destination", dst_offset, size, buffer);
  }
  if (src == nullptr) return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "source pointer is NULL");
  return EnqueueMove(stream, buffer->data + dst_offset, src, size, msg);
}

porta_status_t CopyDeviceToHost(porta_be_stream_t stream, void* dst, porta_be_buffer_t src,
                                uint64_t src_offset, uint64_t size, porta_be_msg msg) {
  Buffer* buffer = ToBuffer(src);
  if (!InRange(buffer, src_offset, size)) {
    return RangeError(msg, "source", src_offset, size, buffer);
  }
  if (dst == nullptr) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "destination pointer is NULL");
  }
  return EnqueueMove(stream, dst, buffer->data + src_offset, size, msg);
}

porta_status_t CopyDeviceToDevice(porta_be_stream_t stream, porta_be_buffer_t dst,
                                  uint64_t dst_offset, porta_be_buffer_t src, uint64_t src_offset,
                                  uint64_t size, porta_be_msg msg) {
  Buffer* to = ToBuffer(dst);
  Buffer* from = ToBuffer(src);
  if (!InRange(to, dst_offset, size)) return RangeError(msg, "destination", dst_offset, size, to);
  if (!InRange(from, src_offset, size)) return RangeError(msg, "source", src_offset, size, from);
  return EnqueueMove(stream, to->data + dst_offset, from->data + src_offset, size, msg);
}

porta_status_t FillBuffer(porta_be_stream_t stream, porta_be_buffer_t dst, uint64_t offset,
                          uint64_t size, const void* pattern, uint32_t pattern_size,
                          porta_be_msg msg) {
  Buffer* buffer = ToBuffer(dst);
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "pattern_size %u is not 1, 2 or 4",
                pattern_size);
  }
  if (pattern == nullptr) return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "pattern is NULL");
  if (offset % pattern_size != 0 || size % pattern_size != 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "offset %" PRIu64 " and size %" PRIu64 " must be multiples of pattern_size %u",
                offset, size, pattern_size);
  }
  if (!InRange(buffer, offset, size)) return RangeError(msg, "fill", offset, size, buffer);
  return Guard(msg, "queueing a fill", [&]() -> porta_status_t {
    Command command;
    command.work = MakeFillWork(buffer->data + offset, size, pattern, pattern_size);
    return ToStream(stream)->Enqueue(std::move(command), msg);
  });
}

// The worker calls |fn| between the commands before and after it; a faulted stream skips it like
// any command.
porta_status_t StreamHostFunc(porta_be_stream_t stream, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  return Guard(msg, "queueing a host function", [&]() -> porta_status_t {
    Command command;
    command.work = [fn, user_data](std::string*, Scratch&) {
      fn(user_data);
      return true;
    };
    return ToStream(stream)->Enqueue(std::move(command), msg);
  });
}

//===--- Graphs -------------------------------------------------------------------------------===//

porta_status_t GraphCreate(porta_be_device_t device, const porta_be_graph_node_t* nodes,
                           uint32_t count, porta_be_graph_t* out_graph, porta_be_msg msg) {
  return Guard(msg, "graph_create", [&]() -> porta_status_t {
    Graph* graph = nullptr;
    const porta_status_t status = CreateGraph(ToDevice(device), nodes, count, &graph, msg);
    if (status == PORTA_OK) *out_graph = reinterpret_cast<porta_be_graph_t>(graph);
    return status;
  });
}

porta_status_t GraphLaunch(porta_be_stream_t stream, porta_be_graph_t graph, porta_be_msg msg) {
  return Guard(msg, "graph_launch", [&]() -> porta_status_t {
    return LaunchGraph(ToStream(stream), ToGraph(graph), msg);
  });
}

porta_status_t GraphUpdateKernelArgs(porta_be_graph_t graph, uint32_t node,
                                     const porta_be_arg_t* args, uint32_t arg_count,
                                     porta_be_msg msg) {
  return Guard(msg, "graph_update_kernel_args", [&]() -> porta_status_t {
    return UpdateGraphKernelArgs(ToGraph(graph), node, args, arg_count, msg);
  });
}

void GraphDestroy(porta_be_graph_t graph) {
  DestroyGraph(ToGraph(graph));
}

//===--- Events -------------------------------------------------------------------------------===//

porta_status_t EventCreate(porta_be_device_t device, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg) {
  return Guard(msg, "event_create", [&]() -> porta_status_t {
    *out_event = reinterpret_cast<porta_be_event_t>(new Event(ToDevice(device), flags));
    return PORTA_OK;
  });
}

void EventDestroy(porta_be_event_t event) {
  delete ToEvent(event);
}

porta_status_t EventRecord(porta_be_event_t event, porta_be_stream_t stream, porta_be_msg msg) {
  return Guard(msg, "event_record",
               [&]() -> porta_status_t { return ToEvent(event)->Record(ToStream(stream), msg); });
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t event, porta_be_msg msg) {
  return Guard(msg, "stream_wait_event", [&]() -> porta_status_t {
    return ToEvent(event)->MakeStreamWait(ToStream(stream), msg);
  });
}

porta_status_t EventWait(porta_be_event_t event, uint64_t timeout_ns, porta_be_msg msg) {
  return ToEvent(event)->Wait(timeout_ns, msg);
}

porta_status_t EventQuery(porta_be_event_t event, porta_be_msg msg) {
  return ToEvent(event)->Query(msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start, porta_be_event_t end, float* out_ms,
                              porta_be_msg msg) {
  return Event::ElapsedMs(ToEvent(start), ToEvent(end), out_ms, msg);
}

//===--- Modules ------------------------------------------------------------------------------===//

porta_status_t ModuleLoad(porta_be_device_t device, const porta_module_source_t* source,
                          porta_be_module_t* out_module, porta_be_msg msg) {
  return Guard(msg, "module_load", [&]() -> porta_status_t {
    Module* module = nullptr;
    const porta_status_t status = LoadModule(ToDevice(device), source, &module, msg);
    if (status == PORTA_OK) *out_module = reinterpret_cast<porta_be_module_t>(module);
    return status;
  });
}

void ModuleDestroy(porta_be_module_t module) {
  delete ToModule(module);
}

porta_status_t ModuleGetKernel(porta_be_module_t module, const char* name,
                               porta_be_kernel_t* out_kernel, porta_be_msg msg) {
  if (name == nullptr) return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "kernel name is NULL");
  return Guard(msg, "module_get_kernel", [&]() -> porta_status_t {
    Kernel* kernel = nullptr;
    const porta_status_t status = GetKernel(ToModule(module), name, &kernel, msg);
    if (status == PORTA_OK) *out_kernel = reinterpret_cast<porta_be_kernel_t>(kernel);
    return status;
  });
}

porta_status_t KernelLaunch(porta_be_stream_t stream, porta_be_kernel_t kernel,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  return Guard(msg, "kernel_launch", [&]() -> porta_status_t {
    return LaunchKernel(ToStream(stream), ToKernel(kernel), config, args, arg_count, msg);
  });
}

constexpr porta_backend_table_t kTable = {
    .struct_size = sizeof(porta_backend_table_t),
    .abi_major = PORTA_BACKEND_ABI_MAJOR,
    .abi_minor = PORTA_BACKEND_ABI_MINOR,
    .name = "cpu",
    .init = Init,
    .shutdown = Shutdown,
    .device_count = DeviceCount,
    .device_open = DeviceOpen,
    .device_close = DeviceClose,
    .device_get_info = DeviceGetInfo,
    .buffer_alloc = BufferAlloc,
    .buffer_free = BufferFree,
    .buffer_map = BufferMap,
    .buffer_unmap = BufferUnmap,
    .stream_create = StreamCreate,
    .stream_destroy = StreamDestroy,
    .stream_synchronize = StreamSynchronize,
    .stream_query = StreamQuery,
    .copy_host_to_device = CopyHostToDevice,
    .copy_device_to_host = CopyDeviceToHost,
    .copy_device_to_device = CopyDeviceToDevice,
    .fill_buffer = FillBuffer,
    .event_create = EventCreate,
    .event_destroy = EventDestroy,
    .event_record = EventRecord,
    .stream_wait_event = StreamWaitEvent,
    .event_wait = EventWait,
    .event_query = EventQuery,
    .event_elapsed_ms = EventElapsedMs,
    .module_load = ModuleLoad,
    .module_destroy = ModuleDestroy,
    .module_get_kernel = ModuleGetKernel,
    .kernel_launch = KernelLaunch,
    // One CPU device per backend: there is no peer to copy to.
    .buffer_native_handle = BufferNativeHandle,
    .copy_peer = nullptr,
    .graph_create = GraphCreate,
    .graph_launch = GraphLaunch,
    .graph_update_kernel_args = GraphUpdateKernelArgs,
    .graph_destroy = GraphDestroy,
    .device_memory_info = DeviceMemoryInfo,
    .device_native_handles = DeviceNativeHandles,
    .stream_native_handles = StreamNativeHandles,
    .buffer_native_handles = BufferNativeHandles,
    .buffer_import = BufferImport,
    .stream_host_func = StreamHostFunc,
};

}  // namespace
}  // namespace porta::cpu

// The built-in entry; porta_add_backend wraps it as porta_backend_entry in the stand-alone plugin.
extern "C" porta_status_t porta_cpu_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg) {
  return porta::common::ServeTable(porta::cpu::kTable, host, out_table, msg);
}
