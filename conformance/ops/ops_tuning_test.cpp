// The tuning table: porta_ops_tuning_table() is non-empty and every row parses (by the format's
// own rules, checked here independently, and by porta_ops_set_tuning_overlay), and every distinct
// parameter set it lists for any family, forced onto the device through an overlay row
// `* * * * <family> * * <params>`, gives the same results as the reference on odd shapes. Sets
// the library calls invalid for this device (INVALID_ARGUMENT, e.g. too many work-items) are
// skipped and counted.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr porta_dtype_t kF32 = PORTA_DTYPE_F32;

// Parameters each family takes, all positive integers.
const std::map<std::string, std::vector<std::string>>& FamilyParams() {
  static const std::map<std::string, std::vector<std::string>> params = {
      {"matmul", {"tm", "tn", "tk", "wm", "wn"}},
      {"ew", {"wg"}},
      {"reduce", {"wg"}},
      {"softmax", {"wg"}},
      {"norm", {"wg"}},
      {"gather", {"wg"}},
      {"rope", {"wg"}},
      {"attention", {"wg"}},
      {"conv2d", {"wg"}},
      {"pool2d", {"wg"}},
      {"qmatvec", {"wg", "rows", "mmax", "gemm", "mv"}},
      {"qdequant", {"wg"}},
  };
  return params;
}

// Parameters a family may leave out: matmul's sg (the subgroup variant) and attention's direct
// (OpenCL C's direct variant).
bool OptionalParam(const std::string& family, const std::string& name) {
  return (family == "matmul" && name == "sg") || (family == "attention" && name == "direct");
}

struct TuningRow {
  int line = 0;
  std::string text;
  std::string family;
  // "key=value" fields, sorted: two rows with the same set compare equal.
  std::set<std::string> params;
};

// Splits one line into fields: whitespace-separated, a double-quoted field may hold spaces, '#'
// outside quotes starts a comment. Returns false for an unterminated quote.
bool SplitFields(const std::string& line, std::vector<std::string>* fields) {
  fields->clear();
  size_t i = 0;
  while (i < line.size()) {
    if (std::isspace(static_cast<unsigned char>(line[i])) != 0) {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    std::string field;
    if (line[i] == '"') {
      const size_t close = line.find('"', i + 1);
      if (close == std::string::npos) return false;
      field = line.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0 &&
             line[i] != '#') {
        field += line[i++];
      }
    }
    fields->push_back(field);
  }
  return true;
}

// Parses |text| by the documented format. Rows that do not parse are described in |errors|.
std::vector<TuningRow> ParseTable(const std::string& text, std::vector<std::string>* errors) {
  std::vector<TuningRow> rows;
  size_t start = 0;
  int line_number = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    std::vector<std::string> fields;
    const std::string where = "line " + std::to_string(line_number) + " \"" + line + "\": ";
    if (!SplitFields(line, &fields)) {
      errors->push_back(where + "unterminated quote");
      continue;
    }
    if (fields.empty()) continue;
    if (fields.size() < 8) {
      errors->push_back(where + "fewer than 7 columns and a parameter");
      continue;
    }
    TuningRow row;
    row.line = line_number;
    row.text = line;
    row.family = fields[4];
    const auto family = FamilyParams().find(row.family);
    if (family == FamilyParams().end()) {
      errors->push_back(where + "unknown family " + row.family);
      continue;
    }
    std::set<std::string> keys;
    bool ok = true;
    for (size_t f = 7; f < fields.size(); ++f) {
      const size_t eq = fields[f].find('=');
      const std::string key = fields[f].substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : fields[f].substr(eq + 1);
      bool numeric = !value.empty();
      for (char ch : value) numeric = numeric && std::isdigit(static_cast<unsigned char>(ch)) != 0;
      bool known = OptionalParam(row.family, key);
      for (const std::string& name : family->second) known = known || name == key;
      if (!known || !numeric || !keys.insert(key).second) {
        errors->push_back(where + "bad parameter " + fields[f]);
        ok = false;
        break;
      }
      row.params.insert(key + "=" + value);
    }
    size_t required = 0;
    for (const std::string& key : keys) required += OptionalParam(row.family, key) ? 0 : 1;
    if (ok && required != family->second.size()) {
      errors->push_back(where + "not every parameter of " + row.family + " is set");
      ok = false;
    }
    if (ok) rows.push_back(row);
  }
  return rows;
}

