// The double-precision references of the operator-library suites (declared in ops_cts.h): each
// op computed on the host from the values the device holds, in the order of its definition.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

namespace ref {
namespace {

// Flat row-major index of |index| in |shape|.
int64_t Flatten(const Shape& shape, const Shape& index) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

}  // namespace

double Unary(porta_unary_op_t op, double x) {
  switch (op) {
    case PORTA_UNARY_NONE:
      return x;
    case PORTA_UNARY_NEG:
      return -x;
    case PORTA_UNARY_ABS:
      return std::fabs(x);
    case PORTA_UNARY_EXP:
      return std::exp(x);
    case PORTA_UNARY_LOG:
      return std::log(x);
    case PORTA_UNARY_SQRT:
      return std::sqrt(x);
    case PORTA_UNARY_RSQRT:
      return 1.0 / std::sqrt(x);
    case PORTA_UNARY_TANH:
      return std::tanh(x);
    case PORTA_UNARY_SIGMOID:
      return 1.0 / (1.0 + std::exp(-x));
    case PORTA_UNARY_RELU:
      return x > 0 ? x : 0.0;
    case PORTA_UNARY_GELU_ERF:
      return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case PORTA_UNARY_GELU_TANH:
      return 0.5 * x *
             (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case PORTA_UNARY_SILU:
      return x / (1.0 + std::exp(-x));
  }
  return kNaN;
}

double Binary(porta_binary_op_t op, double a, double b) {
  switch (op) {
    case PORTA_BINARY_ADD:
      return a + b;
    case PORTA_BINARY_SUB:
      return a - b;
    case PORTA_BINARY_MUL:
      return a * b;
    case PORTA_BINARY_DIV:
      return a / b;
    case PORTA_BINARY_MAX:
      return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b);
    case PORTA_BINARY_MIN:
      return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b);
    case PORTA_BINARY_POW:
      return std::pow(a, b);
    case PORTA_BINARY_SWIGLU:
      return a / (1.0 + std::exp(-a)) * b;
  }
  return kNaN;
}

int64_t BroadcastIndex(const Shape& in_shape, const Shape& out_index) {
  const size_t lead = out_index.size() - in_shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < in_shape.size(); ++d) {
    flat = flat * in_shape[d] + (in_shape[d] == 1 ? 0 : out_index[lead + d]);
  }
  return flat;
}

Shape BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t da = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const int64_t db = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) return {};
    out[d] = da == 1 ? db : da;
  }
  return out;
}

std::vector<double> BinaryBroadcast(porta_binary_op_t op, const std::vector<double>& a,
                                    const Shape& a_shape, const std::vector<double>& b,
                                    const Shape& b_shape, const Shape& out_shape) {
  std::vector<double> out(static_cast<size_t>(ElementCount(out_shape)));
  for (size_t i = 0; i < out.size(); ++i) {
    const Shape index = Unflatten(out_shape, static_cast<int64_t>(i));
    out[i] = Binary(op, a[static_cast<size_t>(BroadcastIndex(a_shape, index))],
                    b[static_cast<size_t>(BroadcastIndex(b_shape, index))]);
  }
  return out;
}

