// Backend loading (built-in and plugins), ABI negotiation, device enumeration and filtering.
#include "hal/runtime.h"

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hal/builtin_backends.h"
#include "hal/config_text.h"
#include "hal/native_format.h"
#include "hal/slot_guard.h"

namespace porta::hal {
namespace {

// Slots every ABI 1.x backend must fill, with their names for the load error.
struct SlotInfo {
  size_t offset;
  const char* name;
};

#define PORTA_SLOT(slot) \
  { offsetof(porta_backend_table_t, slot), #slot }
constexpr SlotInfo kRequiredSlots[] = {
    PORTA_SLOT(init),
    PORTA_SLOT(shutdown),
    PORTA_SLOT(device_count),
    PORTA_SLOT(device_open),
    PORTA_SLOT(device_close),
    PORTA_SLOT(device_get_info),
    PORTA_SLOT(buffer_alloc),
    PORTA_SLOT(buffer_free),
    PORTA_SLOT(buffer_map),
    PORTA_SLOT(buffer_unmap),
    PORTA_SLOT(stream_create),
    PORTA_SLOT(stream_destroy),
    PORTA_SLOT(stream_synchronize),
    PORTA_SLOT(stream_query),
    PORTA_SLOT(copy_host_to_device),
    PORTA_SLOT(copy_device_to_host),
    PORTA_SLOT(copy_device_to_device),
    PORTA_SLOT(fill_buffer),
    PORTA_SLOT(event_create),
    PORTA_SLOT(event_destroy),
    PORTA_SLOT(event_record),
    PORTA_SLOT(stream_wait_event),
    PORTA_SLOT(event_wait),
    PORTA_SLOT(event_query),
    PORTA_SLOT(event_elapsed_ms),
    PORTA_SLOT(module_load),
    PORTA_SLOT(module_destroy),
    PORTA_SLOT(module_get_kernel),
    PORTA_SLOT(kernel_launch),
};
#undef PORTA_SLOT

// End of the 1.0 table: a backend must provide at least this much.
constexpr size_t kMinTableSize = offsetof(porta_backend_table_t, kernel_launch) + sizeof(void*);
// More devices than any machine has: a larger device_count is a broken or hostile backend.
constexpr uint32_t kMaxBackendDevices = 1024;

void CopyText(char* dst, size_t capacity, const std::string& text) {
  std::snprintf(dst, capacity, "%s", text.c_str());
}

void HostLog(void* user, int level, const char* text) {
  (void)user;
  Log(level, text);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Every lib*.so in |folder|, sorted so the load order is stable.
std::vector<std::string> PluginsInFolder(const std::string& folder) {
  std::vector<std::string> files;
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return files;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind("lib", 0) == 0 && name.size() > 3 && name.substr(name.size() - 3) == ".so") {
      files.push_back(folder + "/" + name);
    }
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string SystemPluginDir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&SystemPluginDir), &info) == 0 || info.dli_fname == nullptr) {
    return "";
  }
  const std::string library = info.dli_fname;
  const size_t slash = library.find_last_of('/');
  // A bare name (the main program linked statically) has no folder to search.
  if (slash == std::string::npos) return "";
  // The loader's path may hold "bin/../lib" (an $ORIGIN run path): name the folder plainly.
  std::string folder = library.substr(0, slash);
  if (char* resolved = realpath(folder.c_str(), nullptr)) {
    folder = resolved;
    std::free(resolved);
  }
  return folder + "/porta/plugins";
}

void Log(int level, const char* text) {
  static const int threshold = [] {
    const char* env = std::getenv("PORTA_LOG_LEVEL");
    return env != nullptr ? std::atoi(env) : PORTA_LOG_WARNING;
  }();
  if (level <= threshold && text != nullptr) {
    static const char* const kNames[] = {"error", "warning", "info", "debug"};
    const char* name = level >= 0 && level <= 3 ? kNames[level] : "log";
    std::fprintf(stderr, "porta %s: %s\n", name, text);
  }
}

Runtime::~Runtime() {
  // Every child object held a reference, so none is left: close devices, then backends.
  for (Device* device : all_devices_) delete device;
  for (auto& backend : backends_) {
    if (backend->initialized) PORTA_SLOT_CALL(backend->table, shutdown, backend->state);
    if (backend->library != nullptr) dlclose(backend->library);
  }
}

