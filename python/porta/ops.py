"""The operator library (porta_ops.h) on porta.Tensor.

Every function enqueues its work on a stream of the inputs' device (default: the device's default
stream) and returns at once; results are read with Tensor.to_numpy(), which synchronizes. Each
allocates its result on the inputs' device unless given ``out``. Operations compute in float32
whatever the storage type (float32, float16, bfloat16); docs/ops.md lists dtypes and error bounds.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Optional, Protocol, Sequence, Tuple, Union

from ._porta import (
    BinaryOp,
    DType,
    ReduceOp,
    Stream,
    Tensor,
    UnaryOp,
    empty,
    ops_argmax,
    ops_binary,
    ops_binary_scalar,
    ops_cast,
    ops_copy,
    ops_layernorm,
    ops_matmul,
    ops_reduce,
    ops_rmsnorm,
    ops_softmax,
    ops_unary,
)

if TYPE_CHECKING:
    import numpy.typing

__all__ = [
    "abs", "add", "argmax", "cast", "contiguous", "div", "exp", "gelu", "layernorm", "log",
    "log_softmax", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "pow",
    "relu", "rmsnorm", "rsqrt", "sigmoid", "silu", "softmax", "sqrt", "sub", "sum", "swiglu", "tanh",
]

Scalar = Union[int, float]
Activation = Optional[str]

_ACTIVATIONS = {
    None: UnaryOp.NONE,
    "relu": UnaryOp.RELU,
    "gelu": UnaryOp.GELU_ERF,
    "gelu_tanh": UnaryOp.GELU_TANH,
    "silu": UnaryOp.SILU,
}


def _broadcast(*shapes: Sequence[int]) -> Tuple[int, ...]:
    """NumPy's broadcast of shapes (aligned at the last dimension)."""
    # This module's max() is the reduction; the built-in one is meant here.
    rank = builtins.max(len(shape) for shape in shapes)
    result = []
    for i in range(rank):
        size = 1
        for shape in shapes:
            dim = shape[len(shape) - rank + i] if len(shape) - rank + i >= 0 else 1
            if dim != 1:
                if size not in (1, dim):
                    raise ValueError(f"shapes {', '.join(map(str, shapes))} do not broadcast")
                size = dim
        result.append(size)
    return tuple(result)


# The element-wise and reduction functions below share one body each; their Protocols give editors
# and type checkers their full signatures.


def _output(like: Tensor, shape: Sequence[int], dtype: Optional[DType], out: Optional[Tensor]) -> Tensor:
    if out is not None:
        return out
    return empty(tuple(shape), dtype if dtype is not None else like.dtype, like.device)


def matmul(
    a: Tensor,
    b: Tensor,
    *,
    transpose_a: bool = False,
    transpose_b: bool = False,
    bias: Optional[Tensor] = None,
    alpha: float = 1.0,
    activation: Activation = None,
    out_dtype: Optional[DType] = None,
    out: Optional[Tensor] = None,
    beta: float = 0.0,
    stream: Optional[Stream] = None,
) -> Tensor:
    """activation(alpha * op(a) @ op(b) + beta * out + bias).

    a is [..., M, K] and b [..., K, N] ([..., K, M] and [..., N, K] when transposed); batch
    dimensions broadcast. b may be block-quantized (Q4_0, Q4_1, Q8_0) with transpose_b=True.
    activation: None, "relu", "gelu", "gelu_tanh" or "silu". The result has a's type unless
    out_dtype (float32 or a's type) or out says otherwise.
    """
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError("matmul needs tensors of rank 2 or more")
    m = a.shape[-1] if transpose_a else a.shape[-2]
    n = b.shape[-2] if transpose_b else b.shape[-1]
    batch = _broadcast(a.shape[:-2], b.shape[:-2])
    result = _output(a, (*batch, m, n), out_dtype, out)
    ops_matmul(a, b, result, bias, transpose_a, transpose_b, alpha, beta,
               _ACTIVATIONS[activation], stream)
    return result


def _unary(op: UnaryOp, x: Tensor, out: Optional[Tensor], stream: Optional[Stream]) -> Tensor:
    result = _output(x, x.shape, None, out)
    ops_unary(op, x, result, stream)
    return result


