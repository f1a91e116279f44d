// porta-info: prints what the Porta runtime finds on this machine — its version, every backend
// it tried (loaded or not, and why) and every device with all of porta_device_info_t and its buffer
// pool statistics — as text or, with --json, as one JSON document.
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/common/command_line.h"
#include "tools/common/device_names.h"
#include "tools/common/json_writer.h"

namespace {

using porta::tools::CapabilityNames;
using porta::tools::DeviceTypeName;
using porta::tools::JoinOrNone;
using porta::tools::JsonWriter;
using porta::tools::KernelFormatNames;
using porta::tools::NativeTags;
using porta::tools::UuidHex;

struct Options {
  bool json = false;
  std::string plugin_paths;
  bool has_device_filter = false;
  std::string device_filter;
};

constexpr char kUsage[] =
    "usage: porta-info [--json] [--plugin PATH]... [--devices FILTER]\n"
    "\n"
    "Prints the Porta version, every backend the runtime tried (built-in and plugins, loaded\n"
    "or not, and why) and every device with all of its properties.\n"
    "\n"
    "  --json            print one JSON document instead of text\n"
    "  --plugin PATH     also load this plugin file or folder (repeatable; added to\n"
    "                    PORTA_PLUGIN_PATH)\n"
    "  --devices FILTER  device filter, same syntax as PORTA_DEVICES (e.g. \"opencl:0,cpu\");\n"
    "                    overrides PORTA_DEVICES\n"
    "  --version         print the version\n"
    "  --help            print this text\n";

struct DeviceEntry {
  porta_status_t status = PORTA_OK;
  std::string error;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  porta_pool_stats_t pool = PORTA_POOL_STATS_INIT;
  porta_memory_info_t memory = PORTA_MEMORY_INFO_INIT;
};

struct Report {
  std::vector<porta_backend_report_t> backends;
  std::vector<DeviceEntry> devices;
  // The diagnostics' lines about device filter entries that matched nothing.
  std::vector<std::string> filter_notes;
  // The diagnostics' line naming the system plugin folder (none without built-in backends).
  std::vector<std::string> system_plugin_notes;
};

// The lines of porta_runtime_diagnostics that start with |prefix|.
std::vector<std::string> DiagnosticLines(porta_runtime_t runtime, const char* prefix) {
  std::vector<std::string> notes;
  size_t size = 0;
  if (porta_runtime_diagnostics(runtime, nullptr, 0, &size) != PORTA_OK) return notes;
  std::string text(size, '\0');
  if (porta_runtime_diagnostics(runtime, text.data(), text.size(), &size) != PORTA_OK) return notes;
  text.resize(text.find('\0') == std::string::npos ? text.size() : text.find('\0'));
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (line.rfind(prefix, 0) == 0) notes.push_back(line);
    start = end + 1;
  }
  return notes;
}

// Collects every backend report and device; a failing query is kept with its message so that
// one broken backend does not hide the others.
porta_status_t Collect(porta_runtime_t runtime, Report* report) {
  uint32_t backend_count = 0;
  porta_status_t status = porta_runtime_backend_count(runtime, &backend_count);
  if (status != PORTA_OK) return status;
  for (uint32_t i = 0; i < backend_count; ++i) {
    porta_backend_report_t backend = PORTA_BACKEND_REPORT_INIT;
    status = porta_runtime_backend_report(runtime, i, &backend);
    if (status != PORTA_OK) {
      std::snprintf(backend.name, sizeof(backend.name), "backend %u", i);
      std::snprintf(backend.reason, sizeof(backend.reason), "report failed: %s: %s",
                    porta_status_string(status), porta_last_error_message());
    }
    report->backends.push_back(backend);
  }
  report->filter_notes = DiagnosticLines(runtime, "device filter");
  report->system_plugin_notes = DiagnosticLines(runtime, "system plugin folder");
  uint32_t device_count = 0;
  status = porta_runtime_device_count(runtime, &device_count);
  if (status != PORTA_OK) return status;
  for (uint32_t i = 0; i < device_count; ++i) {
    DeviceEntry entry;
    porta_device_t device = nullptr;
    entry.status = porta_runtime_device(runtime, i, &device);
    if (entry.status == PORTA_OK) entry.status = porta_device_get_info(device, &entry.info);
    if (entry.status == PORTA_OK) entry.status = porta_device_pool_get_stats(device, &entry.pool);
    if (entry.status == PORTA_OK) {
      entry.status = porta_device_get_memory_info(device, &entry.memory);
    }
    if (entry.status != PORTA_OK) entry.error = porta_last_error_message();
    report->devices.push_back(entry);
  }
  return PORTA_OK;
}

