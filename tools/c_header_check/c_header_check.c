// Strict C11 translation unit over the public headers: it must compile with -Wall -Wextra
// -Wpedantic -Werror as C, use every initializer macro, and link and run against libporta and
// libporta_ops.
#include <stdio.h>
#include <string.h>

#include "porta/porta.h"
#include "porta/porta_backend.h"
#include "porta/porta_dlpack.h"
#include "porta/porta_ops.h"

// Layout facts C callers and plugin authors rely on.
_Static_assert(sizeof(porta_status_t) == sizeof(int), "status codes travel as int");
_Static_assert(PORTA_FORMAT_NATIVE < PORTA_FORMAT_COUNT, "PORTA_FORMAT_COUNT covers every format");
_Static_assert(sizeof(porta_native_header_t) == 64, "a native binary's header is 64 bytes");
_Static_assert(sizeof(PORTA_NATIVE_MAGIC) == 9, "the native magic is 8 characters");
_Static_assert(offsetof(porta_device_info_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(porta_runtime_options_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(porta_backend_table_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(porta_matmul_desc_t, struct_size) == 0, "struct_size comes first");
_Static_assert(PORTA_TENSOR_MAX_RANK == 8, "tensors have at most 8 dimensions");
// DLPack 1.0's managed tensor, as a DLPack 1.x consumer lays it out.
_Static_assert(offsetof(DLManagedTensorVersioned, version) == 0, "the version comes first");
_Static_assert(sizeof(void*) != 8 || offsetof(DLManagedTensorVersioned, dl_tensor) == 32,
               "DLPack 1.0 layout");

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
  porta_copy_region_t region = PORTA_COPY_REGION_INIT;
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
  failures += Expect(region.struct_size == sizeof(region) && region.src_row_pitch == 0 &&
                         region.height == 1 && region.depth == 1,
                     "PORTA_COPY_REGION_INIT");
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

  // A native binary assembled in C, as a framework wraps a vendor compiler's output.
  porta_native_header_t header;
  unsigned char native[sizeof(porta_native_header_t) + 4];
  char tag[PORTA_NATIVE_TAG_SIZE];
  memset(&header, 0, sizeof(header));
  memcpy(header.magic, PORTA_NATIVE_MAGIC, sizeof(header.magic));
  strcpy(header.tag, "acme-npu2:v3");
  memcpy(native, &header, sizeof(header));
  memset(native + sizeof(header), 0xab, 4);
  failures += Expect(porta_native_binary_tag(native, sizeof(native), tag) == PORTA_OK &&
                         strcmp(tag, "acme-npu2:v3") == 0,
                     "porta_native_binary_tag reads a header written in C");
  failures +=
      Expect(porta_native_binary_tag(native, sizeof(header), NULL) == PORTA_ERROR_INVALID_ARGUMENT,
             "porta_native_binary_tag refuses a header without a binary");

  // The operator library's initializers and value helpers from C.
  const porta_ops_context_options_t ops_options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
  const porta_matmul_desc_t matmul = PORTA_MATMUL_DESC_INIT;
  const porta_softmax_desc_t softmax = PORTA_SOFTMAX_DESC_INIT;
  const porta_rope_desc_t rope = PORTA_ROPE_DESC_INIT;
  const porta_attention_desc_t attention = PORTA_ATTENTION_DESC_INIT;
  const porta_conv2d_desc_t conv = PORTA_CONV2D_DESC_INIT;
  const porta_pool2d_desc_t pool = PORTA_POOL2D_DESC_INIT;
  const int64_t shape[3] = {2, 3, 4};
  const porta_tensor_t tensor = porta_tensor_contiguous(NULL, 0, PORTA_DTYPE_F16, 3, shape);
  failures +=
      Expect(ops_options.struct_size == sizeof(ops_options) && ops_options.tuning_overlay == NULL,
             "PORTA_OPS_CONTEXT_OPTIONS_INIT");
  failures += Expect(matmul.struct_size == sizeof(matmul) && matmul.alpha == 1.0f &&
                         matmul.beta == 0.0f && matmul.activation == PORTA_UNARY_NONE,
                     "PORTA_MATMUL_DESC_INIT");
  failures += Expect(softmax.scale == 1.0f && softmax.causal == 0, "PORTA_SOFTMAX_DESC_INIT");
  failures +=
      Expect(rope.theta_base == 10000.0f && rope.freq_scale == 1.0f, "PORTA_ROPE_DESC_INIT");
  failures += Expect(attention.struct_size == sizeof(attention) && attention.scale == 0.0f,
                     "PORTA_ATTENTION_DESC_INIT");
  failures += Expect(conv.stride[1] == 1 && conv.dilation[0] == 1 && conv.groups == 1,
                     "PORTA_CONV2D_DESC_INIT");
  failures += Expect(pool.kernel[0] == 2 && pool.stride[1] == 2 && pool.count_include_pad == 1,
                     "PORTA_POOL2D_DESC_INIT");
  failures += Expect(tensor.strides[0] == 12 && tensor.strides[2] == 1 && tensor.rank == 3,
                     "porta_tensor_contiguous is row-major");
  failures += Expect(porta_dtype_size(PORTA_DTYPE_BF16) == 2 &&
                         strcmp(porta_dtype_name(PORTA_DTYPE_I32), "i32") == 0,
                     "dtype helpers");
  failures += Expect(porta_dtype_size(PORTA_DTYPE_Q4_1) == 20 &&
                         porta_dtype_block_elements(PORTA_DTYPE_Q8_0) == 32 &&
                         strcmp(porta_dtype_name(PORTA_DTYPE_Q4_0), "q4_0") == 0,
                     "block-quantized dtype helpers");
  failures += Expect(porta_ops_context_destroy(NULL) == PORTA_ERROR_INVALID_HANDLE,
                     "a NULL context is rejected");
  const porta_ops_tuning_file_info_t tuning_file = PORTA_OPS_TUNING_FILE_INFO_INIT;
  const porta_ops_tuning_choice_t tuning_choice = PORTA_OPS_TUNING_CHOICE_INIT;
  int64_t dims[3] = {0, 0, 0};
  failures +=
      Expect(tuning_file.struct_size == sizeof(tuning_file) &&
                 tuning_choice.struct_size == sizeof(tuning_choice) && ops_options.flags == 0u,
             "the tuning initializers");
  failures += Expect(porta_ops_tuning_shape("matmul", "large", dims) == PORTA_OK && dims[2] > 0,
                     "porta_ops_tuning_shape");

  // DLPack from C.
  DLManagedTensorVersioned* managed = NULL;
  failures += Expect(porta_tensor_to_dlpack(NULL, &managed) == PORTA_ERROR_INVALID_ARGUMENT &&
                         managed == NULL && PORTA_DLPACK_MAJOR_VERSION == 1u,
                     "porta_tensor_to_dlpack refuses a NULL tensor");
  failures += Expect(porta_tensor_from_dlpack(NULL, NULL, NULL) == PORTA_ERROR_INVALID_ARGUMENT,
                     "porta_tensor_from_dlpack refuses NULL arguments");

  if (failures == 0) printf("c_header_check: OK (library %s)\n", porta_version_string());
  return failures == 0 ? 0 : 1;
}
