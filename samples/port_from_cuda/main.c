// port_from_cuda: original/matmul_reduce.cu ported to Porta. The same two kernels — a tiled
// shared-memory matrix product and a block reduction run in passes — run on every device the
// runtime finds, each in a format the device accepts:
//
//   cubin, ptx  the original CUDA kernels, compiled by nvcc at build time (CUDA devices)
//   hsaco       the same CUDA source, compiled by hipcc (HIP devices)
//   opencl-c    kernels/matmul_reduce.cl, compiled by the driver (OpenCL devices)
//   spirv-kernel the same OpenCL C, compiled offline by clang-15 and llvm-spirv-15 (Level Zero)
//   spirv-shader kernels/*.comp, compiled by glslc (Vulkan devices)
//   host        the C functions below (the CPU device)
//
// Formats whose compiler was missing at build time are left out, and a device that accepts none
// of the formats this build carries is reported as skipped. Results are checked against the host
// (matmul within a rounding bound, the sum against a double-accumulated host sum); any failure
// or mismatch, or no device run at all, makes the exit status nonzero. README.md maps each step
// to the CUDA call it replaces.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porta/porta.h"

// The problem of original/matmul_reduce.cu: ragged on purpose, no dimension a multiple of 16.
enum { kM = 130, kN = 98, kK = 66, kCount = 100003, kMaxTile = 16, kMaxReduceBlock = 256 };

// Kernel arguments are a buffer plus a byte offset; the reduction's two scratch halves start at
// multiples of 256 bytes, the largest storage-buffer offset alignment Vulkan allows.
enum { kOffsetAlignment = 256 };

// --- Kernels as host C functions (the CPU device) ------------------------------------------------
//
// A host kernel is called once per work-group and loops over the group's items itself. Each
// __syncthreads() of the CUDA kernel ends a phase: the host kernel runs a phase for every item
// before it starts the next.

static int32_t MatmulTiledHost(const porta_host_group_t* group) {
  const float* a = (const float*)group->args[0].ptr;
  const float* b = (const float*)group->args[1].ptr;
  float* c = (float*)group->args[2].ptr;
  uint32_t m, n, k;
  memcpy(&m, group->args[3].ptr, sizeof(m));
  memcpy(&n, group->args[4].ptr, sizeof(n));
  memcpy(&k, group->args[5].ptr, sizeof(k));
  const uint32_t tile = group->group_size[0];
  if (tile > kMaxTile || group->group_size[1] != tile) return 1;
  float tile_a[kMaxTile][kMaxTile], tile_b[kMaxTile][kMaxTile], acc[kMaxTile][kMaxTile];
  memset(acc, 0, sizeof(acc));
  const uint32_t row0 = group->group_id[1] * tile, col0 = group->group_id[0] * tile;
  for (uint32_t t = 0; t < k; t += tile) {
    for (uint32_t ty = 0; ty < tile; ++ty) {
      for (uint32_t tx = 0; tx < tile; ++tx) {
        const uint32_t row = row0 + ty, col = col0 + tx;
        tile_a[ty][tx] = row < m && t + tx < k ? a[row * k + t + tx] : 0.0f;
        tile_b[ty][tx] = t + ty < k && col < n ? b[(t + ty) * n + col] : 0.0f;
      }
    }
    for (uint32_t ty = 0; ty < tile; ++ty) {
      for (uint32_t tx = 0; tx < tile; ++tx) {
        for (uint32_t i = 0; i < tile; ++i) acc[ty][tx] += tile_a[ty][i] * tile_b[i][tx];
      }
    }
  }
  for (uint32_t ty = 0; ty < tile && row0 + ty < m; ++ty) {
    for (uint32_t tx = 0; tx < tile && col0 + tx < n; ++tx)
      c[(row0 + ty) * n + col0 + tx] = acc[ty][tx];
  }
  return 0;
}

