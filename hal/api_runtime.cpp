// Public API: version, status strings, last error, runtime and device calls.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hal/objects.h"
#include "hal/runtime.h"
#include "hal/slot_guard.h"

namespace porta::hal {
const char* LastErrorText();
void SetLastErrorText(const char* text);
}  // namespace porta::hal

using porta::hal::BackendFail;
using porta::hal::BackendMessage;
using porta::hal::Device;
using porta::hal::Fail;
using porta::hal::Lookup;
using porta::hal::Ref;
using porta::hal::Runtime;

namespace {

// mkdir -p; returns false when the folder cannot be made.
bool MakeFolders(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      std::string prefix = path.substr(0, i);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

// $PORTA_CACHE_DIR ("off" disables), else $XDG_CACHE_HOME/porta, else $HOME/.cache/porta.
std::string CacheDir() {
  std::string dir;
  if (const char* env = std::getenv("PORTA_CACHE_DIR")) {
    if (std::strcmp(env, "off") == 0) return std::string();
    dir = env;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    dir = std::string(xdg) + "/porta";
  } else if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    dir = std::string(home) + "/.cache/porta";
  } else {
    return std::string();
  }
  return MakeFolders(dir) ? dir : std::string();
}

}  // namespace

extern "C" {

PORTA_API void porta_version(uint32_t* major, uint32_t* minor, uint32_t* patch) {
  if (major != nullptr) *major = PORTA_VERSION_MAJOR;
  if (minor != nullptr) *minor = PORTA_VERSION_MINOR;
  if (patch != nullptr) *patch = PORTA_VERSION_PATCH;
}

PORTA_API const char* porta_version_string(void) {
  return PORTA_VERSION_STRING;
}

PORTA_API const char* porta_status_string(porta_status_t status) {
  switch (status) {
    case PORTA_OK:
      return "PORTA_OK";
    case PORTA_NOT_READY:
      return "PORTA_NOT_READY";
    case PORTA_ERROR_INVALID_ARGUMENT:
      return "PORTA_ERROR_INVALID_ARGUMENT";
    case PORTA_ERROR_INVALID_HANDLE:
      return "PORTA_ERROR_INVALID_HANDLE";
    case PORTA_ERROR_OUT_OF_MEMORY:
      return "PORTA_ERROR_OUT_OF_MEMORY";
    case PORTA_ERROR_UNSUPPORTED:
      return "PORTA_ERROR_UNSUPPORTED";
    case PORTA_ERROR_NOT_FOUND:
      return "PORTA_ERROR_NOT_FOUND";
    case PORTA_ERROR_OUT_OF_RANGE:
      return "PORTA_ERROR_OUT_OF_RANGE";
    case PORTA_ERROR_BUILD_FAILED:
      return "PORTA_ERROR_BUILD_FAILED";
    case PORTA_ERROR_DEVICE_LOST:
      return "PORTA_ERROR_DEVICE_LOST";
    case PORTA_ERROR_TIMEOUT:
      return "PORTA_ERROR_TIMEOUT";
    case PORTA_ERROR_ABI_MISMATCH:
      return "PORTA_ERROR_ABI_MISMATCH";
    case PORTA_ERROR_BACKEND:
      return "PORTA_ERROR_BACKEND";
    case PORTA_ERROR_INVALID_OPERATION:
      return "PORTA_ERROR_INVALID_OPERATION";
  }
  return "PORTA_STATUS_UNKNOWN";
}

PORTA_API const char* porta_last_error_message(void) {
  return porta::hal::LastErrorText();
}

PORTA_API porta_status_t porta_set_last_error(porta_status_t status, const char* message) try {
  porta::hal::SetLastErrorText(message != nullptr ? message : "");
  return status;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_set_last_error");
}

PORTA_API porta_status_t porta_runtime_create(const porta_runtime_options_t* options,
                                              porta_runtime_t* out_runtime) try {
  constexpr const char* kFn = "porta_runtime_create";
  if (out_runtime == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_runtime is NULL");
  }
  *out_runtime = nullptr;
  porta_runtime_options_t opts = PORTA_RUNTIME_OPTIONS_INIT;
  if (options != nullptr) {
    if (options->struct_size < offsetof(porta_runtime_options_t, plugin_paths)) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                  "options->struct_size is %zu; set it to sizeof(porta_runtime_options_t) (%zu)",
                  options->struct_size, sizeof(porta_runtime_options_t));
    }
    std::memcpy(&opts, options, std::min(options->struct_size, sizeof(opts)));
  }
  porta::hal::RuntimeConfig config;
  config.builtins = (opts.flags & PORTA_RUNTIME_NO_BUILTIN_BACKENDS) == 0;
  if ((opts.flags & PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV) == 0) {
    config.plugin_paths = porta::hal::SplitPluginPaths(std::getenv("PORTA_PLUGIN_PATH"));
  }
  for (const std::string& path : porta::hal::SplitPluginPaths(opts.plugin_paths))
    config.plugin_paths.push_back(path);
  // The installed backends: those built in and the system plugin folder's.
  if (config.builtins) config.system_plugin_dir = porta::hal::SystemPluginDir();
  const char* filter_text = opts.device_filter;
  if (filter_text == nullptr) filter_text = std::getenv("PORTA_DEVICES");
  bool has_filter = filter_text != nullptr && filter_text[0] != '\0';
  std::vector<porta::hal::FilterEntry> filter;
  if (has_filter) {
    std::string error;
    if (!porta::hal::ParseDeviceFilter(filter_text, &filter, &error)) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "%s (from %s)", error.c_str(),
                  opts.device_filter != nullptr ? "options->device_filter" : "PORTA_DEVICES");
    }
  }
  config.cache_dir = CacheDir();

  Ref<Runtime> runtime = Ref<Runtime>::Adopt(new Runtime());
  try {
    runtime->Load(config);
    runtime->ApplyFilter(filter, has_filter);
    *out_runtime =
        porta::hal::Publish<porta_runtime_t>(std::move(runtime), porta::hal::HandleType::kRuntime);
  } catch (...) {
    // Devices ApplyFilter registered before it failed must not outlive the runtime.
    if (runtime) runtime->Unregister();
    throw;
  }
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_create");
}

