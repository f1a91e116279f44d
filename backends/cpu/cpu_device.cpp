// The CPU device: opening it (its work-group pool), its description and its free memory.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "backends/cpu/cpu_objects.h"
#include "porta/sdk/message.h"

namespace porta::cpu {

using common::Fail;

// The one device (the runtime opens only indexes below device_count).
porta_status_t DeviceOpen(porta_be_backend_t backend, uint32_t, porta_be_device_t* out_device,
                          porta_be_msg) {
  auto device = std::make_unique<Device>();
  device->info = ToBackend(backend)->info;
  // The stream worker that submits a launch runs groups too, so compute_units - 1 pool threads
  // keep one launch at exactly one thread per hardware thread.
  device->pool = std::make_unique<ThreadPool>(device->info.compute_units - 1);
  *out_device = reinterpret_cast<porta_be_device_t>(device.release());
  return PORTA_OK;
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

// The CPU device has no object of a native API.
porta_status_t DeviceNativeHandles(porta_be_device_t, porta_native_handles_t* out, porta_be_msg) {
  out->count = 0;
  return PORTA_OK;
}

}  // namespace porta::cpu