// CUDA's dynamic shared memory (extern __shared__) arrives as group->local_memory.
static int32_t BlockReduceSumHost(const porta_host_group_t* group) {
  const float* in = (const float*)group->args[0].ptr;
  float* out = (float*)group->args[1].ptr;
  uint32_t n;
  memcpy(&n, group->args[2].ptr, sizeof(n));
  float* partial = (float*)group->local_memory;
  const uint32_t size = group->group_size[0];
  if (partial == NULL || group->local_memory_bytes < size * sizeof(float)) return 1;
  const uint32_t first = group->group_id[0] * 2 * size;
  for (uint32_t tid = 0; tid < size; ++tid) {
    const uint32_t i = first + tid;
    partial[tid] = i < n ? in[i] : 0.0f;
    if (i + size < n) partial[tid] += in[i + size];
  }
  for (uint32_t stride = size / 2; stride > 0; stride /= 2) {
    for (uint32_t tid = 0; tid < stride; ++tid) partial[tid] += partial[tid + stride];
  }
  out[group->group_id[0]] = partial[0];
  return 0;
}

static const porta_host_kernel_t kHostKernels[] = {{"matmul_tiled", MatmulTiledHost},
                                                   {"block_reduce_sum", BlockReduceSumHost}};
static const size_t kHostKernelsSize = sizeof(kHostKernels);

// --- Kernels compiled at build time and embedded (CMakeLists.txt) --------------------------------

// Declares the byte array and size porta_embed_files defines for one embedded file.
#define DECLARE_EMBEDDED(symbol)       \
  extern const unsigned char symbol[]; \
  extern const size_t symbol##_size

// kernels/matmul_reduce.cl as text, always embedded.
DECLARE_EMBEDDED(port_from_cuda_matmul_reduce_cl);
#ifdef PORT_FROM_CUDA_HAS_CUBIN
DECLARE_EMBEDDED(port_from_cuda_matmul_reduce_cubin);
#endif
#ifdef PORT_FROM_CUDA_HAS_PTX
DECLARE_EMBEDDED(port_from_cuda_matmul_reduce_ptx);
#endif
#ifdef PORT_FROM_CUDA_HAS_HSACO
DECLARE_EMBEDDED(port_from_cuda_matmul_reduce_hsaco);
#endif
#ifdef PORT_FROM_CUDA_HAS_SPIRV_KERNEL
DECLARE_EMBEDDED(port_from_cuda_matmul_reduce_spv);
#endif
#ifdef PORTA_SAMPLE_HAS_SPIRV
DECLARE_EMBEDDED(porta_sample_matmul_tiled_spv);
DECLARE_EMBEDDED(porta_sample_block_reduce_sum_spv);
#endif

// One kernel format of the sample, in the order the module sources list them (the first a device
// accepts is the one it runs).
typedef struct Format {
  porta_kernel_format_t format;
  // Compiled with the tile edge fixed at 16; otherwise the tile follows the launch's block.
  int fixed_tile;
  // Built into this binary; when not, |missing| says which tool the build lacked.
  int built;
  const char* missing;
  // The module's data: both kernels, or for spirv-shader one binary per kernel.
  // (Sizes by address: the embedded ones are variables, not constants, in C.)
  const void* data;
  const size_t* size;
  const void* reduce_data;
  const size_t* reduce_size;
} Format;

#define EMBEDDED(name) \
  port_from_cuda_matmul_reduce_##name, &port_from_cuda_matmul_reduce_##name##_size
#define NOT_BUILT NULL, NULL