std::vector<std::string> SubgroupSizes(const porta_device_info_t& info) {
  std::vector<std::string> sizes;
  const uint32_t count = info.subgroup_size_count < PORTA_MAX_SUBGROUP_SIZES
                             ? info.subgroup_size_count
                             : PORTA_MAX_SUBGROUP_SIZES;
  for (uint32_t i = 0; i < count; ++i) sizes.push_back(std::to_string(info.subgroup_sizes[i]));
  return sizes;
}

void PrintText(const Report& report) {
  std::printf("Porta %s (header %d.%d.%d)\n\n", porta_version_string(), PORTA_VERSION_MAJOR,
              PORTA_VERSION_MINOR, PORTA_VERSION_PATCH);
  std::printf("Backends (%zu):\n", report.backends.size());
  for (const porta_backend_report_t& backend : report.backends) {
    std::printf("  %-12s %-10s abi %u.%u  devices %u  source %s\n", backend.name,
                backend.loaded ? "loaded" : "not loaded", backend.abi_major, backend.abi_minor,
                backend.device_count, backend.source);
    if (backend.reason[0] != '\0') std::printf("               reason: %s\n", backend.reason);
  }
  for (const std::string& note : report.system_plugin_notes) std::printf("  %s\n", note.c_str());
  for (const std::string& note : report.filter_notes) std::printf("\n%s\n", note.c_str());
  std::printf("\nDevices (%zu):\n", report.devices.size());
  for (size_t i = 0; i < report.devices.size(); ++i) {
    const DeviceEntry& entry = report.devices[i];
    if (entry.status != PORTA_OK) {
      std::printf("  [%zu] error: %s: %s\n", i, porta_status_string(entry.status),
                  entry.error.c_str());
      continue;
    }
    const porta_device_info_t& info = entry.info;
    std::printf("  [%zu] %s\n", i, info.name);
    std::printf("      vendor                %s\n", info.vendor);
    std::printf("      backend               %s (device %u)\n", info.backend,
                info.backend_device_index);
    std::printf("      type                  %s\n", DeviceTypeName(info.type).c_str());
    std::printf("      architecture          %s\n", info.architecture);
    std::printf("      driver version        %s\n", info.driver_version);
    std::printf("      global memory         %" PRIu64 " bytes (%.1f MiB)\n",
                info.global_memory_bytes,
                static_cast<double>(info.global_memory_bytes) / 1048576.0);
    if (entry.memory.free_bytes == PORTA_MEMORY_UNKNOWN) {
      std::printf("      free memory           unknown (the driver does not tell)\n");
    } else {
      std::printf("      free memory           %" PRIu64 " bytes (%.1f MiB)\n",
                  entry.memory.free_bytes,
                  static_cast<double>(entry.memory.free_bytes) / 1048576.0);
    }
    std::printf("      max allocation        %" PRIu64 " bytes (%.1f MiB)\n",
                info.max_allocation_bytes,
                static_cast<double>(info.max_allocation_bytes) / 1048576.0);
    std::printf("      kernel buffer range   %" PRIu64 " bytes (%.1f MiB)\n",
                info.max_kernel_buffer_range_bytes,
                static_cast<double>(info.max_kernel_buffer_range_bytes) / 1048576.0);
    std::printf("      compute units         %u\n", info.compute_units);
    std::printf("      max work-group size   %u\n", info.max_work_group_size);
    std::printf("      max work-group dims   %u x %u x %u\n", info.max_work_group_dims[0],
                info.max_work_group_dims[1], info.max_work_group_dims[2]);
    std::printf("      max grid dims         %u x %u x %u\n", info.max_grid_dims[0],
                info.max_grid_dims[1], info.max_grid_dims[2]);
    std::printf("      local memory          %" PRIu64 " bytes\n", info.local_memory_bytes);
    std::printf("      subgroup sizes        %s (count %u)\n",
                JoinOrNone(SubgroupSizes(info), ", ").c_str(), info.subgroup_size_count);
    std::printf("      capabilities          0x%" PRIx64 ": %s\n", info.capabilities,
                JoinOrNone(CapabilityNames(info.capabilities), ", ").c_str());
    std::printf("      kernel formats        0x%x: %s\n", info.kernel_formats,
                JoinOrNone(KernelFormatNames(info.kernel_formats), ", ").c_str());
    std::printf("      native tags           %s\n", JoinOrNone(NativeTags(info), ", ").c_str());
    std::printf("      uuid                  %s\n", UuidHex(info.uuid).c_str());
    const porta_pool_stats_t& pool = entry.pool;
    std::printf("      buffer pool           %s (PORTA_POOL)\n", pool.enabled ? "on" : "off");
    std::printf("        reserved            %" PRIu64 " bytes (peak %" PRIu64 ", limit %s)\n",
                pool.reserved_bytes, pool.peak_reserved_bytes,
                pool.limit_bytes == 0 ? "none" : std::to_string(pool.limit_bytes).c_str());
    std::printf("        in use / cached     %" PRIu64 " / %" PRIu64 " bytes\n", pool.in_use_bytes,
                pool.cached_bytes);
    std::printf("        allocs / frees      %" PRIu64 " / %" PRIu64 " (hits %" PRIu64
                ", misses %" PRIu64 ")\n",
                pool.alloc_count, pool.free_count, pool.hit_count, pool.miss_count);
    std::printf("        trimmed             %" PRIu64 " blocks, %" PRIu64 " bytes\n",
                pool.trimmed_blocks, pool.trimmed_bytes);
  }
  if (report.devices.empty()) std::printf("  (none)\n");
}

