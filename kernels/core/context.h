// The operator context behind porta_ops_context_t: the device, the kernel format chosen for it,
// the compiled-kernel cache, the tuning overlay and the workspace (from the device's buffer pool).
#ifndef PORTA_KERNELS_CORE_CONTEXT_H_
#define PORTA_KERNELS_CORE_CONTEXT_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/core/tuning.h"
#include "kernels/core/tuning_file.h"
#include "porta/porta_ops.h"

namespace porta::ops {

struct Context {
  porta_device_t device = nullptr;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  // The kernel format every family is loaded in; 0 when the library ships no format the device
  // accepts (then every operation is unsupported, with |format_problem| saying why).
  porta_kernel_format_t format = static_cast<porta_kernel_format_t>(0);
  std::string format_problem;

  // Guards the tuning overlay and the choices made from it.
  std::mutex mutex;
  std::vector<TuningRow> overlay;
  // What creation found of the device's tuning file (its rows moved into |overlay|).
  TuningFileState tuning_file;
  // Choices already made, by (family, dtype, bucket): the table lookup (string matching over every
  // row) runs once per key rather than once per operation. Cleared when the overlay changes.
  std::map<std::tuple<Family, porta_dtype_t, std::string>, TuningChoice> choices;
  // Guards the module cache. Separate from |mutex|: a first-use build may take the driver minutes
  // (PoCL's matmul), and operations whose kernels are built must not wait behind it.
  std::mutex module_mutex;
  struct LoadedModule {
    porta_module_t module = nullptr;
    std::map<std::string, porta_kernel_t> kernels;
  };
  std::map<std::string, LoadedModule> modules;

  ~Context();
};

// Looks up a live context handle (PORTA_ERROR_INVALID_HANDLE for NULL or destroyed ones).
porta_status_t LookupContext(porta_ops_context_t handle, Context** out);

// Gets the kernel of |family| for the device, loading (and caching) its module on first use.
// |params| selects the matmul tile; |wide| asks for the 16-bit-storage build where the format
// has one (spirv-shader). The module is built from the library's embedded kernels.
porta_status_t GetKernel(Context& context, Family family, const Params& params, bool wide,
                         porta_kernel_t* out);

// Chooses the tuning parameters (thread-safe snapshot of the overlay).
TuningChoice Choose(Context& context, Family family, porta_dtype_t dtype, const char* bucket);

// Lends a workspace buffer of at least |size| bytes for work about to be enqueued on |stream|,
// from the device's buffer pool (porta_buffer_alloc_async): once the pool is warm no call
// allocates. Give it back with ReleaseWorkspace after enqueueing that work; the pool reuses it at
// once on |stream| and on other streams once they are ordered after that work.
porta_status_t AcquireWorkspace(Context& context, porta_stream_t stream, uint64_t size,
                                porta_buffer_t* out);
void ReleaseWorkspace(porta_stream_t stream, porta_buffer_t buffer);

// Why |dtype| cannot be used on this device with the chosen format ("" when it can).
std::string DtypeProblem(const Context& context, porta_dtype_t dtype);

}  // namespace porta::ops

// The public handle is the context itself.
struct porta_ops_context : porta::ops::Context {};

#endif  // PORTA_KERNELS_CORE_CONTEXT_H_
