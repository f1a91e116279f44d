// The Level Zero backend over libze_loader.so.1, opened with dlopen: its entry, its table, init
// and the enumeration of drivers and GPUs. level_zero_objects.h says where the other slots are;
// docs/backends/level_zero.md describes the backend.
#include "backends/level_zero/level_zero_objects.h"

#include <memory>
#include <string>
#include <vector>

#include "porta/sdk/message.h"

namespace porta::level_zero {
namespace {

using common::Fail;

// Finds every GPU of every driver; returns the reason when there is none.
std::string Enumerate(Backend* backend) {
  const Library& library = *backend->library;
  uint32_t count = 0;
  ze_result_t result = library.zeDriverGet(&count, nullptr);
  if (result != ZE_RESULT_SUCCESS) return "zeDriverGet failed: " + Library::ErrorText(result);
  std::vector<ze_driver_handle_t> drivers(count);
  result = library.zeDriverGet(&count, drivers.data());
  if (result != ZE_RESULT_SUCCESS) return "zeDriverGet failed: " + Library::ErrorText(result);
  drivers.resize(count);
  // Entries are never moved once devices point into the vector.
  backend->drivers.reserve(drivers.size());
  std::string problems;
  for (ze_driver_handle_t driver : drivers) {
    uint32_t device_count = 0;
    result = library.zeDeviceGet(driver, &device_count, nullptr);
    std::vector<ze_device_handle_t> devices(device_count);
    if (result == ZE_RESULT_SUCCESS && device_count > 0) {
      result = library.zeDeviceGet(driver, &device_count, devices.data());
    }
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeDeviceGet failed: " + Library::ErrorText(result);
      continue;
    }
    devices.resize(device_count);
    std::vector<ze_device_handle_t> gpus;
    for (ze_device_handle_t device : devices) {
      ze_device_properties_t properties = {};
      properties.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
      result = library.zeDeviceGetProperties(device, &properties);
      if (result != ZE_RESULT_SUCCESS) {
        problems += "; zeDeviceGetProperties failed: " + Library::ErrorText(result);
      } else if (properties.type == ZE_DEVICE_TYPE_GPU) {
        gpus.push_back(device);
      }
    }
    if (gpus.empty()) continue;
    DriverEntry entry;
    entry.driver = driver;
    // The API version decides how timestamps are read, and the driver version keys tuned
    // results: a driver that cannot tell them is left out, with the reason.
    result = library.zeDriverGetApiVersion(driver, &entry.api_version);
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeDriverGetApiVersion failed: " + Library::ErrorText(result);
      continue;
    }
    ze_driver_properties_t properties = {};
    properties.stype = ZE_STRUCTURE_TYPE_DRIVER_PROPERTIES;
    result = library.zeDriverGetProperties(driver, &properties);
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeDriverGetProperties failed: " + Library::ErrorText(result);
      continue;
    }
    entry.driver_version = properties.driverVersion;
    ze_context_desc_t context_desc = {};
    context_desc.stype = ZE_STRUCTURE_TYPE_CONTEXT_DESC;
    result = library.zeContextCreate(driver, &context_desc, &entry.context);
    if (result != ZE_RESULT_SUCCESS) {
      problems += "; zeContextCreate failed: " + Library::ErrorText(result);
      continue;
    }
    backend->drivers.push_back(entry);
    for (ze_device_handle_t gpu : gpus) {
      backend->devices.push_back({backend->drivers.size() - 1, gpu});
    }
  }
  if (!backend->devices.empty()) return "";
  return "the Level Zero loader " + library.library_name() + " found " + std::to_string(count) +
         " driver(s) and no GPU" + problems;
}

}  // namespace

porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg) {
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  auto library = std::make_unique<Library>();
  // A missing loader or driver is not an init failure: the backend loads with zero devices and
  // the reason, which porta-info shows next to it.
  if (library->Load(&backend->zero_reason)) {
    backend->library = std::move(library);
    backend->zero_reason = Enumerate(backend.get());
  }
  *out_backend = reinterpret_cast<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t backend) {
  delete As<Backend>(backend);
}

porta_status_t DeviceCount(porta_be_backend_t be, uint32_t* out_count, porta_be_msg msg) {
  Backend* backend = As<Backend>(be);
  *out_count = static_cast<uint32_t>(backend->devices.size());
  if (*out_count == 0) common::SetMessage(msg, "%s", backend->zero_reason.c_str());
  return PORTA_OK;
}

Backend::~Backend() {
  if (library == nullptr) return;
  for (const DriverEntry& entry : drivers)
    library->Released(library->zeContextDestroy(entry.context), "zeContextDestroy");
}

namespace {

// Every slot, each behind the SDK's slot guard.
constinit const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("level_zero");

}  // namespace
}  // namespace porta::level_zero

// Entry of the built-in Level Zero backend (and, through the generated shim, of its plugin).
extern "C" porta_status_t porta_level_zero_backend_entry(const porta_backend_host_t* host,
                                                         const porta_backend_table_t** out_table,
                                                         porta_be_msg msg) {
  return porta::common::ServeTable(porta::level_zero::kTable, host, out_table, msg);
}