std::vector<double> Matmul(const MatmulArgs& args, const Shape& out_shape) {
  const size_t rank = out_shape.size();
  const Shape& as = args.a_shape;
  const Shape& bs = args.b_shape;
  const int64_t k_len = args.transpose_a ? as[as.size() - 2] : as[as.size() - 1];
  // Flat offset, in a (or b) of |shape|, of the matrix that output batch index |out_index|
  // selects: a batch dimension of size 1 broadcasts its one matrix.
  auto matrix_base = [&](const Shape& shape, const Shape& out_index) {
    const size_t batch = shape.size() - 2;
    const size_t lead = (rank - 2) - batch;
    int64_t flat = 0;
    for (size_t d = 0; d < batch; ++d) {
      flat = flat * shape[d] + (shape[d] == 1 ? 0 : out_index[lead + d]);
    }
    return flat * shape[batch] * shape[batch + 1];
  };
  const int64_t a_cols = as.back(), b_cols = bs.back();
  std::vector<double> out(static_cast<size_t>(ElementCount(out_shape)));
  for (size_t o = 0; o < out.size(); ++o) {
    const Shape index = Unflatten(out_shape, static_cast<int64_t>(o));
    const int64_t m = index[rank - 2], n = index[rank - 1];
    const int64_t a_base = matrix_base(as, index), b_base = matrix_base(bs, index);
    double acc = 0;
    for (int64_t k = 0; k < k_len; ++k) {
      // Element (row, col) of a stored matrix is at base + row * cols + col.
      const int64_t ai = args.transpose_a ? k * a_cols + m : m * a_cols + k;
      const int64_t bi = args.transpose_b ? n * b_cols + k : k * b_cols + n;
      acc +=
          (*args.a)[static_cast<size_t>(a_base + ai)] * (*args.b)[static_cast<size_t>(b_base + bi)];
    }
    double value = args.alpha * acc;
    if (args.c != nullptr) value += args.beta * (*args.c)[o];
    if (args.bias != nullptr) value += (*args.bias)[static_cast<size_t>(n)];
    out[o] = Unary(args.activation, value);
  }
  return out;
}

std::vector<double> Reduce(porta_reduce_op_t op, const std::vector<double>& x, const Shape& shape,
                           const std::vector<int>& axes, bool keep_dims, Shape* out_shape) {
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (int axis : axes) reduced[static_cast<size_t>(axis)] = true;
  out_shape->clear();
  int64_t count = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) {
      count *= shape[d];
      if (keep_dims) out_shape->push_back(1);
    } else {
      out_shape->push_back(shape[d]);
    }
  }
  const auto n_out = static_cast<size_t>(ElementCount(*out_shape));
  const double init = op == PORTA_REDUCE_MAX ? -kInf : op == PORTA_REDUCE_MIN ? kInf : 0.0;
  std::vector<double> out(n_out, init);
  // The output index of an input element: its index with the reduced axes removed (or 0).
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d]) kept.push_back(shape[d]);
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const Shape index = Unflatten(shape, static_cast<int64_t>(i));
    Shape out_index;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!reduced[d]) out_index.push_back(index[d]);
    }
    double& acc = out[static_cast<size_t>(Flatten(kept, out_index))];
    const double v = x[i];
    switch (op) {
      case PORTA_REDUCE_SUM:
      case PORTA_REDUCE_MEAN:
        acc += v;
        break;
      case PORTA_REDUCE_MAX:
        acc = std::isnan(acc) || std::isnan(v) ? kNaN : std::max(acc, v);
        break;
      case PORTA_REDUCE_MIN:
        acc = std::isnan(acc) || std::isnan(v) ? kNaN : std::min(acc, v);
        break;
    }
  }
  if (op == PORTA_REDUCE_MEAN) {
    for (double& v : out) v = count > 0 ? v / static_cast<double>(count) : kNaN;
  }
  return out;
}

std::vector<double> Argmax(const std::vector<double>& x, const Shape& shape, int axis,
                           bool keep_dims, Shape* out_shape) {
  const auto a = static_cast<size_t>(axis);
  out_shape->clear();
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d == a) {
      if (keep_dims) out_shape->push_back(1);
    } else {
      out_shape->push_back(shape[d]);
      kept.push_back(shape[d]);
    }
  }
  const auto n_out = static_cast<size_t>(ElementCount(kept));
  std::vector<double> out(n_out, 0.0);
  std::vector<double> best(n_out, kNaN);
  std::vector<bool> seen(n_out, false);
  for (size_t i = 0; i < x.size(); ++i) {
    const Shape index = Unflatten(shape, static_cast<int64_t>(i));
    Shape out_index;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (d != a) out_index.push_back(index[d]);
    }
    const auto o = static_cast<size_t>(Flatten(kept, out_index));
    const double v = x[i];
    // Elements arrive in increasing index along the axis; strict comparisons keep the first.
    const bool better = !seen[o] || (!std::isnan(best[o]) && (std::isnan(v) || v > best[o]));
    if (better) {
      seen[o] = true;
      best[o] = v;
      out[o] = static_cast<double>(index[a]);
    }
  }
  return out;
}

