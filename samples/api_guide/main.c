// The complete example of docs/api_guide.md, compiled and run by the tests so the guide cannot
// drift from the API. On every device it: queries the device, allocates buffers, copies data in,
// loads a module from OpenCL C and host sources, launches a kernel (scale_add) and one that uses
// dynamic local memory (block_sum), times the work with events, copies the results back, checks
// them, and shows how a rejected call reports its reason.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porta/porta.h"

// --- Kernels -------------------------------------------------------------------------------------

// OpenCL C. block_sum's last parameter is the dynamic local memory: Porta appends one __local
// pointer when a launch asks for local_memory_bytes > 0.
static const char kOpenClSource[] =
    "__kernel void scale_add(__global float* y, __global const float* x, float alpha, uint n) {\n"
    "  uint i = (uint)get_global_id(0);\n"
    "  if (i < n) y[i] = alpha * x[i] + y[i];\n"
    "}\n"
    "__kernel void block_sum(__global const float* in, __global float* out, uint n,\n"
    "                        __local float* scratch) {\n"
    "  uint lid = (uint)get_local_id(0);\n"
    "  uint i = (uint)get_global_id(0);\n"
    "  scratch[lid] = i < n ? in[i] : 0.0f;\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  for (uint stride = (uint)get_local_size(0) / 2; stride > 0; stride /= 2) {\n"
    "    if (lid < stride) scratch[lid] += scratch[lid + stride];\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  }\n"
    "  if (lid == 0) out[get_group_id(0)] = scratch[0];\n"
    "}\n";

// Host functions, called once per work-group. Buffers arrive as pointers (offset applied),
// scalars as pointers to their bytes, dynamic local memory as group->local_memory.
static int32_t ScaleAddHost(const porta_host_group_t* group) {
  float* y = (float*)group->args[0].ptr;
  const float* x = (const float*)group->args[1].ptr;
  float alpha;
  uint32_t n;
  memcpy(&alpha, group->args[2].ptr, sizeof(alpha));
  memcpy(&n, group->args[3].ptr, sizeof(n));
  const uint32_t first = group->group_id[0] * group->group_size[0];
  for (uint32_t i = first; i < first + group->group_size[0] && i < n; ++i)
    y[i] = alpha * x[i] + y[i];
  return 0;
}

static int32_t BlockSumHost(const porta_host_group_t* group) {
  const float* in = (const float*)group->args[0].ptr;
  float* out = (float*)group->args[1].ptr;
  uint32_t n;
  memcpy(&n, group->args[2].ptr, sizeof(n));
  float* scratch = (float*)group->local_memory;
  const uint32_t size = group->group_size[0];
  if (scratch == NULL || group->local_memory_bytes < size * sizeof(float)) return 1;
  const uint32_t first = group->group_id[0] * size;
  for (uint32_t lid = 0; lid < size; ++lid) scratch[lid] = first + lid < n ? in[first + lid] : 0.0f;
  // The same tree as the OpenCL kernel, so both formats round identically.
  for (uint32_t stride = size / 2; stride > 0; stride /= 2) {
    for (uint32_t lid = 0; lid < stride; ++lid) scratch[lid] += scratch[lid + stride];
  }
  out[group->group_id[0]] = scratch[0];
  return 0;
}

static const porta_host_kernel_t kHostKernels[] = {{"scale_add", ScaleAddHost},
                                                   {"block_sum", BlockSumHost}};

// --- Error handling ------------------------------------------------------------------------------

// Every fallible call returns a porta_status_t; porta_last_error_message() says why it failed.
#define CHECK(call)                                                            \
  do {                                                                         \
    porta_status_t status_ = (call);                                           \
    if (status_ != PORTA_OK) {                                                 \
      fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call, \
              porta_status_string(status_), porta_last_error_message());       \
      goto cleanup;                                                            \
    }                                                                          \
  } while (0)

enum { kN = 4096, kBlock = 64 };

