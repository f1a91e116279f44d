// Kernel launches: limits checked against what the device reported (the constrained profile's
// narrower ones included), arguments set under the kernel's lock, buffer offsets turned into
// sub-buffers or, where the offset is not aligned for one, staged through a temporary buffer.
#include <algorithm>
#include <vector>

#include "backends/opencl/opencl_objects.h"
#include "porta/sdk/message.h"

namespace porta::opencl {
namespace {

// An argument whose offset is not aligned for a sub-buffer: the kernel sees a temporary copy of
// the buffer's tail, which is copied back after the launch.
struct StagedArg {
  Buffer* buffer;
  uint64_t offset;
  cl_mem temp;
};

porta_status_t CheckLimits(const Device* device, const Kernel* kernel,
                           const porta_launch_config_t* config, porta_be_msg msg) {
  const porta_device_info_t& info = device->info;
  uint64_t group = 1;
  for (int d = 0; d < 3; ++d) {
    if (config->grid[d] == 0 || config->block[d] == 0) {
      return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                          "opencl: grid[%d] = %u and block[%d] = %u must be nonzero", d,
                          config->grid[d], d, config->block[d]);
    }
    if (config->block[d] > info.max_work_group_dims[d]) {
      return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                          "opencl: block[%d] = %u exceeds the device's limit %u", d,
                          config->block[d], info.max_work_group_dims[d]);
    }
    if (config->grid[d] > info.max_grid_dims[d]) {
      return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                          "opencl: grid[%d] = %u exceeds the device's limit %u", d, config->grid[d],
                          info.max_grid_dims[d]);
    }
    group *= config->block[d];
  }
  const uint64_t group_limit =
      std::min<uint64_t>(info.max_work_group_size, kernel->work_group_size);
  if (group > group_limit) {
    return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                        "opencl: a work-group of %llu items exceeds the limit %llu of kernel '%s' "
                        "on this device",
                        static_cast<unsigned long long>(group),
                        static_cast<unsigned long long>(group_limit), kernel->name.c_str());
  }
  const uint64_t local = kernel->static_local_bytes + config->local_memory_bytes;
  if (local > info.local_memory_bytes) {
    return common::Fail(msg, PORTA_ERROR_OUT_OF_RANGE,
                        "opencl: kernel '%s' needs %llu bytes of local memory (%llu static + %llu "
                        "dynamic); the device has %llu",
                        kernel->name.c_str(), static_cast<unsigned long long>(local),
                        static_cast<unsigned long long>(kernel->static_local_bytes),
                        static_cast<unsigned long long>(config->local_memory_bytes),
                        static_cast<unsigned long long>(info.local_memory_bytes));
  }
  return PORTA_OK;
}

}  // namespace

porta_status_t CheckLaunch(const Device* device, const Kernel* kernel,
                           const porta_launch_config_t* config, uint32_t arg_count,
                           porta_be_msg msg) {
  const porta_status_t status = CheckLimits(device, kernel, config, msg);
  if (status != PORTA_OK) return status;
  const bool dynamic_local = config->local_memory_bytes > 0;
  const uint32_t count = arg_count + (dynamic_local ? 1u : 0u);
  if (count != kernel->num_args) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                        "opencl: kernel '%s' has %u parameters; the launch passes %u argument(s)%s",
                        kernel->name.c_str(), kernel->num_args, arg_count,
                        dynamic_local ? " plus the dynamic local memory parameter" : "");
  }
  return PORTA_OK;
}

void LaunchGeometry(const porta_launch_config_t* config, size_t global[3], size_t local[3],
                    uint32_t* dims) {
  *dims = 1;
  for (int d = 0; d < 3; ++d) {
    local[d] = config->block[d];
    global[d] = static_cast<size_t>(config->grid[d]) * config->block[d];
    if (config->grid[d] > 1 || config->block[d] > 1) *dims = static_cast<uint32_t>(d) + 1;
  }
}

