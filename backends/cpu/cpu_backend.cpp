// The CPU backend: the host processor as a Porta device, through the backend ABI. This file holds
// the entry, the table, init and the description of the host; cpu_objects.h lists the others.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_objects.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/disk_cache.h"
#include "porta/sdk/message.h"

namespace porta::cpu {
namespace {

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

}  // namespace

//===--- Backend ------------------------------------------------------------------------------===//

// The host is described once; each device opened copies the description.
porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg) {
  common::SetLogSink(host);
  const char* version = nullptr;
  if (host->struct_size >=
      offsetof(porta_backend_host_t, porta_version) + sizeof(host->porta_version)) {
    version = host->porta_version;
  }
  auto backend = std::make_unique<Backend>();
  backend->info = DescribeHost(version);
  *out_backend = reinterpret_cast<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t backend) {
  delete ToBackend(backend);
}

porta_status_t DeviceCount(porta_be_backend_t, uint32_t* out_count, porta_be_msg) {
  *out_count = 1;
  return PORTA_OK;
}

namespace {

// Every slot, each behind the SDK's slot guard; the functions are defined in the files
// cpu_objects.h names.
constinit const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("cpu");

}  // namespace
}  // namespace porta::cpu

// The built-in entry; porta_add_backend wraps it as porta_backend_entry in the stand-alone plugin.
extern "C" porta_status_t porta_cpu_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg) {
  return porta::common::ServeTable(porta::cpu::kTable, host, out_table, msg);
}
