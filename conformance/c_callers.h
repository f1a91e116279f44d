// Calls made from C, where an enum object may hold any int: the CTS passes out-of-range enum
// values this way, exactly as a C application can, without the undefined behaviour a C++
// conversion to the enumeration would have.
#ifndef PORTA_CONFORMANCE_C_CALLERS_H_
#define PORTA_CONFORMANCE_C_CALLERS_H_

#include <stdint.h>

#include "porta/porta.h"

#ifdef __cplusplus
extern "C" {
#endif

// porta_buffer_alloc with |kind| given as a plain int.
porta_status_t porta_cts_buffer_alloc_raw_kind(porta_device_t device, uint64_t size, int32_t kind,
                                               porta_buffer_t* out_buffer);

// porta_buffer_alloc_async with |kind| given as a plain int.
porta_status_t porta_cts_buffer_alloc_async_raw_kind(porta_stream_t stream, uint64_t size,
                                                     int32_t kind, porta_buffer_t* out_buffer);

// porta_status_string with |status| given as a plain int.
const char* porta_cts_status_string_raw(int32_t status);

// Stores a plain int into a module source's format field.
void porta_cts_set_source_format(porta_module_source_t* source, int32_t format);

// Stores a plain int into a kernel argument's kind field.
void porta_cts_set_arg_kind(porta_kernel_arg_t* arg, int32_t kind);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // PORTA_CONFORMANCE_C_CALLERS_H_
