// clblast_interop: a vendor library on a Porta stream. On every OpenCL device the runtime finds,
// runs CLBlast's sgemm (C = A * B + C) on the stream's own cl_command_queue, over the cl_mem
// objects of Porta buffers, between Porta work queued before it (the uploads and a fill of C)
// and after it (the download of C). C is memory the application allocated with clCreateBuffer
// and wrapped with porta_buffer_import; Porta calls back to release it when the wrapper is gone.
// The result is checked against a host product accumulated in double. Exits nonzero on any error
// or mismatch, and with 77 (a skip for CTest) when no OpenCL device was found.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porta/porta.h"

enum { kM = 96, kN = 80, kK = 112 };
static const float kFill = 0.25f;  // what C holds before the sgemm adds A * B

static int Fail(const char* device, const char* what, porta_status_t status) {
  fprintf(stderr, "clblast_interop on %s: %s failed: %s: %s\n", device, what,
          porta_status_string(status), porta_last_error_message());
  return 1;
}

// The release callback of the imported cl_mem: Porta calls it once the buffer is gone.
static int released = 0;
static void ReleaseClMem(void* user_data) {
  clReleaseMemObject((cl_mem)user_data);
  ++released;
}

static cl_mem ClMemOf(porta_buffer_t buffer) {
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  if (porta_buffer_get_native_handles(buffer, &native) != PORTA_OK) return NULL;
  return (cl_mem)(uintptr_t)native.handles[PORTA_NATIVE_OPENCL_BUFFER_MEM];
}

static int RunOnDevice(porta_device_t device, const char* name, const float* a, const float* b,
                       const double* expected) {
  porta_native_handles_t handles = PORTA_NATIVE_HANDLES_INIT;
  porta_status_t status = porta_device_get_native_handles(device, &handles);
  if (status != PORTA_OK) return Fail(name, "porta_device_get_native_handles", status);
  if (strcmp(handles.backend, "opencl") != 0) {
    fprintf(stderr, "clblast_interop on %s: handles of backend %s\n", name, handles.backend);
    return 1;
  }
  cl_context context = (cl_context)(uintptr_t)handles.handles[PORTA_NATIVE_OPENCL_CONTEXT];

  porta_stream_t stream = NULL;
  porta_buffer_t a_buf = NULL, b_buf = NULL, c_buf = NULL;
  int failed = 0;
  const size_t c_bytes = sizeof(float) * kM * kN;
  float* c = malloc(c_bytes);
  if (c == NULL) return Fail(name, "malloc", PORTA_ERROR_OUT_OF_MEMORY);

  if ((status = porta_stream_create(device, &stream)) != PORTA_OK) {
    failed = Fail(name, "porta_stream_create", status);
    goto done;
  }
  if ((status = porta_buffer_alloc(device, sizeof(float) * kM * kK, PORTA_MEMORY_DEVICE, &a_buf)) !=
          PORTA_OK ||
      (status = porta_buffer_alloc(device, sizeof(float) * kK * kN, PORTA_MEMORY_DEVICE, &b_buf)) !=
          PORTA_OK) {
    failed = Fail(name, "porta_buffer_alloc", status);
    goto done;
  }
  // C: the application's own cl_mem, wrapped without a copy.
  cl_int error = CL_SUCCESS;
  cl_mem c_mem = clCreateBuffer(context, CL_MEM_READ_WRITE, c_bytes, NULL, &error);
  if (error != CL_SUCCESS) {
    fprintf(stderr, "clblast_interop on %s: clCreateBuffer failed: %d\n", name, (int)error);
    failed = 1;
    goto done;
  }
  porta_native_handles_t c_native = PORTA_NATIVE_HANDLES_INIT;
  strcpy(c_native.backend, "opencl");
  c_native.count = 1;
  c_native.handles[PORTA_NATIVE_OPENCL_BUFFER_MEM] = (uint64_t)(uintptr_t)c_mem;
  porta_buffer_import_desc_t import = PORTA_BUFFER_IMPORT_DESC_INIT;
  import.native = &c_native;
  import.size = c_bytes;
  import.release = ReleaseClMem;
  import.release_user_data = c_mem;
  if ((status = porta_buffer_import(device, &import, &c_buf)) != PORTA_OK) {
    clReleaseMemObject(c_mem);
    failed = Fail(name, "porta_buffer_import", status);
    goto done;
  }

  // Porta work first: the inputs, and C filled with kFill (the sgemm's beta = 1 reads it).
  uint32_t fill_bits;
  memcpy(&fill_bits, &kFill, sizeof(fill_bits));
  if ((status = porta_copy_host_to_device(stream, a_buf, 0, a, sizeof(float) * kM * kK)) !=
          PORTA_OK ||
      (status = porta_copy_host_to_device(stream, b_buf, 0, b, sizeof(float) * kK * kN)) !=
          PORTA_OK ||
      (status = porta_fill_buffer(stream, c_buf, 0, c_bytes, &fill_bits, 4)) != PORTA_OK) {
    failed = Fail(name, "queuing the uploads", status);
    goto done;
  }
  // Then CLBlast, on the stream's own in-order queue.
  porta_native_handles_t queue_handles = PORTA_NATIVE_HANDLES_INIT;
  if ((status = porta_stream_get_native_handles(stream, &queue_handles)) != PORTA_OK) {
    failed = Fail(name, "porta_stream_get_native_handles", status);
    goto done;
  }
  cl_command_queue queue =
      (cl_command_queue)(uintptr_t)queue_handles.handles[PORTA_NATIVE_OPENCL_QUEUE];
  const CLBlastStatusCode blast = CLBlastSgemm(
      CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, kM, kN, kK, 1.0f,
      ClMemOf(a_buf), 0, kK, ClMemOf(b_buf), 0, kN, 1.0f, ClMemOf(c_buf), 0, kN, &queue, NULL);
  if (blast != CLBlastSuccess) {
    fprintf(stderr, "clblast_interop on %s: CLBlastSgemm failed: %d\n", name, (int)blast);
    failed = 1;
    goto done;
  }
  // Then Porta again: the download is queued behind the sgemm.
  if ((status = porta_copy_device_to_host(stream, c, c_buf, 0, c_bytes)) != PORTA_OK ||
      (status = porta_stream_synchronize(stream)) != PORTA_OK) {
    failed = Fail(name, "downloading C", status);
    goto done;
  }
  double worst = 0.0;
  for (int i = 0; i < kM * kN; ++i) {
    const double error_i = fabs((double)c[i] - expected[i]);
    // float accumulation over kK products of values in [-1, 1]
    const double bound = 1e-4 * kK + 1e-6 * fabs(expected[i]);
    if (error_i > worst) worst = error_i;
    if (error_i > bound) {
      fprintf(stderr, "clblast_interop on %s: C[%d] = %.7g, expected %.7g\n", name, i, c[i],
              expected[i]);
      failed = 1;
      goto done;
    }
  }
  printf("%-40s CLBlast sgemm %dx%dx%d on the Porta stream: OK (max error %.2g)\n", name, kM, kN,
         kK, worst);

done:
  if (c_buf != NULL) {
    const int before = released;
    porta_buffer_free(c_buf);
    // The stream is idle (synchronized, or nothing queued ran), so the wrapper goes at once.
    if (stream != NULL) porta_stream_synchronize(stream);
    if (released != before + 1) {
      fprintf(stderr, "clblast_interop on %s: the imported C was not released\n", name);
      failed = 1;
    }
  }
  if (b_buf != NULL) porta_buffer_free(b_buf);
  if (a_buf != NULL) porta_buffer_free(a_buf);
  if (stream != NULL) porta_stream_destroy(stream);
  free(c);
  return failed;
}

