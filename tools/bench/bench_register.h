// The host memory registration rows of porta-bench: per device, host-to-device and device-to-host
// copy bandwidth from and to a registered host range (porta_host_register) beside the same copies
// from and to unregistered host memory.
#ifndef PORTA_TOOLS_BENCH_BENCH_REGISTER_H_
#define PORTA_TOOLS_BENCH_BENCH_REGISTER_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Sends two rows per device of |runtime| to |sink|: GB/s of 64 MiB (4 MiB with |quick|) copies
// host to device from registered memory beside the same copies from unregistered memory, and the
// same device to host. Both host ranges are page-aligned and touched before timing, so
// registration is the only difference. No target: where the backend has no faster path (the CPU
// device) the ratio is about 1. A failing call ends that device's rows with an error. Throws
// Failure when the runtime's devices cannot be read.
void RunRegisterRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_REGISTER_H_
