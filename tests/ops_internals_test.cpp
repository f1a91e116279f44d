// Unit tests of the operator library's internals that the CTS cannot see: the tuning table
// (parsing, matching, validity rules, the compiled tile list, porta-tune's candidates on devices
// this machine lacks), and the shape arithmetic (coalescing, splitting).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/core/tensor.h"
#include "kernels/core/tuning.h"
#include "kernels/core/tuning_file.h"
#include "kernels/cpu/vector_math.h"
#include "kernels/porta_ops_build.h"

namespace porta::ops {
namespace {

porta_device_info_t Device(const char* backend, const char* name, uint32_t max_wg,
                           uint64_t local_bytes) {
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  std::strncpy(info.backend, backend, sizeof(info.backend) - 1);
  std::strncpy(info.name, name, sizeof(info.name) - 1);
  std::strncpy(info.vendor, "Vendor", sizeof(info.vendor) - 1);
  std::strncpy(info.architecture, "arch", sizeof(info.architecture) - 1);
  info.max_work_group_size = max_wg;
  info.max_work_group_dims[0] = max_wg;
  info.max_work_group_dims[1] = max_wg;
  info.max_work_group_dims[2] = 64;
  info.local_memory_bytes = local_bytes;
  return info;
}

TEST(OpsTuningTable, ShippedTableParsesAndEveryRowIsValidSomewhere) {
  std::vector<TuningRow> rows;
  std::string error;
  ASSERT_TRUE(ParseTuningTable(ShippedTuningText(), &rows, &error)) << error;
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.size(), ShippedTuningRows().size());
  // Every shipped row must be usable on a generous device of the format it is meant for (the
  // host format for rows pinned to the CPU device); a row no device can run is dead weight that
  // hides a typo.
  porta_device_info_t roomy = Device("x", "x", 1024, 65536);
  // Subgroups of 8 lanes only and 64-bit integers, as the subgroup matmul tile needs.
  roomy.subgroup_sizes[0] = 8;
  roomy.subgroup_size_count = 1;
  roomy.capabilities |= PORTA_CAP_INT64;
  for (const TuningRow& row : rows) {
    const bool ok =
        row.key[0] == "cpu"
            ? ValidateParams(row.family, row.params, roomy, PORTA_FORMAT_HOST).empty()
            : ValidateParams(row.family, row.params, roomy, PORTA_FORMAT_OPENCL_C).empty() ||
                  ValidateParams(row.family, row.params, roomy, PORTA_FORMAT_SPIRV_SHADER).empty();
    EXPECT_TRUE(ok) << "line " << row.line << ": " << row.params.Text();
  }
}

TEST(OpsTuningTable, ParseErrorsNameTheLine) {
  std::vector<TuningRow> rows;
  std::string error;
  EXPECT_FALSE(ParseTuningTable("# c\n* * * * nosuch * * wg=4\n", &rows, &error));
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
  EXPECT_NE(error.find("nosuch"), std::string::npos) << error;
  EXPECT_FALSE(ParseTuningTable("* * * * ew * *\n", &rows, &error));
  EXPECT_NE(error.find("at least one parameter"), std::string::npos) << error;
  EXPECT_FALSE(ParseTuningTable("* * * * ew * * wg=abc\n", &rows, &error));
  EXPECT_NE(error.find("wg=abc"), std::string::npos) << error;
  EXPECT_FALSE(ParseTuningTable("* * * * ew * * tm=4\n", &rows, &error));
  EXPECT_NE(error.find("no parameter 'tm'"), std::string::npos) << error;
  EXPECT_FALSE(ParseTuningTable("* * * * matmul * * tm=4 tn=4\n", &rows, &error));
  EXPECT_NE(error.find("needs tk"), std::string::npos) << error;
  EXPECT_FALSE(ParseTuningTable("\"unterminated * * * ew * * wg=4\n", &rows, &error));
  EXPECT_NE(error.find("quote"), std::string::npos) << error;
  EXPECT_FALSE(ParseTuningTable("* * * * ew f64 * wg=4\n", &rows, &error));
  EXPECT_FALSE(ParseTuningTable("* * * * ew * huge wg=4\n", &rows, &error));
  EXPECT_TRUE(
      ParseTuningTable("opencl \"Vendor X\" * \"dev*\" ew f16 small wg=64 # note\n", &rows, &error))
      << error;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key[1], "Vendor X");
  EXPECT_EQ(rows[0].params.Get("wg", 0), 64);
}

