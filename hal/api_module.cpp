// Public API: modules, kernels and launches.
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "hal/graph.h"
#include "hal/native_format.h"
#include "hal/objects.h"
#include "hal/runtime.h"
#include "hal/slot_guard.h"
#include "hal/stream_ops.h"

using porta::hal::BackendFail;
using porta::hal::BackendMessage;
using porta::hal::Buffer;
using porta::hal::Device;
using porta::hal::Enqueue;
using porta::hal::Fail;
using porta::hal::Kernel;
using porta::hal::Lookup;
using porta::hal::Module;
using porta::hal::Object;
using porta::hal::Ref;
using porta::hal::Stream;

namespace {

using porta::hal::kMaxArgs;

std::string FormatList(uint32_t mask) {
  std::string list;
  for (uint32_t f = 1; f < PORTA_FORMAT_COUNT; ++f) {
    if (mask & PORTA_FORMAT_BIT(f)) {
      if (!list.empty()) list += ", ";
      list += porta_kernel_format_name(static_cast<int32_t>(f));
    }
  }
  return list.empty() ? "none" : list;
}

// Returns the module's kernel |name|, creating its handle on first use. Caller holds no lock.
porta_status_t GetKernel(const char* fn, Module& module, const char* name, Kernel** out) {
  std::lock_guard<std::mutex> lock(module.mutex);
  auto it = module.kernels.find(name);
  if (it != module.kernels.end()) {
    *out = it->second.get();
    return PORTA_OK;
  }
  BackendMessage message;
  porta_be_kernel_t be = nullptr;
  porta_status_t status = PORTA_SLOT_CALL(module.device->table(), module_get_kernel, module.be,
                                          name, &be, message.get());
  status = porta::hal::Created(status, be, "kernel", &message);
  if (status != PORTA_OK) return BackendFail(status, fn, *module.device, message);
  auto kernel = std::make_unique<Kernel>(&module, be, name);
  // Stored before it is registered: a handle never points at a kernel its module does not hold.
  const auto stored_at = module.kernels.emplace(name, std::move(kernel)).first;
  Kernel* stored = stored_at->second.get();
  try {
    porta::hal::Registry::Add(stored, porta::hal::HandleType::kKernel);
  } catch (...) {
    module.kernels.erase(stored_at);
    throw;
  }
  *out = stored;
  return PORTA_OK;
}

void UnregisterModule(Module& module) {
  std::lock_guard<std::mutex> lock(module.mutex);
  for (auto& [name, kernel] : module.kernels) porta::hal::Registry::Remove(kernel.get());
  porta::hal::Registry::Remove(&module);
}

porta_status_t CheckLaunchShape(const char* fn, const Device& device,
                                const porta_launch_config_t& c) {
  const porta_device_info_t& info = device.info();
  static const char* const kAxis[] = {"x", "y", "z"};
  uint64_t items = 1;
  for (int d = 0; d < 3; ++d) {
    if (c.grid[d] == 0 || c.block[d] == 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "config->%s[%d] (%s) is 0",
                  c.grid[d] == 0 ? "grid" : "block", d, kAxis[d]);
    }
    if (c.block[d] > info.max_work_group_dims[d]) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                  "config->block[%d] (%s) is %u, over the device's max_work_group_dims[%d] = %u", d,
                  kAxis[d], c.block[d], d, info.max_work_group_dims[d]);
    }
    if (info.max_grid_dims[d] != 0 && c.grid[d] > info.max_grid_dims[d]) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                  "config->grid[%d] (%s) is %u, over the device's max_grid_dims[%d] = %u", d,
                  kAxis[d], c.grid[d], d, info.max_grid_dims[d]);
    }
    items *= c.block[d];
  }
  if (items > info.max_work_group_size) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "work-group of %llu items (block %u x %u x %u) is over the device's "
                "max_work_group_size %u",
                static_cast<unsigned long long>(items), c.block[0], c.block[1], c.block[2],
                info.max_work_group_size);
  }
  if (c.local_memory_bytes > info.local_memory_bytes) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                "config->local_memory_bytes %llu is over the device's local_memory_bytes %llu",
                static_cast<unsigned long long>(c.local_memory_bytes),
                static_cast<unsigned long long>(info.local_memory_bytes));
  }
  return PORTA_OK;
}

}  // namespace

