// porta.Source, porta.Module and porta.Kernel.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "porta_python.h"

namespace porta_python {
namespace {

// One way to build a module: kernel code in one format.
struct Source {
  porta_kernel_format_t format;
  // Source text or binary, as bytes.
  std::string data;
  std::optional<std::string> build_options;
};

struct ModuleCore {
  static constexpr const char* kPythonName = "Module";
  static constexpr const char* kClosedMessage = "the module is closed";
  DeviceRef device;
  porta_module_t handle = nullptr;

  ModuleCore(DeviceRef device_ref, const std::vector<Source>& sources,
             const std::vector<std::string>& entries)
      : device(std::move(device_ref)) {
    if (sources.empty()) {
      RaiseMessage(PORTA_ERROR_INVALID_ARGUMENT, "porta.Module", "no source given");
    }
    std::vector<const char*> entry_names;
    for (const std::string& entry : entries) entry_names.push_back(entry.c_str());
    std::vector<porta_module_source_t> list;
    for (const Source& source : sources) {
      if (source.format == PORTA_FORMAT_HOST) {
        RaiseMessage(PORTA_ERROR_UNSUPPORTED, "porta.Module",
                     "host-format kernels are C functions and cannot come from Python");
      }
      porta_module_source_t s{};
      s.format = source.format;
      s.data = source.data.data();
      s.size = source.data.size();
      s.build_options = source.build_options ? source.build_options->c_str() : nullptr;
      s.entry_names = entry_names.empty() ? nullptr : entry_names.data();
      s.entry_count = static_cast<uint32_t>(entry_names.size());
      list.push_back(s);
    }
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = list.data();
    desc.source_count = static_cast<uint32_t>(list.size());
    porta_status_t status;
    std::string message;
    {
      nb::gil_scoped_release release;  // drivers compile here, sometimes for seconds
      status = porta_module_load(device.handle(), &desc, &handle);
      if (status != PORTA_OK) message = porta_last_error_message();
    }
    if (status != PORTA_OK) RaiseMessage(status, "porta_module_load", message);
  }
  ~ModuleCore() { porta_module_destroy(handle); }
  ModuleCore(const ModuleCore&) = delete;
  ModuleCore& operator=(const ModuleCore&) = delete;
};

struct Module : Holder<ModuleCore> {};

// A kernel keeps its module (which owns the kernel handle) alive.
struct Kernel {
  std::shared_ptr<ModuleCore> module;
  porta_kernel_t handle = nullptr;
  std::string name;
};

// Grid or block dimensions: an int or a tuple of up to three ints.
void Dimensions(nb::handle value, uint32_t out[3], const char* what) {
  out[0] = out[1] = out[2] = 1;
  if (nb::isinstance<nb::int_>(value)) {
    out[0] = nb::cast<uint32_t>(value);
    return;
  }
  nb::tuple dims = nb::cast<nb::tuple>(value);
  if (dims.size() < 1 || dims.size() > 3) {
    throw nb::value_error((std::string(what) + " takes 1 to 3 dimensions").c_str());
  }
  for (size_t i = 0; i < dims.size(); ++i) out[i] = nb::cast<uint32_t>(dims[i]);
}

// The launch arguments in order, with the scalars' bytes kept alive until the launch.
struct LaunchArgs {
  std::vector<porta_kernel_arg_t> args;
  std::vector<std::string> scalars;
};

void AddArgument(LaunchArgs& launch, nb::handle arg, size_t index) {
  std::string what = "argument " + std::to_string(index);
  porta_kernel_arg_t a{};
  if (nb::isinstance<Buffer>(arg)) {
    a.kind = PORTA_ARG_BUFFER;
    a.buffer = nb::cast<const Buffer&>(arg).Get()->handle;
  } else if (nb::isinstance<Tensor>(arg)) {
    const Tensor& tensor = nb::cast<const Tensor&>(arg);
    a.kind = PORTA_ARG_BUFFER;
    a.buffer = tensor.value.buffer->handle;
    a.offset = tensor.value.view.offset;
  } else if (nb::isinstance<nb::tuple>(arg) && nb::len(arg) == 2 &&
             nb::isinstance<Buffer>(arg[0])) {
    a.kind = PORTA_ARG_BUFFER;
    a.buffer = nb::cast<const Buffer&>(arg[0]).Get()->handle;
    a.offset = nb::cast<uint64_t>(arg[1]);
  } else {
    launch.scalars.push_back(ScalarBytes(arg, what));
    a.kind = PORTA_ARG_SCALAR;
    a.scalar_size = static_cast<uint32_t>(launch.scalars.back().size());
  }
  launch.args.push_back(a);
}

}  // namespace

void BindModules(nb::module_& m) {
  nb::class_<Source>(m, "Source", "Kernel code in one format, for porta.Module.")
      .def(
          "__init__",
          [](Source* self, porta_kernel_format_t format, nb::handle data,
             std::optional<std::string> build_options) {
            std::string bytes;
            if (nb::isinstance<nb::str>(data)) {
              bytes = nb::cast<std::string>(data);
            } else {
              nb::bytes b =
                  nb::cast<nb::bytes>(nb::module_::import_("builtins").attr("bytes")(data));
              bytes.assign(b.c_str(), b.size());
            }
            new (self) Source{format, std::move(bytes), std::move(build_options)};
          },
          nb::arg("format"), nb::arg("data"), nb::arg("build_options") = nb::none(),
          nb::sig("def __init__(self, format: Format, data: str | bytes, build_options: str | "
                  "None = None) -> None"),
          "data: source text (OpenCL C, PTX) as str or bytes, or a binary (SPIR-V, cubin, "
          "hsaco) as bytes. build_options go to the driver's compiler.")
      .def_ro("format", &Source::format)
      .def_ro("build_options", &Source::build_options)
      .def_prop_ro("data", [](const Source& s) { return nb::bytes(s.data.data(), s.data.size()); });

  nb::class_<Module> module(m, "Module",
                            "Kernels built for one device from the first source whose format the "
                            "device accepts (porta_module_load).");
  module
      .def(
          "__init__",
          [](Module* self, const DeviceRef& device, const std::vector<Source>& sources,
             const std::vector<std::string>& entries) {
            new (self) Module{{std::make_shared<ModuleCore>(device, sources, entries)}};
          },
          nb::arg("device"), nb::arg("sources"), nb::arg("entries") = std::vector<std::string>(),
          "sources: porta.Source objects in order of preference; entries: kernel names the "
          "module must contain (NotFoundError names the first missing one).")
      .def_prop_ro("device", [](const Module& self) { return self.Get()->device; })
      .def(
          "kernel",
          [](const Module& self, const std::string& name) {
            const std::shared_ptr<ModuleCore>& core = self.Get();
            porta_kernel_t handle = nullptr;
            Check(porta_module_get_kernel(core->handle, name.c_str(), &handle),
                  "porta_module_get_kernel");
            return Kernel{core, handle, name};
          },
          nb::arg("name"), "The kernel called name; it keeps the module alive.");
  AddClose(module, "close",
           "Drops this object's hold; the module goes once no kernel of it is left.");

  nb::class_<Kernel>(m, "Kernel", "One kernel of a module.")
      .def_ro("name", &Kernel::name)
      .def(
          "launch",
          [](const Kernel& self, nb::handle grid, nb::handle block, nb::sequence args,
             std::optional<Stream> stream, uint64_t local_memory_bytes) {
            porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
            Dimensions(grid, config.grid, "grid");
            Dimensions(block, config.block, "block");
            config.local_memory_bytes = local_memory_bytes;
            LaunchArgs launch;
            launch.scalars.reserve(nb::len(args));
            size_t index = 0;
            for (nb::handle arg : args) AddArgument(launch, arg, index++);
            size_t scalar = 0;
            for (porta_kernel_arg_t& a : launch.args) {
              if (a.kind == PORTA_ARG_SCALAR) a.scalar = launch.scalars[scalar++].data();
            }
            StreamPtr s = StreamOr(stream ? stream->Get() : nullptr, self.module->device);
            Check(porta_kernel_launch(s->handle, self.handle, &config, launch.args.data(),
                                      static_cast<uint32_t>(launch.args.size())),
                  "porta_kernel_launch");
          },
          nb::arg("grid"), nb::arg("block"), nb::arg("args"), nb::arg("stream") = nb::none(),
          nb::arg("local_memory_bytes") = 0,
          nb::sig("def launch(self, grid: int | tuple[int, ...], block: int | tuple[int, ...], "
                  "args: collections.abc.Sequence[Buffer | tuple[Buffer, int] | Tensor | "
                  "numpy.generic | bytes], stream: Stream | None = None, "
                  "local_memory_bytes: int = 0) -> None"),
          "Queues the kernel on stream (default: the device's default stream) with grid "
          "work-groups of block work items. args in the kernel's parameter order: a Buffer, "
          "(Buffer, byte offset), a Tensor (its buffer at its offset), or a NumPy scalar with "
          "an explicit type (numpy.float32(2.0)); queued work keeps the buffers alive.");
}

}  // namespace porta_python