TEST(OpsTuningTable, DeviceKeysOutrankShapeKeysAndOverlayWins) {
  std::vector<TuningRow> overlay;
  std::string error;
  ASSERT_TRUE(
      ParseTuningTable("* * * * softmax * small wg=32\n"
                       "opencl * * * softmax * * wg=64\n"
                       "opencl * * \"gpu*\" softmax f32 * wg=128\n",
                       &overlay, &error))
      << error;
  const porta_device_info_t gpu = Device("opencl", "gpu one", 256, 65536);
  const porta_device_info_t other = Device("opencl", "cpu", 256, 65536);
  const porta_device_info_t vulkan = Device("vulkan", "gpu one", 256, 65536);
  EXPECT_EQ(ChooseParams(overlay, Family::kSoftmax, "f32", "small", gpu, PORTA_FORMAT_OPENCL_C)
                .params.Get("wg", 0),
            128);
  EXPECT_EQ(ChooseParams(overlay, Family::kSoftmax, "f16", "small", gpu, PORTA_FORMAT_OPENCL_C)
                .params.Get("wg", 0),
            64);
  EXPECT_EQ(ChooseParams(overlay, Family::kSoftmax, "f32", "small", other, PORTA_FORMAT_OPENCL_C)
                .params.Get("wg", 0),
            64);
  const TuningChoice generic =
      ChooseParams(overlay, Family::kSoftmax, "f32", "small", vulkan, PORTA_FORMAT_SPIRV_SHADER);
  EXPECT_EQ(generic.params.Get("wg", 0), 32);
  EXPECT_EQ(generic.source, "overlay line 1");
  // A row the device cannot run is skipped, not used.
  const porta_device_info_t small = Device("opencl", "gpu one", 64, 65536);
  const TuningChoice skipped =
      ChooseParams(overlay, Family::kSoftmax, "f32", "large", small, PORTA_FORMAT_OPENCL_C);
  EXPECT_EQ(skipped.params.Get("wg", 0), 64) << skipped.source;
}