static const Format kFormats[] = {
    {PORTA_FORMAT_HOST, 0, 1, NULL, kHostKernels, &kHostKernelsSize, NOT_BUILT},
#ifdef PORT_FROM_CUDA_HAS_CUBIN
    {PORTA_FORMAT_CUBIN, 1, 1, NULL, EMBEDDED(cubin), NOT_BUILT},
#else
    {PORTA_FORMAT_CUBIN, 1, 0, "nvcc", NOT_BUILT, NOT_BUILT},
#endif
#ifdef PORT_FROM_CUDA_HAS_PTX
    {PORTA_FORMAT_PTX, 1, 1, NULL, EMBEDDED(ptx), NOT_BUILT},
#else
    {PORTA_FORMAT_PTX, 1, 0, "nvcc", NOT_BUILT, NOT_BUILT},
#endif
#ifdef PORT_FROM_CUDA_HAS_HSACO
    {PORTA_FORMAT_HSACO, 1, 1, NULL, EMBEDDED(hsaco), NOT_BUILT},
#else
    {PORTA_FORMAT_HSACO, 1, 0, "hipcc", NOT_BUILT, NOT_BUILT},
#endif
    {PORTA_FORMAT_OPENCL_C, 0, 1, NULL, EMBEDDED(cl), NOT_BUILT},
#ifdef PORT_FROM_CUDA_HAS_SPIRV_KERNEL
    {PORTA_FORMAT_SPIRV_KERNEL, 1, 1, NULL, EMBEDDED(spv), NOT_BUILT},
#else
    {PORTA_FORMAT_SPIRV_KERNEL, 1, 0, "clang-15, llvm-spirv-15 and spirv-val", NOT_BUILT,
     NOT_BUILT},
#endif
#ifdef PORTA_SAMPLE_HAS_SPIRV
    {PORTA_FORMAT_SPIRV_SHADER, 0, 1, NULL, porta_sample_matmul_tiled_spv,
     &porta_sample_matmul_tiled_spv_size, porta_sample_block_reduce_sum_spv,
     &porta_sample_block_reduce_sum_spv_size},
#else
    {PORTA_FORMAT_SPIRV_SHADER, 0, 0, "glslc and spirv-tools", NOT_BUILT, NOT_BUILT},
#endif
};

enum { kFormatCount = sizeof(kFormats) / sizeof(kFormats[0]) };

// The first built format |device_formats| (a PORTA_FORMAT_BIT mask) accepts, as
// porta_module_load picks it from the sources LoadKernel lists; NULL when there is none.
static const Format* FirstAccepted(uint32_t device_formats) {
  for (int i = 0; i < kFormatCount; ++i) {
    if (kFormats[i].built && (device_formats & PORTA_FORMAT_BIT(kFormats[i].format)) != 0) {
      return &kFormats[i];
    }
  }
  return NULL;
}

// Writes the names of the formats in |mask| (a PORTA_FORMAT_BIT mask) into |text|, in the
// order of kFormats, comma-separated; |missing_tools| adds what the build lacked for each one
// that was not built.
static void FormatNames(uint32_t mask, int missing_tools, char* text, size_t size) {
  text[0] = '\0';
  for (int i = 0; i < kFormatCount; ++i) {
    if ((mask & PORTA_FORMAT_BIT(kFormats[i].format)) == 0) continue;
    const size_t used = strlen(text);
    snprintf(text + used, size - used, "%s%s%s%s%s", used > 0 ? ", " : "",
             porta_kernel_format_name(kFormats[i].format),
             missing_tools && !kFormats[i].built ? " (needs " : "",
             missing_tools && !kFormats[i].built ? kFormats[i].missing : "",
             missing_tools && !kFormats[i].built ? " at build time)" : "");
  }
}

// --- Host reference and checks -------------------------------------------------------------------

typedef struct Problem {
  float *a, *b, *in, *c;
  // c as the host computes it in double, and the sum of |a * b| terms each element adds up.
  double *expected_c, *magnitude_c;
  double expected_sum, magnitude_sum;
} Problem;

