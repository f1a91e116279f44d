// porta-tune's problems: inputs, the operation, the double-accumulated host reference and the
// conformance suite's NMSE bound for each tuned family (f32).
#include "tools/tune/tune_problem.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace porta::tune {
namespace {

// The conformance suite's f32 bounds (conformance/ops/ops_cts.cpp): a fixed error plus drift
// growing with the accumulation length k, as (sqrt(nmse) + sqrt(nmse_k * k))^2.
double Bound(double nmse, double nmse_k, double k) {
  const double rel = std::sqrt(nmse) + std::sqrt(nmse_k * k);
  return rel * rel;
}

std::string StatusText(porta_status_t status, const char* what) {
  return std::string(what) + ": " + porta_status_string(status) + ": " + porta_last_error_message();
}

// f16 bits of a positive normal |value|, truncated (the scale need not be rounded: the reference
// decodes the same bits).
uint16_t HalfBits(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  const int32_t exponent = static_cast<int32_t>((bits >> 23) & 0xff) - 127 + 15;
  return static_cast<uint16_t>((exponent << 10) | ((bits >> 13) & 0x3ff));
}

float HalfValue(uint16_t half) {
  const uint32_t bits = (static_cast<uint32_t>((half >> 10) & 0x1f) - 15 + 127) << 23 |
                        static_cast<uint32_t>(half & 0x3ff) << 13;
  float value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Quantizes |values| (a multiple of 32 of them) to Q8_0 blocks ({f16 d; i8 qs[32]}) and writes the
// values the blocks stand for back into |values|.
std::vector<uint8_t> QuantizeQ8(std::vector<float>* values) {
  std::vector<uint8_t> blocks;
  for (size_t start = 0; start < values->size(); start += 32) {
    float max = 0;
    for (size_t i = 0; i < 32; ++i) max = std::max(max, std::fabs((*values)[start + i]));
    const uint16_t d_bits = HalfBits(std::max(max, 1e-3f) / 127.0f);
    const float d = HalfValue(d_bits);
    blocks.push_back(static_cast<uint8_t>(d_bits & 0xff));
    blocks.push_back(static_cast<uint8_t>(d_bits >> 8));
    for (size_t i = 0; i < 32; ++i) {
      const float q = std::clamp(std::round((*values)[start + i] / d), -127.0f, 127.0f);
      blocks.push_back(static_cast<uint8_t>(static_cast<int8_t>(q)));
      (*values)[start + i] = q * d;
    }
  }
  return blocks;
}

}  // namespace

std::unique_ptr<TuneProblem> TuneProblem::Create(const std::string& family, const int64_t dims[3],
                                                 porta_ops_context_t context, porta_stream_t stream,
                                                 std::string* error) {
  std::unique_ptr<TuneProblem> problem(new TuneProblem());
  problem->family_ = family;
  for (int i = 0; i < 3; ++i) problem->dims_[i] = dims[i];
  problem->context_ = context;
  problem->stream_ = stream;
  porta_device_t device = nullptr;
  porta_status_t status = porta_stream_device(stream, &device);
  if (status != PORTA_OK) {
    *error = StatusText(status, "porta_stream_device");
    return nullptr;
  }

  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  auto make = [&](std::vector<int64_t> shape, bool random, porta_tensor_t* tensor,
                  std::vector<float>* values) -> bool {
    int64_t count = 1;
    for (int64_t extent : shape) count *= extent;
    porta_buffer_t buffer = nullptr;
    const uint64_t bytes = static_cast<uint64_t>(count) * sizeof(float);
    status = porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, &buffer);
    if (status != PORTA_OK) {
      *error = StatusText(status, "porta_buffer_alloc");
      return false;
    }
    problem->buffers_.push_back(buffer);
    *tensor = porta_tensor_contiguous(buffer, 0, PORTA_DTYPE_F32,
                                      static_cast<uint32_t>(shape.size()), shape.data());
    if (!random) return true;
    values->resize(static_cast<size_t>(count));
    for (float& value : *values) value = uniform(rng);
    status = porta_copy_host_to_device(stream, buffer, 0, values->data(), bytes);
    if (status == PORTA_OK) status = porta_stream_synchronize(stream);
    if (status != PORTA_OK) {
      *error = StatusText(status, "uploading the inputs");
      return false;
    }
    return true;
  };