class UnaryFunction(Protocol):
    def __call__(self, x: Tensor, *, out: Optional[Tensor] = None,
                 stream: Optional[Stream] = None) -> Tensor: ...


def _unary_function(op: UnaryOp, name: str, doc: str) -> UnaryFunction:
    def function(x: Tensor, *, out: Optional[Tensor] = None,
                 stream: Optional[Stream] = None) -> Tensor:
        return _unary(op, x, out, stream)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


neg = _unary_function(UnaryOp.NEG, "neg", "-x.")
abs = _unary_function(UnaryOp.ABS, "abs", "|x|.")
exp = _unary_function(UnaryOp.EXP, "exp", "e^x.")
log = _unary_function(UnaryOp.LOG, "log", "Natural logarithm.")
sqrt = _unary_function(UnaryOp.SQRT, "sqrt", "Square root.")
rsqrt = _unary_function(UnaryOp.RSQRT, "rsqrt", "1 / sqrt(x).")
tanh = _unary_function(UnaryOp.TANH, "tanh", "Hyperbolic tangent.")
sigmoid = _unary_function(UnaryOp.SIGMOID, "sigmoid", "1 / (1 + e^-x).")
relu = _unary_function(UnaryOp.RELU, "relu", "max(x, 0).")
silu = _unary_function(UnaryOp.SILU, "silu", "x * sigmoid(x).")


