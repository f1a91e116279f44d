// The per-device tuning overlay file that porta-tune writes under the cache folder, and the search
// space it explores: where the file lives, its identity header (library version, kernel source
// hash, device, driver), loading it with every reason it may be refused, writing it atomically,
// the candidate parameter sets of a family and the shape each bucket is tuned at.
#ifndef PORTA_KERNELS_CORE_TUNING_FILE_H_
#define PORTA_KERNELS_CORE_TUNING_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/core/tuning.h"
#include "porta/porta_ops.h"

namespace porta::ops {

// What loading a device's overlay file found.
struct TuningFileState {
  porta_ops_tuning_file_state_t state = PORTA_OPS_TUNING_FILE_OFF;
  // The file of this device ("" when there is no cache folder).
  std::string path;
  // Why the file was not loaded (off, absent, corrupt, foreign or stale); "" when loaded.
  std::string reason;
  std::vector<TuningRow> rows;
  // How many rows it held (|rows| is moved into the context's overlay).
  uint32_t row_count = 0;
};

// The cache folder the runtime's disk cache uses: $PORTA_CACHE_DIR ("off": none), else
// $XDG_CACHE_HOME/porta, else $HOME/.cache/porta; "" when none applies.
std::string CacheFolder();

// <cache folder>/tuning/<backend>-<digest of backend, vendor, name, architecture>.txt, or "".
std::string TuningFilePath(const porta_device_info_t& info);

// 16 hex digits of a hash of every kernel binary and program text the library embeds.
const std::string& KernelSourceHash();

// Reads the overlay file of the device. |enabled| false only fills the path and says why it is
// off (|off_reason|).
TuningFileState LoadTuningFile(const porta_device_info_t& info, porta_kernel_format_t format,
                               bool enabled, const std::string& off_reason);

// Writes |rows| (already validated) with the device's header to |path| through a temporary file
// renamed into place. Returns "" or the reason it failed.
std::string WriteTuningFile(const porta_device_info_t& info, const std::string& path,
                            const std::string& rows);

// The candidate parameter sets of |family| for |bucket| on the device, each valid by
// ValidateParams; empty when the family has nothing to search there or no such bucket (no
// TuningShape). |current| is the dispatcher's choice: parameters the bucket's shape cannot
// measure (qmatvec's mmax and gemm, used only for M > 1) keep its values.
std::vector<Params> TuningCandidates(Family family, const char* bucket, const Params& current,
                                     const porta_device_info_t& info, porta_kernel_format_t format);

// The problem each bucket is tuned at: matmul {M, N, K}; softmax, norm and reduce {rows, row
// length, 1}; ew {elements, 1, 1}; qmatvec {M, N, K} (gemv only); attention {heads, sequence
// length, head size} (causal self-attention, small only). False for a family or bucket without
// one.
bool TuningShape(Family family, const std::string& bucket, int64_t dims[3]);

// Parses |text| and checks every row that applies to the device with ValidateParams: an overlay is
// asked for on purpose, so a row the dispatcher would have to skip is reported, not ignored.
// Returns "" or the reason naming the line.
std::string ParseRowsForDevice(const char* text, const porta_device_info_t& info,
                               porta_kernel_format_t format, std::vector<TuningRow>* rows);

// Looks a family up by its table name.
bool FamilyByName(const char* name, Family* family);

}  // namespace porta::ops

#endif  // PORTA_KERNELS_CORE_TUNING_FILE_H_