int main(void) {
  float* a = malloc(sizeof(float) * kM * kK);
  float* b = malloc(sizeof(float) * kK * kN);
  double* expected = malloc(sizeof(double) * kM * kN);
  if (a == NULL || b == NULL || expected == NULL) return 1;
  uint32_t seed = 12345u;
  for (int i = 0; i < kM * kK; ++i)
    a[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
  for (int i = 0; i < kK * kN; ++i)
    b[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
  for (int i = 0; i < kM; ++i) {
    for (int j = 0; j < kN; ++j) {
      double sum = kFill;
      for (int k = 0; k < kK; ++k) sum += (double)a[i * kK + k] * (double)b[k * kN + j];
      expected[i * kN + j] = sum;
    }
  }

  porta_runtime_t runtime = NULL;
  porta_status_t status = porta_runtime_create(NULL, &runtime);
  if (status != PORTA_OK) return Fail("the runtime", "porta_runtime_create", status);
  uint32_t count = 0;
  porta_runtime_device_count(runtime, &count);
  int failed = 0, ran = 0;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = NULL;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    if (porta_runtime_device(runtime, i, &device) != PORTA_OK ||
        porta_device_get_info(device, &info) != PORTA_OK) {
      failed = Fail("the runtime", "reading a device", PORTA_ERROR_BACKEND);
      continue;
    }
    if (strcmp(info.backend, "opencl") != 0) {
      printf("%-40s skipped: a %s device, CLBlast runs on OpenCL\n", info.name, info.backend);
      continue;
    }
    ++ran;
    failed |= RunOnDevice(device, info.name, a, b, expected);
  }
  porta_runtime_destroy(runtime);
  free(a);
  free(b);
  free(expected);
  if (ran == 0) {
    printf("no OpenCL device found: nothing ran\n");
    return 77;
  }
  return failed;
}
