#include "kernels/core/tuning.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "kernels/common/params.h"
#include "kernels/core/tensor.h"
#include "kernels/porta_ops_build.h"

namespace porta::ops {
namespace {

// Families whose kernels size local arrays with PORTA_MAX_WG.
bool UsesLocalArrays(Family family) {
  return family == Family::kReduce || family == Family::kSoftmax || family == Family::kNorm ||
         family == Family::kAttention || family == Family::kQmatvec;
}

bool Matches(const std::string& pattern, const char* value) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*') {
    return std::strncmp(value, pattern.c_str(), pattern.size() - 1) == 0;
  }
  return pattern == value;
}

// Specificity of a matching row: the device keys first (backend, vendor, architecture, device),
// then dtype and bucket. Lexicographic, so a row pinned at a device level beats any row above it.
std::array<int, 6> Specificity(const TuningRow& row) {
  static constexpr int kOrder[6] = {0, 1, 2, 3, 5, 6};
  std::array<int, 6> score{};
  for (int i = 0; i < 6; ++i) score[i] = row.key[kOrder[i]] == "*" ? 0 : 1;
  return score;
}

const TuningRow* BestRow(const std::vector<TuningRow>& rows, Family family, const char* dtype,
                         const char* bucket, const porta_device_info_t& info,
                         porta_kernel_format_t format) {
  const TuningRow* best = nullptr;
  std::array<int, 6> best_score{};
  for (const TuningRow& row : rows) {
    if (row.family != family || !RowMatchesDevice(row, info)) continue;
    if (!Matches(row.key[5], dtype) || !Matches(row.key[6], bucket)) continue;
    if (!ValidateParams(family, row.params, info, format).empty()) continue;
    const std::array<int, 6> score = Specificity(row);
    if (best == nullptr || score > best_score) {
      best = &row;
      best_score = score;
    }
  }
  return best;
}

}  // namespace

bool RowMatchesDevice(const TuningRow& row, const porta_device_info_t& info) {
  return Matches(row.key[0], info.backend) && Matches(row.key[1], info.vendor) &&
         Matches(row.key[2], info.architecture) && Matches(row.key[3], info.name);
}

const char* ShippedTuningText() {
  static const std::string* text = new std::string(
      reinterpret_cast<const char*>(porta_ops_tuning_table_txt), porta_ops_tuning_table_txt_size);
  return text->c_str();
}

const std::vector<TuningRow>& ShippedTuningRows() {
  static const std::vector<TuningRow>* rows = [] {
    auto* parsed = new std::vector<TuningRow>();
    std::string error;
    if (!ParseTuningTable(ShippedTuningText(), parsed, &error)) parsed->clear();
    return parsed;
  }();
  return *rows;
}

bool FormatIsPrecompiled(porta_kernel_format_t format) {
  return format == PORTA_FORMAT_SPIRV_SHADER || format == PORTA_FORMAT_SPIRV_KERNEL ||
         format == PORTA_FORMAT_CUBIN || format == PORTA_FORMAT_PTX || format == PORTA_FORMAT_HSACO;
}