static int MakeProblem(Problem* p) {
  memset(p, 0, sizeof(*p));
  p->a = malloc(sizeof(float) * kM * kK);
  p->b = malloc(sizeof(float) * kK * kN);
  p->c = malloc(sizeof(float) * kM * kN);
  p->in = malloc(sizeof(float) * kCount);
  p->expected_c = malloc(sizeof(double) * kM * kN);
  p->magnitude_c = malloc(sizeof(double) * kM * kN);
  if (!p->a || !p->b || !p->c || !p->in || !p->expected_c || !p->magnitude_c) return 1;
  // The data of original/matmul_reduce.cu.
  for (uint32_t i = 0; i < kM * kK; ++i) p->a[i] = (float)(i * 37u % 101u) / 101.0f - 0.5f;
  for (uint32_t i = 0; i < kK * kN; ++i) p->b[i] = (float)(i * 53u % 97u) / 97.0f - 0.5f;
  for (uint32_t i = 0; i < kCount; ++i) p->in[i] = (float)(i * 7919u % 1000u) / 1000.0f - 0.25f;
  for (uint32_t row = 0; row < kM; ++row) {
    for (uint32_t col = 0; col < kN; ++col) {
      double sum = 0.0, magnitude = 0.0;
      for (uint32_t i = 0; i < kK; ++i) {
        const double term = (double)p->a[row * kK + i] * (double)p->b[i * kN + col];
        sum += term;
        magnitude += fabs(term);
      }
      p->expected_c[row * kN + col] = sum;
      p->magnitude_c[row * kN + col] = magnitude;
    }
  }
  for (uint32_t i = 0; i < kCount; ++i) {
    p->expected_sum += p->in[i];
    p->magnitude_sum += fabs((double)p->in[i]);
  }
  return 0;
}

static void FreeProblem(Problem* p) {
  free(p->a);
  free(p->b);
  free(p->c);
  free(p->in);
  free(p->expected_c);
  free(p->magnitude_c);
}

// --- Running on one device -----------------------------------------------------------------------

// The counterpart of the original's CUDA_CHECK: a failed call prints its status and
// porta_last_error_message() (which argument, which limit, the driver's own error) and ends the
// device's run. Device faults surface the same way, from porta_stream_synchronize.
#define CHECK(call)                                                      \
  do {                                                                   \
    const porta_status_t status_ = (call);                               \
    if (status_ != PORTA_OK) {                                           \
      fprintf(stderr, "  %s: %s failed: %s: %s\n", info->name, #call,    \
              porta_status_string(status_), porta_last_error_message()); \
      goto done;                                                         \
    }                                                                    \
  } while (0)

typedef enum Outcome { kPassed, kFailed, kSkipped } Outcome;

// Largest tile edge (16, else 8) whose square work-group and two shared tiles fit the device;
// only 16 for a format compiled with a fixed tile. 0 when none fits.
static uint32_t PickTile(const porta_device_info_t* info, int fixed_tile) {
  for (uint32_t tile = kMaxTile; tile >= 8; tile /= 2) {
    if (tile * tile <= info->max_work_group_size && tile <= info->max_work_group_dims[0] &&
        tile <= info->max_work_group_dims[1] &&
        2u * tile * tile * sizeof(float) <= info->local_memory_bytes) {
      return tile;
    }
    if (fixed_tile) break;
  }
  return 0;
}

// Largest power-of-two work-group of at most 256 items whose floats fit local memory.
static uint32_t PickReduceBlock(const porta_device_info_t* info) {
  uint32_t block = kMaxReduceBlock;
  while (block > 1 && (block > info->max_work_group_size || block > info->max_work_group_dims[0] ||
                       block * sizeof(float) > info->local_memory_bytes)) {
    block /= 2;
  }
  return block;
}

// Loads the module of kernel |entry| from every built format (the device takes the first it
// accepts) and gets the kernel: cuModuleLoadData + cuModuleGetFunction. |build_options| goes to
// the OpenCL C source.
static porta_status_t LoadKernel(porta_device_t device, const char* entry, int reduce,
                                 const char* build_options, porta_module_t* module,
                                 porta_kernel_t* kernel) {
  porta_module_source_t sources[kFormatCount];
  uint32_t count = 0;
  const char* entries[] = {entry};
  for (int i = 0; i < kFormatCount; ++i) {
    const Format* f = &kFormats[i];
    if (!f->built) continue;
    const int own_binary = reduce && f->reduce_data != NULL;
    sources[count++] =
        (porta_module_source_t){f->format,
                                own_binary ? f->reduce_data : f->data,
                                own_binary ? *f->reduce_size : *f->size,
                                f->format == PORTA_FORMAT_OPENCL_C ? build_options : NULL,
                                entries,
                                1};
  }
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources;
  desc.source_count = count;
  porta_status_t status = porta_module_load(device, &desc, module);
  if (status != PORTA_OK) return status;
  return porta_module_get_kernel(*module, entry, kernel);
}

