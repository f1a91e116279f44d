// vector_add: the "hello world" of Porta. Runs c = a + b on every device the runtime finds, with
// one module description that carries the kernel in several formats (a host C function, OpenCL C
// text and, when glslc was found at build time, Vulkan SPIR-V); each device takes the first
// format it accepts. Results are checked on the host. Exits nonzero on any error or mismatch.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porta/porta.h"

// The kernel as OpenCL C, for OpenCL devices (GPUs, NPUs, PoCL on the CPU).
static const char kVectorAddOpenClC[] =
    "__kernel void vector_add(__global const float* a, __global const float* b,\n"
    "                         __global float* c, uint n) {\n"
    "  uint i = (uint)get_global_id(0);\n"
    "  if (i < n) c[i] = a[i] + b[i];\n"
    "}\n";

// The kernel as a host function, for the CPU device: called once per work-group.
static int32_t VectorAddHost(const porta_host_group_t* group) {
  const float* a = (const float*)group->args[0].ptr;
  const float* b = (const float*)group->args[1].ptr;
  float* c = (float*)group->args[2].ptr;
  uint32_t n = 0;
  memcpy(&n, group->args[3].ptr, sizeof(n));
  const uint32_t first = group->group_id[0] * group->group_size[0];
  for (uint32_t local = 0; local < group->group_size[0]; ++local) {
    const uint32_t i = first + local;
    if (i < n) c[i] = a[i] + b[i];
  }
  return 0;
}

static const porta_host_kernel_t kHostKernels[] = {{"vector_add", VectorAddHost}};

#ifdef PORTA_SAMPLE_HAS_SPIRV
// Compiled from vector_add.comp by glslc at build time and embedded (samples/CMakeLists.txt).
extern const unsigned char porta_sample_vector_add_spv[];
extern const size_t porta_sample_vector_add_spv_size;
#endif

#define VECTOR_SIZE 1000003u

// Reports a failed call with the runtime's detail and returns 1, so call sites read
// `if (status != PORTA_OK) return Fail(...)`.
static int Fail(const char* device, const char* what, porta_status_t status) {
  fprintf(stderr, "vector_add on %s: %s failed: %s: %s\n", device, what,
          porta_status_string(status), porta_last_error_message());
  return 1;
}

// The formats this sample carries, as a PORTA_FORMAT_BIT mask.
static uint32_t SampleFormats(void) {
  uint32_t formats = PORTA_FORMAT_BIT(PORTA_FORMAT_HOST) | PORTA_FORMAT_BIT(PORTA_FORMAT_OPENCL_C);
#ifdef PORTA_SAMPLE_HAS_SPIRV
  formats |= PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_SHADER);
#endif
  return formats;
}

typedef struct Buffers {
  porta_buffer_t a, b, c;
} Buffers;

static void FreeBuffers(Buffers* buffers) {
  if (buffers->a != NULL) porta_buffer_free(buffers->a);
  if (buffers->b != NULL) porta_buffer_free(buffers->b);
  if (buffers->c != NULL) porta_buffer_free(buffers->c);
}

