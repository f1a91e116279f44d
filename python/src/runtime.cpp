// porta.Runtime and porta.Device.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "porta_python.h"

namespace porta_python {

RuntimeCore::RuntimeCore(const char* device_filter, const char* plugin_paths) {
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  options.device_filter = device_filter;
  options.plugin_paths = plugin_paths;
  Check(porta_runtime_create(&options, &handle_), "porta_runtime_create");
  uint32_t count = 0;
  porta_status_t status = porta_runtime_device_count(handle_, &count);
  for (uint32_t i = 0; status == PORTA_OK && i < count; ++i) {
    DeviceState state;
    status = porta_runtime_device(handle_, i, &state.device);
    devices_.push_back(state);
  }
  if (status != PORTA_OK) {
    std::string message = porta_last_error_message();
    porta_runtime_destroy(handle_);
    RaiseMessage(status, "porta_runtime_device", message);
  }
}

RuntimeCore::~RuntimeCore() {
  for (DeviceState& state : devices_) {
    if (state.ops) porta_ops_context_destroy(state.ops);
    if (state.default_stream) porta_stream_destroy(state.default_stream);
  }
  porta_runtime_destroy(handle_);
}

porta_stream_t RuntimeCore::DefaultStream(uint32_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceState& state = devices_.at(index);
  if (state.default_stream == nullptr) {
    Check(porta_stream_create(state.device, &state.default_stream), "porta_stream_create");
  }
  return state.default_stream;
}

porta_ops_context_t RuntimeCore::OpsContext(uint32_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceState& state = devices_.at(index);
  if (state.ops == nullptr) {
    Check(porta_ops_context_create(state.device, nullptr, &state.ops), "porta_ops_context_create");
  }
  return state.ops;
}

porta_device_info_t DeviceRef::Info() const {
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  Check(porta_device_get_info(handle(), &info), "porta_device_get_info");
  return info;
}

bool DeviceRef::IsHostMemory() const {
  porta_device_info_t info = Info();
  return std::strcmp(info.backend, "cpu") == 0 &&
         (info.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY) != 0;
}

namespace {

struct CapabilityName {
  uint64_t bit;
  const char* name;
};

constexpr CapabilityName kCapabilities[] = {
    {PORTA_CAP_FP16, "fp16"},
    {PORTA_CAP_BF16, "bf16"},
    {PORTA_CAP_FP64, "fp64"},
    {PORTA_CAP_INT64, "int64"},
    {PORTA_CAP_ATOMICS, "atomics"},
    {PORTA_CAP_HOST_VISIBLE_MEMORY, "host_visible_memory"},
    {PORTA_CAP_UNIFIED_MEMORY, "unified_memory"},
    {PORTA_CAP_INT8, "int8"},
    {PORTA_CAP_TIMESTAMPS, "timestamps"},
    {PORTA_CAP_NATIVE_GRAPHS, "native_graphs"},
};

// A device's free, total and allocated bytes, as porta_device_get_memory_info reports them.
struct MemoryInfo {
  // None where the driver does not tell.
  std::optional<uint64_t> free_bytes;
  uint64_t total_bytes = 0;
  uint64_t allocated_bytes = 0;
};

std::vector<DeviceRef> Devices(const RuntimePtr& runtime) {
  std::vector<DeviceRef> devices;
  for (uint32_t i = 0; i < runtime->device_count(); ++i) devices.push_back({runtime, i});
  return devices;
}

std::string Repr(const DeviceRef& device) {
  porta_device_info_t info = device.Info();
  return std::string("<porta.Device ") + info.backend + ":" +
         std::to_string(info.backend_device_index) + " '" + info.name + "'>";
}

}  // namespace

void BindRuntime(nb::module_& m) {
  nb::enum_<porta_device_type_t>(m, "DeviceType", "What kind of processor a device is.")
      .value("CPU", PORTA_DEVICE_TYPE_CPU)
      .value("GPU", PORTA_DEVICE_TYPE_GPU)
      .value("NPU", PORTA_DEVICE_TYPE_NPU)
      .value("ACCELERATOR", PORTA_DEVICE_TYPE_ACCELERATOR);

  nb::enum_<porta_kernel_format_t>(m, "Format", "Formats in which kernels are handed to a device.")
      .value("HOST", PORTA_FORMAT_HOST)
      .value("OPENCL_C", PORTA_FORMAT_OPENCL_C)
      .value("SPIRV_KERNEL", PORTA_FORMAT_SPIRV_KERNEL)
      .value("SPIRV_SHADER", PORTA_FORMAT_SPIRV_SHADER)
      .value("PTX", PORTA_FORMAT_PTX)
      .value("CUBIN", PORTA_FORMAT_CUBIN)
      .value("HSACO", PORTA_FORMAT_HSACO)
      .value("NATIVE", PORTA_FORMAT_NATIVE);

  nb::class_<MemoryInfo>(m, "MemoryInfo", "A device's memory now (porta_device_get_memory_info).")
      .def_ro("free_bytes", &MemoryInfo::free_bytes,
              "Bytes free on the device for every process; None where the driver does not tell.")
      .def_ro("total_bytes", &MemoryInfo::total_bytes,
              "The device's memory for buffers (0 when the backend reports no figure).")
      .def_ro("allocated_bytes", &MemoryInfo::allocated_bytes,
              "Bytes of this process's live buffers on the device, pool blocks included.")
      .def("__repr__", [](const MemoryInfo& info) {
        return "MemoryInfo(free_bytes=" +
               (info.free_bytes ? std::to_string(*info.free_bytes) : std::string("None")) +
               ", total_bytes=" + std::to_string(info.total_bytes) +
               ", allocated_bytes=" + std::to_string(info.allocated_bytes) + ")";
      });

  nb::class_<Runtime> runtime(
      m, "Runtime",
      "The Porta runtime: loads the backends and opens their devices. A context "
      "manager; objects made from it keep it alive after close().");
  runtime
      .def(
          "__init__",
          [](Runtime* self, std::optional<std::string> device_filter,
             std::optional<std::string> plugin_paths) {
            const char* filter = device_filter ? device_filter->c_str() : nullptr;
            const char* plugins = plugin_paths ? plugin_paths->c_str() : nullptr;
            new (self) Runtime{{std::make_shared<RuntimeCore>(filter, plugins)}};
          },
          nb::arg("device_filter") = nb::none(), nb::arg("plugin_paths") = nb::none(),
          "device_filter has PORTA_DEVICES' syntax (None: use PORTA_DEVICES; \"\": no filter); "
          "plugin_paths are extra backend plugins, colon-separated.")
      .def_prop_ro(
          "devices", [](const Runtime& self) { return Devices(self.Get()); },
          "The devices that passed the device filter, in filter order.")
      .def(
          "diagnostics",
          [](const Runtime& self) {
            size_t required = 0;
            porta_runtime_t handle = self.Get()->handle();
            Check(porta_runtime_diagnostics(handle, nullptr, 0, &required),
                  "porta_runtime_diagnostics");
            std::string text(required, '\0');
            Check(porta_runtime_diagnostics(handle, text.data(), text.size(), &required),
                  "porta_runtime_diagnostics");
            text.resize(std::strlen(text.c_str()));
            return text;
          },
          "Every backend tried, loaded or not, and why.")
      .def_prop_ro("closed", [](const Runtime& self) { return !self.core; })
      .def("__repr__", [](const Runtime& self) {
        if (!self.core) return std::string("<porta.Runtime closed>");
        return "<porta.Runtime with " + std::to_string(self.core->device_count()) + " device(s)>";
      });
  AddClose(runtime, "close",
           "Drops this object's hold on the runtime; it is destroyed once no device, buffer, "
           "stream, event, module or tensor of it is left.");

  nb::class_<DeviceRef>(m, "Device", "One device of a runtime; keeps the runtime alive.")
      .def_prop_ro("name", [](const DeviceRef& d) { return std::string(d.Info().name); })
      .def_prop_ro("vendor", [](const DeviceRef& d) { return std::string(d.Info().vendor); })
      .def_prop_ro("backend", [](const DeviceRef& d) { return std::string(d.Info().backend); })
      .def_prop_ro("type", [](const DeviceRef& d) { return d.Info().type; })
      .def_prop_ro("architecture",
                   [](const DeviceRef& d) { return std::string(d.Info().architecture); })
      .def_prop_ro("driver_version",
                   [](const DeviceRef& d) { return std::string(d.Info().driver_version); })
      .def_prop_ro(
          "index", [](const DeviceRef& d) { return d.Info().backend_device_index; },
          "Index of the device inside its backend.")
      .def_prop_ro(
          "memory", [](const DeviceRef& d) { return d.Info().global_memory_bytes; },
          "Bytes of memory for buffers (global_memory_bytes; 0 when unknown).")
      .def_prop_ro("max_allocation_bytes",
                   [](const DeviceRef& d) { return d.Info().max_allocation_bytes; })
      .def_prop_ro("compute_units", [](const DeviceRef& d) { return d.Info().compute_units; })
      .def_prop_ro("max_work_group_size",
                   [](const DeviceRef& d) { return d.Info().max_work_group_size; })
      .def_prop_ro(
          "capabilities",
          [](const DeviceRef& d) {
            uint64_t caps = d.Info().capabilities;
            nb::set names;
            for (const CapabilityName& c : kCapabilities) {
              if (caps & c.bit) names.add(c.name);
            }
            return nb::frozenset(names);
          },
          nb::sig("def capabilities(self) -> frozenset[str]"),
          "Names of the PORTA_CAP_* flags the device has: \"fp16\", \"host_visible_memory\", ...")
      .def_prop_ro(
          "kernel_formats",
          [](const DeviceRef& d) {
            uint32_t formats = d.Info().kernel_formats;
            std::vector<porta_kernel_format_t> accepted;
            for (int f = 1; f < PORTA_FORMAT_COUNT; ++f) {
              if (formats & PORTA_FORMAT_BIT(f)) {
                accepted.push_back(static_cast<porta_kernel_format_t>(f));
              }
            }
            return accepted;
          },
          "The kernel formats the device accepts.")
      .def_prop_ro(
          "native_tags",
          [](const DeviceRef& d) {
            const porta_device_info_t info = d.Info();
            std::vector<std::string> tags;
            for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
              tags.emplace_back(info.native_tags[i]);
            }
            return tags;
          },
          "Architecture tags of the Format.NATIVE binaries the device runs (\"acme-npu2:v3\"); "
          "empty when it runs none.")
      .def_prop_ro(
          "zero_copy", &DeviceRef::IsHostMemory,
          "True when the device's memory is the host's (the cpu backend): Tensor.to_numpy() "
          "then returns a view of the device's memory instead of a copy.")
      .def(
          "memory_info",
          [](const DeviceRef& d) {
            porta_memory_info_t info = PORTA_MEMORY_INFO_INIT;
            Check(porta_device_get_memory_info(d.handle(), &info), "porta_device_get_memory_info");
            MemoryInfo result;
            if (info.free_bytes != PORTA_MEMORY_UNKNOWN) result.free_bytes = info.free_bytes;
            result.total_bytes = info.total_bytes;
            result.allocated_bytes = info.allocated_bytes;
            return result;
          },
          "Free, total and allocated bytes now.")
      .def_prop_ro(
          "default_stream", [](const DeviceRef& d) { return Stream{{DefaultStream(d)}}; },
          "The stream the binding uses when a call is given none; created on first use.")
      .def(
          "synchronize", [](const DeviceRef& d) { DefaultStream(d)->Synchronize(); },
          "Waits for the work queued on the default stream.")
      .def_prop_ro(
          "runtime", [](const DeviceRef& d) { return Runtime{{d.runtime}}; },
          "The runtime (a new handle on it; closing that one does not close others).")
      .def("__eq__",
           [](const DeviceRef& a, const DeviceRef& b) {
             return a.runtime == b.runtime && a.index == b.index;
           })
      .def("__hash__",
           [](const DeviceRef& d) {
             return std::hash<const void*>()(d.runtime.get()) ^ std::hash<uint32_t>()(d.index);
           })
      .def("__repr__", &Repr);

  m.def(
      "version", [] { return std::string(porta_version_string()); },
      "The version of the libporta in use, \"major.minor.patch\".");
}

}  // namespace porta_python
