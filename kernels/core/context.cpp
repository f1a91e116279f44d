// porta_ops_context_t: creation, the handle registry, the kernel cache (modules built from the
// embedded kernels on first use), the workspace (from the device's buffer pool) and the tuning
// overlay.
#include "kernels/core/context.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <shared_mutex>
#include <unordered_set>

#include "kernels/core/status.h"
#include "kernels/cpu/host_kernels.h"
#include "kernels/porta_ops_build.h"

namespace porta::ops {
namespace {

struct Registry {
  std::shared_mutex mutex;
  std::unordered_set<const void*> live;
};

Registry& Contexts() {
  static Registry* registry = new Registry();  // never destroyed: handles may outlive statics
  return *registry;
}

// The order in which formats are preferred when a device accepts several: native code first,
// then the formats the driver compiles.
constexpr porta_kernel_format_t kFormatPreference[] = {
    PORTA_FORMAT_HOST,         PORTA_FORMAT_CUBIN,    PORTA_FORMAT_PTX,          PORTA_FORMAT_HSACO,
    PORTA_FORMAT_SPIRV_SHADER, PORTA_FORMAT_OPENCL_C, PORTA_FORMAT_SPIRV_KERNEL,
};

bool LibraryHasFormat(porta_kernel_format_t format) {
  if (format == PORTA_FORMAT_HOST) return true;
  for (size_t i = 0; i < kEmbeddedKernelCount; ++i) {
    if (kEmbeddedKernels[i].format == format) return true;
  }
  return false;
}

std::string FormatList(uint32_t mask) {
  std::string text;
  for (int32_t format = 1; format < PORTA_FORMAT_COUNT; ++format) {
    if ((mask & PORTA_FORMAT_BIT(format)) == 0) continue;
    if (!text.empty()) text += ", ";
    text += porta_kernel_format_name(format);
  }
  return text.empty() ? "none" : text;
}

void ChooseFormat(Context& context) {
  uint32_t shipped = 0;
  for (porta_kernel_format_t format : kFormatPreference) {
    if (!LibraryHasFormat(format)) continue;
    shipped |= PORTA_FORMAT_BIT(format);
    if (context.format == 0 && (context.info.kernel_formats & PORTA_FORMAT_BIT(format)) != 0) {
      context.format = format;
    }
  }
  if (context.format == 0) {
    context.format_problem = "the device accepts kernel formats " +
                             FormatList(context.info.kernel_formats) +
                             "; this build of the operator library ships " + FormatList(shipped);
  }
}

const EmbeddedKernel* FindEmbedded(porta_kernel_format_t format, const char* family,
                                   const std::string& variant, bool wide) {
  for (size_t i = 0; i < kEmbeddedKernelCount; ++i) {
    const EmbeddedKernel& entry = kEmbeddedKernels[i];
    if (entry.format != format) continue;
    if (std::strcmp(entry.family, "all") != 0 && std::strcmp(entry.family, family) != 0) continue;
    if (entry.variant != variant) continue;
    if (format == PORTA_FORMAT_SPIRV_SHADER && (entry.wide != 0) != wide) continue;
    return &entry;
  }
  return nullptr;
}

// The direct variants (no local memory, for CPU devices) are modules of their own: matmul's
// tiles with tk = 0 (OpenCL C; the Vulkan ones are among the named tiles) and attention with
// direct=1 (OpenCL C and Vulkan).
bool DirectVariant(Family family, const Params& params) {
  return (family == Family::kMatmul && params.Get("tk", 0) == 0) ||
         (family == Family::kAttention && params.Get("direct", 0) != 0);
}

std::string EntryName(porta_kernel_format_t format, Family family, const Params& params) {
  // The tile names the matmul kernel on every target but the host, which has one kernel for all.
  if (family == Family::kMatmul && format != PORTA_FORMAT_HOST) {
    // pack=1: the k-contiguous copy of b, a second entry of OpenCL C's direct program.
    if (params.Get("pack", 0) != 0) return "porta_matmul_pack";
    return "porta_matmul_" + MatmulTileName(params);
  }
  if (family == Family::kAttention && params.Get("direct", 0) != 0) return "porta_attention_direct";
  // The per-row quantized matrix-vector kernel (mv=2) is a second entry of the family's module,
  // except in the one-entry Vulkan shader, which a parameter flag switches instead.
  if (family == Family::kQmatvec && params.Get("mv", 1) == 2 && format != PORTA_FORMAT_HOST &&
      format != PORTA_FORMAT_SPIRV_SHADER) {
    return "porta_qmatvec_rows";
  }
  return std::string("porta_") + FamilyName(family);
}

}  // namespace

Context::~Context() {
  for (auto& [key, loaded] : modules) porta_module_destroy(loaded.module);
}

porta_status_t LookupContext(porta_ops_context_t handle, Context** out) {
  if (handle == nullptr) return Fail(PORTA_ERROR_INVALID_HANDLE, "the context is NULL");
  Registry& registry = Contexts();
  std::shared_lock lock(registry.mutex);
  if (registry.live.count(handle) == 0) {
    return Fail(PORTA_ERROR_INVALID_HANDLE,
                "the context %p is not a live porta_ops_context_t (destroyed, or never created)",
                static_cast<const void*>(handle));
  }
  *out = handle;
  return PORTA_OK;
}

std::string DtypeProblem(const Context& context, porta_dtype_t dtype) {
  if (dtype == PORTA_DTYPE_I8) {
    return "i8 is reserved for the quantized operations; no operation accepts it yet";
  }
  if ((dtype == PORTA_DTYPE_F16 || dtype == PORTA_DTYPE_BF16) &&
      context.format == PORTA_FORMAT_SPIRV_SHADER &&
      (context.info.capabilities & PORTA_CAP_FP16) == 0) {
    return std::string(porta_dtype_name(dtype)) +
           " tensors need 16-bit storage buffers on Vulkan, which the device does not declare "
           "(PORTA_CAP_FP16)";
  }
  return "";
}

porta_status_t GetKernel(Context& context, Family family, const Params& params, bool wide,
                         porta_kernel_t* out) {
  if (context.format == 0) {
    return Fail(PORTA_ERROR_UNSUPPORTED, "%s", context.format_problem.c_str());
  }
  const porta_kernel_format_t format = context.format;
  const std::string entry = EntryName(format, family, params);
  // The registered variant: matmul's tile, attention's "direct", none for the other families.
  std::string variant;
  if (family == Family::kMatmul) {
    variant = MatmulTileName(params);
  } else if (DirectVariant(family, params)) {
    variant = "direct";
  }
  // The module key: one module holds every family for the formats built as one binary.
  std::string key = porta_kernel_format_name(format);
  std::string build_options;
  const bool per_family = format == PORTA_FORMAT_OPENCL_C || format == PORTA_FORMAT_SPIRV_SHADER ||
                          format == PORTA_FORMAT_SPIRV_KERNEL;
  if (per_family) {
    key += std::string(":") + FamilyName(family);
    if (!variant.empty()) key += ":" + variant;
    if (format == PORTA_FORMAT_SPIRV_SHADER && wide) key += ":16";
  }
  // OpenCL C builds any tile at run time from the tile's -D options.
  if (format == PORTA_FORMAT_OPENCL_C && family == Family::kMatmul) {
    build_options = "-DPORTA_MM_TM=" + std::to_string(params.Get("tm", 0)) +
                    " -DPORTA_MM_TN=" + std::to_string(params.Get("tn", 0)) +
                    " -DPORTA_MM_TK=" + std::to_string(params.Get("tk", 0)) +
                    " -DPORTA_MM_WM=" + std::to_string(params.Get("wm", 0)) +
                    " -DPORTA_MM_WN=" + std::to_string(params.Get("wn", 0)) +
                    " -DPORTA_MM_NAME=porta_matmul_" + variant;
  }

  std::lock_guard<std::mutex> lock(context.module_mutex);
  auto found = context.modules.find(key);
  if (found == context.modules.end()) {
    porta_module_source_t source{};
    source.format = format;
    if (format == PORTA_FORMAT_HOST) {
      source.data = HostKernelTable();
      source.size = HostKernelTableSize();
    } else {
      const char* lookup_family = per_family ? FamilyName(family) : "all";
      // OpenCL C has two programs of matmul (the tiled one, any tk > 0, and the direct one,
      // tk = 0) and of attention (work-group per row, and direct=1).
      std::string lookup_variant = per_family ? variant : "";
      if (format == PORTA_FORMAT_OPENCL_C) {
        lookup_variant = DirectVariant(family, params) ? "direct" : "";
      }
      const EmbeddedKernel* embedded = FindEmbedded(format, lookup_family, lookup_variant, wide);
      if (embedded == nullptr) {
        return Fail(PORTA_ERROR_UNSUPPORTED,
                    "this build of the operator library has no %s kernel for %s%s%s",
                    porta_kernel_format_name(format), FamilyName(family),
                    variant.empty() ? "" : " variant ", variant.c_str());
      }
      source.data = embedded->data;
      source.size = embedded->size;
    }
    source.build_options = build_options.empty() ? nullptr : build_options.c_str();
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = &source;
    desc.source_count = 1;
    Context::LoadedModule loaded;
    const porta_status_t status = porta_module_load(context.device, &desc, &loaded.module);
    if (status != PORTA_OK) return Forward(status, "building the " + entry + " kernel");
    found = context.modules.emplace(key, std::move(loaded)).first;
  }
  Context::LoadedModule& loaded = found->second;
  auto kernel = loaded.kernels.find(entry);
  if (kernel == loaded.kernels.end()) {
    porta_kernel_t handle = nullptr;
    const porta_status_t status = porta_module_get_kernel(loaded.module, entry.c_str(), &handle);
    if (status != PORTA_OK) return Forward(status, "looking up kernel " + entry);
    kernel = loaded.kernels.emplace(entry, handle).first;
  }
  *out = kernel->second;
  return PORTA_OK;
}

TuningChoice Choose(Context& context, Family family, porta_dtype_t dtype, const char* bucket) {
  std::lock_guard<std::mutex> lock(context.mutex);
  auto key = std::make_tuple(family, dtype, std::string(bucket));
  auto found = context.choices.find(key);
  if (found == context.choices.end()) {
    TuningChoice choice =
        ChooseParams(context.overlay, family, porta_dtype_name(dtype), bucket, context.info,
                     context.format == 0 ? PORTA_FORMAT_HOST : context.format);
    found = context.choices.emplace(std::move(key), std::move(choice)).first;
  }
  return found->second;
}

porta_status_t AcquireWorkspace(Context& context, porta_stream_t stream, uint64_t size,
                                porta_buffer_t* out) {
  const porta_status_t status = porta_buffer_alloc_async(stream, size, PORTA_MEMORY_DEVICE, out);
  if (status != PORTA_OK) {
    return Forward(status, "allocating " + std::to_string(size) + " bytes of workspace on " +
                               context.info.name);
  }
  return PORTA_OK;
}

void ReleaseWorkspace(porta_stream_t stream, porta_buffer_t buffer) {
  // Cannot fail: the stream and buffer were valid when the buffer was allocated on it.
  porta_buffer_free_async(stream, buffer);
}

}  // namespace porta::ops