namespace {

// The names of a ';'-separated build list.
std::vector<std::string>* SplitTileList(const std::string& all) {
  auto* list = new std::vector<std::string>();
  size_t start = 0;
  while (start < all.size()) {
    const size_t end = all.find(';', start);
    list->push_back(all.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return list;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& candidate : names) {
    if (candidate == name) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& CompiledMatmulTiles() {
  static const std::vector<std::string>* tiles = SplitTileList(PORTA_OPS_MATMUL_TILES);
  return *tiles;
}

const std::vector<std::string>& CompiledDirectMatmulTiles() {
  static const std::vector<std::string>* tiles = SplitTileList(PORTA_OPS_MATMUL_DIRECT_TILES);
  return *tiles;
}

std::string MatmulTileName(const Params& params) {
  return "t" + std::to_string(params.Get("tm", 0)) + "x" + std::to_string(params.Get("tn", 0)) +
         "x" + std::to_string(params.Get("tk", 0)) + "_w" + std::to_string(params.Get("wm", 0)) +
         "x" + std::to_string(params.Get("wn", 0)) +
         (params.Get("sg", 0) > 0 ? "_s" + std::to_string(params.Get("sg", 0)) : "");
}

std::string ValidateParams(Family family, const Params& params, const porta_device_info_t& info,
                           porta_kernel_format_t format) {
  if (family == Family::kMatmul) {
    const int64_t tm = params.Get("tm", 0), tn = params.Get("tn", 0), tk = params.Get("tk", 0);
    const int64_t wm = params.Get("wm", 0), wn = params.Get("wn", 0);
    const int64_t sg = params.Get("sg", 0);
    if (tm < 1 || tn < 1 || tk < 0 || wm < 1 || wn < 1) return "matmul needs tm, tn, tk, wm, wn";
    if (sg < 0) return "matmul needs sg >= 0";
    if (tm > 256 || tn > 256 || tk > 256) return "matmul tiles are at most 256 on a side";
    if (tm % wm != 0 || tn % wn != 0) {
      return "matmul needs tm a multiple of wm and tn a multiple of wn";
    }
    // OpenCL C's direct variant (tk = 0) holds its block in float8 vectors: up to 16 of them.
    const bool opencl_direct = format == PORTA_FORMAT_OPENCL_C && tk == 0;
    if (wm * wn > (opencl_direct ? 128 : 64)) {
      return "matmul " + MatmulTileName(params) + ": register blocks are at most " +
             (opencl_direct ? "128 outputs per work-item (the direct OpenCL C variant)"
                            : "64 outputs per work-item");
    }
    // sg > 0 names the subgroup variant: one subgroup of sg lanes per work-group, which must be
    // the device's only subgroup size.
    if (sg > 0) {
      if (tk != 0 || tm != wm || tn != sg * wn) {
        return "matmul " + MatmulTileName(params) +
               ": the subgroup variant (sg > 0) needs tk=0, tm = wm and tn = sg * wn";
      }
      if (info.subgroup_size_count != 1 || info.subgroup_sizes[0] != static_cast<uint32_t>(sg)) {
        return "matmul " + MatmulTileName(params) + " needs subgroups of exactly " +
               std::to_string(sg) + " lanes, which the device does not guarantee";
      }
      if ((info.capabilities & PORTA_CAP_INT64) == 0) {
        return "matmul " + MatmulTileName(params) + " needs 64-bit integers (PORTA_CAP_INT64)";
      }
    }
    // The host kernel ignores tiles; only the checks above apply.
    if (format == PORTA_FORMAT_HOST) return "";
    // tk = 0 names the direct variant (no shared memory): any tile with whole float8 columns in
    // OpenCL C, the compiled tiles in spirv-shader, nowhere else.
    if (opencl_direct) {
      if (sg > 0) {
        return "matmul " + MatmulTileName(params) +
               ": the subgroup variant (sg > 0) exists only among the spirv-shader tiles";
      }
      if (wn % 8 != 0) {
        return "matmul " + MatmulTileName(params) +
               ": the direct OpenCL C variant (tk=0) needs wn a multiple of 8";
      }
    } else if (tk == 0 && (format != PORTA_FORMAT_SPIRV_SHADER ||
                           !Contains(CompiledDirectMatmulTiles(), MatmulTileName(params)))) {
      return "matmul " + MatmulTileName(params) + " (tk=0: the direct variant) exists only in " +
             "OpenCL C and among the spirv-shader tiles " PORTA_OPS_MATMUL_DIRECT_TILES;
    }
    const int64_t threads = (tm / wm) * (tn / wn);
    if (threads > info.max_work_group_size || tn / wn > info.max_work_group_dims[0] ||
        tm / wm > info.max_work_group_dims[1]) {
      return "matmul " + MatmulTileName(params) + " needs a " + std::to_string(tn / wn) + " x " +
             std::to_string(tm / wm) + " work-group (" + std::to_string(threads) +
             " work-items); the device allows " + std::to_string(info.max_work_group_size);
    }
    const int64_t local = tk * (tm + tn) * 4;
    if (static_cast<uint64_t>(local) > info.local_memory_bytes) {
      return "matmul " + MatmulTileName(params) + " needs " + std::to_string(local) +
             " bytes of local memory; the device has " + std::to_string(info.local_memory_bytes);
    }
    if (FormatIsPrecompiled(format) && tk > 0) {
      const std::string name = MatmulTileName(params);
      if (!Contains(CompiledMatmulTiles(), name)) {
        return "matmul tile " + name + " is not among the tiles compiled for " +
               porta_kernel_format_name(format) + " (" PORTA_OPS_MATMUL_TILES ")";
      }
    }
    return "";
  }
  if (family == Family::kQmatvec) {
    const int64_t rows = params.Get("rows", 0), mmax = params.Get("mmax", 0);
    if (rows < 1 || (rows & (rows - 1)) != 0) return "qmatvec needs rows, a power of two";
    if (mmax < 1 || mmax > PORTA_QMATVEC_MAX_M) {
      return "qmatvec needs mmax in [1, " + std::to_string(PORTA_QMATVEC_MAX_M) + "]";
    }
    const int64_t gemm = params.Get("gemm", 0);
    if (gemm != 1 && gemm != 2)
      return "qmatvec needs gemm=1 (tile loads dequantize) or gemm=2 (f32 copy)";
    const int64_t mv = params.Get("mv", 1);
    if (mv != 1 && mv != 2) {
      return "qmatvec needs mv=1 (teams of work-items per row) or mv=2 (a work-item per row)";
    }
    // The host kernel takes a block of rows per call and ignores wg and mv.
    if (format == PORTA_FORMAT_HOST) return "";
    const int64_t wg = params.Get("wg", 0);
    if (mv == 2 && rows != wg && rows != 2 * wg && rows != 4 * wg) {
      return "qmatvec mv=2 needs rows = wg, 2 wg or 4 wg (each work-item computes rows / wg rows)";
    }
    if (mv == 1 && rows > wg) {
      return "qmatvec needs rows <= wg (each row gets wg / rows work-items)";
    }
  }
  if (family == Family::kAttention) {
    // direct=1 names the direct variant (no local memory): in OpenCL C a work-item per query row;
    // on spirv-shader one subgroup of 8 lanes per 8 query rows, so wg must be 8 and the device's
    // only subgroup size.
    const int64_t direct = params.Get("direct", 0);
    if (direct != 0 && direct != 1) {
      return "attention needs direct=0 (a work-group per query row) or direct=1 (the direct "
             "variant)";
    }
    if (direct == 1 && format != PORTA_FORMAT_OPENCL_C && format != PORTA_FORMAT_SPIRV_SHADER) {
      return "attention direct=1 (the direct variant) exists only in OpenCL C and spirv-shader";
    }
    if (direct == 1 && format == PORTA_FORMAT_SPIRV_SHADER &&
        (params.Get("wg", 0) != 8 || info.subgroup_size_count != 1 ||
         info.subgroup_sizes[0] != 8)) {
      return "attention direct=1 on spirv-shader needs wg=8 and a device whose only subgroup "
             "size is 8";
    }
  }
  const int64_t wg = params.Get("wg", 0);
  if (wg < 1 || (wg & (wg - 1)) != 0) return "wg must be a power of two";
  if (wg > info.max_work_group_size) {
    return "wg=" + std::to_string(wg) + " exceeds the device's work-group limit of " +
           std::to_string(info.max_work_group_size);
  }
  if (UsesLocalArrays(family) && wg > PORTA_MAX_WG) {
    return std::string(FamilyName(family)) + " kernels take wg <= " + std::to_string(PORTA_MAX_WG);
  }
  return "";
}

Params GenericParams(Family family, const porta_device_info_t& info, porta_kernel_format_t format) {
  Params params;
  if (family == Family::kMatmul) {
    struct Tile {
      int64_t tm, tn, tk, wm, wn;
    };
    // Preferred first; the last two fit 64 and 16 work-items for runtime-compiled targets.
    static constexpr Tile kTiles[] = {{32, 32, 16, 2, 2},
                                      {32, 64, 16, 4, 4},
                                      {4, 128, 32, 1, 4},
                                      {8, 8, 8, 1, 1},
                                      {4, 4, 4, 1, 1}};
    for (const Tile& tile : kTiles) {
      Params candidate;
      candidate.Set("tm", tile.tm);
      candidate.Set("tn", tile.tn);
      candidate.Set("tk", tile.tk);
      candidate.Set("wm", tile.wm);
      candidate.Set("wn", tile.wn);
      if (ValidateParams(family, candidate, info, format).empty()) return candidate;
      if (params.values.empty()) params = candidate;
    }
    return params;
  }
  if (family == Family::kQmatvec) {
    // Host: 16 rows per call (enough calls to keep every thread busy at N = 576), M up to 32.
    // Devices: four rows of wg / 4 work-items each (mv=1, the GPU shape), M up to 4; a larger M
    // takes the tile kernel on the quantized b.
    params.Set("rows", format == PORTA_FORMAT_HOST ? 16 : 4);
    params.Set("mmax", format == PORTA_FORMAT_HOST ? 32 : 4);
    params.Set("gemm", format == PORTA_FORMAT_HOST ? 2 : 1);
    params.Set("mv", 1);
    if (format == PORTA_FORMAT_HOST) {
      params.Set("wg", 1);
      return params;
    }
    const int64_t wg =
        FloorPow2(std::max<uint64_t>(1, std::min<uint64_t>(256, info.max_work_group_size)));
    params.Set("wg", wg);
    params.Set("rows", std::min<int64_t>(4, wg));
    return params;
  }
  if (format == PORTA_FORMAT_HOST) {
    // A host work-group is one call on one thread: a row for the row families, and for the
    // linear ones as many items as the device's work-group limit allows, to amortize the call.
    params.Set("wg", UsesLocalArrays(family)
                         ? 1
                         : FloorPow2(std::max<uint64_t>(1, info.max_work_group_size)));
    return params;
  }
  const uint64_t wanted = UsesLocalArrays(family) ? 128 : 256;
  params.Set(
      "wg", FloorPow2(std::max<uint64_t>(1, std::min<uint64_t>(wanted, info.max_work_group_size))));
  return params;
}

TuningChoice ChooseParams(const std::vector<TuningRow>& overlay, Family family, const char* dtype,
                          const char* bucket, const porta_device_info_t& info,
                          porta_kernel_format_t format) {
  TuningChoice choice;
  if (const TuningRow* row = BestRow(overlay, family, dtype, bucket, info, format)) {
    choice.params = row->params;
    choice.source = "overlay line " + std::to_string(row->line);
  } else if (const TuningRow* shipped =
                 BestRow(ShippedTuningRows(), family, dtype, bucket, info, format)) {
    choice.params = shipped->params;
    choice.source = "table line " + std::to_string(shipped->line);
  } else {
    choice.params = GenericParams(family, info, format);
    choice.source = "generic default";
  }
  return choice;
}

}  // namespace porta::ops
