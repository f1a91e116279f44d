// A scan of OpenCL C source text for what the constrained (npu) profile refuses before the
// driver compiles it. Reads untrusted text: any input gives an answer (tests/fuzz fuzzes it).
#ifndef PORTA_BACKENDS_OPENCL_OPENCL_C_SCAN_H_
#define PORTA_BACKENDS_OPENCL_OPENCL_C_SCAN_H_

#include <string_view>

namespace porta::opencl {

// Returns the 1-based line of the first use of a double type (double, double2 ... double16) in
// OpenCL C |source|, skipping comments and string and character literals, or 0 when there is
// none. The constrained profile's device has no fp64, but the driver underneath (PoCL on a CPU)
// compiles double happily, so the backend refuses such sources itself.
int FirstDoubleUse(std::string_view source);

}  // namespace porta::opencl

#endif  // PORTA_BACKENDS_OPENCL_OPENCL_C_SCAN_H_