namespace porta::hal {

porta_status_t ResolveKernelArg(const char* fn, const Device& device, const porta_kernel_arg_t& a,
                                uint32_t i, porta_be_arg_t* out, Ref<Buffer>* out_buffer) {
  porta_be_arg_t& b = *out;
  // Read as an integer: a C caller may pass a value outside the enum.
  int32_t kind;
  std::memcpy(&kind, &a.kind, sizeof(kind));
  b = porta_be_arg_t{PORTA_ARG_BUFFER, nullptr, 0, nullptr, 0};
  porta_status_t status;
  if (kind == PORTA_ARG_BUFFER) {
    Ref<Buffer> buf = Lookup<Buffer>(a.buffer, fn, {"args", i, "buffer"}, &status);
    if (!buf) return status;
    if (buf->device.get() != &device) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                  "args[%u].buffer belongs to device %s but the stream belongs to device %s", i,
                  buf->device->label().c_str(), device.label().c_str());
    }
    if (a.offset >= buf->size) {
      return Fail(PORTA_ERROR_OUT_OF_RANGE, fn,
                  "args[%u].offset %llu is not inside the buffer of %llu bytes", i,
                  static_cast<unsigned long long>(a.offset),
                  static_cast<unsigned long long>(buf->size));
    }
    b.buffer = buf->be;
    b.offset = a.offset;
    *out_buffer = std::move(buf);
    return PORTA_OK;
  }
  if (kind == PORTA_ARG_SCALAR) {
    b.kind = PORTA_ARG_SCALAR;
    if (a.scalar == nullptr) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "args[%u].scalar is NULL", i);
    }
    if (a.scalar_size == 0 || a.scalar_size > kMaxScalarSize) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                  "args[%u].scalar_size is %u; it must be 1..%u bytes", i, a.scalar_size,
                  kMaxScalarSize);
    }
    b.scalar = a.scalar;
    b.scalar_size = a.scalar_size;
    return PORTA_OK;
  }
  return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "args[%u].kind %d is not a porta_arg_kind_t", i,
              kind);
}

}  // namespace porta::hal

extern "C" {

PORTA_API const char* porta_kernel_format_name(int32_t format) {
  switch (format) {
    case PORTA_FORMAT_HOST:
      return "host";
    case PORTA_FORMAT_OPENCL_C:
      return "opencl-c";
    case PORTA_FORMAT_SPIRV_KERNEL:
      return "spirv-kernel";
    case PORTA_FORMAT_SPIRV_SHADER:
      return "spirv-shader";
    case PORTA_FORMAT_PTX:
      return "ptx";
    case PORTA_FORMAT_CUBIN:
      return "cubin";
    case PORTA_FORMAT_HSACO:
      return "hsaco";
    case PORTA_FORMAT_NATIVE:
      return "native";
    default:
      return "unknown";
  }
}

PORTA_API porta_status_t porta_native_binary_tag(const void* data, size_t size, char* out_tag) try {
  constexpr const char* kFn = "porta_native_binary_tag";
  if (data == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "data is NULL");
  std::string tag;
  const std::string problem = porta::hal::NativeBinaryProblem(data, size, &tag);
  if (!problem.empty()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "data %s", problem.c_str());
  }
  if (out_tag != nullptr) std::memcpy(out_tag, tag.c_str(), tag.size() + 1);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_native_binary_tag");
}

