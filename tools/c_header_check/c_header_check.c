// Strict C11 translation unit over the public headers: it must compile with -Wall -Wextra
// -Wpedantic -Werror as C, use every initializer macro, and link and run against libporta.
#include <stdio.h>
#include <string.h>

#include "porta/porta.h"
#include "porta/porta_backend.h"

// Layout facts C callers and plugin authors rely on.
_Static_assert(sizeof(porta_status_t) == sizeof(int), "status codes travel as int");
_Static_assert(PORTA_FORMAT_HSACO < PORTA_FORMAT_COUNT, "PORTA_FORMAT_COUNT covers every format");
_Static_assert(offsetof(porta_device_info_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(porta_runtime_options_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(porta_backend_table_t, struct_size) == 0, "struct_size comes first");

static int32_t NoopKernel(const porta_host_group_t* group) {
  return group == NULL ? 1 : 0;
}

// A plugin table written in C, as a vendor would, to prove the ABI header is usable from C.
static const porta_backend_table_t kTable = {
    .struct_size = sizeof(porta_backend_table_t),
    .abi_major = PORTA_BACKEND_ABI_MAJOR,
    .abi_minor = PORTA_BACKEND_ABI_MINOR,
    .name = "c_header_check",
};

static int Expect(int condition, const char* what) {
  if (!condition) fprintf(stderr, "c_header_check: %s\n", what);
  return condition ? 0 : 1;
}

int main(void) {
  int failures = 0;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  const porta_host_kernel_t kernels[] = {{"noop", NoopKernel}};
  const float alpha = 2.0f;
  porta_kernel_arg_t args[2];
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t patch = 0;

  args[0] = porta_arg_buffer(NULL, 0);
  args[1] = porta_arg_scalar(&alpha, sizeof(alpha));
  failures += Expect(info.struct_size == sizeof(info), "PORTA_DEVICE_INFO_INIT sets struct_size");
  failures += Expect(options.struct_size == sizeof(options) && options.plugin_paths == NULL,
                     "PORTA_RUNTIME_OPTIONS_INIT");
  failures += Expect(report.struct_size == sizeof(report), "PORTA_BACKEND_REPORT_INIT");
  failures +=
      Expect(desc.struct_size == sizeof(desc) && desc.source_count == 0, "PORTA_MODULE_DESC_INIT");
  failures += Expect(config.grid[0] == 1 && config.block[2] == 1, "PORTA_LAUNCH_CONFIG_INIT");
  failures += Expect(kernels[0].fn(NULL) == 1, "host kernel pointer is callable");
  failures +=
      Expect(args[1].kind == PORTA_ARG_SCALAR && args[1].scalar_size == 4, "porta_arg_scalar");
  failures += Expect(kTable.abi_major == 1u && strcmp(kTable.name, "c_header_check") == 0,
                     "backend table initializes from C");

  porta_version(&major, &minor, &patch);
  failures += Expect(major == PORTA_VERSION_MAJOR, "library major version matches the header");
  failures +=
      Expect(strcmp(porta_status_string(PORTA_ERROR_OUT_OF_RANGE), "PORTA_ERROR_OUT_OF_RANGE") == 0,
             "porta_status_string names the status");
  failures += Expect(porta_runtime_create(NULL, NULL) == PORTA_ERROR_INVALID_ARGUMENT,
                     "a NULL out pointer is rejected");
  failures += Expect(porta_last_error_message()[0] != '\0', "the rejection carries a message");

  if (failures == 0) printf("c_header_check: OK (library %s)\n", porta_version_string());
  return failures == 0 ? 0 : 1;
}