void Runtime::Unregister() {
  for (Device* device : all_devices_) Registry::Remove(device);
  Registry::Remove(this);
}

void Runtime::Load(const RuntimeConfig& config) {
  cache_dir_ = config.cache_dir;
  host_.struct_size = sizeof(host_);
  host_.abi_major = PORTA_BACKEND_ABI_MAJOR;
  host_.abi_minor = PORTA_BACKEND_ABI_MINOR;
  host_.porta_version = porta_version_string();
  host_.cache_dir = cache_dir_.empty() ? nullptr : cache_dir_.c_str();
  host_.log = HostLog;
  host_.log_user = nullptr;

  if (config.builtins) {
    for (const BuiltinBackend& builtin : BuiltinBackends()) {
      auto backend = std::make_unique<LoadedBackend>();
      CopyText(backend->report.name, sizeof(backend->report.name), builtin.name);
      CopyText(backend->report.source, sizeof(backend->report.source), "built-in");
      AddBackend(std::move(backend), builtin.entry);
    }
  }
  for (const std::string& path : config.plugin_paths) {
    if (IsDirectory(path)) {
      for (const std::string& file : PluginsInFolder(path)) LoadPlugin(file);
    } else {
      LoadPlugin(path);
    }
  }
  if (!config.system_plugin_dir.empty()) {
    const std::string& folder = config.system_plugin_dir;
    if (IsDirectory(folder)) {
      const std::vector<std::string> files = PluginsInFolder(folder);
      for (const std::string& file : files) LoadPlugin(file);
      system_plugin_note_ =
          "system plugin folder " + folder + ": " + std::to_string(files.size()) + " plugin(s)";
    } else {
      system_plugin_note_ = "system plugin folder " + folder + ": not present";
    }
  }
}

void Runtime::LoadPlugin(const std::string& path) {
  auto backend = std::make_unique<LoadedBackend>();
  std::string base = path.substr(path.find_last_of('/') + 1);
  CopyText(backend->report.name, sizeof(backend->report.name), base);
  CopyText(backend->report.source, sizeof(backend->report.source), path);
  dlerror();
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    CopyText(backend->report.reason, sizeof(backend->report.reason),
             std::string("cannot load plugin: ") + (why != nullptr ? why : "unknown dlopen error"));
    backends_.push_back(std::move(backend));
    return;
  }
  backend->library = library;
  auto entry = reinterpret_cast<porta_backend_entry_fn>(dlsym(library, PORTA_BACKEND_ENTRY_SYMBOL));
  if (entry == nullptr) {
    CopyText(backend->report.reason, sizeof(backend->report.reason),
             "the library does not export " PORTA_BACKEND_ENTRY_SYMBOL
             " (not a Porta backend plugin)");
    dlclose(library);
    backend->library = nullptr;
    backends_.push_back(std::move(backend));
    return;
  }
  AddBackend(std::move(backend), entry);
}