PORTA_API porta_status_t porta_module_load(porta_device_t device, const porta_module_desc_t* desc,
                                           porta_module_t* out_module) try {
  constexpr const char* kFn = "porta_module_load";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (out_module == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_module is NULL");
  *out_module = nullptr;
  if (desc == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc is NULL");
  if (desc->struct_size < sizeof(porta_module_desc_t)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "desc->struct_size is %zu; set it to sizeof(porta_module_desc_t) (%zu)",
                desc->struct_size, sizeof(porta_module_desc_t));
  }
  if (desc->source_count == 0 || desc->sources == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc has no sources (source_count %u)",
                desc->source_count);
  }
  uint32_t accepted = dev->info().kernel_formats;
  const porta_module_source_t* chosen = nullptr;
  std::string offered;
  bool offers_native = false;
  for (uint32_t i = 0; i < desc->source_count; ++i) {
    const porta_module_source_t& src = desc->sources[i];
    // Read as an integer: a C caller may pass a value outside the enum.
    int32_t format;
    std::memcpy(&format, &src.format, sizeof(format));
    if (format <= 0 || format >= PORTA_FORMAT_COUNT) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->sources[%u].format %d is unknown", i,
                  format);
    }
    if (src.data == nullptr || src.size == 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->sources[%u] has %s", i,
                  src.data == nullptr ? "NULL data" : "size 0");
    }
    if (src.entry_count > 0 && src.entry_names == nullptr) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                  "desc->sources[%u].entry_names is NULL but entry_count is %u", i,
                  src.entry_count);
    }
    for (uint32_t e = 0; e < src.entry_count; ++e) {
      if (src.entry_names[e] == nullptr || src.entry_names[e][0] == '\0') {
        return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->sources[%u].entry_names[%u] is %s", i,
                    e, src.entry_names[e] == nullptr ? "NULL" : "empty");
      }
    }
    bool fits = (accepted & PORTA_FORMAT_BIT(format)) != 0;
    if (!offered.empty()) offered += ", ";
    offered += porta_kernel_format_name(format);
    if (format == PORTA_FORMAT_NATIVE) {
      std::string tag;
      const std::string problem = porta::hal::NativeBinaryProblem(src.data, src.size, &tag);
      if (!problem.empty()) {
        return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->sources[%u] (native) %s", i,
                    problem.c_str());
      }
      offered += " (tag " + tag + ")";
      offers_native = true;
      fits = fits && porta::hal::DeviceRunsNativeTag(dev->info(), tag);
    }
    if (chosen == nullptr && fits) chosen = &src;
  }
  if (chosen == nullptr) {
    // Native tags are named only where they can explain the refusal.
    std::string tags;
    if (offers_native || (accepted & PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE)) != 0) {
      tags = dev->info().native_tag_count == 0
                 ? " and no native tags"
                 : " with native tags [" + porta::hal::NativeTagList(dev->info()) + "]";
    }
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn,
                "device %s accepts kernel formats [%s]%s; the module offers only [%s]",
                dev->label().c_str(), FormatList(accepted).c_str(), tags.c_str(), offered.c_str());
  }
  BackendMessage message;
  porta_be_module_t be = nullptr;
  status = PORTA_SLOT_CALL(dev->table(), module_load, dev->be(), chosen, &be, message.get());
  status = porta::hal::Created(status, be, "module", &message);
  if (status != PORTA_OK) return BackendFail(status, kFn, *dev, message);
  Ref<Module> module = porta::hal::Wrap<Module>(
      [&] { PORTA_SLOT_CALL(dev->table(), module_destroy, be); }, dev, be, chosen->format);
  try {
    for (uint32_t e = 0; e < chosen->entry_count; ++e) {
      Kernel* kernel = nullptr;
      status = GetKernel(kFn, *module, chosen->entry_names[e], &kernel);
      if (status != PORTA_OK) {
        UnregisterModule(*module);
        return status;
      }
    }
    *out_module =
        porta::hal::Publish<porta_module_t>(std::move(module), porta::hal::HandleType::kModule);
  } catch (...) {
    // The kernels registered so far go with the module.
    if (module) UnregisterModule(*module);
    throw;
  }
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_module_load");
}

PORTA_API porta_status_t porta_module_destroy(porta_module_t module) try {
  porta_status_t status;
  Ref<Module> m = Lookup<Module>(module, "porta_module_destroy", "module", &status);
  if (!m) return status;
  UnregisterModule(*m);
  m->Release();
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_module_destroy");
}