def gelu(
    x: Tensor,
    *,
    approximate: str = "none",
    out: Optional[Tensor] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """GELU: exact (erf) with approximate="none", GPT-2's tanh form with approximate="tanh"."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', not {approximate!r}")
    return _unary(UnaryOp.GELU_TANH if approximate == "tanh" else UnaryOp.GELU_ERF, x, out, stream)


def _binary(
    op: BinaryOp,
    a: Union[Tensor, Scalar],
    b: Union[Tensor, Scalar],
    out: Optional[Tensor],
    stream: Optional[Stream],
) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        result = _output(a, _broadcast(a.shape, b.shape), None, out)
        ops_binary(op, a, b, result, stream)
    elif isinstance(a, Tensor):
        result = _output(a, a.shape, None, out)
        ops_binary_scalar(op, a, float(b), result, False, stream)
    elif isinstance(b, Tensor):
        result = _output(b, b.shape, None, out)
        ops_binary_scalar(op, b, float(a), result, True, stream)
    else:
        raise TypeError("at least one operand must be a porta.Tensor")
    return result


class BinaryFunction(Protocol):
    def __call__(self, a: Union[Tensor, Scalar], b: Union[Tensor, Scalar], *,
                 out: Optional[Tensor] = None, stream: Optional[Stream] = None) -> Tensor: ...


def _binary_function(op: BinaryOp, name: str, doc: str) -> BinaryFunction:
    def function(a: Union[Tensor, Scalar], b: Union[Tensor, Scalar], *,
                 out: Optional[Tensor] = None, stream: Optional[Stream] = None) -> Tensor:
        return _binary(op, a, b, out, stream)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


add = _binary_function(BinaryOp.ADD, "add",
                       "a + b, broadcasting as NumPy does; either may be a Python number.")
sub = _binary_function(BinaryOp.SUB, "sub", "a - b.")
mul = _binary_function(BinaryOp.MUL, "mul", "a * b.")
div = _binary_function(BinaryOp.DIV, "div", "a / b.")
maximum = _binary_function(BinaryOp.MAX, "maximum", "Element-wise maximum (NaN propagates).")
minimum = _binary_function(BinaryOp.MIN, "minimum", "Element-wise minimum (NaN propagates).")
pow = _binary_function(BinaryOp.POW, "pow", "a ** b (C's powf).")
swiglu = _binary_function(BinaryOp.SWIGLU, "swiglu",
                          "silu(a) * b: the gated unit of LLaMA-style feed-forward layers.")


def softmax(
    x: Tensor,
    *,
    mask: Optional[Tensor] = None,
    scale: float = 1.0,
    causal: bool = False,
    out: Optional[Tensor] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """softmax(x * scale + mask) over the last axis; causal masks j > i + (S - L)."""
    result = _output(x, x.shape, None, out)
    ops_softmax(x, result, mask, scale, causal, False, stream)
    return result


def log_softmax(
    x: Tensor,
    *,
    mask: Optional[Tensor] = None,
    scale: float = 1.0,
    causal: bool = False,
    out: Optional[Tensor] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """log(softmax(x * scale + mask)) over the last axis."""
    result = _output(x, x.shape, None, out)
    ops_softmax(x, result, mask, scale, causal, True, stream)
    return result


def layernorm(
    x: Tensor,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    *,
    eps: float = 1e-5,
    out: Optional[Tensor] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance)."""
    result = _output(x, x.shape, None, out)
    ops_layernorm(x, result, weight, bias, eps, stream)
    return result


def rmsnorm(
    x: Tensor,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    *,
    eps: float = 1e-6,
    out: Optional[Tensor] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight + bias over the last axis."""
    result = _output(x, x.shape, None, out)
    ops_rmsnorm(x, result, weight, bias, eps, stream)
    return result


def cast(x: Tensor, dtype: Union[DType, str, "numpy.typing.DTypeLike"], *,
         out: Optional[Tensor] = None, stream: Optional[Stream] = None) -> Tensor:
    """x converted to dtype (float to int32 truncates; quantized x dequantizes)."""
    result = out if out is not None else empty(x.shape, dtype, x.device)
    ops_cast(x, result, stream)
    return result


def contiguous(x: Tensor, *, out: Optional[Tensor] = None, stream: Optional[Stream] = None) -> Tensor:
    """A row-major copy of x (of a sliced or permuted view, say), bit-exact."""
    result = _output(x, x.shape, None, out)
    ops_copy(x, result, stream)
    return result


def _reduce(
    op: ReduceOp,
    x: Tensor,
    axes: Union[int, Sequence[int], None],
    keep_dims: bool,
    dtype: Optional[DType],
    out: Optional[Tensor],
    stream: Optional[Stream],
) -> Tensor:
    if axes is None:
        axes = list(range(x.ndim))
    elif isinstance(axes, int):
        axes = [axes]
    reduced = {a % x.ndim for a in axes} if x.ndim else set()
    shape = [1 if i in reduced else s for i, s in enumerate(x.shape) if keep_dims or i not in reduced]
    result = _output(x, shape, dtype, out)
    ops_reduce(op, x, result, [int(a) for a in axes], keep_dims, stream)
    return result


class ReduceFunction(Protocol):
    def __call__(self, x: Tensor, axes: Union[int, Sequence[int], None] = None, *,
                 keep_dims: bool = False, dtype: Optional[DType] = None,
                 out: Optional[Tensor] = None, stream: Optional[Stream] = None) -> Tensor: ...


def _reduce_function(op: ReduceOp, name: str, doc: str) -> ReduceFunction:
    def function(x: Tensor, axes: Union[int, Sequence[int], None] = None, *,
                 keep_dims: bool = False, dtype: Optional[DType] = None,
                 out: Optional[Tensor] = None, stream: Optional[Stream] = None) -> Tensor:
        return _reduce(op, x, axes, keep_dims, dtype, out, stream)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


sum = _reduce_function(ReduceOp.SUM, "sum",
                       "Sum over axes (None: all); the result has x's type or dtype=DType.F32.")
mean = _reduce_function(ReduceOp.MEAN, "mean", "Mean over axes (None: all).")
max = _reduce_function(ReduceOp.MAX, "max", "Maximum over axes (None: all; NaN propagates).")
min = _reduce_function(ReduceOp.MIN, "min", "Minimum over axes (None: all; NaN propagates).")


def argmax(x: Tensor, axis: int = -1, *, keep_dims: bool = False, out: Optional[Tensor] = None,
           stream: Optional[Stream] = None) -> Tensor:
    """int32 index of the first maximum along axis."""
    a = axis % x.ndim
    shape = [1 if i == a else s for i, s in enumerate(x.shape) if keep_dims or i != a]
    result = _output(x, shape, DType.I32, out)
    ops_argmax(x, result, axis, keep_dims, stream)
    return result