TEST(OpsTuningTable, ValidityRules) {
  const porta_device_info_t npu = Device("opencl", "npu", 128, 32768);
  Params tile;
  tile.Set("tm", 64);
  tile.Set("tn", 64);
  tile.Set("tk", 16);
  tile.Set("wm", 4);
  tile.Set("wn", 4);
  EXPECT_NE(ValidateParams(Family::kMatmul, tile, npu, PORTA_FORMAT_OPENCL_C).find("allows 128"),
            std::string::npos);
  tile.Set("wm", 8);
  EXPECT_EQ(ValidateParams(Family::kMatmul, tile, npu, PORTA_FORMAT_OPENCL_C), "");
  // Only compiled tiles exist on precompiled formats.
  EXPECT_NE(ValidateParams(Family::kMatmul, tile, npu, PORTA_FORMAT_SPIRV_SHADER)
                .find("not among the tiles"),
            std::string::npos);
  tile.Set("tk", 128);
  EXPECT_NE(ValidateParams(Family::kMatmul, tile, npu, PORTA_FORMAT_OPENCL_C).find("local memory"),
            std::string::npos);
  tile.Set("tk", 16);
  tile.Set("wm", 3);
  EXPECT_NE(ValidateParams(Family::kMatmul, tile, npu, PORTA_FORMAT_OPENCL_C).find("multiple"),
            std::string::npos);
  // The subgroup tile (sg=8) needs tk=0, tm = wm, tn = 8 wn, subgroups of exactly 8 lanes and
  // 64-bit integers, and exists on spirv-shader only.
  Params sg;
  sg.Set("tm", 16);
  sg.Set("tn", 32);
  sg.Set("tk", 0);
  sg.Set("wm", 16);
  sg.Set("wn", 4);
  sg.Set("sg", 8);
  porta_device_info_t lanes8 = Device("vulkan", "cpu-like", 1024, 32768);
  lanes8.subgroup_sizes[0] = 8;
  lanes8.subgroup_size_count = 1;
  lanes8.capabilities |= PORTA_CAP_INT64;
  EXPECT_EQ(ValidateParams(Family::kMatmul, sg, lanes8, PORTA_FORMAT_SPIRV_SHADER), "");
  EXPECT_NE(ValidateParams(Family::kMatmul, sg, lanes8, PORTA_FORMAT_OPENCL_C)
                .find("subgroup variant (sg > 0) exists only among the spirv-shader tiles"),
            std::string::npos);
  porta_device_info_t lanes16 = lanes8;
  lanes16.subgroup_sizes[0] = 16;
  EXPECT_NE(ValidateParams(Family::kMatmul, sg, lanes16, PORTA_FORMAT_SPIRV_SHADER)
                .find("exactly 8 lanes"),
            std::string::npos);
  porta_device_info_t no_int64 = lanes8;
  no_int64.capabilities &= ~PORTA_CAP_INT64;
  EXPECT_NE(ValidateParams(Family::kMatmul, sg, no_int64, PORTA_FORMAT_SPIRV_SHADER)
                .find("PORTA_CAP_INT64"),
            std::string::npos);
  sg.Set("tn", 64);
  EXPECT_NE(ValidateParams(Family::kMatmul, sg, lanes8, PORTA_FORMAT_SPIRV_SHADER).find("tn = sg"),
            std::string::npos);
  // OpenCL C's direct tiles: any tile with wn a multiple of 8 and at most 128 outputs per
  // work-item; the other runtime-compiled format, spirv-kernel, has none.
  Params direct;
  direct.Set("tm", 32);
  direct.Set("tn", 64);
  direct.Set("tk", 0);
  direct.Set("wm", 4);
  direct.Set("wn", 16);
  EXPECT_EQ(ValidateParams(Family::kMatmul, direct, npu, PORTA_FORMAT_OPENCL_C), "");
  EXPECT_NE(ValidateParams(Family::kMatmul, direct, npu, PORTA_FORMAT_SPIRV_KERNEL)
                .find("exists only in OpenCL C"),
            std::string::npos);
  direct.Set("wm", 8);
  direct.Set("wn", 32);
  direct.Set("tn", 128);
  EXPECT_NE(ValidateParams(Family::kMatmul, direct, npu, PORTA_FORMAT_OPENCL_C)
                .find("at most 128 outputs"),
            std::string::npos);
  direct.Set("wm", 4);
  direct.Set("wn", 4);
  direct.Set("tn", 64);
  EXPECT_NE(ValidateParams(Family::kMatmul, direct, npu, PORTA_FORMAT_OPENCL_C)
                .find("wn a multiple of 8"),
            std::string::npos);
  // Attention's direct variant (direct=1) exists in OpenCL C (any wg) and on spirv-shader (wg=8
  // on a device whose only subgroup size is 8).
  Params attention;
  attention.Set("wg", 8);
  attention.Set("direct", 1);
  EXPECT_EQ(ValidateParams(Family::kAttention, attention, npu, PORTA_FORMAT_OPENCL_C), "");
  EXPECT_NE(ValidateParams(Family::kAttention, attention, npu, PORTA_FORMAT_SPIRV_KERNEL)
                .find("exists only in OpenCL C and spirv-shader"),
            std::string::npos);
  EXPECT_EQ(ValidateParams(Family::kAttention, attention, lanes8, PORTA_FORMAT_SPIRV_SHADER), "");
  EXPECT_NE(ValidateParams(Family::kAttention, attention, lanes16, PORTA_FORMAT_SPIRV_SHADER)
                .find("only subgroup size is 8"),
            std::string::npos);
  attention.Set("wg", 16);
  EXPECT_NE(ValidateParams(Family::kAttention, attention, lanes8, PORTA_FORMAT_SPIRV_SHADER)
                .find("needs wg=8"),
            std::string::npos);
  attention.Set("direct", 2);
  EXPECT_NE(
      ValidateParams(Family::kAttention, attention, npu, PORTA_FORMAT_OPENCL_C).find("direct=0"),
      std::string::npos);
  Params wg;
  wg.Set("wg", 96);
  EXPECT_NE(ValidateParams(Family::kEw, wg, npu, PORTA_FORMAT_OPENCL_C).find("power of two"),
            std::string::npos);
  wg.Set("wg", 512);
  EXPECT_NE(
      ValidateParams(Family::kReduce, wg, Device("x", "x", 1024, 65536), PORTA_FORMAT_OPENCL_C),
      "");
  // The generic defaults are valid on every device, however small.
  for (uint32_t max_wg : {16u, 64u, 128u, 1024u}) {
    const porta_device_info_t device = Device("opencl", "d", max_wg, 4096);
    for (int f = 0; f < static_cast<int>(Family::kCount); ++f) {
      const Family family = static_cast<Family>(f);
      EXPECT_EQ(ValidateParams(family, GenericParams(family, device, PORTA_FORMAT_OPENCL_C), device,
                               PORTA_FORMAT_OPENCL_C),
                "")
          << FamilyName(family) << " max_wg " << max_wg;
    }
  }
}

