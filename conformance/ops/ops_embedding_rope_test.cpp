// Embedding lookup (a gather of table rows: exact, with out-of-range indices giving zero rows) and
// rotary position embedding (both pair layouts, rotary_dims below the head size, every sequence
// axis, ranks 2 to 4, other bases and frequency scales, negative and unsorted positions, strided
// views and in-place runs), in every float type, with empty tensors.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

//===------------------------------------------------------------------------------------------===//
// Embedding
//===------------------------------------------------------------------------------------------===//

struct EmbeddingCase {
  TensorSpec table;
  TensorSpec indices;
  TensorSpec out;
};

std::vector<EmbeddingCase> EmbeddingCases(porta_dtype_t dt) {
  const porta_dtype_t i32 = PORTA_DTYPE_I32;
  return {
      {Contiguous(dt, {13, 7}), Contiguous(i32, {5}), Contiguous(dt, {5, 7})},
      {Contiguous(dt, {1, 1}), Contiguous(i32, {}), Contiguous(dt, {1})},
      {Contiguous(dt, {13, 64}), Contiguous(i32, {2, 3}), Contiguous(dt, {2, 3, 64})},
      {Contiguous(dt, {9, 5}), Contiguous(i32, {2, 2, 3}), Contiguous(dt, {2, 2, 3, 5})},
      {Permuted(dt, {13, 7}, {1, 0}), Sliced(i32, {4}), Sliced(dt, {4, 7})},
      {Sliced(dt, {13, 7}), Permuted(i32, {3, 4}, {1, 0}), Contiguous(dt, {3, 4, 7})},
      {Contiguous(dt, {50, 3}), Contiguous(i32, {700}), Contiguous(dt, {700, 3})},
      {Contiguous(dt, {6, 1}), Broadcast(i32, {4, 3}, {0}), Contiguous(dt, {4, 3, 1})},
      {Contiguous(dt, {13, 7}), Contiguous(i32, {0}), Contiguous(dt, {0, 7})},
      {Contiguous(dt, {13, 0}), Contiguous(i32, {5}), Contiguous(dt, {5, 0})},
  };
}

class OpsEmbeddingTest : public OpsTest {
 protected:
  void Check(const DeviceTensor& table, const DeviceTensor& indices, const TensorSpec& out_spec) {
    DeviceTensor out = Output(out_spec);
    const std::string what =
        "embedding, table " + SpecText(table.spec()) + ", indices " + SpecText(indices.spec());
    ASSERT_PORTA_OK(porta_ops_embedding(ctx(), stream(), table.get(), indices.get(), out.get()))
        << what;
    const std::vector<double> expected =
        ref::Embedding(table.Values(), table.shape()[0], table.shape()[1], indices.Values());
    EXPECT_TRUE(Verify(what, OpClass::kExact, out, expected, 1, {&table, &indices}));
  }

  void Run(porta_dtype_t dt) {
    for (const EmbeddingCase& c : EmbeddingCases(dt)) {
      DeviceTensor table = Random(c.table);
      const int64_t vocab = c.table.shape[0];
      DeviceTensor indices =
          Upload(c.indices, RandomIntegers(static_cast<size_t>(ElementCount(c.indices.shape)),
                                           NextSeed(), 0, vocab - 1));
      Check(table, indices, c.out);
    }
    // Indices outside [0, V) give rows of zeros; the rest are ordinary.
    DeviceTensor table = Random(Contiguous(dt, {13, 6}));
    DeviceTensor indices =
        Upload(Contiguous(PORTA_DTYPE_I32, {8}), {-1, 13, -2147483648.0, 2147483647, 0, 12, 14, 5});
    Check(table, indices, Contiguous(dt, {8, 6}));
  }
};