std::string ParamsText(const std::set<std::string>& params) {
  std::string text;
  for (const std::string& p : params) text += (text.empty() ? "" : " ") + p;
  return text;
}

class OpsTuningTest : public OpsTest {
 protected:
  void Matmul(const std::string& label) {
    struct Case {
      int64_t m, n, k;
      Shape a_batch, b_batch;
      bool ta, tb, bias;
      float beta;
      porta_unary_op_t act;
    };
    const Case cases[] = {
        {7, 13, 5, {}, {}, false, false, false, 0.0f, PORTA_UNARY_NONE},
        {33, 65, 17, {}, {}, true, false, true, 0.0f, PORTA_UNARY_RELU},
        {1, 67, 129, {}, {}, false, true, false, 0.5f, PORTA_UNARY_NONE},
        {67, 1, 33, {}, {}, true, true, true, 0.0f, PORTA_UNARY_GELU_TANH},
        {2, 3, 0, {}, {}, false, false, true, 1.0f, PORTA_UNARY_NONE},
        {3, 5, 4, {2, 1}, {1, 3}, false, false, false, 0.0f, PORTA_UNARY_SILU},
        {65, 129, 9, {}, {}, false, false, false, 0.0f, PORTA_UNARY_NONE},
        // K a multiple of 16 and aligned strides: the fast paths of Vulkan's direct and subgroup
        // tiles (b k-contiguous, then n-contiguous with an even N).
        {20, 40, 48, {}, {}, false, true, true, 0.5f, PORTA_UNARY_NONE},
        {19, 34, 32, {}, {}, false, false, false, 0.0f, PORTA_UNARY_SILU},
    };
    for (const Case& c : cases) {
      Shape a_shape = c.a_batch, b_shape = c.b_batch;
      a_shape.insert(a_shape.end(), c.ta ? std::initializer_list<int64_t>{c.k, c.m}
                                         : std::initializer_list<int64_t>{c.m, c.k});
      b_shape.insert(b_shape.end(), c.tb ? std::initializer_list<int64_t>{c.n, c.k}
                                         : std::initializer_list<int64_t>{c.k, c.n});
      Shape out_shape = ref::BroadcastShapes(c.a_batch, c.b_batch);
      out_shape.insert(out_shape.end(), {c.m, c.n});
      DeviceTensor a = Random(Contiguous(kF32, a_shape));
      DeviceTensor b = Random(Contiguous(kF32, b_shape));
      DeviceTensor bias = Random(Contiguous(kF32, {c.n}));
      DeviceTensor out = c.beta != 0.0f ? Random(Contiguous(kF32, out_shape))
                                        : Output(Contiguous(kF32, out_shape));
      const std::vector<double> a_values = a.Values(), b_values = b.Values();
      const std::vector<double> bias_values = bias.Values(), c_values = out.Values();
      porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
      desc.transpose_a = c.ta ? 1 : 0;
      desc.transpose_b = c.tb ? 1 : 0;
      desc.beta = c.beta;
      desc.activation = c.act;
      const std::string what = label + ": matmul " + std::to_string(c.m) + "x" +
                               std::to_string(c.n) + "x" + std::to_string(c.k);
      ASSERT_PORTA_OK(porta_ops_matmul(ctx(), stream(), &desc, a.get(), b.get(),
                                       c.bias ? bias.get() : nullptr, out.get()))
          << what;
      ref::MatmulArgs args;
      args.a = &a_values;
      args.a_shape = a_shape;
      args.b = &b_values;
      args.b_shape = b_shape;
      args.transpose_a = c.ta;
      args.transpose_b = c.tb;
      args.beta = c.beta;
      args.c = c.beta != 0.0f ? &c_values : nullptr;
      args.bias = c.bias ? &bias_values : nullptr;
      args.activation = c.act;
      EXPECT_TRUE(Verify(what, OpClass::kMatmul, out, ref::Matmul(args, out_shape),
                         static_cast<double>(c.k), {&a, &b}));
    }
  }

