// The acme backend: the plugin's one exported function, its table, its devices and their memory.
// Start a new backend from this file: replace what each slot does with calls into your driver,
// keep the rules the comments state (they are the ABI's, see the SDK guide).
//
// The device it drives is simulated in host memory so the template runs anywhere: buffers are
// host allocations, streams run on worker threads (acme_stream.cpp), modules hold host-format
// kernels (acme_module.cpp). It passes the whole conformance suite:
//   porta-cts --plugin libporta_acme.so
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>

#include "acme_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/handles.h"
#include "porta/sdk/message.h"

namespace acme {

using porta::common::As;
using porta::common::Fail;
using porta::common::SetMessage;
using porta::common::ToHandle;

namespace {

// ACME_DEVICES=<n> sets how many devices the backend reports (default 1, at most kMaxDevices);
// a real backend asks its driver instead.
constexpr uint32_t kMaxDevices = 8;

template <size_t N>
void CopyText(char (&field)[N], const std::string& text) {
  std::snprintf(field, N, "%s", text.c_str());
}

}  // namespace

//===--- Backend and devices ------------------------------------------------------------------===//

// Everything starts here, never in the entry or in a static constructor: open the vendor library
// (porta/sdk/dynamic_library.h names every missing symbol), check the driver version, count the
// devices. A missing driver is not an error: init succeeds and device_count reports zero devices
// with the reason.
porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg msg) {
  porta::common::SetLogSink(host);
  uint32_t count = 1;
  if (const char* text = std::getenv("ACME_DEVICES"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    const unsigned long value = std::strtoul(text, &end, 10);
    if (*end != '\0' || value > kMaxDevices) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "acme: ACME_DEVICES=\"%s\" is not a device count from 0 to %u", text,
                  kMaxDevices);
    }
    count = static_cast<uint32_t>(value);
  }
  auto backend = std::make_unique<Backend>();
  backend->device_count = count;
  backend->porta_version = host->porta_version != nullptr ? host->porta_version : "";
  porta::common::Log(PORTA_LOG_INFO, "acme: %u device(s)", count);
  *out_backend = ToHandle<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t backend) {
  delete As<Backend>(backend);
}

porta_status_t DeviceCount(porta_be_backend_t backend, uint32_t* out_count, porta_be_msg msg) {
  *out_count = As<Backend>(backend)->device_count;
  // Zero devices: say why, in words a user of porta-info understands.
  if (*out_count == 0) SetMessage(msg, "acme: ACME_DEVICES=0 hides every device");
  return PORTA_OK;
}

porta_status_t DeviceOpen(porta_be_backend_t backend, uint32_t index, porta_be_device_t* out_device,
                          porta_be_msg /*msg*/) {
  auto device = std::make_unique<Device>();
  device->backend = As<Backend>(backend);
  device->index = index;
  *out_device = ToHandle<porta_be_device_t>(device.release());
  return PORTA_OK;
}

void DeviceClose(porta_be_device_t device) {
  delete As<Device>(device);
}

