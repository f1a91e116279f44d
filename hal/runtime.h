// The runtime object: loaded backends (built-in and plugins), their devices, the device filter
// and the diagnostics of every backend tried.
#ifndef PORTA_HAL_RUNTIME_H_
#define PORTA_HAL_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>

#include "hal/config_text.h"
#include "hal/objects.h"

namespace porta::hal {

// Writes |text| to stderr as "porta <level>: <text>" when PORTA_LOG_LEVEL lets |level|
// (PORTA_LOG_*) through; the log every backend's host->log reaches too.
void Log(int level, const char* text);

// One backend the runtime tried, loaded or not.
struct LoadedBackend {
  // Resolved copy of the backend's table: slots beyond the backend's struct_size are NULL.
  porta_backend_table_t table{};
  porta_be_backend_t state = nullptr;
  void* library = nullptr;  // dlopen handle of a plugin; nullptr for built-ins
  bool initialized = false;
  porta_backend_report_t report{};
};

// The system plugin folder: <the folder libporta was loaded from>/porta/plugins, which is
// <libdir>/porta/plugins of an installation (where a backend package puts its plugin); empty
// when libporta's own path cannot be found.
std::string SystemPluginDir();

// Everything porta_runtime_create needs to know, resolved from options and the environment.
struct RuntimeConfig {
  bool builtins = true;
  std::vector<std::string> plugin_paths;  // files or folders, in load order
  // Loaded after plugin_paths, so a plugin named explicitly wins over an installed one of the
  // same name; empty: no system folder (PORTA_RUNTIME_NO_BUILTIN_BACKENDS).
  std::string system_plugin_dir;
  std::string device_filter;
  std::string cache_dir;  // empty: caching disabled
};

class Runtime final : public Object {
 public:
  Runtime() : Object(HandleType::kRuntime) {}
  ~Runtime() override;

  // Loads every backend and opens its devices. Never fails because of a backend.
  void Load(const RuntimeConfig& config);
  // Applies a parsed filter to the opened devices.
  void ApplyFilter(const std::vector<FilterEntry>& filter, bool has_filter);

  const std::vector<Device*>& devices() const { return visible_; }
  const std::vector<std::unique_ptr<LoadedBackend>>& backends() const { return backends_; }
  std::string Diagnostics() const;
  // Removes every handle this runtime registered (the runtime and its devices).
  void Unregister();

 private:
  void AddBackend(std::unique_ptr<LoadedBackend> backend, porta_backend_entry_fn entry);
  // Why filter |entry| (a device type when |by_type|) matched no device.
  std::string UnmatchedReason(const FilterEntry& entry, bool by_type) const;
  void LoadPlugin(const std::string& path);
  void OpenDevices(LoadedBackend* backend);

  porta_backend_host_t host_{};
  std::string cache_dir_;
  std::vector<std::unique_ptr<LoadedBackend>> backends_;
  std::vector<Device*> all_devices_;  // owned: deleted by ~Runtime
  std::vector<Device*> visible_;
  // One line per filter entry that matched no device, with the reason.
  std::vector<std::string> filter_notes_;
  // The system plugin folder searched and how many plugin files it held; a line of Diagnostics().
  std::string system_plugin_note_;
};

}  // namespace porta::hal

#endif  // PORTA_HAL_RUNTIME_H_