typedef struct Resources {
  porta_stream_t stream;
  porta_buffer_t a, b, c, in, scratch;
  porta_module_t matmul_module, reduce_module;
  porta_event_t start, stop;
} Resources;

static void Release(Resources* r) {
  porta_buffer_t buffers[] = {r->a, r->b, r->c, r->in, r->scratch};
  for (size_t i = 0; i < sizeof(buffers) / sizeof(buffers[0]); ++i) {
    if (buffers[i] != NULL) porta_buffer_free(buffers[i]);
  }
  if (r->matmul_module != NULL) porta_module_destroy(r->matmul_module);
  if (r->reduce_module != NULL) porta_module_destroy(r->reduce_module);
  if (r->start != NULL) porta_event_destroy(r->start);
  if (r->stop != NULL) porta_event_destroy(r->stop);
  if (r->stream != NULL) porta_stream_destroy(r->stream);
}

// Compares the results with the host reference and prints the verdicts.
static Outcome Check(const Problem* p, float sum, uint32_t tile, uint32_t block, uint32_t passes,
                     const char* timing) {
  double max_error = 0.0;
  uint32_t wrong = 0;
  for (uint32_t i = 0; i < kM * kN; ++i) {
    const double error = fabs((double)p->c[i] - p->expected_c[i]);
    if (error > max_error) max_error = error;
    // Rounding bound of a float dot product of kK terms, doubled for FMA contraction differences.
    if (!(error <= 2.0 * kK * FLT_EPSILON * p->magnitude_c[i])) ++wrong;
  }
  printf("  matmul_tiled %ux%ux%u, %ux%u tiles: %s, max error %.3g%s\n", kM, kN, kK, tile, tile,
         wrong == 0 ? "OK" : "FAILED", max_error, timing);
  if (wrong != 0) printf("    %u of %u elements outside the rounding bound\n", wrong, kM * kN);

  // A tree sum of kCount floats is within about log2(kCount) roundings of the exact sum.
  const double sum_error = fabs((double)sum - p->expected_sum);
  const double bound = 2.0 * log2((double)kCount) * FLT_EPSILON * p->magnitude_sum;
  const int sum_ok = sum_error <= bound;
  printf(
      "  block_reduce_sum of %u floats, %u passes of %u-item groups: %s, %.6f (host %.6f, "
      "error %.3g, bound %.3g)\n",
      kCount, passes, block, sum_ok ? "OK" : "FAILED", (double)sum, p->expected_sum, sum_error,
      bound);
  return wrong == 0 && sum_ok ? kPassed : kFailed;
}