TEST_P(OpsEmbeddingTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_EMBEDDING, PORTA_DTYPE_F32, PORTA_DTYPE_I32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsEmbeddingTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_EMBEDDING, PORTA_DTYPE_F16, PORTA_DTYPE_I32, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsEmbeddingTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_EMBEDDING, PORTA_DTYPE_BF16, PORTA_DTYPE_I32, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

PORTA_CTS_INSTANTIATE(OpsEmbeddingTest);

//===------------------------------------------------------------------------------------------===//
// Rotary position embedding
//===------------------------------------------------------------------------------------------===//

struct RopeCase {
  TensorSpec x;
  TensorSpec out;
  int32_t seq_axis;
  uint32_t rotary_dims;
  float theta_base;
  float freq_scale;
};

std::vector<RopeCase> RopeCases(porta_dtype_t dt) {
  return {
      {Contiguous(dt, {6, 8}), Contiguous(dt, {6, 8}), 0, 0, 10000.0f, 1.0f},
      {Contiguous(dt, {2, 5, 3, 16}), Contiguous(dt, {2, 5, 3, 16}), 1, 0, 10000.0f, 1.0f},
      {Contiguous(dt, {2, 3, 5, 16}), Contiguous(dt, {2, 3, 5, 16}), 2, 0, 10000.0f, 1.0f},
      {Contiguous(dt, {5, 3, 12}), Contiguous(dt, {5, 3, 12}), 0, 8, 10000.0f, 1.0f},
      {Contiguous(dt, {3, 4, 10}), Contiguous(dt, {3, 4, 10}), 1, 4, 10000.0f, 1.0f},
      {Contiguous(dt, {4, 2}), Contiguous(dt, {4, 2}), 0, 0, 10000.0f, 1.0f},
      {Contiguous(dt, {2, 7, 2, 32}), Contiguous(dt, {2, 7, 2, 32}), 1, 0, 500000.0f, 0.25f},
      // [B, H, S, D] views of a [B, S, H, D] buffer, as attention code uses them.
      {Permuted(dt, {2, 3, 5, 16}, {0, 2, 1, 3}), Sliced(dt, {2, 3, 5, 16}), 2, 0, 10000.0f, 1.0f},
      {Sliced(dt, {3, 4, 8}), Permuted(dt, {3, 4, 8}, {1, 0, 2}), 0, 6, 10000.0f, 1.0f},
      {Contiguous(dt, {1, 300, 2, 8}), Contiguous(dt, {1, 300, 2, 8}), 1, 0, 10000.0f, 0.1f},
      {Contiguous(dt, {0, 4, 8}), Contiguous(dt, {0, 4, 8}), 0, 0, 10000.0f, 1.0f},
      {Contiguous(dt, {2, 0, 3, 8}), Contiguous(dt, {2, 0, 3, 8}), 1, 0, 10000.0f, 1.0f},
  };
}

class OpsRopeTest : public OpsTest {
 protected:
  void Check(const RopeCase& c, porta_rope_mode_t mode, bool in_place) {
    DeviceTensor x = Random(c.x);
    const int64_t seq = c.x.shape[static_cast<size_t>(c.seq_axis)];
    // Unsorted positions below 32, one negative.
    std::vector<double> pos = RandomIntegers(static_cast<size_t>(seq), NextSeed(), 0, 31);
    if (seq > 2) pos[1] = -3;
    DeviceTensor positions = Upload(Contiguous(PORTA_DTYPE_I32, {seq}), pos);
    DeviceTensor separate = in_place ? DeviceTensor() : Output(c.out);
    const DeviceTensor& out = in_place ? x : separate;
    porta_rope_desc_t desc = PORTA_ROPE_DESC_INIT;
    desc.mode = mode;
    desc.rotary_dims = c.rotary_dims;
    desc.theta_base = c.theta_base;
    desc.freq_scale = c.freq_scale;
    desc.seq_axis = c.seq_axis;
    const std::string what =
        std::string("rope ") + (mode == PORTA_ROPE_MODE_NEOX ? "neox" : "interleaved") + ", x " +
        SpecText(x.spec()) + " seq_axis " + std::to_string(c.seq_axis) + " rotary_dims " +
        std::to_string(c.rotary_dims) + " base " + std::to_string(c.theta_base) + " freq_scale " +
        std::to_string(c.freq_scale) + (in_place ? " in place" : "");
    const std::vector<double> expected =
        ref::Rope(x.Values(), x.shape(), positions.Values(), c.seq_axis, mode, c.rotary_dims,
                  c.theta_base, c.freq_scale);
    ASSERT_PORTA_OK(porta_ops_rope(ctx(), stream(), &desc, x.get(), positions.get(), out.get()))
        << what;
    double max_angle = 0;
    for (double p : positions.Values()) max_angle = std::max(max_angle, std::fabs(p));
    max_angle *= c.freq_scale;
    if (in_place) {
      EXPECT_TRUE(Verify(what, OpClass::kRope, out, expected, max_angle, {&positions}));
    } else {
      EXPECT_TRUE(Verify(what, OpClass::kRope, out, expected, max_angle, {&x, &positions}));
    }
  }

  void Run(porta_dtype_t dt) {
    for (porta_rope_mode_t mode : {PORTA_ROPE_MODE_NEOX, PORTA_ROPE_MODE_INTERLEAVED}) {
      for (const RopeCase& c : RopeCases(dt)) Check(c, mode, false);
      Check({Contiguous(dt, {2, 6, 4, 12}), Contiguous(dt, {2, 6, 4, 12}), 1, 8, 10000.0f, 1.0f},
            mode, true);
    }
  }
};

TEST_P(OpsRopeTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ROPE, PORTA_DTYPE_F32, PORTA_DTYPE_I32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsRopeTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ROPE, PORTA_DTYPE_F16, PORTA_DTYPE_I32, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsRopeTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ROPE, PORTA_DTYPE_BF16, PORTA_DTYPE_I32, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

PORTA_CTS_INSTANTIATE(OpsRopeTest);

}  // namespace
}  // namespace porta_cts