// The tile list the library validates against is the one the CUDA/HIP source instantiates and
// the one the other precompiled formats were built with.
TEST(OpsTuningTable, CompiledTilesMatchTheSources) {
  std::ifstream file(PORTA_SOURCE_DIR "/kernels/cuda/ops.cu");
  ASSERT_TRUE(file) << "cannot read kernels/cuda/ops.cu";
  std::stringstream text;
  text << file.rdbuf();
  ASSERT_FALSE(CompiledMatmulTiles().empty());
  for (const std::string& tile : CompiledMatmulTiles()) {
    EXPECT_NE(text.str().find("porta_matmul_" + tile), std::string::npos)
        << "kernels/cuda/ops.cu does not instantiate " << tile;
    for (size_t i = 0; i < kEmbeddedKernelCount; ++i) {
      const EmbeddedKernel& entry = kEmbeddedKernels[i];
      if (entry.format != PORTA_FORMAT_SPIRV_SHADER || std::strcmp(entry.family, "matmul") != 0 ||
          entry.variant != tile) {
        continue;
      }
      const std::string binary(reinterpret_cast<const char*>(entry.data), entry.size);
      EXPECT_NE(binary.find("porta_matmul_" + tile), std::string::npos) << tile;
    }
  }
}

// porta-tune has something to search on every kind of target: a GPU with precompiled kernels
// (the compiled tiles only), a small OpenCL device, and a large one; and every bucket listed has a
// shape in that bucket.
TEST(OpsTuningTable, CandidatesExistOnEveryKindOfTarget) {
  struct Target {
    porta_device_info_t info;
    porta_kernel_format_t format;
  };
  const Target targets[] = {{Device("cuda", "gpu", 1024, 49152), PORTA_FORMAT_CUBIN},
                            {Device("vulkan", "gpu", 1024, 32768), PORTA_FORMAT_SPIRV_SHADER},
                            {Device("opencl", "npu", 128, 32768), PORTA_FORMAT_OPENCL_C},
                            {Device("opencl", "cpu", 4096, 65536), PORTA_FORMAT_OPENCL_C}};
  for (const Target& target : targets) {
    SCOPED_TRACE(std::string(target.info.backend) + " " + target.info.name);
    for (Family family : {Family::kMatmul, Family::kQmatvec, Family::kSoftmax, Family::kNorm,
                          Family::kReduce, Family::kEw, Family::kAttention}) {
      for (const char* bucket : {"small", "large", "gemv"}) {
        int64_t dims[3] = {0, 0, 0};
        if (!TuningShape(family, bucket, dims)) continue;
        const std::vector<Params> candidates =
            TuningCandidates(family, bucket, GenericParams(family, target.info, target.format),
                             target.info, target.format);
        // Precompiled targets ship one skinny tile (t4x128x32_w1x4) for matrix-vector work.
        const bool one_tile = family == Family::kMatmul && std::strcmp(bucket, "gemv") == 0 &&
                              FormatIsPrecompiled(target.format);
        EXPECT_GE(candidates.size(), one_tile ? 1u : 2u) << FamilyName(family) << " " << bucket;
        for (const Params& params : candidates) {
          EXPECT_EQ(ValidateParams(family, params, target.info, target.format), "")
              << FamilyName(family) << " " << bucket << " " << params.Text();
        }
        // The shape lies in its bucket (the dispatcher's rules: ops/matmul.cpp, ElementBucket).
        if (family == Family::kMatmul) {
          const double volume = static_cast<double>(dims[0]) * dims[1] * dims[2];
          const std::string actual = dims[0] == 1 || dims[1] == 1 ? "gemv"
                                     : volume < (1 << 21)         ? "small"
                                                                  : "large";
          EXPECT_EQ(actual, bucket);
        } else if (family != Family::kQmatvec) {
          const int64_t measured = family == Family::kEw ? dims[0] : dims[1];
          EXPECT_EQ(measured < (1 << 16) ? "small" : "large", std::string(bucket));
        }
      }
    }
  }
}

