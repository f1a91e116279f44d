#include "kernels/core/launch.h"

#include "kernels/core/status.h"

namespace porta::ops {

KernelLaunch::KernelLaunch(const Context& context, Family kernel_family)
    : family(kernel_family), rebase(context.format == PORTA_FORMAT_SPIRV_SHADER) {}

uint32_t KernelLaunch::Bind(porta_buffer_t buffer, porta_dtype_t dtype, uint64_t element) {
  const uint64_t size = porta_dtype_size(dtype);
  const uint64_t base = rebase ? element * size / 256 * 256 : 0;
  buffers.push_back(buffer);
  buffer_offsets.push_back(base);
  return U32(element - base / size);
}

porta_status_t CheckDescSize(const void* desc, size_t struct_size, size_t expected,
                             const char* init) {
  if (desc != nullptr && struct_size >= expected) return PORTA_OK;
  return Fail(PORTA_ERROR_INVALID_ARGUMENT, "desc is %s; initialize it with %s",
              desc == nullptr ? "NULL" : "too small (struct_size)", init);
}

porta_status_t BeginOp(porta_ops_context_t handle, porta_stream_t stream, Context** out) {
  PORTA_OPS_RETURN_IF_ERROR(LookupContext(handle, out));
  porta_device_t owner = nullptr;
  if (porta_stream_device(stream, &owner) != PORTA_OK) {
    return Forward(PORTA_ERROR_INVALID_HANDLE, "stream");
  }
  if (owner != (*out)->device) {
    porta_device_info_t other = PORTA_DEVICE_INFO_INIT;
    porta_device_get_info(owner, &other);
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "the stream belongs to device '%s' (%s); the context's device is '%s' (%s)",
                other.name, other.backend, (*out)->info.name, (*out)->info.backend);
  }
  return PORTA_OK;
}

porta_status_t EnqueueAll(Context& context, porta_stream_t stream,
                          const std::vector<KernelLaunch>& launches) {
  std::vector<porta_kernel_t> kernels(launches.size());
  for (size_t i = 0; i < launches.size(); ++i) {
    PORTA_OPS_RETURN_IF_ERROR(
        GetKernel(context, launches[i].family, launches[i].params, launches[i].wide, &kernels[i]));
  }
  std::vector<porta_kernel_arg_t> args;
  for (size_t i = 0; i < launches.size(); ++i) {
    const KernelLaunch& launch = launches[i];
    args.clear();
    for (size_t b = 0; b < launch.buffers.size(); ++b) {
      args.push_back(porta_arg_buffer(launch.buffers[b], launch.buffer_offsets[b]));
    }
    args.push_back(porta_arg_scalar(launch.param_bytes.data(),
                                    static_cast<uint32_t>(launch.param_bytes.size())));
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    for (int d = 0; d < 3; ++d) {
      config.grid[d] = launch.grid[d];
      config.block[d] = launch.block[d];
    }
    const porta_status_t status = porta_kernel_launch(stream, kernels[i], &config, args.data(),
                                                      static_cast<uint32_t>(args.size()));
    if (status != PORTA_OK) {
      return Forward(status, std::string("launching the ") + FamilyName(launch.family) + " kernel" +
                                 (i > 0 ? " (earlier launches were enqueued)" : ""));
    }
  }
  return PORTA_OK;
}

bool AnyWide(std::initializer_list<porta_dtype_t> dtypes) {
  for (porta_dtype_t dtype : dtypes) {
    if (dtype == PORTA_DTYPE_F16 || dtype == PORTA_DTYPE_BF16) return true;
  }
  return false;
}

const char* ElementBucket(uint64_t elements) {
  return elements < (uint64_t{1} << 16) ? "small" : "large";
}

uint32_t WorkGroup(const Params& params) {
  return static_cast<uint32_t>(params.Get("wg", 64));
}

}  // namespace porta::ops