PORTA_API porta_status_t porta_runtime_destroy(porta_runtime_t runtime) try {
  porta_status_t status;
  Ref<Runtime> rt = Lookup<Runtime>(runtime, "porta_runtime_destroy", "runtime", &status);
  if (!rt) return status;
  rt->Unregister();
  rt->Release();  // the application's reference; |rt| holds the last one until return
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_destroy");
}

PORTA_API porta_status_t porta_runtime_device_count(porta_runtime_t runtime,
                                                    uint32_t* out_count) try {
  constexpr const char* kFn = "porta_runtime_device_count";
  porta_status_t status;
  Ref<Runtime> rt = Lookup<Runtime>(runtime, kFn, "runtime", &status);
  if (!rt) return status;
  if (out_count == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_count is NULL");
  *out_count = static_cast<uint32_t>(rt->devices().size());
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_device_count");
}

PORTA_API porta_status_t porta_runtime_device(porta_runtime_t runtime, uint32_t index,
                                              porta_device_t* out_device) try {
  constexpr const char* kFn = "porta_runtime_device";
  porta_status_t status;
  Ref<Runtime> rt = Lookup<Runtime>(runtime, kFn, "runtime", &status);
  if (!rt) return status;
  if (out_device == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_device is NULL");
  if (index >= rt->devices().size()) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, kFn,
                "index %u is out of range: the runtime has %zu device(s)", index,
                rt->devices().size());
  }
  *out_device = porta::hal::ToHandle<porta_device_t>(rt->devices()[index]);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_device");
}

