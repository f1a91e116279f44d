// The public headers' initializer macros in C++: built as C++11, C++17 and C++20 with -Wall
// -Wextra -Wpedantic -Werror and without -Wno-missing-field-initializers, as an application
// would build, so that a macro that makes the compiler warn fails the build. The values are
// checked when the C++20 build's test runs.
#include <cstdio>

#include "porta/porta.h"
#include "porta/porta_backend.h"
#include "porta/porta_dlpack.h"
#include "porta/porta_ops.h"

int main() {
  const porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  const porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  const porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
  const porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  const porta_pool_stats_t stats = PORTA_POOL_STATS_INIT;
  const porta_copy_region_t region = PORTA_COPY_REGION_INIT;
  const porta_ops_context_options_t ops_options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
  const porta_matmul_desc_t matmul = PORTA_MATMUL_DESC_INIT;
  const porta_softmax_desc_t softmax = PORTA_SOFTMAX_DESC_INIT;
  const porta_rope_desc_t rope = PORTA_ROPE_DESC_INIT;
  const porta_attention_desc_t attention = PORTA_ATTENTION_DESC_INIT;
  const porta_conv2d_desc_t conv = PORTA_CONV2D_DESC_INIT;
  const porta_pool2d_desc_t pool = PORTA_POOL2D_DESC_INIT;
  const porta_ops_tuning_choice_t choice = PORTA_OPS_TUNING_CHOICE_INIT;
  const porta_ops_tuning_file_info_t file_info = PORTA_OPS_TUNING_FILE_INFO_INIT;
  const bool sizes =
      info.struct_size == sizeof(info) && options.struct_size == sizeof(options) &&
      report.struct_size == sizeof(report) && desc.struct_size == sizeof(desc) &&
      stats.struct_size == sizeof(stats) && ops_options.struct_size == sizeof(ops_options) &&
      attention.struct_size == sizeof(attention) && choice.struct_size == sizeof(choice) &&
      file_info.struct_size == sizeof(file_info);
  const bool values = desc.source_count == 0 && config.grid[0] == 1 && config.block[2] == 1 &&
                      matmul.alpha == 1.0f && matmul.beta == 0.0f && softmax.scale == 1.0f &&
                      rope.theta_base == 10000.0f && rope.seq_axis == 1 && conv.stride[1] == 1 &&
                      conv.groups == 1 && pool.struct_size == sizeof(pool) &&
                      region.struct_size == sizeof(region) && region.width_bytes == 0 &&
                      region.height == 1 && region.depth == 1;
  if (!sizes || !values) {
    std::fprintf(stderr, "an initializer macro sets a wrong value in C++\n");
    return 1;
  }
  return 0;
}
