// Consumer of an installed Porta: includes <porta/porta.h> from the install prefix, links the
// installed libporta, and opens a runtime. Exits 0 when the library works and at least the CPU
// device is there.
#include <stdio.h>
#include <string.h>

#include <porta/porta.h>

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
  int has_cpu = 0;
  for (uint32_t i = 0; status == PORTA_OK && i < count; ++i) {
    porta_device_t device = NULL;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    status = porta_runtime_device(runtime, i, &device);
    if (status == PORTA_OK) status = porta_device_get_info(device, &info);
    if (status == PORTA_OK && strcmp(info.backend, "cpu") == 0) has_cpu = 1;
  }
  porta_runtime_destroy(runtime);
  if (status != PORTA_OK || !has_cpu) {
    fprintf(stderr, "install_consumer: %s\n",
            status != PORTA_OK ? porta_last_error_message() : "no cpu device");
    return 1;
  }
  printf("install_consumer: Porta %s, %u device(s): OK\n", porta_version_string(), count);
  return 0;
}
