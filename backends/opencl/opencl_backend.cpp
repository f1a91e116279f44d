// Entry point and backend-level slots of the OpenCL backend: loading the ICD loader, finding
// every platform and device, and the function table.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"

namespace porta::opencl {
namespace {

std::string PlatformString(const Library& api, cl_platform_id platform, cl_platform_info param) {
  size_t size = 0;
  if (api.clGetPlatformInfo(platform, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) {
    return "";
  }
  std::string value(size, '\0');
  if (api.clGetPlatformInfo(platform, param, size, value.data(), nullptr) != CL_SUCCESS) return "";
  value.resize(std::strlen(value.c_str()));
  return value;
}

void AppendReason(std::string* reason, const std::string& text) {
  if (!reason->empty()) reason->append("; ");
  reason->append(text);
}

// Parses "OpenCL <major>.<minor> ..." and says whether it is at least 1.2.
bool AtLeastOpenCl12(const std::string& version) {
  int major = 0;
  int minor = 0;
  if (std::sscanf(version.c_str(), "OpenCL %d.%d", &major, &minor) != 2) return false;
  return major > 1 || (major == 1 && minor >= 2);
}

void FindDevices(Backend* backend) {
  const Library& api = backend->api;
  cl_uint platform_count = 0;
  cl_int error = api.clGetPlatformIDs(0, nullptr, &platform_count);
  if (error != CL_SUCCESS || platform_count == 0) {
    AppendReason(&backend->reason, std::string("no OpenCL platform found (clGetPlatformIDs: ") +
                                       ClErrorName(error) +
                                       "); install an OpenCL driver (ICD) such as pocl-opencl-icd");
    return;
  }
  std::vector<cl_platform_id> ids(platform_count);
  error = api.clGetPlatformIDs(platform_count, ids.data(), nullptr);
  if (error != CL_SUCCESS) {
    AppendReason(&backend->reason, std::string("clGetPlatformIDs failed: ") + ClErrorName(error));
    return;
  }
  for (cl_platform_id id : ids) {
    auto platform = std::make_unique<Platform>();
    platform->id = id;
    platform->name = PlatformString(api, id, CL_PLATFORM_NAME);
    platform->version = PlatformString(api, id, CL_PLATFORM_VERSION);
    if (!AtLeastOpenCl12(platform->version)) {
      AppendReason(&backend->reason, "platform '" + platform->name + "' reports '" +
                                         platform->version + "'; Porta needs OpenCL 1.2");
      continue;
    }
    cl_uint device_count = 0;
    error = api.clGetDeviceIDs(id, CL_DEVICE_TYPE_ALL, 0, nullptr, &device_count);
    if (error != CL_SUCCESS || device_count == 0) {
      AppendReason(&backend->reason,
                   "platform '" + platform->name + "' has no devices (" + ClErrorName(error) + ")");
      continue;
    }
    std::vector<cl_device_id> devices(device_count);
    error = api.clGetDeviceIDs(id, CL_DEVICE_TYPE_ALL, device_count, devices.data(), nullptr);
    if (error != CL_SUCCESS) {
      AppendReason(&backend->reason, "clGetDeviceIDs on platform '" + platform->name +
                                         "' failed: " + ClErrorName(error));
      continue;
    }
    for (cl_device_id device : devices) {
      cl_bool available = CL_FALSE;
      api.clGetDeviceInfo(device, CL_DEVICE_AVAILABLE, sizeof(available), &available, nullptr);
      if (!available) {
        AppendReason(&backend->reason,
                     "a device of platform '" + platform->name + "' is not available");
        continue;
      }
      platform->devices.push_back(device);
      backend->devices.push_back({platform.get(), device});
    }
    backend->platforms.push_back(std::move(platform));
  }
}

}  // namespace

// Loads the ICD loader and finds the devices. A missing loader, platform or device is not an
// error: the backend loads with zero devices and the reason.
porta_status_t Init(const porta_backend_host_t* host, porta_be_backend_t* out_backend,
                    porta_be_msg) {
  common::SetLogSink(host);
  auto backend = std::make_unique<Backend>();
  backend->porta_version = host->porta_version != nullptr ? host->porta_version : "unknown";
  if (host->cache_dir != nullptr && host->cache_dir[0] != '\0') {
    backend->cache = common::DiskCache(std::string(host->cache_dir) + "/opencl");
  }
  const char* profile = std::getenv("PORTA_OPENCL_PROFILE");
  if (profile != nullptr && profile[0] != '\0') {
    if (std::strcmp(profile, "npu") == 0) {
      backend->constrained = true;
    } else {
      // A typo must not silently test the wide path instead of the narrow one.
      backend->reason = std::string("PORTA_OPENCL_PROFILE='") + profile +
                        "' is not a known profile (known: npu); no device is exposed";
      *out_backend = ToHandle<porta_be_backend_t>(backend.release());
      return PORTA_OK;
    }
  }
  std::string error;
  if (!backend->api.Load(&error)) {
    backend->reason = error;
  } else {
    FindDevices(backend.get());
  }
  common::Log(PORTA_LOG_INFO, "opencl: %zu device(s)%s%s%s", backend->devices.size(),
              backend->constrained ? " under the npu profile" : "",
              backend->reason.empty() ? "" : "; ", backend->reason.c_str());
  *out_backend = ToHandle<porta_be_backend_t>(backend.release());
  return PORTA_OK;
}

void Shutdown(porta_be_backend_t handle) {
  Backend* backend = As<Backend>(handle);
  for (auto& platform : backend->platforms) {
    if (platform->context != nullptr) backend->api.clReleaseContext(platform->context);
  }
  delete backend;
}

porta_status_t DeviceCount(porta_be_backend_t handle, uint32_t* out_count, porta_be_msg msg) {
  Backend* backend = As<Backend>(handle);
  *out_count = static_cast<uint32_t>(backend->devices.size());
  if (backend->devices.empty()) {
    common::SetMessage(msg, "%s",
                       backend->reason.empty() ? "no OpenCL devices" : backend->reason.c_str());
  }
  return PORTA_OK;
}

namespace {

// Every slot, each behind the SDK's slot guard; opencl_objects.h says which file defines which.
constinit const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("opencl");

}  // namespace
}  // namespace porta::opencl

// The entry the runtime calls for the built-in backend (and, through the generated shim, for the
// stand-alone plugin).
extern "C" porta_status_t porta_opencl_backend_entry(const porta_backend_host_t* host,
                                                     const porta_backend_table_t** out_table,
                                                     porta_be_msg msg) {
  return porta::common::ServeTable(porta::opencl::kTable, host, out_table, msg);
}