PORTA_API porta_status_t porta_runtime_backend_count(porta_runtime_t runtime,
                                                     uint32_t* out_count) try {
  constexpr const char* kFn = "porta_runtime_backend_count";
  porta_status_t status;
  Ref<Runtime> rt = Lookup<Runtime>(runtime, kFn, "runtime", &status);
  if (!rt) return status;
  if (out_count == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_count is NULL");
  *out_count = static_cast<uint32_t>(rt->backends().size());
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_backend_count");
}

PORTA_API porta_status_t porta_runtime_backend_report(porta_runtime_t runtime, uint32_t index,
                                                      porta_backend_report_t* report) try {
  constexpr const char* kFn = "porta_runtime_backend_report";
  porta_status_t status;
  Ref<Runtime> rt = Lookup<Runtime>(runtime, kFn, "runtime", &status);
  if (!rt) return status;
  if (report == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "report is NULL");
  if (report->struct_size < sizeof(report->struct_size) + sizeof(report->name)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "report->struct_size is %zu; set it to sizeof(porta_backend_report_t) (%zu)",
                report->struct_size, sizeof(porta_backend_report_t));
  }
  if (index >= rt->backends().size()) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, kFn,
                "index %u is out of range: %zu backend(s) were tried", index,
                rt->backends().size());
  }
  size_t size = std::min(report->struct_size, sizeof(porta_backend_report_t));
  size_t caller_size = report->struct_size;
  std::memcpy(report, &rt->backends()[index]->report, size);
  report->struct_size = caller_size;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_backend_report");
}

PORTA_API porta_status_t porta_runtime_diagnostics(porta_runtime_t runtime, char* buffer,
                                                   size_t buffer_size, size_t* out_required) try {
  constexpr const char* kFn = "porta_runtime_diagnostics";
  porta_status_t status;
  Ref<Runtime> rt = Lookup<Runtime>(runtime, kFn, "runtime", &status);
  if (!rt) return status;
  if (buffer == nullptr && buffer_size != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "buffer is NULL but buffer_size is %zu",
                buffer_size);
  }
  std::string text = rt->Diagnostics();
  if (out_required != nullptr) *out_required = text.size() + 1;
  if (buffer_size > 0) std::snprintf(buffer, buffer_size, "%s", text.c_str());
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_runtime_diagnostics");
}

PORTA_API porta_status_t porta_device_get_info(porta_device_t device,
                                               porta_device_info_t* info) try {
  constexpr const char* kFn = "porta_device_get_info";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (info == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "info is NULL");
  if (info->struct_size < offsetof(porta_device_info_t, name) + sizeof(info->name)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "info->struct_size is %zu; set it to sizeof(porta_device_info_t) (%zu)",
                info->struct_size, sizeof(porta_device_info_t));
  }
  size_t caller_size = info->struct_size;
  std::memcpy(info, &dev->info(), std::min(caller_size, sizeof(porta_device_info_t)));
  info->struct_size = caller_size;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_device_get_info");
}

PORTA_API porta_status_t porta_device_get_memory_info(porta_device_t device,
                                                      porta_memory_info_t* info) try {
  constexpr const char* kFn = "porta_device_get_memory_info";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (info == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "info is NULL");
  if (info->struct_size < offsetof(porta_memory_info_t, free_bytes) + sizeof(info->free_bytes)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "info->struct_size is %zu; set it to sizeof(porta_memory_info_t) (%zu)",
                info->struct_size, sizeof(porta_memory_info_t));
  }
  porta_memory_info_t answer = PORTA_MEMORY_INFO_INIT;
  answer.free_bytes = PORTA_MEMORY_UNKNOWN;
  answer.total_bytes = dev->info().global_memory_bytes;
  answer.allocated_bytes = dev->allocated_bytes();
  if (dev->table().device_memory_info != nullptr) {
    BackendMessage message;
    uint64_t free_bytes = 0;
    status =
        PORTA_SLOT_CALL(dev->table(), device_memory_info, dev->be(), &free_bytes, message.get());
    if (status == PORTA_OK) {
      answer.free_bytes = free_bytes;
    } else if (status != PORTA_ERROR_UNSUPPORTED) {
      return BackendFail(status, kFn, *dev, message);
    }
  }
  const size_t caller_size = info->struct_size;
  std::memcpy(info, &answer, std::min(caller_size, sizeof(porta_memory_info_t)));
  info->struct_size = caller_size;
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_device_get_memory_info");
}

}  // extern "C"
