// Uploads 16 MiB from a registered host range to every device, reads it back into the same range,
// and unregisters it.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porta/porta.h"

#define CHECK(call)                                                               \
  do {                                                                            \
    porta_status_t status_ = (call);                                              \
    if (status_ != PORTA_OK) {                                                    \
      fprintf(stderr, "%s failed: %s: %s\n", #call, porta_status_string(status_), \
              porta_last_error_message());                                        \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

int main(void) {
  const uint64_t size = (uint64_t)16 << 20;
  // Page-aligned, as pinning and import work in pages (any alignment is accepted).
  uint8_t* weights = aligned_alloc(4096, size);
  uint8_t* check = malloc(size);
  for (uint64_t i = 0; i < size; ++i) weights[i] = (uint8_t)(i * 7);

  porta_runtime_t runtime;
  CHECK(porta_runtime_create(NULL, &runtime));
  uint32_t count = 0;
  CHECK(porta_runtime_device_count(runtime, &count));
  for (uint32_t d = 0; d < count; ++d) {
    porta_device_t device;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    CHECK(porta_runtime_device(runtime, d, &device));
    CHECK(porta_device_get_info(device, &info));
    porta_stream_t stream;
    porta_buffer_t buffer;
    CHECK(porta_stream_create(device, &stream));
    CHECK(porta_buffer_alloc(device, size, PORTA_MEMORY_DEVICE, &buffer));

    // Registered with this device: copies from and to it take the backend's fast path.
    CHECK(porta_host_register(device, weights, size, PORTA_HOST_REGISTER_DEFAULT));
    CHECK(porta_copy_host_to_device(stream, buffer, 0, weights, size));
    // Any copy whose host bytes lie inside the range counts, at any offset.
    CHECK(porta_copy_device_to_host(stream, weights + 4096, buffer, 4096, 1 << 20));
    // Waits for both copies, then unpins: |weights| may be freed (and read) from here on.
    CHECK(porta_host_unregister(device, weights));

    CHECK(porta_copy_device_to_host(stream, check, buffer, 0, size));
    CHECK(porta_stream_synchronize(stream));
    printf("%s: %s\n", info.name, memcmp(check, weights, size) == 0 ? "ok" : "MISMATCH");
    CHECK(porta_buffer_free(buffer));
    CHECK(porta_stream_destroy(stream));
  }
  CHECK(porta_runtime_destroy(runtime));
  free(check);
  free(weights);
  return 0;
}
