// The tuning table: rows keyed by backend, vendor, architecture, device name, kernel family,
// dtype and shape bucket, each giving parameter values. The shipped table is text compiled into
// the library (kernels/tuning/table.txt); a context may add overlay rows that take precedence.
// The validity rules of every family's parameters live here too, so the dispatcher and a tuner
// share them.
#ifndef PORTA_KERNELS_CORE_TUNING_H_
#define PORTA_KERNELS_CORE_TUNING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "porta/porta.h"

namespace porta::ops {

// Kernel families: one parameter block and one kernel per target each (params.h).
enum class Family : int {
  kEw,
  kReduce,
  kSoftmax,
  kNorm,
  kGather,
  kRope,
  kAttention,
  kMatmul,
  kConv2d,
  kPool2d,
  // Block-quantized weights: the matrix-vector product and dequantization (cast, embedding, and
  // on the CPU device the f32 copy of a quantized GEMM's b).
  kQmatvec,
  kQdequant,
  kCount,
};

// "ew", "reduce", ... as the table and the kernel entry names spell them.
const char* FamilyName(Family family);

// A named integer parameter (tm, tn, tk, wm, wn for matmul; wg, rows, mmax, gemm and mv for
// qmatvec; wg for the others).
struct Param {
  std::string name;
  int64_t value = 0;
};

// A parameter set. Absent parameters are taken from the generic default.
struct Params {
  std::vector<Param> values;

  // The value of |name|, or |fallback|.
  int64_t Get(const char* name, int64_t fallback) const;
  void Set(const char* name, int64_t value);
  // "tm=64 tn=64 ...".
  std::string Text() const;
};

struct TuningRow {
  // backend, vendor, architecture, device, family, dtype, bucket; "*" matches anything and a
  // trailing '*' is a prefix match.
  std::string key[7];
  Family family = Family::kEw;
  Params params;
  int line = 0;
};

// Parses table text. On a malformed row returns false with *error naming the line and why.
bool ParseTuningTable(const char* text, std::vector<TuningRow>* rows, std::string* error);

// True when the row's device keys (backend, vendor, architecture, device) match |info|.
bool RowMatchesDevice(const TuningRow& row, const porta_device_info_t& info);

// The table shipped in the library, parsed once (an unparsable shipped table is a build defect
// that a unit test catches; here it yields no rows).
const std::vector<TuningRow>& ShippedTuningRows();
const char* ShippedTuningText();

// Kernel formats the op library can use, and whether the target's kernels are compiled ahead of
// time (then only the compiled matmul tiles exist).
bool FormatIsPrecompiled(porta_kernel_format_t format);

// Checks |params| for |family| on a device. Empty result: valid; otherwise the reason.
std::string ValidateParams(Family family, const Params& params, const porta_device_info_t& info,
                           porta_kernel_format_t format);

// The matmul tiles every precompiled target ships ("t64x64x16_w4x4", ...).
const std::vector<std::string>& CompiledMatmulTiles();

// The direct matmul tiles (tk = 0: no shared memory, kernels/vulkan/matmul_direct.comp), compiled
// for spirv-shader only.
const std::vector<std::string>& CompiledDirectMatmulTiles();

// "t{tm}x{tn}x{tk}_w{wm}x{wn}" of a matmul parameter set.
std::string MatmulTileName(const Params& params);

// What the dispatcher will use, and where it came from ("overlay line 3", "table line 12",
// "generic default").
struct TuningChoice {
  Params params;
  std::string source;
};

// Chooses the parameters for |family| with |dtype| and |bucket| on the device: the best
// matching valid overlay row, else the best matching valid shipped row, else the generic
// default. Rows match by most specific key, the device keys first.
TuningChoice ChooseParams(const std::vector<TuningRow>& overlay, Family family, const char* dtype,
                          const char* bucket, const porta_device_info_t& info,
                          porta_kernel_format_t format);

// The generic default of |family| on the device (always valid).
Params GenericParams(Family family, const porta_device_info_t& info, porta_kernel_format_t format);

}  // namespace porta::ops

#endif  // PORTA_KERNELS_CORE_TUNING_H_