// Runs the whole example on one device. Returns 0 on success.
static int RunExample(porta_device_t device) {
  int result = 1;
  porta_stream_t stream = NULL;
  porta_buffer_t x = NULL, y = NULL, sums = NULL;
  porta_module_t module = NULL;
  porta_event_t start = NULL, stop = NULL;
  float host_x[kN], host_y[kN], host_sums[kN / kBlock];

  // 1. What is this device?
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  CHECK(porta_device_get_info(device, &info));
  printf("%s [%s], %u compute units, %" PRIu64 " MiB\n", info.name, info.backend,
         info.compute_units, info.global_memory_bytes >> 20);
  if ((info.kernel_formats &
       (PORTA_FORMAT_BIT(PORTA_FORMAT_HOST) | PORTA_FORMAT_BIT(PORTA_FORMAT_OPENCL_C))) == 0) {
    printf("  skipped: the device takes neither host nor OpenCL C kernels\n");
    return 0;
  }
  if (info.max_work_group_size < kBlock || info.local_memory_bytes < kBlock * sizeof(float)) {
    printf("  skipped: work-groups of %d items with %zu bytes of local memory do not fit\n", kBlock,
           kBlock * sizeof(float));
    return 0;
  }

  // 2. A stream (in-order queue) and device buffers.
  CHECK(porta_stream_create(device, &stream));
  CHECK(porta_buffer_alloc(device, sizeof(host_x), PORTA_MEMORY_DEVICE, &x));
  CHECK(porta_buffer_alloc(device, sizeof(host_y), PORTA_MEMORY_DEVICE, &y));
  CHECK(porta_buffer_alloc(device, sizeof(host_sums), PORTA_MEMORY_DEVICE, &sums));

  // 3. Copies are asynchronous: host memory must stay untouched until the stream passes them.
  for (int i = 0; i < kN; ++i) {
    host_x[i] = (float)(i % 17);
    host_y[i] = 1.0f;
  }
  CHECK(porta_copy_host_to_device(stream, x, 0, host_x, sizeof(host_x)));
  CHECK(porta_copy_host_to_device(stream, y, 0, host_y, sizeof(host_y)));

  // 4. One module description with the kernels in two formats; the device takes the first one
  //    it accepts. entry_names makes the load fail early if a kernel is missing.
  const char* entries[] = {"scale_add", "block_sum"};
  const porta_module_source_t sources[] = {
      {PORTA_FORMAT_OPENCL_C, kOpenClSource, sizeof(kOpenClSource) - 1, "-cl-std=CL1.2", entries,
       2},
      {PORTA_FORMAT_HOST, kHostKernels, sizeof(kHostKernels), NULL, entries, 2},
  };
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources;
  desc.source_count = 2;
  CHECK(porta_module_load(device, &desc, &module));
  porta_kernel_t scale_add = NULL, block_sum = NULL;
  CHECK(porta_module_get_kernel(module, "scale_add", &scale_add));
  CHECK(porta_module_get_kernel(module, "block_sum", &block_sum));

  // 5. Launch y = 2 * x + y, then per-block sums of y, between two timing events.
  const int timed = (info.capabilities & PORTA_CAP_TIMESTAMPS) != 0;
  if (timed) {
    CHECK(porta_event_create(device, PORTA_EVENT_DEFAULT, &start));
    CHECK(porta_event_create(device, PORTA_EVENT_DEFAULT, &stop));
    CHECK(porta_event_record(start, stream));
  }
  const float alpha = 2.0f;
  const uint32_t n = kN;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.grid[0] = kN / kBlock;
  config.block[0] = kBlock;
  const porta_kernel_arg_t scale_args[] = {porta_arg_buffer(y, 0), porta_arg_buffer(x, 0),
                                           porta_arg_scalar(&alpha, sizeof(alpha)),
                                           porta_arg_scalar(&n, sizeof(n))};
  CHECK(porta_kernel_launch(stream, scale_add, &config, scale_args, 4));
  config.local_memory_bytes = kBlock * sizeof(float);
  const porta_kernel_arg_t sum_args[] = {porta_arg_buffer(y, 0), porta_arg_buffer(sums, 0),
                                         porta_arg_scalar(&n, sizeof(n))};
  CHECK(porta_kernel_launch(stream, block_sum, &config, sum_args, 3));
  if (timed) CHECK(porta_event_record(stop, stream));
  CHECK(porta_copy_device_to_host(stream, host_y, y, 0, sizeof(host_y)));
  CHECK(porta_copy_device_to_host(stream, host_sums, sums, 0, sizeof(host_sums)));

  // 6. Wait. A fault inside a kernel would surface here as PORTA_ERROR_DEVICE_LOST.
  CHECK(porta_stream_synchronize(stream));
  if (timed) {
    float ms = 0.0f;
    CHECK(porta_event_elapsed_ms(start, stop, &ms));
    printf("  kernels took %.3f ms\n", (double)ms);
  }

  // 7. Check on the host. Every value is a small integer, so float sums are exact.
  for (int i = 0; i < kN; ++i) {
    if (host_y[i] != 2.0f * (float)(i % 17) + 1.0f) {
      fprintf(stderr, "  y[%d] = %g, expected %g\n", i, (double)host_y[i], 2.0 * (i % 17) + 1.0);
      goto cleanup;
    }
  }
  for (int g = 0; g < kN / kBlock; ++g) {
    float expected = 0.0f;
    for (int i = g * kBlock; i < (g + 1) * kBlock; ++i) expected += 2.0f * (float)(i % 17) + 1.0f;
    if (host_sums[g] != expected) {
      fprintf(stderr, "  sums[%d] = %g, expected %g\n", g, (double)host_sums[g], (double)expected);
      goto cleanup;
    }
  }

  // 8. Bad input is refused with a status and a reason, never a crash: this copy runs past the
  //    end of |x|.
  porta_status_t status = porta_copy_host_to_device(stream, x, sizeof(host_x) - 4, host_x, 8);
  if (status != PORTA_ERROR_OUT_OF_RANGE) {
    fprintf(stderr, "  an out-of-range copy returned %s\n", porta_status_string(status));
    goto cleanup;
  }
  printf("  rejected copy: %s: %s\n", porta_status_string(status), porta_last_error_message());
  printf("  OK\n");
  result = 0;

cleanup:
  // Destroying objects that queued work still uses is safe: Porta keeps them alive until then.
  if (start != NULL) porta_event_destroy(start);
  if (stop != NULL) porta_event_destroy(stop);
  if (module != NULL) porta_module_destroy(module);
  if (x != NULL) porta_buffer_free(x);
  if (y != NULL) porta_buffer_free(y);
  if (sums != NULL) porta_buffer_free(sums);
  if (stream != NULL) porta_stream_destroy(stream);
  return result;
}

int main(void) {
  // NULL options: built-in backends, plugins from PORTA_PLUGIN_PATH, filter from PORTA_DEVICES.
  porta_runtime_t runtime = NULL;
  porta_status_t status = porta_runtime_create(NULL, &runtime);
  if (status != PORTA_OK) {
    fprintf(stderr, "porta_runtime_create: %s: %s\n", porta_status_string(status),
            porta_last_error_message());
    return 1;
  }
  uint32_t count = 0;
  int failures = 0;
  status = porta_runtime_device_count(runtime, &count);
  for (uint32_t i = 0; status == PORTA_OK && i < count; ++i) {
    porta_device_t device = NULL;
    status = porta_runtime_device(runtime, i, &device);
    if (status == PORTA_OK) failures += RunExample(device);
  }
  if (status != PORTA_OK) {
    fprintf(stderr, "listing devices: %s: %s\n", porta_status_string(status),
            porta_last_error_message());
    ++failures;
  }
  porta_runtime_destroy(runtime);
  return failures == 0 ? 0 : 1;
}