std::vector<double> Softmax(const std::vector<double>& x, const Shape& shape, double scale,
                            const std::vector<double>* mask, const Shape& mask_shape, bool causal,
                            bool log) {
  const size_t rank = shape.size();
  const int64_t cols = rank > 0 ? shape[rank - 1] : 1;
  const int64_t rows_l = rank >= 2 ? shape[rank - 2] : 1;
  std::vector<double> out(x.size());
  if (cols == 0) return out;
  std::vector<double> v(static_cast<size_t>(cols));
  for (size_t start = 0; start < x.size(); start += static_cast<size_t>(cols)) {
    const int64_t row = static_cast<int64_t>(start) / cols;
    const int64_t i = row % rows_l;
    double max = -kInf;
    for (int64_t c = 0; c < cols; ++c) {
      const size_t e = start + static_cast<size_t>(c);
      double value = x[e] * scale;
      if (mask != nullptr) {
        const Shape index = Unflatten(shape, static_cast<int64_t>(e));
        value += (*mask)[static_cast<size_t>(BroadcastIndex(mask_shape, index))];
      }
      if (causal && c > i + (cols - rows_l)) value = -kInf;
      v[static_cast<size_t>(c)] = value;
      max = std::max(max, value);
    }
    if (max == -kInf) {
      for (int64_t c = 0; c < cols; ++c) out[start + static_cast<size_t>(c)] = log ? -kInf : 0.0;
      continue;
    }
    double sum = 0;
    for (double value : v) sum += std::exp(value - max);
    for (int64_t c = 0; c < cols; ++c) {
      const double value = v[static_cast<size_t>(c)];
      out[start + static_cast<size_t>(c)] =
          log ? value - max - std::log(sum) : std::exp(value - max) / sum;
    }
  }
  return out;
}

std::vector<double> Norm(bool rms, const std::vector<double>& x, const Shape& shape,
                         const std::vector<double>* weight, const std::vector<double>* bias,
                         double eps) {
  const int64_t cols = shape.empty() ? 1 : shape.back();
  std::vector<double> out(x.size());
  if (cols == 0) return out;
  const auto n = static_cast<size_t>(cols);
  for (size_t start = 0; start < x.size(); start += n) {
    double mean = 0, sq = 0;
    for (size_t c = 0; c < n; ++c) mean += x[start + c];
    mean /= static_cast<double>(n);
    for (size_t c = 0; c < n; ++c) {
      const double centered = rms ? x[start + c] : x[start + c] - mean;
      sq += centered * centered;
    }
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (size_t c = 0; c < n; ++c) {
      double y = (rms ? x[start + c] : x[start + c] - mean) * inv;
      if (weight != nullptr) y *= (*weight)[c];
      if (bias != nullptr) y += (*bias)[c];
      out[start + c] = y;
    }
  }
  return out;
}

std::vector<double> Embedding(const std::vector<double>& table, int64_t vocab, int64_t dim,
                              const std::vector<double>& indices) {
  std::vector<double> out(indices.size() * static_cast<size_t>(dim), 0.0);
  for (size_t j = 0; j < indices.size(); ++j) {
    const double v = indices[j];
    if (v < 0 || v >= static_cast<double>(vocab)) continue;
    for (int64_t c = 0; c < dim; ++c) {
      out[j * static_cast<size_t>(dim) + static_cast<size_t>(c)] =
          table[static_cast<size_t>(v) * static_cast<size_t>(dim) + static_cast<size_t>(c)];
    }
  }
  return out;
}

