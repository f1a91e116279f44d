// See c_callers.h. Compiled as C11.
#include "conformance/c_callers.h"

porta_status_t porta_cts_buffer_alloc_raw_kind(porta_device_t device, uint64_t size, int32_t kind,
                                               porta_buffer_t* out_buffer) {
  return porta_buffer_alloc(device, size, (porta_memory_kind_t)kind, out_buffer);
}

porta_status_t porta_cts_buffer_alloc_async_raw_kind(porta_stream_t stream, uint64_t size,
                                                     int32_t kind, porta_buffer_t* out_buffer) {
  return porta_buffer_alloc_async(stream, size, (porta_memory_kind_t)kind, out_buffer);
}

const char* porta_cts_status_string_raw(int32_t status) {
  return porta_status_string((porta_status_t)status);
}

void porta_cts_set_source_format(porta_module_source_t* source, int32_t format) {
  source->format = (porta_kernel_format_t)format;
}

void porta_cts_set_arg_kind(porta_kernel_arg_t* arg, int32_t kind) {
  arg->kind = (porta_arg_kind_t)kind;
}