void WriteUintArray(JsonWriter& json, const uint32_t* values, size_t count) {
  json.BeginArray();
  for (size_t i = 0; i < count; ++i) json.Uint(values[i]);
  json.EndArray();
}

void WriteStringArray(JsonWriter& json, const std::vector<std::string>& values) {
  json.BeginArray();
  for (const std::string& value : values) json.String(value);
  json.EndArray();
}

void PrintJson(const Report& report) {
  JsonWriter json(stdout);
  json.BeginObject();
  json.StringMember("version", porta_version_string());
  json.StringMember("header_version", std::to_string(PORTA_VERSION_MAJOR) + "." +
                                          std::to_string(PORTA_VERSION_MINOR) + "." +
                                          std::to_string(PORTA_VERSION_PATCH));
  json.Key("backends");
  json.BeginArray();
  for (const porta_backend_report_t& backend : report.backends) {
    json.BeginObject();
    json.StringMember("name", backend.name);
    json.StringMember("source", backend.source);
    json.BoolMember("loaded", backend.loaded != 0);
    json.UintMember("abi_major", backend.abi_major);
    json.UintMember("abi_minor", backend.abi_minor);
    json.UintMember("device_count", backend.device_count);
    json.StringMember("reason", backend.reason);
    json.EndObject();
  }
  json.EndArray();
  json.Key("device_filter_notes");
  json.BeginArray();
  for (const std::string& note : report.filter_notes) json.String(note);
  json.EndArray();
  json.Key("devices");
  json.BeginArray();
  for (size_t i = 0; i < report.devices.size(); ++i) {
    const DeviceEntry& entry = report.devices[i];
    const porta_device_info_t& info = entry.info;
    json.BeginObject();
    json.UintMember("index", i);
    if (entry.status != PORTA_OK) {
      json.StringMember("error",
                        std::string(porta_status_string(entry.status)) + ": " + entry.error);
      json.EndObject();
      continue;
    }
    json.StringMember("name", info.name);
    json.StringMember("vendor", info.vendor);
    json.StringMember("backend", info.backend);
    json.StringMember("type", DeviceTypeName(info.type));
    json.StringMember("architecture", info.architecture);
    json.StringMember("driver_version", info.driver_version);
    json.UintMember("backend_device_index", info.backend_device_index);
    json.UintMember("global_memory_bytes", info.global_memory_bytes);
    json.Key("free_memory_bytes");
    if (entry.memory.free_bytes == PORTA_MEMORY_UNKNOWN) {
      json.Null();
    } else {
      json.Uint(entry.memory.free_bytes);
    }
    json.UintMember("max_allocation_bytes", info.max_allocation_bytes);
    json.UintMember("max_kernel_buffer_range_bytes", info.max_kernel_buffer_range_bytes);
    json.UintMember("compute_units", info.compute_units);
    json.UintMember("max_work_group_size", info.max_work_group_size);
    json.Key("max_work_group_dims");
    WriteUintArray(json, info.max_work_group_dims, 3);
    json.Key("max_grid_dims");
    WriteUintArray(json, info.max_grid_dims, 3);
    json.UintMember("local_memory_bytes", info.local_memory_bytes);
    json.Key("subgroup_sizes");
    WriteUintArray(json, info.subgroup_sizes,
                   info.subgroup_size_count < PORTA_MAX_SUBGROUP_SIZES ? info.subgroup_size_count
                                                                       : PORTA_MAX_SUBGROUP_SIZES);
    json.UintMember("subgroup_size_count", info.subgroup_size_count);
    json.UintMember("capabilities", info.capabilities);
    json.Key("capability_names");
    WriteStringArray(json, CapabilityNames(info.capabilities));
    json.UintMember("kernel_formats", info.kernel_formats);
    json.Key("kernel_format_names");
    WriteStringArray(json, KernelFormatNames(info.kernel_formats));
    json.Key("native_tags");
    WriteStringArray(json, NativeTags(info));
    json.StringMember("uuid", UuidHex(info.uuid));
    const porta_pool_stats_t& pool = entry.pool;
    json.Key("pool");
    json.BeginObject();
    json.BoolMember("enabled", pool.enabled != 0);
    json.UintMember("reserved_bytes", pool.reserved_bytes);
    json.UintMember("in_use_bytes", pool.in_use_bytes);
    json.UintMember("cached_bytes", pool.cached_bytes);
    json.UintMember("peak_reserved_bytes", pool.peak_reserved_bytes);
    json.UintMember("limit_bytes", pool.limit_bytes);
    json.UintMember("alloc_count", pool.alloc_count);
    json.UintMember("free_count", pool.free_count);
    json.UintMember("hit_count", pool.hit_count);
    json.UintMember("miss_count", pool.miss_count);
    json.UintMember("trimmed_blocks", pool.trimmed_blocks);
    json.UintMember("trimmed_bytes", pool.trimmed_bytes);
    json.EndObject();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  json.Finish();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const std::optional<int> exit_now =
      porta::tools::ParseCommandLine("porta-info", kUsage, argc, argv,
                                     {{"--json", &options.json},
                                      {"--plugin", nullptr,
                                       [&](const char* value) {
                                         if (!options.plugin_paths.empty())
                                           options.plugin_paths += ':';
                                         options.plugin_paths += value;
                                       }},
                                      {"--devices", nullptr, [&](const char* value) {
                                         options.has_device_filter = true;
                                         options.device_filter = value;
                                       }}});
  if (exit_now) return *exit_now;

  porta_runtime_t runtime = porta::tools::CreateRuntime(
      "porta-info", options.plugin_paths.c_str(),
      options.has_device_filter ? options.device_filter.c_str() : nullptr);
  if (runtime == nullptr) return 1;

  Report report;
  const porta_status_t status = Collect(runtime, &report);
  if (status != PORTA_OK) {
    std::fprintf(stderr, "porta-info: querying the runtime failed: %s: %s\n",
                 porta_status_string(status), porta_last_error_message());
    porta_runtime_destroy(runtime);
    return 1;
  }
  if (options.json) {
    PrintJson(report);
  } else {
    PrintText(report);
  }
  std::fflush(stdout);
  porta_runtime_destroy(runtime);
  return 0;
}