void Runtime::AddBackend(std::unique_ptr<LoadedBackend> backend, porta_backend_entry_fn entry) {
  LoadedBackend* raw = backend.get();
  backends_.push_back(std::move(backend));
  porta_backend_report_t& report = raw->report;
  report.struct_size = sizeof(report);
  auto refuse = [&](const std::string& why) {
    CopyText(report.reason, sizeof(report.reason), why);
    if (raw->library != nullptr) {
      dlclose(raw->library);
      raw->library = nullptr;
    }
  };

  BackendMessage message;
  const porta_backend_table_t* table = nullptr;
  porta_status_t status = CallSlot("porta_backend_entry", entry, &host_, &table, message.get());
  if (status != PORTA_OK || table == nullptr) {
    refuse(std::string(PORTA_BACKEND_ENTRY_SYMBOL " failed (") + porta_status_string(status) +
           "): " + (message.text()[0] != '\0' ? message.text() : "no table returned"));
    return;
  }
  report.abi_major = table->abi_major;
  report.abi_minor = table->abi_minor;
  if (table->abi_major != PORTA_BACKEND_ABI_MAJOR) {
    refuse("backend implements ABI " + std::to_string(table->abi_major) + "." +
           std::to_string(table->abi_minor) + " but this runtime speaks ABI major " +
           std::to_string(PORTA_BACKEND_ABI_MAJOR) + " (minors up to " +
           std::to_string(PORTA_BACKEND_ABI_MINOR) + "); refused (PORTA_ERROR_ABI_MISMATCH)");
    return;
  }
  if (table->struct_size < kMinTableSize) {
    refuse("backend table struct_size " + std::to_string(table->struct_size) +
           " is smaller than the ABI 1.0 table (" + std::to_string(kMinTableSize) + " bytes)");
    return;
  }
  // Slots beyond the backend's table stay NULL: absent, whatever minor it claims.
  std::memcpy(&raw->table, table, std::min(table->struct_size, sizeof(raw->table)));
  raw->table.struct_size = sizeof(raw->table);
  if (raw->table.name == nullptr || raw->table.name[0] == '\0') {
    refuse("backend table has no name");
    return;
  }
  CopyText(report.name, sizeof(report.name), raw->table.name);
  for (const SlotInfo& slot : kRequiredSlots) {
    void* fn = nullptr;
    std::memcpy(&fn, reinterpret_cast<const char*>(&raw->table) + slot.offset, sizeof(fn));
    if (fn == nullptr) {
      refuse(std::string("required slot ") + slot.name + " is NULL; backend refused");
      return;
    }
  }
  for (const auto& other : backends_) {
    if (other.get() != raw && other->initialized &&
        std::strcmp(other->table.name, raw->table.name) == 0) {
      refuse(std::string("a backend named \"") + raw->table.name + "\" is already loaded from " +
             other->report.source);
      return;
    }
  }
  message = BackendMessage();
  status = PORTA_SLOT_CALL(raw->table, init, &host_, &raw->state, message.get());
  if (status != PORTA_OK) {
    refuse(std::string("init failed (") + porta_status_string(status) + "): " + message.text());
    return;
  }
  raw->initialized = true;
  report.loaded = 1;
  OpenDevices(raw);
}

void Runtime::OpenDevices(LoadedBackend* backend) {
  porta_backend_report_t& report = backend->report;
  BackendMessage message;
  uint32_t count = 0;
  porta_status_t status =
      PORTA_SLOT_CALL(backend->table, device_count, backend->state, &count, message.get());
  if (status != PORTA_OK) {
    CopyText(report.reason, sizeof(report.reason),
             std::string("device_count failed (") + porta_status_string(status) +
                 "): " + message.text());
    return;
  }
  if (count == 0) {
    CopyText(report.reason, sizeof(report.reason),
             message.text()[0] != '\0' ? message.text() : "no devices");
    return;
  }
  if (count > kMaxBackendDevices) {
    CopyText(report.reason, sizeof(report.reason),
             "device_count returned " + std::to_string(count) + ", more than the " +
                 std::to_string(kMaxBackendDevices) +
                 " devices one backend may have; none of its devices is used");
    return;
  }
  std::string problems;
  for (uint32_t i = 0; i < count; ++i) {
    message = BackendMessage();
    porta_be_device_t be = nullptr;
    status = PORTA_SLOT_CALL(backend->table, device_open, backend->state, i, &be, message.get());
    status = Created(status, be, "device", &message);
    if (status != PORTA_OK) {
      problems += "device " + std::to_string(i) + " failed to open (" +
                  porta_status_string(status) + "): " + message.text() + "; ";
      continue;
    }
    porta_device_info_t info{};
    info.struct_size = sizeof(info);
    message = BackendMessage();
    status = PORTA_SLOT_CALL(backend->table, device_get_info, be, &info, message.get());
    if (status != PORTA_OK) {
      problems += "device " + std::to_string(i) + " info failed (" + porta_status_string(status) +
                  "): " + message.text() + "; ";
      PORTA_SLOT_CALL(backend->table, device_close, be);
      continue;
    }
    info.struct_size = sizeof(info);
    // Text fields end within their arrays, whatever the backend wrote.
    for (char* field : {info.name, info.vendor, info.architecture, info.driver_version}) {
      field[PORTA_NAME_SIZE - 1] = '\0';
    }
    // A plugin built before the field existed leaves it zero; its bindings reach the whole
    // allocation as far as anyone can tell.
    if (info.max_kernel_buffer_range_bytes == 0) {
      info.max_kernel_buffer_range_bytes = info.max_allocation_bytes;
    }
    CleanNativeTags(&info, "device " + std::to_string(i), &problems);
    CopyText(info.backend, sizeof(info.backend), backend->table.name);
    info.backend_device_index = report.device_count;
    // Owned by all_devices_ once stored; a failed allocation before that closes |be|.
    std::unique_ptr<Device> device;
    try {
      device = std::make_unique<Device>(this, backend, be, report.device_count, info);
    } catch (...) {
      PORTA_SLOT_CALL(backend->table, device_close, be);
      throw;
    }
    all_devices_.push_back(device.get());
    device.release();
    ++report.device_count;
  }
  if (!problems.empty()) CopyText(report.reason, sizeof(report.reason), problems);
}