  void Elementwise(const std::string& label) {
    DeviceTensor x = Random(Permuted(kF32, {5, 7, 3}, {2, 0, 1}), -3.0, 3.0);
    DeviceTensor y = Output(Contiguous(kF32, {5, 7, 3}));
    ASSERT_PORTA_OK(porta_ops_unary(ctx(), stream(), PORTA_UNARY_GELU_ERF, x.get(), y.get()));
    std::vector<double> expected = x.Values();
    for (double& v : expected) v = ref::Unary(PORTA_UNARY_GELU_ERF, v);
    EXPECT_TRUE(Verify(label + ": gelu", OpClass::kElementwise, y, expected, 1, {&x}));
    DeviceTensor a = Random(Contiguous(kF32, {3, 1, 1031}));
    DeviceTensor b = Random(Contiguous(kF32, {4, 1031}));
    DeviceTensor sum = Output(Contiguous(kF32, {3, 4, 1031}));
    ASSERT_PORTA_OK(
        porta_ops_binary(ctx(), stream(), PORTA_BINARY_ADD, a.get(), b.get(), sum.get()));
    EXPECT_TRUE(Verify(label + ": add", OpClass::kExact, sum,
                       ref::BinaryBroadcast(PORTA_BINARY_ADD, a.Values(), a.shape(), b.Values(),
                                            b.shape(), sum.shape()),
                       1, {&a, &b}));
    DeviceTensor copy = Output(Contiguous(kF32, {5, 7, 3}));
    ASSERT_PORTA_OK(porta_ops_copy(ctx(), stream(), x.get(), copy.get()));
    EXPECT_TRUE(VerifyBits(label + ": copy", copy, x.Bits(), {&x}));
  }

  void Reduce(const std::string& label) {
    for (const Shape& shape : {Shape{3, 1029}, Shape{2, 4099}, Shape{4099, 3}}) {
      DeviceTensor x = Random(Contiguous(kF32, shape));
      const int32_t axis = shape[0] > shape[1] ? 0 : 1;
      Shape out_shape;
      const std::vector<double> expected =
          ref::Reduce(PORTA_REDUCE_SUM, x.Values(), shape, {axis}, false, &out_shape);
      DeviceTensor out = Output(Contiguous(kF32, out_shape));
      ASSERT_PORTA_OK(
          porta_ops_reduce(ctx(), stream(), PORTA_REDUCE_SUM, x.get(), &axis, 1, 0, out.get()));
      EXPECT_TRUE(Verify(label + ": sum of " + ShapeText(shape), OpClass::kReduce, out, expected,
                         static_cast<double>(shape[static_cast<size_t>(axis)]), {&x}));
      const std::vector<double> arg = ref::Argmax(x.Values(), shape, axis, false, &out_shape);
      DeviceTensor index = Output(Contiguous(PORTA_DTYPE_I32, out_shape));
      ASSERT_PORTA_OK(porta_ops_argmax(ctx(), stream(), x.get(), axis, 0, index.get()));
      EXPECT_TRUE(
          Verify(label + ": argmax of " + ShapeText(shape), OpClass::kExact, index, arg, 1, {&x}));
    }
  }

  void Softmax(const std::string& label) {
    for (bool causal : {false, true}) {
      const Shape shape = causal ? Shape{2, 3, 7} : Shape{3, 1029};
      DeviceTensor x = Random(Contiguous(kF32, shape), -3.0, 3.0);
      DeviceTensor out = Output(Contiguous(kF32, shape));
      porta_softmax_desc_t desc = PORTA_SOFTMAX_DESC_INIT;
      desc.causal = causal ? 1 : 0;
      ASSERT_PORTA_OK(porta_ops_softmax(ctx(), stream(), &desc, x.get(), nullptr, out.get()));
      EXPECT_TRUE(Verify(label + ": softmax of " + ShapeText(shape), OpClass::kSoftmax, out,
                         ref::Softmax(x.Values(), shape, 1.0, nullptr, {}, causal, false),
                         static_cast<double>(shape.back()), {&x}));
    }
  }

  void Norm(const std::string& label) {
    for (bool rms : {false, true}) {
      const Shape shape = rms ? Shape{2, 3, 5, 64} : Shape{3, 300};
      DeviceTensor x = Random(Contiguous(kF32, shape), -1.0, 3.0);
      DeviceTensor w = Random(Contiguous(kF32, {shape.back()}), 0.5, 1.5);
      DeviceTensor bias = Random(Contiguous(kF32, {shape.back()}));
      DeviceTensor out = Output(Contiguous(kF32, shape));
      ASSERT_PORTA_OK(
          rms ? porta_ops_rmsnorm(ctx(), stream(), x.get(), w.get(), bias.get(), 1e-5f, out.get())
              : porta_ops_layernorm(ctx(), stream(), x.get(), w.get(), bias.get(), 1e-5f,
                                    out.get()));
      const std::vector<double> w_values = w.Values(), b_values = bias.Values();
      EXPECT_TRUE(Verify(label + (rms ? ": rmsnorm" : ": layernorm"), OpClass::kNorm, out,
                         ref::Norm(rms, x.Values(), shape, &w_values, &b_values, 1e-5f),
                         static_cast<double>(shape.back()), {&x, &w, &bias}));
    }
  }