// Runs vector_add on |device| and checks the result; returns 0 on success.
static int RunOnDevice(porta_device_t device, const porta_device_info_t* info, const float* a,
                       const float* b, float* c) {
  const char* name = info->name;
  const uint32_t n = VECTOR_SIZE;
  const uint64_t bytes = (uint64_t)n * sizeof(float);
  porta_module_source_t sources[3];
  uint32_t source_count = 0;
  const char* entries[] = {"vector_add"};
  memset(sources, 0, sizeof(sources));
  sources[source_count++] = (porta_module_source_t){
      PORTA_FORMAT_HOST, kHostKernels, sizeof(kHostKernels), NULL, entries, 1};
  sources[source_count++] = (porta_module_source_t){
      PORTA_FORMAT_OPENCL_C, kVectorAddOpenClC, sizeof(kVectorAddOpenClC) - 1, NULL, entries, 1};
#ifdef PORTA_SAMPLE_HAS_SPIRV
  sources[source_count++] = (porta_module_source_t){PORTA_FORMAT_SPIRV_SHADER,
                                                    porta_sample_vector_add_spv,
                                                    porta_sample_vector_add_spv_size,
                                                    NULL,
                                                    entries,
                                                    1};
#endif
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources;
  desc.source_count = source_count;

  porta_stream_t stream = NULL;
  porta_module_t module = NULL;
  porta_kernel_t kernel = NULL;
  Buffers buffers = {NULL, NULL, NULL};
  int failed = 1;
  porta_status_t status = porta_stream_create(device, &stream);
  if (status != PORTA_OK) return Fail(name, "porta_stream_create", status);
  if ((status = porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffers.a)) != PORTA_OK ||
      (status = porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffers.b)) != PORTA_OK ||
      (status = porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffers.c)) != PORTA_OK) {
    Fail(name, "porta_buffer_alloc", status);
    goto done;
  }
  if ((status = porta_module_load(device, &desc, &module)) != PORTA_OK) {
    Fail(name, "porta_module_load", status);
    goto done;
  }
  if ((status = porta_module_get_kernel(module, "vector_add", &kernel)) != PORTA_OK) {
    Fail(name, "porta_module_get_kernel", status);
    goto done;
  }

  // 256 items per work-group, or fewer on a device whose limit is lower.
  const uint32_t block = info->max_work_group_size < 256u ? info->max_work_group_size : 256u;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = block;
  config.grid[0] = (n + block - 1) / block;
  const porta_kernel_arg_t args[4] = {porta_arg_buffer(buffers.a, 0),
                                      porta_arg_buffer(buffers.b, 0),
                                      porta_arg_buffer(buffers.c, 0), porta_arg_scalar(&n, 4)};
  if ((status = porta_copy_host_to_device(stream, buffers.a, 0, a, bytes)) != PORTA_OK ||
      (status = porta_copy_host_to_device(stream, buffers.b, 0, b, bytes)) != PORTA_OK) {
    Fail(name, "porta_copy_host_to_device", status);
    goto done;
  }
  if ((status = porta_kernel_launch(stream, kernel, &config, args, 4)) != PORTA_OK) {
    Fail(name, "porta_kernel_launch", status);
    goto done;
  }
  if ((status = porta_copy_device_to_host(stream, c, buffers.c, 0, bytes)) != PORTA_OK) {
    Fail(name, "porta_copy_device_to_host", status);
    goto done;
  }
  if ((status = porta_stream_synchronize(stream)) != PORTA_OK) {
    Fail(name, "porta_stream_synchronize", status);
    goto done;
  }

  double max_error = 0.0;
  uint32_t mismatches = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const double error = fabs((double)c[i] - ((double)a[i] + (double)b[i]));
    if (error > max_error) max_error = error;
    // a[i] + b[i] is one correctly rounded float addition on every conforming device.
    if (c[i] != a[i] + b[i]) ++mismatches;
  }
  if (mismatches == 0) {
    printf("vector_add on %s (%s): OK (n=%u, max error %g)\n", name, info->backend, n, max_error);
    failed = 0;
  } else {
    fprintf(stderr, "vector_add on %s (%s): FAILED: %u of %u results wrong (max error %g)\n", name,
            info->backend, mismatches, n, max_error);
  }

done:
  FreeBuffers(&buffers);
  if (module != NULL) porta_module_destroy(module);
  porta_stream_destroy(stream);
  return failed;
}

int main(void) {
  porta_runtime_t runtime = NULL;
  porta_status_t status = porta_runtime_create(NULL, &runtime);
  if (status != PORTA_OK) return Fail("(no device)", "porta_runtime_create", status);
  uint32_t device_count = 0;
  if ((status = porta_runtime_device_count(runtime, &device_count)) != PORTA_OK) {
    porta_runtime_destroy(runtime);
    return Fail("(no device)", "porta_runtime_device_count", status);
  }

  const size_t n = VECTOR_SIZE;
  float* a = malloc(n * sizeof(float));
  float* b = malloc(n * sizeof(float));
  float* c = malloc(n * sizeof(float));
  if (a == NULL || b == NULL || c == NULL) {
    fprintf(stderr, "vector_add: out of host memory\n");
    free(a);
    free(b);
    free(c);
    porta_runtime_destroy(runtime);
    return 1;
  }
  for (size_t i = 0; i < n; ++i) {
    a[i] = (float)(i % 1000) * 0.5f;
    b[i] = (float)(i % 777) * 0.25f - 64.0f;
  }

  int failures = 0;
  uint32_t ran = 0;
  for (uint32_t i = 0; i < device_count; ++i) {
    porta_device_t device = NULL;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    if ((status = porta_runtime_device(runtime, i, &device)) != PORTA_OK ||
        (status = porta_device_get_info(device, &info)) != PORTA_OK) {
      failures += Fail("(device query)", "porta_runtime_device/porta_device_get_info", status);
      continue;
    }
    if ((info.kernel_formats & SampleFormats()) == 0) {
      printf(
          "vector_add on %s (%s): skipped: the device accepts none of the formats this "
          "build of the sample carries (kernel_formats 0x%x)\n",
          info.name, info.backend, info.kernel_formats);
      continue;
    }
    memset(c, 0, n * sizeof(float));
    failures += RunOnDevice(device, &info, a, b, c);
    ++ran;
  }
  if (ran == 0) {
    fprintf(stderr, "vector_add: no device could run the sample (%u found)\n", device_count);
    failures += 1;
  }
  free(a);
  free(b);
  free(c);
  porta_runtime_destroy(runtime);
  return failures == 0 ? 0 : 1;
}