// Every field counts: the runtime validates calls against these limits and the conformance suite
// checks them.
porta_status_t DeviceGetInfo(porta_be_device_t handle, porta_device_info_t* info,
                             porta_be_msg /*msg*/) {
  const Device* device = As<Device>(handle);
  CopyText(info->name, "Acme host-memory device " + std::to_string(device->index));
  CopyText(info->vendor, "Acme");
  CopyText(info->backend, kName);
  info->type = PORTA_DEVICE_TYPE_ACCELERATOR;
  CopyText(info->architecture, "acme-host");
  CopyText(info->driver_version, "acme 1.0 (Porta " + device->backend->porta_version + ")");
  info->backend_device_index = device->index;
  info->global_memory_bytes = kGlobalMemoryBytes;
  info->max_allocation_bytes = kMaxAllocationBytes;
  info->max_kernel_buffer_range_bytes = kMaxAllocationBytes;
  info->compute_units = 1;
  info->max_work_group_size = 1024;
  info->max_work_group_dims[0] = 1024;
  info->max_work_group_dims[1] = 1024;
  info->max_work_group_dims[2] = 64;
  info->max_grid_dims[0] = 0x7fffffffu;
  info->max_grid_dims[1] = 65535;
  info->max_grid_dims[2] = 65535;
  info->local_memory_bytes = kLocalMemoryBytes;
  info->subgroup_sizes[0] = 1;
  info->subgroup_size_count = 1;
  // What plain C++ host kernels do natively.
  info->capabilities = PORTA_CAP_FP64 | PORTA_CAP_INT64 | PORTA_CAP_INT8 | PORTA_CAP_ATOMICS |
                       PORTA_CAP_HOST_VISIBLE_MEMORY | PORTA_CAP_UNIFIED_MEMORY |
                       PORTA_CAP_TIMESTAMPS;
  info->kernel_formats = PORTA_FORMAT_BIT(PORTA_FORMAT_HOST);
  // Stable and distinct per device: "acme" then the device index.
  std::memset(info->uuid, 0, sizeof(info->uuid));
  std::memcpy(info->uuid, "acme", 4);
  info->uuid[15] = static_cast<uint8_t>(device->index + 1);
  return PORTA_OK;
}

porta_status_t DeviceMemoryInfo(porta_be_device_t device, uint64_t* out_free_bytes,
                                porta_be_msg /*msg*/) {
  const uint64_t used = As<Device>(device)->allocated_bytes.load();
  *out_free_bytes = used < kGlobalMemoryBytes ? kGlobalMemoryBytes - used : 0;
  return PORTA_OK;
}

//===--- Memory -------------------------------------------------------------------------------===//

// The runtime has checked the size against max_allocation_bytes and the device's live buffers
// against global_memory_bytes; what is left is the allocation itself, which must fail with
// PORTA_ERROR_OUT_OF_MEMORY here rather than abort later.
porta_status_t BufferAlloc(porta_be_device_t handle, uint64_t size, porta_memory_kind_t /*kind*/,
                           porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  Device* device = As<Device>(handle);
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  buffer->data = static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
  if (buffer->data == nullptr) {
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "acme: no host memory for %" PRIu64 " bytes", size);
  }
  {
    std::lock_guard<std::mutex> lock(device->allocations_mutex);
    device->allocations[reinterpret_cast<uintptr_t>(buffer->data)] = size;
  }
  device->allocated_bytes.fetch_add(size);
  *out_buffer = ToHandle<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

// Called only once no queued work uses the buffer.
void BufferFree(porta_be_buffer_t handle) {
  Buffer* buffer = As<Buffer>(handle);
  if (!buffer->imported) {
    {
      std::lock_guard<std::mutex> lock(buffer->device->allocations_mutex);
      buffer->device->allocations.erase(reinterpret_cast<uintptr_t>(buffer->data));
    }
    buffer->device->allocated_bytes.fetch_sub(buffer->size);
    std::free(buffer->data);
  }
  delete buffer;
}

// Called only for host-visible buffers that are not mapped, with a range inside the buffer.
porta_status_t BufferMap(porta_be_buffer_t handle, uint64_t offset, uint64_t /*size*/,
                         void** out_ptr, porta_be_msg /*msg*/) {
  *out_ptr = As<Buffer>(handle)->data + offset;
  return PORTA_OK;
}

porta_status_t BufferUnmap(porta_be_buffer_t /*handle*/, porta_be_msg /*msg*/) {
  return PORTA_OK;
}

//===--- Native interop -----------------------------------------------------------------------===//
// A plugin documents its own layout of porta_native_handles_t. acme's: a buffer is handles[0],
// the host address of its first byte; devices and streams have no native object.

porta_status_t BufferNativeHandle(porta_be_buffer_t handle, uint64_t* out_handle,
                                  porta_be_msg /*msg*/) {
  *out_handle = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(As<Buffer>(handle)->data));
  return PORTA_OK;
}

porta_status_t BufferNativeHandles(porta_be_buffer_t handle, porta_native_handles_t* out,
                                   porta_be_msg msg) {
  out->count = 1;
  return BufferNativeHandle(handle, &out->handles[0], msg);
}