porta_status_t KernelLaunch(porta_be_stream_t stream_handle, porta_be_kernel_t kernel_handle,
                            const porta_launch_config_t* config, const porta_be_arg_t* args,
                            uint32_t arg_count, porta_be_msg msg) {
  Stream* stream = As<Stream>(stream_handle);
  Kernel* kernel = As<Kernel>(kernel_handle);
  Device* device = stream->device;
  const ClApi& api = *device->api;
  porta_status_t status = stream->state->Check(msg);
  if (status != PORTA_OK) return status;
  if (config == nullptr || (arg_count > 0 && args == nullptr)) {
    return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT, "opencl: config or args is NULL");
  }
  status = CheckLaunch(device, kernel, config, arg_count, msg);
  if (status != PORTA_OK) return status;
  const bool dynamic_local = config->local_memory_bytes > 0;
  const uint32_t count = arg_count + (dynamic_local ? 1u : 0u);

  // Launch arguments are few; the fixed arrays keep the common launch free of allocations.
  constexpr uint32_t kInline = 32;
  const void* inline_values[kInline];
  size_t inline_sizes[kInline];
  cl_mem inline_mems[kInline];
  std::vector<const void*> heap_values;
  std::vector<size_t> heap_sizes;
  std::vector<cl_mem> heap_mems;
  const void** values = inline_values;
  size_t* sizes = inline_sizes;
  cl_mem* mems = inline_mems;
  if (count > kInline) {
    heap_values.resize(count);
    heap_sizes.resize(count);
    heap_mems.resize(count);
    values = heap_values.data();
    sizes = heap_sizes.data();
    mems = heap_mems.data();
  }
  std::vector<StagedArg> staged;
  for (uint32_t i = 0; i < arg_count; ++i) {
    const porta_be_arg_t& arg = args[i];
    if (arg.kind == PORTA_ARG_SCALAR) {
      if (arg.scalar == nullptr || arg.scalar_size == 0) {
        return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                            "opencl: argument %u is a scalar without bytes", i);
      }
      values[i] = arg.scalar;
      sizes[i] = arg.scalar_size;
      continue;
    }
    Buffer* buffer = As<Buffer>(arg.buffer);
    if (arg.kind != PORTA_ARG_BUFFER || buffer == nullptr) {
      return common::Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                          "opencl: argument %u is neither a buffer nor a scalar", i);
    }
    status = BufferArgument(buffer, arg.offset, &mems[i], msg);
    if (status != PORTA_OK) return status;
    if (mems[i] == nullptr) {
      for (uint32_t j = 0; j < arg_count; ++j) {
        if (j != i && args[j].kind == PORTA_ARG_BUFFER && As<Buffer>(args[j].buffer) == buffer) {
          return common::Fail(msg, PORTA_ERROR_UNSUPPORTED,
                              "opencl: argument %u's offset %llu is not a multiple of the "
                              "device's base address alignment (%u bytes) and the same buffer is "
                              "also argument %u; OpenCL cannot alias such views",
                              i, static_cast<unsigned long long>(arg.offset),
                              device->base_address_align, j);
        }
      }
      cl_int error = CL_SUCCESS;
      const uint64_t tail = buffer->size - arg.offset;
      cl_mem temp = api.clCreateBuffer(device->context, CL_MEM_READ_WRITE,
                                       static_cast<size_t>(tail), nullptr, &error);
      if (error == CL_SUCCESS) {
        error = api.clEnqueueCopyBuffer(stream->queue, buffer->mem, temp, arg.offset, 0, tail, 0,
                                        nullptr, nullptr);
        if (error != CL_SUCCESS) api.clReleaseMemObject(temp);
      }
      if (error != CL_SUCCESS) {
        for (const StagedArg& done : staged) api.clReleaseMemObject(done.temp);
        return StreamEnqueueFailed(stream, error, "staging an unaligned buffer argument", msg);
      }
      staged.push_back({buffer, arg.offset, temp});
      mems[i] = temp;
    }
    values[i] = &mems[i];
    sizes[i] = sizeof(cl_mem);
  }
  if (dynamic_local) {
    values[arg_count] = nullptr;
    sizes[arg_count] = static_cast<size_t>(config->local_memory_bytes);
  }

  size_t global[3];
  size_t local[3];
  uint32_t dims = 1;
  LaunchGeometry(config, global, local, &dims);
  int failed_arg = -1;
  cl_int error = EnqueueKernel(device, stream->queue, kernel->kernel, &kernel->launch_mutex, global,
                               local, dims, values, sizes, count, &failed_arg);
  if (error == CL_SUCCESS) ++stream->generation;
  for (const StagedArg& arg : staged) {
    // The copy back is queued even when the launch failed: it restores nothing the kernel did
    // not write, and the temporary is released either way.
    if (error == CL_SUCCESS) {
      error = api.clEnqueueCopyBuffer(stream->queue, arg.temp, arg.buffer->mem, 0, arg.offset,
                                      arg.buffer->size - arg.offset, 0, nullptr, nullptr);
    }
    api.clReleaseMemObject(arg.temp);
  }
  if (error == CL_SUCCESS) return PORTA_OK;
  if (failed_arg >= 0) {
    const bool local_arg = dynamic_local && static_cast<uint32_t>(failed_arg) == arg_count;
    return common::Fail(
        msg, error == CL_INVALID_ARG_SIZE ? PORTA_ERROR_INVALID_ARGUMENT : ClStatus(error),
        "opencl: clSetKernelArg(%d) of kernel '%s' failed: %s (%d)%s", failed_arg,
        kernel->name.c_str(), ClErrorName(error), static_cast<int>(error),
        local_arg                      ? "; this is the dynamic local memory parameter"
        : error == CL_INVALID_ARG_SIZE ? "; the scalar's size does not match the parameter's type"
                                       : "");
  }
  return StreamEnqueueFailed(stream, error, "clEnqueueNDRangeKernel", msg);
}

}  // namespace porta::opencl