using porta::ops::Context;
using porta::ops::Fail;
using porta::ops::Guard;
using porta::ops::LookupContext;

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_context_create(porta_device_t device,
                                                      const porta_ops_context_options_t* options,
                                                      porta_ops_context_t* out_context) {
  return Guard("porta_ops_context_create", [&]() -> porta_status_t {
    if (out_context == nullptr) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "out_context is NULL");
    }
    *out_context = nullptr;
    if (options != nullptr && options->struct_size < sizeof(size_t)) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "options->struct_size is %zu; set it with "
                  "PORTA_OPS_CONTEXT_OPTIONS_INIT",
                  options->struct_size);
    }
    auto context = std::make_unique<porta_ops_context>();
    context->device = device;
    porta_status_t status = porta_device_get_info(device, &context->info);
    if (status != PORTA_OK) return porta::ops::Forward(status, "device");
    porta::ops::ChooseFormat(*context);
    const bool has_overlay =
        options != nullptr &&
        options->struct_size >= offsetof(porta_ops_context_options_t, tuning_overlay) +
                                    sizeof(options->tuning_overlay) &&
        options->tuning_overlay != nullptr;
    const bool has_flags =
        options != nullptr &&
        options->struct_size >= offsetof(porta_ops_context_options_t, flags) + sizeof(uint32_t);
    const uint32_t flags = has_flags ? options->flags : 0u;
    if ((flags & ~PORTA_OPS_CONTEXT_NO_TUNING_FILE) != 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "options->flags 0x%x has bits that are not PORTA_OPS_CONTEXT_* flags", flags);
    }
    if (has_overlay) {
      std::string error;
      if (!porta::ops::ParseTuningTable(options->tuning_overlay, &context->overlay, &error)) {
        return Fail(PORTA_ERROR_INVALID_ARGUMENT, "tuning_overlay: %s", error.c_str());
      }
    }
    // The tuning file, unless something turns it off (the first reason that applies is kept).
    const char* env = std::getenv("PORTA_OPS_TUNING_FILE");
    std::string off_reason;
    if ((flags & PORTA_OPS_CONTEXT_NO_TUNING_FILE) != 0) {
      off_reason = "turned off by PORTA_OPS_CONTEXT_NO_TUNING_FILE";
    } else if (env != nullptr && std::strcmp(env, "off") == 0) {
      off_reason = "turned off by PORTA_OPS_TUNING_FILE=off";
    } else if (has_overlay) {
      off_reason = "replaced by options->tuning_overlay";
    }
    context->tuning_file = porta::ops::LoadTuningFile(
        context->info, context->format == 0 ? PORTA_FORMAT_HOST : context->format,
        off_reason.empty(), off_reason);
    if (context->tuning_file.state == PORTA_OPS_TUNING_FILE_LOADED) {
      context->overlay = std::move(context->tuning_file.rows);
      context->tuning_file.rows.clear();
    }
    porta::ops::Registry& registry = porta::ops::Contexts();
    std::unique_lock lock(registry.mutex);
    registry.live.insert(context.get());
    *out_context = context.release();
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_ops_context_destroy(porta_ops_context_t context) {
  return Guard("porta_ops_context_destroy", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(LookupContext(context, &found));
    {
      porta::ops::Registry& registry = porta::ops::Contexts();
      std::unique_lock lock(registry.mutex);
      registry.live.erase(context);
    }
    delete context;
    return PORTA_OK;
  });
}

PORTA_OPS_API const char* porta_ops_tuning_table(void) {
  return porta::ops::ShippedTuningText();
}

PORTA_OPS_API porta_status_t porta_ops_set_tuning_overlay(porta_ops_context_t context,
                                                          const char* rows) {
  return Guard("porta_ops_set_tuning_overlay", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(LookupContext(context, &found));
    std::vector<porta::ops::TuningRow> parsed;
    const std::string error = porta::ops::ParseRowsForDevice(
        rows, found->info, found->format == 0 ? PORTA_FORMAT_HOST : found->format, &parsed);
    if (!error.empty()) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "%s", error.c_str());
    std::lock_guard<std::mutex> lock(found->mutex);
    found->overlay = std::move(parsed);
    found->choices.clear();
    return PORTA_OK;
  });
}

}  // extern "C"