porta_status_t DeviceNativeHandles(porta_be_device_t /*device*/, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  out->count = 0;
  return PORTA_OK;
}

porta_status_t StreamNativeHandles(porta_be_stream_t /*stream*/, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  out->count = 0;
  return PORTA_OK;
}

// Wraps |size| bytes of the application's host memory at handles[0]; buffer_free leaves the
// memory alone. Memory inside one of the device's own allocations must fit in it; other host
// memory has no size the device could ask for, so the application's word is taken.
porta_status_t BufferImport(porta_be_device_t handle, const porta_native_handles_t* native,
                            uint64_t size, porta_memory_kind_t /*kind*/,
                            porta_be_buffer_t* out_buffer, porta_be_msg msg) {
  const uint64_t address = native->handles[0];
  if (native->count < 1 || address == 0) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "acme: handles[0] must hold the host address of the memory to import");
  }
  if (address > UINTPTR_MAX - size) {
    return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                "acme: %" PRIu64 " bytes from host address 0x%" PRIx64
                " run past the end of the address space",
                size, address);
  }
  Device* device = As<Device>(handle);
  {
    std::lock_guard<std::mutex> lock(device->allocations_mutex);
    auto after = device->allocations.upper_bound(static_cast<uintptr_t>(address));
    if (after != device->allocations.begin()) {
      const auto& [base, range] = *std::prev(after);
      if (address - base < range) {
        const porta_status_t status =
            porta::common::CheckImportRange(kName, address, base, range, size, msg);
        if (status != PORTA_OK) return status;
      }
    }
  }
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  buffer->imported = true;
  buffer->data = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(address));
  *out_buffer = ToHandle<porta_be_buffer_t>(buffer.release());
  return PORTA_OK;
}

//===--- Host memory registration -------------------------------------------------------------===//
// Host memory is already the device's memory, so registering it gains nothing: the runtime keeps
// its own registration and copies go through the ordinary slots. A device with a faster path for
// pinned memory pins the range here.

porta_status_t HostRegister(porta_be_device_t /*device*/, void* /*ptr*/, uint64_t /*size*/,
                            uint32_t /*flags*/, porta_be_host_registration_t* /*out_registration*/,
                            porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED,
              "acme: device memory is host memory; registration has no faster path");
}

void HostUnregister(porta_be_host_registration_t /*registration*/) {}

porta_status_t CopyHostToDeviceRegistered(porta_be_stream_t /*stream*/, porta_be_buffer_t /*dst*/,
                                          uint64_t /*dst_offset*/,
                                          porta_be_host_registration_t /*src_registration*/,
                                          uint64_t /*src_offset*/, const void* /*src*/,
                                          uint64_t /*size*/, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "acme: no registered copy path");
}

porta_status_t CopyDeviceToHostRegistered(porta_be_stream_t /*stream*/,
                                          porta_be_host_registration_t /*dst_registration*/,
                                          uint64_t /*dst_offset*/, void* /*dst*/,
                                          porta_be_buffer_t /*src*/, uint64_t /*src_offset*/,
                                          uint64_t /*size*/, porta_be_msg msg) {
  return Fail(msg, PORTA_ERROR_UNSUPPORTED, "acme: no registered copy path");
}

//===--- The table and the entry --------------------------------------------------------------===//

namespace {

// Every slot of the newest ABI this header knows, in table order, pointing at the functions
// PORTA_DECLARE_BACKEND_SLOTS() declared; the native graph slots stay NULL (the runtime replays
// graphs through the ordinary slots). constinit: no static constructor runs when the plugin is
// opened.
constinit const porta_backend_table_t kTable = PORTA_BACKEND_TABLE(kName);

}  // namespace

}  // namespace acme

// The plugin's only export. It hands out the table when the runtime speaks ABI major 1, and does
// nothing else.
PORTA_BACKEND_EXPORT porta_status_t porta_backend_entry(const porta_backend_host_t* host,
                                                        const porta_backend_table_t** out_table,
                                                        porta_be_msg msg) {
  return porta::common::ServeTable(acme::kTable, host, out_table, msg);
}