TEST(OpsShapes, CoalesceMergesContiguousDimensions) {
  const int64_t shape[3] = {2, 3, 4};
  const int64_t contiguous[3] = {12, 4, 1};
  const int64_t broadcast[3] = {0, 0, 1};
  const int64_t* both[2] = {contiguous, contiguous};
  Coalesced merged = Coalesce(shape, 3, both, 2);
  ASSERT_EQ(merged.rank, 1u);
  EXPECT_EQ(merged.shape[0], 24);
  const int64_t* mixed[2] = {contiguous, broadcast};
  merged = Coalesce(shape, 3, mixed, 2);
  ASSERT_EQ(merged.rank, 2u);
  EXPECT_EQ(merged.shape[0], 6);
  EXPECT_EQ(merged.strides[0][0], 4);
  EXPECT_EQ(merged.strides[1][0], 0);
  const int64_t permuted[3] = {1, 2, 6};  // a contiguous [4, 3, 2] viewed transposed
  const int64_t* transposed[1] = {permuted};
  merged = Coalesce(shape, 3, transposed, 1);
  EXPECT_EQ(merged.rank, 3u);
}

TEST(OpsShapes, SplitLoopsOverLeadingDimensions) {
  const int64_t shape[6] = {2, 3, 5, 7, 11, 13};
  const int64_t strides[6] = {1, 2, 6, 30, 210, 2310};  // column-major: nothing merges
  const int64_t* list[1] = {strides};
  const Coalesced space = Coalesce(shape, 6, list, 1);
  ASSERT_EQ(space.rank, 6u);
  const Split split = SplitSpace(space, 4);
  ASSERT_EQ(split.offsets.size(), 6u);
  EXPECT_EQ(split.inner_shape[0], 5);
  EXPECT_EQ(split.inner_shape[3], 13);
  EXPECT_EQ(split.offsets[1][0], 2u);  // index (0, 1)
  EXPECT_EQ(split.offsets[3][0], 1u);  // index (1, 0)
}

// The host kernels' vectorized exp: within a few ulp of the C library's over the whole range,
// finite up to ln(FLT_MAX), 0 below the normal range, infinite above it, NaN kept.
TEST(OpsHostMath, ExpShiftSumMatchesExp) {
  std::vector<float> values;
  for (float x = -87.0f; x <= 88.7f; x += 0.0137f) values.push_back(x);
  values.push_back(88.7f);
  std::vector<float> out = values;
  host::ExpShiftSum(out.data(), out.size(), 0.0f);
  for (size_t i = 0; i < values.size(); ++i) {
    const double want = std::exp(static_cast<double>(values[i]));
    EXPECT_LE(std::fabs(out[i] - want), 4e-7 * want) << "exp(" << values[i] << ")";
  }
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> edges = {-inf, -100.0f, 89.0f, inf, std::numeric_limits<float>::quiet_NaN()};
  host::ExpShiftSum(edges.data(), edges.size(), 0.0f);
  EXPECT_EQ(edges[0], 0.0f);
  EXPECT_EQ(edges[1], 0.0f);
  EXPECT_EQ(edges[2], inf);
  EXPECT_EQ(edges[3], inf);
  EXPECT_TRUE(std::isnan(edges[4]));
}

}  // namespace
}  // namespace porta::ops
