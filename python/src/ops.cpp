// The operator library's calls (porta_ops.h), one binding each, on caller-made output tensors.
// porta/ops.py builds the Pythonic functions (output shapes, allocation) on top of these.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "porta_python.h"

namespace porta_python {
namespace {

const porta_tensor_t* ViewOrNull(const std::optional<Tensor>& tensor) {
  return tensor ? &tensor->value.view : nullptr;
}

// Runs |call| with the operator context and a stream of |out|'s device, without the GIL: the
// first use of a kernel compiles it, which takes seconds on some drivers.
template <typename Call>
void Run(const char* name, const Tensor& out, const std::optional<Stream>& stream, Call call) {
  const DeviceRef& device = out.value.buffer->device;
  porta_ops_context_t context = device.runtime->OpsContext(device.index);
  StreamPtr s = StreamOr(stream ? stream->Get() : nullptr, device);
  porta_status_t status;
  std::string message;
  {
    nb::gil_scoped_release release;
    status = call(context, s->handle);
    if (status != PORTA_OK) message = porta_last_error_message();
  }
  if (status != PORTA_OK) RaiseMessage(status, name, message);
}

using NormFunction = porta_status_t (*)(porta_ops_context_t, porta_stream_t, const porta_tensor_t*,
                                        const porta_tensor_t*, const porta_tensor_t*, float,
                                        const porta_tensor_t*);

// porta_ops_layernorm and porta_ops_rmsnorm take the same arguments.
template <NormFunction function>
void BindNorm(nb::module_& m, const char* name, const char* call, float eps) {
  m.def(
      name,
      [call](const Tensor& x, const Tensor& out, const std::optional<Tensor>& weight,
             const std::optional<Tensor>& bias, float epsilon,
             const std::optional<Stream>& stream) {
        Run(call, out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return function(c, s, &x.value.view, ViewOrNull(weight), ViewOrNull(bias), epsilon,
                          &out.value.view);
        });
      },
      nb::arg("x"), nb::arg("out"), nb::arg("weight") = nb::none(), nb::arg("bias") = nb::none(),
      nb::arg("eps") = eps, nb::arg("stream") = nb::none(),
      (std::string(call) + " over the last axis.").c_str());
}

}  // namespace