  void Gather(const std::string& label) {
    DeviceTensor table = Random(Contiguous(kF32, {13, 7}));
    DeviceTensor indices =
        Upload(Contiguous(PORTA_DTYPE_I32, {700}), RandomIntegers(700, NextSeed(), -1, 13));
    DeviceTensor out = Output(Contiguous(kF32, {700, 7}));
    ASSERT_PORTA_OK(porta_ops_embedding(ctx(), stream(), table.get(), indices.get(), out.get()));
    EXPECT_TRUE(Verify(label + ": embedding", OpClass::kExact, out,
                       ref::Embedding(table.Values(), 13, 7, indices.Values()), 1,
                       {&table, &indices}));
  }

  void Rope(const std::string& label) {
    const Shape shape = {2, 7, 2, 32};
    DeviceTensor x = Random(Contiguous(kF32, shape));
    DeviceTensor positions =
        Upload(Contiguous(PORTA_DTYPE_I32, {7}), RandomIntegers(7, NextSeed(), 0, 31));
    DeviceTensor out = Output(Contiguous(kF32, shape));
    porta_rope_desc_t desc = PORTA_ROPE_DESC_INIT;
    desc.rotary_dims = 24;
    ASSERT_PORTA_OK(porta_ops_rope(ctx(), stream(), &desc, x.get(), positions.get(), out.get()));
    EXPECT_TRUE(Verify(
        label + ": rope", OpClass::kRope, out,
        ref::Rope(x.Values(), shape, positions.Values(), 1, PORTA_ROPE_MODE_NEOX, 24, 10000.0, 1.0),
        31.0, {&x, &positions}));
  }

  void Attention(const std::string& label) {
    struct Case {
      int64_t batch, hq, hkv, lq, lk, d, dv;
      bool causal;
    };
    for (const Case& c :
         {Case{2, 4, 2, 5, 7, 16, 8, false}, Case{1, 1, 1, 2, 300, 32, 16, true},
          Case{1, 2, 1, 3, 33, 64, 64, true}, Case{1, 2, 1, 11, 33, 64, 64, true}}) {
      DeviceTensor q = Random(Contiguous(kF32, {c.batch, c.hq, c.lq, c.d}));
      DeviceTensor k = Random(Contiguous(kF32, {c.batch, c.hkv, c.lk, c.d}));
      DeviceTensor v = Random(Contiguous(kF32, {c.batch, c.hkv, c.lk, c.dv}));
      DeviceTensor out = Output(Contiguous(kF32, {c.batch, c.hq, c.lq, c.dv}));
      porta_attention_desc_t desc = PORTA_ATTENTION_DESC_INIT;
      desc.causal = c.causal ? 1 : 0;
      ASSERT_PORTA_OK(porta_ops_attention(ctx(), stream(), &desc, q.get(), k.get(), v.get(),
                                          nullptr, out.get()));
      EXPECT_TRUE(
          Verify(label + ": attention Lk " + std::to_string(c.lk), OpClass::kAttention, out,
                 ref::Attention(q.Values(), q.shape(), k.Values(), k.shape(), v.Values(), v.shape(),
                                nullptr, {}, 1.0 / std::sqrt(static_cast<double>(c.d)), c.causal),
                 static_cast<double>(c.d + c.lk), {&q, &k, &v}));
    }
  }