// Runs both kernels on |device| in |format| and checks them.
static Outcome RunOnDevice(porta_device_t device, const porta_device_info_t* info,
                           const Format* format, Problem* p) {
  const uint32_t tile = PickTile(info, format->fixed_tile);
  if (tile == 0) {
    printf(
        "  skipped: the %s kernels need 16x16 work-groups and 2 KiB of local memory (the "
        "device allows %u items and %llu bytes)\n",
        porta_kernel_format_name(format->format), info->max_work_group_size,
        (unsigned long long)info->local_memory_bytes);
    return kSkipped;
  }
  const uint32_t block = PickReduceBlock(info);
  const uint32_t first_pass_groups = (kCount + 2 * block - 1) / (2 * block);
  const uint64_t half = ((uint64_t)first_pass_groups * sizeof(float) + kOffsetAlignment - 1) /
                        kOffsetAlignment * kOffsetAlignment;
  Resources r;
  memset(&r, 0, sizeof(r));
  Outcome outcome = kFailed;
  porta_kernel_t matmul = NULL, reduce = NULL;
  char options[32];
  snprintf(options, sizeof(options), "-DTILE=%u", tile);

  // cudaStreamCreate, cudaMalloc, cuModuleLoadData + cuModuleGetFunction.
  CHECK(porta_stream_create(device, &r.stream));
  CHECK(porta_buffer_alloc(device, sizeof(float) * kM * kK, PORTA_MEMORY_DEVICE, &r.a));
  CHECK(porta_buffer_alloc(device, sizeof(float) * kK * kN, PORTA_MEMORY_DEVICE, &r.b));
  CHECK(porta_buffer_alloc(device, sizeof(float) * kM * kN, PORTA_MEMORY_DEVICE, &r.c));
  CHECK(porta_buffer_alloc(device, sizeof(float) * kCount, PORTA_MEMORY_DEVICE, &r.in));
  CHECK(porta_buffer_alloc(device, 2 * half, PORTA_MEMORY_DEVICE, &r.scratch));
  CHECK(LoadKernel(device, "matmul_tiled", 0, options, &r.matmul_module, &matmul));
  CHECK(LoadKernel(device, "block_reduce_sum", 1, NULL, &r.reduce_module, &reduce));

  // cudaMemcpyAsync(..., cudaMemcpyHostToDevice, stream).
  CHECK(porta_copy_host_to_device(r.stream, r.a, 0, p->a, sizeof(float) * kM * kK));
  CHECK(porta_copy_host_to_device(r.stream, r.b, 0, p->b, sizeof(float) * kK * kN));
  CHECK(porta_copy_host_to_device(r.stream, r.in, 0, p->in, sizeof(float) * kCount));

  // cudaEventRecord(start); matmul_tiled<<<grid, block, 0, stream>>>(...); cudaEventRecord(stop).
  // Only devices with PORTA_CAP_TIMESTAMPS time events.
  const int timed = (info->capabilities & PORTA_CAP_TIMESTAMPS) != 0;
  if (timed) {
    CHECK(porta_event_create(device, PORTA_EVENT_DEFAULT, &r.start));
    CHECK(porta_event_create(device, PORTA_EVENT_DEFAULT, &r.stop));
    CHECK(porta_event_record(r.start, r.stream));
  }
  const uint32_t m = kM, n = kN, k = kK;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.grid[0] = (n + tile - 1) / tile;
  config.grid[1] = (m + tile - 1) / tile;
  config.block[0] = tile;
  config.block[1] = tile;
  const porta_kernel_arg_t matmul_args[] = {
      porta_arg_buffer(r.a, 0),        porta_arg_buffer(r.b, 0),
      porta_arg_buffer(r.c, 0),        porta_arg_scalar(&m, sizeof(m)),
      porta_arg_scalar(&n, sizeof(n)), porta_arg_scalar(&k, sizeof(k))};
  CHECK(porta_kernel_launch(r.stream, matmul, &config, matmul_args, 6));
  if (timed) CHECK(porta_event_record(r.stop, r.stream));

  // The passes of the sum. The original's `d_scratch + (pass % 2) * kScratchHalf` becomes the
  // scratch buffer plus a byte offset; its third <<<>>> argument becomes local_memory_bytes.
  porta_buffer_t src = r.in;
  uint64_t src_offset = 0;
  uint32_t count = kCount, passes = 0;
  porta_launch_config_t reduce_config = PORTA_LAUNCH_CONFIG_INIT;
  reduce_config.block[0] = block;
  reduce_config.local_memory_bytes = block * sizeof(float);
  for (; count > 1; ++passes) {
    const uint32_t groups = (count + 2 * block - 1) / (2 * block);
    const uint64_t dst_offset = (passes % 2) * half;
    reduce_config.grid[0] = groups;
    const porta_kernel_arg_t args[] = {porta_arg_buffer(src, src_offset),
                                       porta_arg_buffer(r.scratch, dst_offset),
                                       porta_arg_scalar(&count, sizeof(count))};
    CHECK(porta_kernel_launch(r.stream, reduce, &reduce_config, args, 3));
    src = r.scratch;
    src_offset = dst_offset;
    count = groups;
  }

  // cudaMemcpyAsync(..., cudaMemcpyDeviceToHost, stream); cudaStreamSynchronize(stream);
  // cudaEventElapsedTime.
  float sum = 0.0f;
  CHECK(porta_copy_device_to_host(r.stream, &sum, src, src_offset, sizeof(sum)));
  CHECK(porta_copy_device_to_host(r.stream, p->c, r.c, 0, sizeof(float) * kM * kN));
  CHECK(porta_stream_synchronize(r.stream));
  char timing[64] = "";
  if (timed) {
    float ms = 0.0f;
    CHECK(porta_event_elapsed_ms(r.start, r.stop, &ms));
    snprintf(timing, sizeof(timing), ", %.3f ms", (double)ms);
  }
  outcome = Check(p, sum, tile, block, passes, timing);

done:
  Release(&r);
  return outcome;
}

