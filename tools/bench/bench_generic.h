// The generic rows of porta-bench: the same measurements, through porta.h alone, on every device
// the runtime finds, built-in or plugin, so that a new device gets them without a line of code
// written for it and devices compare row for row.
#ifndef PORTA_TOOLS_BENCH_BENCH_GENERIC_H_
#define PORTA_TOOLS_BENCH_BENCH_GENERIC_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Measures every device of |runtime| (short runs when |quick|) and sends the rows |sink| wants:
//   launch throughput, empty <format>           us/launch: many porta_kernel_launch calls, one
//                                               synchronize, time per launch
//   launch + synchronize, empty <format>        us/launch: porta_kernel_launch then
//                                               porta_stream_synchronize, per pair
//   event record + wait (idle stream)           us: porta_event_record + porta_event_wait
//   copy host to device / device to host / device to device (<size>)   GB/s
//   fill 4-byte pattern (<size>)                GB/s of porta_fill_buffer
// The kernel is bench_kernels.h's empty kernel in a format the device declares. Baselines, all
// measured in the same run: a host-format kernel's launches beside calling its function directly
// and beside handing it to a waiting thread (what any asynchronous host queue must pay); copies
// beside memcpy of the same bytes in host memory and fills beside filling host memory, which on a
// device in host memory (the cpu device, a host plugin) is the ceiling and on a discrete device
// is a reference only. Other rows have none ("none": the raw-API comparisons of built-in
// backends are in their own sections). A device that accepts no format of the empty kernel gets
// a note instead of its launch rows. A failing call ends the device's rows with an error; the
// other devices still run. Throws Failure when the runtime's devices cannot be read.
void RunGenericRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_GENERIC_H_