  std::vector<float> a;
  std::vector<float> b;
  std::vector<double>& ref = problem->reference_;
  if (family == "matmul") {
    const int64_t m = dims[0], n = dims[1], k = dims[2];
    if (!make({m, k}, true, &problem->a_, &a) || !make({k, n}, true, &problem->b_, &b) ||
        !make({m, n}, false, &problem->out_, nullptr)) {
      return nullptr;
    }
    ref.assign(static_cast<size_t>(m * n), 0.0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t p = 0; p < k; ++p) {
        const double left = a[static_cast<size_t>(i * k + p)];
        for (int64_t j = 0; j < n; ++j) {
          ref[static_cast<size_t>(i * n + j)] += left * b[static_cast<size_t>(p * n + j)];
        }
      }
    }
    problem->bound_ = Bound(1.7e-11, 2.3e-13, static_cast<double>(k));
  } else if (family == "qmatvec") {
    // out [M, N] = a [M, K] @ b^T, b [N, K] in Q8_0 blocks (a weight as GGUF stores it).
    const int64_t m = dims[0], n = dims[1], k = dims[2];
    const porta_dtype_t dtypes[3] = {PORTA_DTYPE_F32, PORTA_DTYPE_Q8_0, PORTA_DTYPE_F32};
    status = porta_ops_supported(context, PORTA_OP_MATMUL, dtypes, 3);
    if (status != PORTA_OK) {
      *error = StatusText(status, "f32 x q8_0 matmul");
      return nullptr;
    }
    if (!make({m, k}, true, &problem->a_, &a) || !make({m, n}, false, &problem->out_, nullptr)) {
      return nullptr;
    }
    b.resize(static_cast<size_t>(n * k));
    for (float& value : b) value = uniform(rng);
    const std::vector<uint8_t> blocks = QuantizeQ8(&b);
    porta_buffer_t buffer = nullptr;
    status = porta_buffer_alloc(device, blocks.size(), PORTA_MEMORY_DEVICE, &buffer);
    if (status == PORTA_OK) problem->buffers_.push_back(buffer);
    if (status == PORTA_OK) {
      status = porta_copy_host_to_device(stream, buffer, 0, blocks.data(), blocks.size());
    }
    if (status == PORTA_OK) status = porta_stream_synchronize(stream);
    if (status != PORTA_OK) {
      *error = StatusText(status, "uploading the Q8_0 weights");
      return nullptr;
    }
    const int64_t b_shape[2] = {n, k};
    problem->b_ = porta_tensor_contiguous(buffer, 0, PORTA_DTYPE_Q8_0, 2, b_shape);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          sum += static_cast<double>(a[static_cast<size_t>(i * k + p)]) *
                 b[static_cast<size_t>(j * k + p)];
        }
        ref.push_back(sum);
      }
    }
    problem->bound_ = Bound(1.7e-11, 2.3e-12, static_cast<double>(k));
  } else if (family == "softmax" || family == "norm" || family == "reduce") {
    const int64_t rows = dims[0], cols = dims[1];
    if (!make({rows, cols}, true, &problem->a_, &a)) return nullptr;
    if (!make(family == "reduce" ? std::vector<int64_t>{rows} : std::vector<int64_t>{rows, cols},
              false, &problem->out_, nullptr)) {
      return nullptr;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = a.data() + r * cols;
      if (family == "reduce") {
        double sum = 0;
        for (int64_t c = 0; c < cols; ++c) sum += row[c];
        ref.push_back(sum);
      } else if (family == "softmax") {
        double max = row[0];
        for (int64_t c = 0; c < cols; ++c) max = std::max(max, static_cast<double>(row[c]));
        double sum = 0;
        for (int64_t c = 0; c < cols; ++c) sum += std::exp(row[c] - max);
        for (int64_t c = 0; c < cols; ++c) ref.push_back(std::exp(row[c] - max) / sum);
      } else {
        double squares = 0;
        for (int64_t c = 0; c < cols; ++c) squares += static_cast<double>(row[c]) * row[c];
        const double scale = 1.0 / std::sqrt(squares / static_cast<double>(cols) + 1e-5);
        for (int64_t c = 0; c < cols; ++c) ref.push_back(row[c] * scale);
      }
    }
    problem->bound_ = family == "reduce" ? Bound(1.13e-12, 2.3e-13, static_cast<double>(cols))
                                         : Bound(1.7e-11, 2.3e-13, static_cast<double>(cols));
  } else if (family == "attention") {
    // Causal self-attention of one batch: q, k, v and out [1, heads, length, head size].
    const int64_t heads = dims[0], length = dims[1], head = dims[2];
    const std::vector<int64_t> shape = {1, heads, length, head};
    std::vector<float> v;
    if (!make(shape, true, &problem->a_, &a) || !make(shape, true, &problem->b_, &b) ||
        !make(shape, true, &problem->c_, &v) || !make(shape, false, &problem->out_, nullptr)) {
      return nullptr;
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(head));
    std::vector<double> weights(static_cast<size_t>(length));
    for (int64_t h = 0; h < heads; ++h) {
      const float* q = a.data() + h * length * head;
      const float* k = b.data() + h * length * head;
      const float* values = v.data() + h * length * head;
      for (int64_t i = 0; i < length; ++i) {
        double max = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < head; ++d)
            dot += static_cast<double>(q[i * head + d]) * k[j * head + d];
          weights[static_cast<size_t>(j)] = dot * scale;
          max = std::max(max, weights[static_cast<size_t>(j)]);
        }
        double sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          weights[static_cast<size_t>(j)] = std::exp(weights[static_cast<size_t>(j)] - max);
          sum += weights[static_cast<size_t>(j)];
        }
        for (int64_t d = 0; d < head; ++d) {
          double out = 0;
          for (int64_t j = 0; j <= i; ++j)
            out += weights[static_cast<size_t>(j)] * values[j * head + d];
          ref.push_back(out / sum);
        }
      }
    }
    problem->bound_ = Bound(1.7e-11, 2.3e-13, static_cast<double>(head + length));
  } else if (family == "ew") {
    const int64_t count = dims[0];
    if (!make({count}, true, &problem->a_, &a) || !make({count}, true, &problem->b_, &b) ||
        !make({count}, false, &problem->out_, nullptr)) {
      return nullptr;
    }
    // f32 addition is exact up to its one rounding: the result must match bit for bit.
    for (int64_t i = 0; i < count; ++i)
      ref.push_back(a[static_cast<size_t>(i)] + b[static_cast<size_t>(i)]);
    problem->bound_ = 0;
  } else {
    *error = "porta-tune has no problem for the " + family + " family";
    return nullptr;
  }
  return problem;
}