std::vector<double> Rope(const std::vector<double>& x, const Shape& shape,
                         const std::vector<double>& positions, int seq_axis, porta_rope_mode_t mode,
                         int64_t rotary_dims, double theta_base, double freq_scale) {
  const int64_t head = shape.back();
  const int64_t rot = rotary_dims == 0 ? head : rotary_dims;
  std::vector<double> out(x.size());
  if (head == 0) return out;
  for (size_t start = 0; start < x.size(); start += static_cast<size_t>(head)) {
    const Shape index = Unflatten(shape, static_cast<int64_t>(start));
    const double pos = positions[static_cast<size_t>(index[static_cast<size_t>(seq_axis)])];
    for (int64_t k = 0; k < head / 2; ++k) {
      if (k < rot / 2) {
        const int64_t e0 = mode == PORTA_ROPE_MODE_NEOX ? k : 2 * k;
        const int64_t e1 = mode == PORTA_ROPE_MODE_NEOX ? k + rot / 2 : 2 * k + 1;
        const double theta =
            pos * freq_scale *
            std::pow(theta_base, -2.0 * static_cast<double>(k) / static_cast<double>(rot));
        const double x0 = x[start + static_cast<size_t>(e0)];
        const double x1 = x[start + static_cast<size_t>(e1)];
        out[start + static_cast<size_t>(e0)] = x0 * std::cos(theta) - x1 * std::sin(theta);
        out[start + static_cast<size_t>(e1)] = x0 * std::sin(theta) + x1 * std::cos(theta);
      } else {
        out[start + static_cast<size_t>(2 * k)] = x[start + static_cast<size_t>(2 * k)];
        out[start + static_cast<size_t>(2 * k + 1)] = x[start + static_cast<size_t>(2 * k + 1)];
      }
    }
  }
  return out;
}

std::vector<double> Attention(const std::vector<double>& q, const Shape& q_shape,
                              const std::vector<double>& k, const Shape& k_shape,
                              const std::vector<double>& v, const Shape& v_shape,
                              const std::vector<double>* mask, const Shape& mask_shape,
                              double scale, bool causal) {
  const int64_t batch = q_shape[0], hq = q_shape[1], lq = q_shape[2], d = q_shape[3];
  const int64_t hkv = k_shape[1], lk = k_shape[2], dv = v_shape[3];
  const int64_t group = hkv > 0 ? hq / hkv : 1;
  std::vector<double> out(static_cast<size_t>(batch * hq * lq * dv), 0.0);
  std::vector<double> s(static_cast<size_t>(lk));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < hq; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < lq; ++i) {
        double max = -kInf;
        for (int64_t j = 0; j < lk; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) {
            dot += q[static_cast<size_t>(((b * hq + h) * lq + i) * d + e)] *
                   k[static_cast<size_t>(((b * hkv + hk) * lk + j) * d + e)];
          }
          double score = scale * dot;
          if (mask != nullptr) {
            score += (*mask)[static_cast<size_t>(BroadcastIndex(mask_shape, {b, h, i, j}))];
          }
          if (causal && j > i + (lk - lq)) score = -kInf;
          s[static_cast<size_t>(j)] = score;
          max = std::max(max, score);
        }
        if (max == -kInf) continue;
        double sum = 0;
        for (double score : s) sum += std::exp(score - max);
        for (int64_t j = 0; j < lk; ++j) {
          const double p = std::exp(s[static_cast<size_t>(j)] - max) / sum;
          for (int64_t e = 0; e < dv; ++e) {
            out[static_cast<size_t>(((b * hq + h) * lq + i) * dv + e)] +=
                p * v[static_cast<size_t>(((b * hkv + hk) * lk + j) * dv + e)];
          }
        }
      }
    }
  }
  return out;
}

int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t span = in + 2 * pad - dil * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