void BindOps(nb::module_& m) {
  nb::enum_<porta_unary_op_t>(m, "UnaryOp", "Element-wise functions of one operand.")
      .value("NONE", PORTA_UNARY_NONE)
      .value("NEG", PORTA_UNARY_NEG)
      .value("ABS", PORTA_UNARY_ABS)
      .value("EXP", PORTA_UNARY_EXP)
      .value("LOG", PORTA_UNARY_LOG)
      .value("SQRT", PORTA_UNARY_SQRT)
      .value("RSQRT", PORTA_UNARY_RSQRT)
      .value("TANH", PORTA_UNARY_TANH)
      .value("SIGMOID", PORTA_UNARY_SIGMOID)
      .value("RELU", PORTA_UNARY_RELU)
      .value("GELU_ERF", PORTA_UNARY_GELU_ERF)
      .value("GELU_TANH", PORTA_UNARY_GELU_TANH)
      .value("SILU", PORTA_UNARY_SILU);
  nb::enum_<porta_binary_op_t>(m, "BinaryOp", "Element-wise functions of two operands.")
      .value("ADD", PORTA_BINARY_ADD)
      .value("SUB", PORTA_BINARY_SUB)
      .value("MUL", PORTA_BINARY_MUL)
      .value("DIV", PORTA_BINARY_DIV)
      .value("MAX", PORTA_BINARY_MAX)
      .value("MIN", PORTA_BINARY_MIN)
      .value("POW", PORTA_BINARY_POW)
      .value("SWIGLU", PORTA_BINARY_SWIGLU);
  nb::enum_<porta_reduce_op_t>(m, "ReduceOp", "Reductions.")
      .value("SUM", PORTA_REDUCE_SUM)
      .value("MEAN", PORTA_REDUCE_MEAN)
      .value("MAX", PORTA_REDUCE_MAX)
      .value("MIN", PORTA_REDUCE_MIN);

  using OptTensor = std::optional<Tensor>;
  using OptStream = std::optional<Stream>;
  auto out_arg = nb::arg("out");
  auto stream_arg = nb::arg("stream") = nb::none();

  m.def(
      "ops_matmul",
      [](const Tensor& a, const Tensor& b, const Tensor& out, const OptTensor& bias,
         bool transpose_a, bool transpose_b, float alpha, float beta, porta_unary_op_t activation,
         const OptStream& stream) {
        porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
        desc.transpose_a = transpose_a;
        desc.transpose_b = transpose_b;
        desc.alpha = alpha;
        desc.beta = beta;
        desc.activation = activation;
        Run("porta_ops_matmul", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_matmul(c, s, &desc, &a.value.view, &b.value.view, ViewOrNull(bias),
                                  &out.value.view);
        });
      },
      nb::arg("a"), nb::arg("b"), out_arg, nb::arg("bias") = nb::none(),
      nb::arg("transpose_a") = false, nb::arg("transpose_b") = false, nb::arg("alpha") = 1.0f,
      nb::arg("beta") = 0.0f, nb::arg("activation") = PORTA_UNARY_NONE, stream_arg,
      "porta_ops_matmul: out = activation(alpha op(a) @ op(b) + beta out + bias).");
  m.def(
      "ops_unary",
      [](porta_unary_op_t op, const Tensor& x, const Tensor& out, const OptStream& stream) {
        Run("porta_ops_unary", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_unary(c, s, op, &x.value.view, &out.value.view);
        });
      },
      nb::arg("op"), nb::arg("x"), out_arg, stream_arg, "porta_ops_unary: out = op(x).");
  m.def(
      "ops_binary",
      [](porta_binary_op_t op, const Tensor& a, const Tensor& b, const Tensor& out,
         const OptStream& stream) {
        Run("porta_ops_binary", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_binary(c, s, op, &a.value.view, &b.value.view, &out.value.view);
        });
      },
      nb::arg("op"), nb::arg("a"), nb::arg("b"), out_arg, stream_arg,
      "porta_ops_binary: out = op(a, b), broadcasting as NumPy does.");
  m.def(
      "ops_binary_scalar",
      [](porta_binary_op_t op, const Tensor& a, double scalar, const Tensor& out, bool scalar_first,
         const OptStream& stream) {
        Run("porta_ops_binary_scalar", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_binary_scalar(c, s, op, &a.value.view, scalar, scalar_first,
                                         &out.value.view);
        });
      },
      nb::arg("op"), nb::arg("a"), nb::arg("scalar"), out_arg, nb::arg("scalar_first") = false,
      stream_arg, "porta_ops_binary_scalar: out = op(a, scalar) (op(scalar, a) if scalar_first).");
  m.def(
      "ops_cast",
      [](const Tensor& x, const Tensor& out, const OptStream& stream) {
        Run("porta_ops_cast", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_cast(c, s, &x.value.view, &out.value.view);
        });
      },
      nb::arg("x"), out_arg, stream_arg, "porta_ops_cast: x converted into out's type.");
  m.def(
      "ops_copy",
      [](const Tensor& src, const Tensor& out, const OptStream& stream) {
        Run("porta_ops_copy", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_copy(c, s, &src.value.view, &out.value.view);
        });
      },
      nb::arg("src"), out_arg, stream_arg, "porta_ops_copy: src element by element into out.");
  m.def(
      "ops_reduce",
      [](porta_reduce_op_t op, const Tensor& x, const Tensor& out, const std::vector<int32_t>& axes,
         bool keep_dims, const OptStream& stream) {
        Run("porta_ops_reduce", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_reduce(c, s, op, &x.value.view, axes.data(),
                                  static_cast<uint32_t>(axes.size()), keep_dims, &out.value.view);
        });
      },
      nb::arg("op"), nb::arg("x"), out_arg, nb::arg("axes"), nb::arg("keep_dims"), stream_arg,
      "porta_ops_reduce over axes (none: every axis).");
  m.def(
      "ops_argmax",
      [](const Tensor& x, const Tensor& out, int32_t axis, bool keep_dims,
         const OptStream& stream) {
        Run("porta_ops_argmax", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_argmax(c, s, &x.value.view, axis, keep_dims, &out.value.view);
        });
      },
      nb::arg("x"), out_arg, nb::arg("axis"), nb::arg("keep_dims"), stream_arg,
      "porta_ops_argmax: out (int32) = index of the first maximum along axis.");
  m.def(
      "ops_softmax",
      [](const Tensor& x, const Tensor& out, const OptTensor& mask, float scale, bool causal,
         bool log, const OptStream& stream) {
        porta_softmax_desc_t desc = PORTA_SOFTMAX_DESC_INIT;
        desc.scale = scale;
        desc.causal = causal;
        desc.log = log;
        Run("porta_ops_softmax", out, stream, [&](porta_ops_context_t c, porta_stream_t s) {
          return porta_ops_softmax(c, s, &desc, &x.value.view, ViewOrNull(mask), &out.value.view);
        });
      },
      nb::arg("x"), out_arg, nb::arg("mask") = nb::none(), nb::arg("scale") = 1.0f,
      nb::arg("causal") = false, nb::arg("log") = false, stream_arg,
      "porta_ops_softmax over the last axis.");
  BindNorm<porta_ops_layernorm>(m, "ops_layernorm", "porta_ops_layernorm", 1e-5f);
  BindNorm<porta_ops_rmsnorm>(m, "ops_rmsnorm", "porta_ops_rmsnorm", 1e-6f);
}

}  // namespace porta_python