// Reports a failed call outside a device's run and returns 1.
static int Fail(const char* what, porta_status_t status) {
  fprintf(stderr, "port_from_cuda: %s failed: %s: %s\n", what, porta_status_string(status),
          porta_last_error_message());
  return 1;
}

int main(void) {
  char text[512];
  uint32_t built = 0, missing = 0;
  for (int i = 0; i < kFormatCount; ++i) {
    if (kFormats[i].built) {
      built |= PORTA_FORMAT_BIT(kFormats[i].format);
    } else {
      missing |= PORTA_FORMAT_BIT(kFormats[i].format);
    }
  }
  FormatNames(built, 0, text, sizeof(text));
  printf("port_from_cuda: this build carries the kernels as %s\n", text);
  if (missing != 0) {
    FormatNames(missing, 1, text, sizeof(text));
    printf("port_from_cuda: and not as %s\n", text);
  }

  Problem problem;
  if (MakeProblem(&problem) != 0) {
    fprintf(stderr, "port_from_cuda: out of host memory\n");
    FreeProblem(&problem);
    return 1;
  }
  // cudaGetDeviceCount + cudaGetDeviceProperties, over every backend at once.
  porta_runtime_t runtime = NULL;
  uint32_t device_count = 0;
  porta_status_t status = porta_runtime_create(NULL, &runtime);
  if (status == PORTA_OK) status = porta_runtime_device_count(runtime, &device_count);
  if (status != PORTA_OK) {
    Fail("creating the runtime", status);
    porta_runtime_destroy(runtime);
    FreeProblem(&problem);
    return 1;
  }
  int failures = 0;
  uint32_t ran = 0;
  for (uint32_t i = 0; i < device_count; ++i) {
    porta_device_t device = NULL;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    if ((status = porta_runtime_device(runtime, i, &device)) != PORTA_OK ||
        (status = porta_device_get_info(device, &info)) != PORTA_OK) {
      failures += Fail("porta_runtime_device/porta_device_get_info", status);
      continue;
    }
    const Format* format = FirstAccepted(info.kernel_formats);
    if (format == NULL) {
      FormatNames(info.kernel_formats, 1, text, sizeof(text));
      printf("%s (%s): skipped: it accepts only %s\n", info.name, info.backend,
             text[0] != '\0' ? text : "no kernel format");
      continue;
    }
    printf("%s (%s): kernels as %s\n", info.name, info.backend,
           porta_kernel_format_name(format->format));
    memset(problem.c, 0, sizeof(float) * kM * kN);
    const Outcome outcome = RunOnDevice(device, &info, format, &problem);
    if (outcome == kFailed) ++failures;
    if (outcome == kPassed) ++ran;
  }
  if (ran == 0) {
    fprintf(stderr, "port_from_cuda: no device ran the sample (%u found)\n", device_count);
    ++failures;
  }
  porta_runtime_destroy(runtime);
  FreeProblem(&problem);
  return failures == 0 ? 0 : 1;
}