void Runtime::ApplyFilter(const std::vector<FilterEntry>& filter, bool has_filter) {
  visible_.clear();
  filter_notes_.clear();
  if (!has_filter) {
    visible_ = all_devices_;
  } else {
    for (const FilterEntry& entry : filter) {
      // A backend name, or else a device type; an index then counts the devices of that type.
      const bool by_type = DeviceTypeWord(entry.backend) != 0 &&
                           std::none_of(backends_.begin(), backends_.end(), [&](const auto& b) {
                             return b->initialized && LowerAscii(b->table.name) == entry.backend;
                           });
      uint32_t type_index = 0;
      bool matched = false;
      for (Device* device : all_devices_) {
        if (by_type) {
          if (device->info().type !=
              static_cast<porta_device_type_t>(DeviceTypeWord(entry.backend))) {
            continue;
          }
          if (!entry.all && entry.index != type_index++) continue;
        } else {
          if (entry.backend != LowerAscii(device->table().name)) continue;
          if (!entry.all && entry.index != device->info().backend_device_index) continue;
        }
        matched = true;
        if (std::find(visible_.begin(), visible_.end(), device) == visible_.end()) {
          visible_.push_back(device);
        }
      }
      if (!matched) filter_notes_.push_back(UnmatchedReason(entry, by_type));
    }
  }
  for (Device* device : all_devices_) Registry::Add(device, HandleType::kDevice);
}

std::string Runtime::UnmatchedReason(const FilterEntry& entry, bool by_type) const {
  std::string text = "device filter entry " + QuoteConfigText(entry.text) + " matched no device: ";
  if (by_type) {
    uint32_t count = 0;
    for (Device* device : all_devices_) {
      if (device->info().type == static_cast<porta_device_type_t>(DeviceTypeWord(entry.backend))) {
        ++count;
      }
    }
    return text + (count == 0 ? "no device has type " + entry.backend
                              : "there are " + std::to_string(count) + " " + entry.backend +
                                    " device(s), so index " + std::to_string(entry.index) +
                                    " does not exist");
  }
  std::string names;
  for (const auto& backend : backends_) {
    if (LowerAscii(backend->report.name) != entry.backend) continue;
    if (!backend->initialized) return text + "backend " + entry.backend + " is not loaded";
    const uint32_t count = backend->report.device_count;
    if (count == 0) return text + "backend " + entry.backend + " has no devices";
    return text + "backend " + entry.backend + " has " + std::to_string(count) +
           " device(s), so index " + std::to_string(entry.index) + " does not exist";
  }
  for (const auto& backend : backends_) {
    if (!backend->initialized) continue;
    names += (names.empty() ? "" : ", ") + std::string(backend->table.name);
  }
  return text + "no backend named " + QuoteConfigText(entry.backend) +
         " (loaded: " + (names.empty() ? "none" : names) + "; device types: gpu, npu, accelerator)";
}

std::string Runtime::Diagnostics() const {
  std::string text;
  for (const auto& backend : backends_) {
    const porta_backend_report_t& r = backend->report;
    text += r.name;
    text += " [";
    text += r.source;
    text += "]: ";
    if (r.loaded) {
      text += "loaded, ABI " + std::to_string(r.abi_major) + "." + std::to_string(r.abi_minor) +
              ", " + std::to_string(r.device_count) + " device(s)";
    } else {
      text += "not loaded";
    }
    if (r.reason[0] != '\0') {
      text += ": ";
      text += r.reason;
    }
    text += "\n";
  }
  if (!system_plugin_note_.empty()) text += system_plugin_note_ + "\n";
  for (const std::string& note : filter_notes_) text += note + "\n";
  return text;
}

}  // namespace porta::hal