  void Conv2d(const std::string& label) {
    struct Case {
      Shape x, w;
      uint32_t stride, pad, groups;
    };
    for (const Case& c :
         {Case{{2, 3, 7, 9}, {4, 3, 3, 3}, 1, 1, 1}, Case{{1, 16, 12, 12}, {8, 16, 3, 3}, 2, 1, 1},
          Case{{1, 4, 6, 6}, {8, 1, 3, 3}, 1, 1, 4}}) {
      porta_conv2d_desc_t desc = PORTA_CONV2D_DESC_INIT;
      desc.stride[0] = desc.stride[1] = c.stride;
      desc.padding[0] = desc.padding[1] = c.pad;
      desc.groups = c.groups;
      DeviceTensor x = Random(Contiguous(kF32, c.x));
      DeviceTensor w = Random(Contiguous(kF32, c.w));
      DeviceTensor bias = Random(Contiguous(kF32, {c.w[0]}));
      const std::vector<double> bias_values = bias.Values();
      Shape out_shape;
      const std::vector<double> expected =
          ref::Conv2d(x.Values(), c.x, w.Values(), c.w, &bias_values, desc, &out_shape);
      DeviceTensor out = Output(Contiguous(kF32, out_shape));
      ASSERT_PORTA_OK(
          porta_ops_conv2d(ctx(), stream(), &desc, x.get(), w.get(), bias.get(), out.get()));
      EXPECT_TRUE(Verify(label + ": conv2d of " + ShapeText(c.x), OpClass::kConv, out, expected,
                         static_cast<double>(c.w[1] * c.w[2] * c.w[3]), {&x, &w, &bias}));
    }
  }

  void Pool2d(const std::string& label) {
    DeviceTensor x = Random(Contiguous(kF32, {2, 3, 7, 9}));
    for (porta_pool_mode_t mode : {PORTA_POOL_MODE_MAX, PORTA_POOL_MODE_AVG}) {
      porta_pool2d_desc_t desc = PORTA_POOL2D_DESC_INIT;
      desc.mode = mode;
      desc.kernel[0] = desc.kernel[1] = 3;
      desc.stride[0] = desc.stride[1] = 1;
      desc.padding[0] = desc.padding[1] = 1;
      desc.count_include_pad = 0;
      Shape out_shape;
      const std::vector<double> expected = ref::Pool2d(x.Values(), x.shape(), desc, &out_shape);
      DeviceTensor out = Output(Contiguous(kF32, out_shape));
      ASSERT_PORTA_OK(porta_ops_pool2d(ctx(), stream(), &desc, x.get(), out.get()));
      EXPECT_TRUE(Verify(label + (mode == PORTA_POOL_MODE_MAX ? ": max pool" : ": avg pool"),
                         mode == PORTA_POOL_MODE_MAX ? OpClass::kExact : OpClass::kPoolAvg, out,
                         expected, 9, {&x}));
    }
  }

  // Quantized products on both sides of every mmax the table lists, with every block type.
  void Qmatvec(const std::string& label) {
    for (porta_dtype_t type : {PORTA_DTYPE_Q4_0, PORTA_DTYPE_Q4_1, PORTA_DTYPE_Q8_0}) {
      for (int64_t m : {1, 2, 5, 9, 17}) {
        const QuantTensor b = MakeQuant(type, {37, 96});
        DeviceTensor a = Random(Contiguous(kF32, {m, 96}));
        DeviceTensor bias = Random(Contiguous(kF32, {37}));
        DeviceTensor out = Output(Contiguous(kF32, {m, 37}));
        porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
        desc.transpose_b = 1;
        desc.activation = PORTA_UNARY_SILU;
        ASSERT_PORTA_OK(
            porta_ops_matmul(ctx(), stream(), &desc, a.get(), &b.tensor, bias.get(), out.get()));
        const std::vector<double> a_values = a.Values(), bias_values = bias.Values();
        ref::MatmulArgs args;
        args.a = &a_values;
        args.a_shape = {m, 96};
        args.b = &b.values;
        args.b_shape = {37, 96};
        args.transpose_b = true;
        args.bias = &bias_values;
        args.activation = PORTA_UNARY_SILU;
        EXPECT_TRUE(Verify(label + ": " + QuantText(b) + " M " + std::to_string(m),
                           OpClass::kQuantMatmul, out, ref::Matmul(args, {m, 37}), 96,
                           {&a, &bias}));
      }
    }
  }

  void Qdequant(const std::string& label) {
    const QuantTensor table = MakeQuant(PORTA_DTYPE_Q4_1, {13, 64});
    DeviceTensor indices =
        Upload(Contiguous(PORTA_DTYPE_I32, {70}), RandomIntegers(70, NextSeed(), -1, 13));
    DeviceTensor out = Output(Contiguous(kF32, {70, 64}));
    ASSERT_PORTA_OK(porta_ops_embedding(ctx(), stream(), &table.tensor, indices.get(), out.get()));
    EXPECT_TRUE(Verify(label + ": embedding from " + QuantText(table), OpClass::kElementwise, out,
                       ref::Embedding(table.values, 13, 64, indices.Values()), 1, {&indices}));
    DeviceTensor cast = Output(Contiguous(kF32, {13, 64}));
    ASSERT_PORTA_OK(porta_ops_cast(ctx(), stream(), &table.tensor, cast.get()));
    EXPECT_TRUE(
        Verify(label + ": cast of " + QuantText(table), OpClass::kElementwise, cast, table.values));
  }