TuneProblem::~TuneProblem() {
  // Queued work keeps its buffers alive; freeing here is safe whatever the stream holds.
  for (porta_buffer_t buffer : buffers_) porta_buffer_free(buffer);
}

porta_status_t TuneProblem::Enqueue() {
  if (family_ == "matmul" || family_ == "qmatvec") {
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    desc.transpose_b = family_ == "qmatvec" ? 1 : 0;
    return porta_ops_matmul(context_, stream_, &desc, &a_, &b_, nullptr, &out_);
  }
  if (family_ == "attention") {
    porta_attention_desc_t desc = PORTA_ATTENTION_DESC_INIT;
    desc.causal = 1;
    return porta_ops_attention(context_, stream_, &desc, &a_, &b_, &c_, nullptr, &out_);
  }
  if (family_ == "softmax") {
    const porta_softmax_desc_t desc = PORTA_SOFTMAX_DESC_INIT;
    return porta_ops_softmax(context_, stream_, &desc, &a_, nullptr, &out_);
  }
  if (family_ == "norm")
    return porta_ops_rmsnorm(context_, stream_, &a_, nullptr, nullptr, 1e-5f, &out_);
  if (family_ == "reduce") {
    const int32_t axis = -1;
    return porta_ops_reduce(context_, stream_, PORTA_REDUCE_SUM, &a_, &axis, 1, 0, &out_);
  }
  return porta_ops_binary(context_, stream_, PORTA_BINARY_ADD, &a_, &b_, &out_);
}

bool TuneProblem::Check(double* nmse, double* bound, std::string* error) {
  std::vector<float> out(reference_.size());
  porta_status_t status =
      porta_copy_device_to_host(stream_, out.data(), out_.buffer, 0, out.size() * sizeof(float));
  if (status == PORTA_OK) status = porta_stream_synchronize(stream_);
  if (status != PORTA_OK) {
    *error = StatusText(status, "reading the output back");
    return false;
  }
  double diff = 0;
  double norm = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double delta = static_cast<double>(out[i]) - reference_[i];
    // A NaN anywhere fails: the reference has none.
    diff += std::isnan(delta) ? INFINITY : delta * delta;
    norm += reference_[i] * reference_[i];
  }
  *nmse = norm > 0 ? diff / norm : diff;
  *bound = bound_;
  if (!(*nmse <= bound_)) {
    char text[128];
    std::snprintf(text, sizeof(text), "wrong results: NMSE %.3g above the bound %.3g", *nmse,
                  bound_);
    *error = text;
    return false;
  }
  return true;
}

std::string TuneProblem::ShapeText() const {
  if (family_ == "matmul" || family_ == "qmatvec") {
    return std::to_string(dims_[0]) + "x" + std::to_string(dims_[1]) + "x" +
           std::to_string(dims_[2]);
  }
  if (family_ == "ew") return std::to_string(dims_[0]);
  if (family_ == "attention") {
    return std::to_string(dims_[0]) + "x" + std::to_string(dims_[1]) + "x" +
           std::to_string(dims_[1]) + " D " + std::to_string(dims_[2]);
  }
  return std::to_string(dims_[0]) + "x" + std::to_string(dims_[1]);
}

}  // namespace porta::tune