PORTA_API porta_status_t porta_module_get_kernel(porta_module_t module, const char* name,
                                                 porta_kernel_t* out_kernel) try {
  constexpr const char* kFn = "porta_module_get_kernel";
  porta_status_t status;
  Ref<Module> m = Lookup<Module>(module, kFn, "module", &status);
  if (!m) return status;
  if (name == nullptr || name[0] == '\0') {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "name is %s",
                name == nullptr ? "NULL" : "empty");
  }
  if (out_kernel == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_kernel is NULL");
  *out_kernel = nullptr;
  Kernel* kernel = nullptr;
  status = GetKernel(kFn, *m, name, &kernel);
  if (status != PORTA_OK) return status;
  *out_kernel = porta::hal::ToHandle<porta_kernel_t>(kernel);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_module_get_kernel");
}

PORTA_API porta_status_t porta_kernel_launch(porta_stream_t stream, porta_kernel_t kernel,
                                             const porta_launch_config_t* config,
                                             const porta_kernel_arg_t* args,
                                             uint32_t arg_count) try {
  constexpr const char* kFn = "porta_kernel_launch";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  Ref<Kernel> k = Lookup<Kernel>(kernel, kFn, "kernel", &status);
  if (!k) return status;
  if (config == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "config is NULL");
  if (config->struct_size < sizeof(porta_launch_config_t)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "config->struct_size is %zu; set it to sizeof(porta_launch_config_t) (%zu)",
                config->struct_size, sizeof(porta_launch_config_t));
  }
  Module& module = *k->module;
  if (module.device.get() != s->device.get()) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "kernel '%s' was loaded on device %s but the stream belongs to device %s",
                k->name.c_str(), module.device->label().c_str(), s->device->label().c_str());
  }
  if ((status = CheckLaunchShape(kFn, *s->device, *config)) != PORTA_OK) return status;
  if (arg_count > 0 && args == nullptr) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "args is NULL but arg_count is %u", arg_count);
  }
  if (arg_count > kMaxArgs) {
    return Fail(PORTA_ERROR_OUT_OF_RANGE, kFn, "arg_count %u is over the limit of %u", arg_count,
                kMaxArgs);
  }
  porta::hal::UseList uses;
  uses.Add(Ref<Module>::Share(&module));
  porta_be_arg_t be_args[kMaxArgs];
  // The buffer of each buffer argument (held by |uses|), for a capture.
  Buffer* arg_buffers[kMaxArgs];
  for (uint32_t i = 0; i < arg_count; ++i) {
    Ref<Buffer> buffer;
    status = porta::hal::ResolveKernelArg(kFn, *s->device, args[i], i, &be_args[i], &buffer);
    if (status != PORTA_OK) return status;
    arg_buffers[i] = buffer.get();
    if (buffer) uses.Add(std::move(buffer));
  }
  const porta_backend_table_t& t = s->device->table();
  return Enqueue(
      kFn, *s, uses,
      [&](porta_be_msg msg) {
        return PORTA_SLOT_CALL(t, kernel_launch, s->be, k->be, config, be_args, arg_count, msg);
      },
      [&] {
        porta::hal::GraphNode node;
        node.kind = PORTA_GRAPH_NODE_KERNEL;
        node.kernel = k;
        node.config = *config;
        node.config.struct_size = sizeof(porta_launch_config_t);
        node.args.resize(arg_count);
        node.arg_buffers.resize(arg_count);
        node.scalars.resize(size_t{arg_count} * porta::hal::kMaxScalarSize);
        for (uint32_t i = 0; i < arg_count; ++i) {
          node.SetArg(i, be_args[i], Ref<Buffer>::Share(arg_buffers[i]));
        }
        return porta::hal::CaptureNode(kFn, *s, std::move(node));
      });
} catch (...) {
  return porta::hal::ExceptionStatus("porta_kernel_launch");
}

}  // extern "C"