  // Runs the operations of |family| under the current tuning.
  void RunFamily(const std::string& family, const std::string& label) {
    if (family == "matmul") return Matmul(label);
    if (family == "ew") return Elementwise(label);
    if (family == "reduce") return Reduce(label);
    if (family == "softmax") return Softmax(label);
    if (family == "norm") return Norm(label);
    if (family == "gather") return Gather(label);
    if (family == "rope") return Rope(label);
    if (family == "attention") return Attention(label);
    if (family == "conv2d") return Conv2d(label);
    if (family == "pool2d") return Pool2d(label);
    if (family == "qmatvec") return Qmatvec(label);
    if (family == "qdequant") return Qdequant(label);
    ADD_FAILURE() << "the tuning table lists family " << family << ", which this suite cannot run";
  }
};

TEST_P(OpsTuningTest, TableIsNonEmptyAndEveryRowParses) {
  const char* table = porta_ops_tuning_table();
  ASSERT_NE(table, nullptr);
  std::vector<std::string> errors;
  const std::vector<TuningRow> rows = ParseTable(table, &errors);
  EXPECT_FALSE(rows.empty()) << "the shipped tuning table has no rows";
  for (const std::string& error : errors) ADD_FAILURE() << "tuning table: " << error;
  // The library accepts the whole table as an overlay, or names a row that is invalid for this
  // device; then each row on its own is accepted or refused the same way, never otherwise.
  const porta_status_t whole = porta_ops_set_tuning_overlay(ctx(), table);
  if (whole == PORTA_OK) return;
  ASSERT_EQ(whole, PORTA_ERROR_INVALID_ARGUMENT)
      << porta_status_string(whole) << ": " << porta_last_error_message();
  EXPECT_NE(std::string(porta_last_error_message()).find("line"), std::string::npos)
      << "the refusal does not name a line: " << porta_last_error_message();
  int invalid = 0;
  for (const TuningRow& row : rows) {
    const porta_status_t status = porta_ops_set_tuning_overlay(ctx(), row.text.c_str());
    if (status == PORTA_ERROR_INVALID_ARGUMENT) {
      ++invalid;
      continue;
    }
    EXPECT_PORTA_OK(status) << "line " << row.line << ": " << row.text;
  }
  EXPECT_GT(invalid, 0) << "the table as a whole was refused, but every row alone is accepted";
  std::printf("[ TUNING   ] %d of %zu table rows are invalid for this device\n", invalid,
              rows.size());
  EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), nullptr));
}

TEST_P(OpsTuningTest, EveryParameterSetGivesTheSameResults) {
  std::vector<std::string> errors;
  const std::vector<TuningRow> rows = ParseTable(porta_ops_tuning_table(), &errors);
  ASSERT_FALSE(rows.empty());
  std::map<std::string, std::set<std::set<std::string>>> sets;
  for (const TuningRow& row : rows) sets[row.family].insert(row.params);
  for (const auto& [family, params] : sets) {
    int ran = 0, invalid = 0;
    for (const std::set<std::string>& set : params) {
      const std::string overlay = "* * * * " + family + " * * " + ParamsText(set) + "\n";
      const porta_status_t status = porta_ops_set_tuning_overlay(ctx(), overlay.c_str());
      if (status == PORTA_ERROR_INVALID_ARGUMENT) {
        ++invalid;
        continue;
      }
      ASSERT_PORTA_OK(status) << overlay;
      ++ran;
      RunFamily(family, family + " " + ParamsText(set));
      if (HasFatalFailure()) return;
    }
    std::printf("[ TUNING   ] %s: %zu parameter sets, %d ran, %d invalid for this device\n",
                family.c_str(), params.size(), ran, invalid);
    std::fflush(stdout);
  }
  EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), nullptr));
}

PORTA_CTS_INSTANTIATE(OpsTuningTest);

}  // namespace
}  // namespace porta_cts
