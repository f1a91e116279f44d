// Consumer of an installed Porta: includes <porta/porta.h>, <porta/porta_ops.h> and
// <porta/porta_dlpack.h> (which brings DLPack's header) from the install prefix, links the
// installed libporta and libporta_ops, opens a runtime, adds two vectors with the operator
// library on the CPU device and hands the sum to DLPack and back. Exits 0 when that works.
#include <stdio.h>
#include <string.h>

#include <porta/porta.h>
#include <porta/porta_dlpack.h>
#include <porta/porta_ops.h>

// c = a + b on |device| of |runtime| with the operator library, then c through DLPack and back;
// returns 0 when the result is right.
static int AddWithOps(porta_runtime_t runtime, porta_device_t device) {
  enum { kCount = 5 };
  const float a[kCount] = {1, 2, 3, 4, 5};
  const float b[kCount] = {10, 20, 30, 40, 50};
  float c[kCount] = {0};
  porta_ops_context_t context = NULL;
  porta_stream_t stream = NULL;
  porta_buffer_t buffer = NULL;
  porta_status_t status = porta_ops_context_create(device, NULL, &context);
  if (status == PORTA_OK) status = porta_stream_create(device, &stream);
  if (status == PORTA_OK)
    status = porta_buffer_alloc(device, 3 * sizeof(a), PORTA_MEMORY_DEVICE, &buffer);
  if (status == PORTA_OK) status = porta_copy_host_to_device(stream, buffer, 0, a, sizeof(a));
  if (status == PORTA_OK)
    status = porta_copy_host_to_device(stream, buffer, sizeof(a), b, sizeof(b));
  const int64_t shape[1] = {kCount};
  const porta_tensor_t ta = porta_tensor_contiguous(buffer, 0, PORTA_DTYPE_F32, 1, shape);
  const porta_tensor_t tb = porta_tensor_contiguous(buffer, sizeof(a), PORTA_DTYPE_F32, 1, shape);
  const porta_tensor_t tc =
      porta_tensor_contiguous(buffer, 2 * sizeof(a), PORTA_DTYPE_F32, 1, shape);
  if (status == PORTA_OK)
    status = porta_ops_binary(context, stream, PORTA_BINARY_ADD, &ta, &tb, &tc);
  if (status == PORTA_OK)
    status = porta_copy_device_to_host(stream, c, buffer, 2 * sizeof(a), sizeof(c));
  if (status == PORTA_OK) status = porta_stream_synchronize(stream);
  // The sum as a DLPack tensor (the host address of c's first element on the CPU device), and
  // back as a Porta tensor over the same memory.
  DLManagedTensorVersioned* managed = NULL;
  porta_tensor_t back;
  if (status == PORTA_OK) status = porta_tensor_to_dlpack(&tc, &managed);
  if (status == PORTA_OK && (managed->dl_tensor.device.device_type != kDLCPU ||
                             ((const float*)managed->dl_tensor.data)[4] != c[4])) {
    fprintf(stderr, "install_consumer: the DLPack tensor does not show the sum\n");
    status = PORTA_ERROR_BACKEND;
  }
  if (status == PORTA_OK) {
    status = porta_tensor_from_dlpack(runtime, managed, &back);
    if (status != PORTA_OK) managed->deleter(managed);
  }
  if (status == PORTA_OK) {
    // The import wraps the memory the export pointed at; freeing it runs the export's deleter.
    porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
    status = porta_buffer_get_native_handles(back.buffer, &native);
    if (status == PORTA_OK &&
        native.handles[0] + back.offset != (uint64_t)(uintptr_t)managed->dl_tensor.data) {
      fprintf(stderr, "install_consumer: the DLPack import copied the memory\n");
      status = PORTA_ERROR_BACKEND;
    }
    const porta_status_t freed = porta_buffer_free(back.buffer);
    if (status == PORTA_OK) status = freed;
  }
  if (status != PORTA_OK) {
    fprintf(stderr, "install_consumer: operator library: %s: %s\n", porta_status_string(status),
            porta_last_error_message());
  }
  if (buffer != NULL) porta_buffer_free(buffer);
  if (stream != NULL) porta_stream_destroy(stream);
  if (context != NULL) porta_ops_context_destroy(context);
  for (int i = 0; status == PORTA_OK && i < kCount; ++i) {
    if (c[i] != a[i] + b[i]) {
      fprintf(stderr, "install_consumer: c[%d] = %g, expected %g\n", i, c[i], a[i] + b[i]);
      return 1;
    }
  }
  return status == PORTA_OK ? 0 : 1;
}

int main(void) {
  uint32_t major = 0;
  porta_version(&major, NULL, NULL);
  if (major != PORTA_VERSION_MAJOR) {
    fprintf(stderr, "install_consumer: library major %u, header major %d\n", major,
            PORTA_VERSION_MAJOR);
    return 1;
  }
  porta_runtime_t runtime = NULL;
  porta_status_t status = porta_runtime_create(NULL, &runtime);
  if (status != PORTA_OK) {
    fprintf(stderr, "install_consumer: porta_runtime_create: %s: %s\n", porta_status_string(status),
            porta_last_error_message());
    return 1;
  }
  uint32_t count = 0;
  status = porta_runtime_device_count(runtime, &count);
  porta_device_t cpu = NULL;
  for (uint32_t i = 0; status == PORTA_OK && i < count; ++i) {
    porta_device_t device = NULL;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    status = porta_runtime_device(runtime, i, &device);
    if (status == PORTA_OK) status = porta_device_get_info(device, &info);
    if (status == PORTA_OK && strcmp(info.backend, "cpu") == 0) cpu = device;
  }
  if (status != PORTA_OK || cpu == NULL) {
    fprintf(stderr, "install_consumer: %s\n",
            status != PORTA_OK ? porta_last_error_message() : "no cpu device");
    porta_runtime_destroy(runtime);
    return 1;
  }
  const int ops_failed = AddWithOps(runtime, cpu);
  porta_runtime_destroy(runtime);
  if (ops_failed) return 1;
  printf("install_consumer: Porta %s, %u device(s), operator library and DLPack: OK\n",
         porta_version_string(), count);
  return 0;
}