std::vector<double> Conv2d(const std::vector<double>& x, const Shape& x_shape,
                           const std::vector<double>& w, const Shape& w_shape,
                           const std::vector<double>* bias, const porta_conv2d_desc_t& desc,
                           Shape* out_shape) {
  const int64_t n_batch = x_shape[0], c_in = x_shape[1], h = x_shape[2], wd = x_shape[3];
  const int64_t c_out = w_shape[0], c_group = w_shape[1], kh = w_shape[2], kw = w_shape[3];
  const int64_t groups = desc.groups;
  const int64_t ho = WindowOutputSize(h, kh, desc.stride[0], desc.padding[0], desc.dilation[0]);
  const int64_t wo = WindowOutputSize(wd, kw, desc.stride[1], desc.padding[1], desc.dilation[1]);
  *out_shape = {n_batch, c_out, ho, wo};
  std::vector<double> out(static_cast<size_t>(ElementCount(*out_shape)));
  const int64_t per_group = c_out / groups;
  size_t o = 0;
  for (int64_t n = 0; n < n_batch; ++n) {
    for (int64_t co = 0; co < c_out; ++co) {
      const int64_t g = co / per_group;
      for (int64_t oy = 0; oy < ho; ++oy) {
        for (int64_t ox = 0; ox < wo; ++ox) {
          double acc = bias != nullptr ? (*bias)[static_cast<size_t>(co)] : 0.0;
          for (int64_t c = 0; c < c_group; ++c) {
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t iy = oy * desc.stride[0] - desc.padding[0] + ky * desc.dilation[0];
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ix = ox * desc.stride[1] - desc.padding[1] + kx * desc.dilation[1];
                if (ix < 0 || ix >= wd) continue;
                acc += x[static_cast<size_t>(((n * c_in + g * c_group + c) * h + iy) * wd + ix)] *
                       w[static_cast<size_t>(((co * c_group + c) * kh + ky) * kw + kx)];
              }
            }
          }
          out[o++] = acc;
        }
      }
    }
  }
  return out;
}

std::vector<double> Pool2d(const std::vector<double>& x, const Shape& x_shape,
                           const porta_pool2d_desc_t& desc, Shape* out_shape) {
  const int64_t n_batch = x_shape[0], channels = x_shape[1], h = x_shape[2], wd = x_shape[3];
  const int64_t kh = desc.kernel[0], kw = desc.kernel[1];
  const int64_t ho = WindowOutputSize(h, kh, desc.stride[0], desc.padding[0], desc.dilation[0]);
  const int64_t wo = WindowOutputSize(wd, kw, desc.stride[1], desc.padding[1], desc.dilation[1]);
  *out_shape = {n_batch, channels, ho, wo};
  std::vector<double> out(static_cast<size_t>(ElementCount(*out_shape)));
  size_t o = 0;
  for (int64_t nc = 0; nc < n_batch * channels; ++nc) {
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        double max = -kInf, sum = 0;
        bool nan = false;
        int64_t inside = 0;
        for (int64_t ky = 0; ky < kh; ++ky) {
          const int64_t iy = oy * desc.stride[0] - desc.padding[0] + ky * desc.dilation[0];
          if (iy < 0 || iy >= h) continue;
          for (int64_t kx = 0; kx < kw; ++kx) {
            const int64_t ix = ox * desc.stride[1] - desc.padding[1] + kx * desc.dilation[1];
            if (ix < 0 || ix >= wd) continue;
            const double v = x[static_cast<size_t>((nc * h + iy) * wd + ix)];
            nan = nan || std::isnan(v);
            max = std::max(max, v);
            sum += v;
            ++inside;
          }
        }
        if (desc.mode == PORTA_POOL_MODE_MAX) {
          out[o++] = nan ? kNaN : max;
        } else {
          const int64_t count = desc.count_include_pad != 0 ? kh * kw : inside;
          out[o++] = sum / static_cast<double>(count);
        }
      }
    }
  }
  return out;
}

}  // namespace ref

}  // namespace porta_cts
