"""porta.ops against NumPy references computed in float64."""

import math

import numpy as np
import pytest

import porta

F32 = dict(rtol=2e-5, atol=2e-5)


def _put(array, device):
    return porta.from_numpy(np.asarray(array, dtype=np.float32), device)


def test_matmul(device, rng):
    a = rng.standard_normal((2, 33, 47))
    b = rng.standard_normal((47, 29))
    out = porta.ops.matmul(_put(a, device), _put(b, device))
    assert out.shape == (2, 33, 29)
    expected = a.astype(np.float32).astype(np.float64) @ b.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-4, atol=1e-4)


def test_matmul_transposed_with_bias_and_activation(device, rng):
    a = rng.standard_normal((16, 8)).astype(np.float32)  # [K, M], used transposed
    b = rng.standard_normal((12, 16)).astype(np.float32)  # [N, K], used transposed
    bias = rng.standard_normal(12).astype(np.float32)
    out = porta.ops.matmul(_put(a, device), _put(b, device), transpose_a=True, transpose_b=True,
                           bias=_put(bias, device), activation="relu")
    expected = np.maximum(a.T.astype(np.float64) @ b.T.astype(np.float64) + bias, 0.0)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-4, atol=1e-4)


def test_binary_broadcast_and_scalar(device, rng):
    a = rng.standard_normal((4, 1, 6)).astype(np.float32)
    b = rng.standard_normal((5, 6)).astype(np.float32)
    ta, tb = _put(a, device), _put(b, device)
    np.testing.assert_allclose(porta.ops.add(ta, tb).to_numpy(), a.astype(np.float64) + b, **F32)
    np.testing.assert_allclose(porta.ops.mul(ta, tb).to_numpy(), a.astype(np.float64) * b, **F32)
    np.testing.assert_allclose(porta.ops.sub(3.0, tb).to_numpy(), 3.0 - b.astype(np.float64),
                               **F32)
    a64 = np.broadcast_to(a.astype(np.float64), (4, 5, 6))
    np.testing.assert_allclose(porta.ops.swiglu(ta, tb).to_numpy(), a64 / (1 + np.exp(-a64)) * b,
                               rtol=1e-5, atol=1e-6)


def _gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def test_unary(device, rng):
    x = rng.standard_normal(1000).astype(np.float32) * 4
    t = _put(x, device)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(porta.ops.gelu(t).to_numpy(), _gelu(x64), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(porta.ops.silu(t).to_numpy(), x64 / (1 + np.exp(-x64)),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(porta.ops.tanh(t).to_numpy(), np.tanh(x64), rtol=1e-4, atol=1e-5)


def test_softmax(device, rng):
    x = rng.standard_normal((7, 100)).astype(np.float32) * 3
    out = porta.ops.softmax(_put(x, device), scale=0.5).to_numpy()
    z = x.astype(np.float64) * 0.5
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(axis=-1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_norms(device, rng):
    x = rng.standard_normal((5, 64)).astype(np.float32)
    w = rng.standard_normal(64).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    tx, tw, tb = _put(x, device), _put(w, device), _put(b, device)
    x64 = x.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(-1, keepdims=True)
    layer = (x64 - mean) / np.sqrt(var + 1e-5) * w + b
    np.testing.assert_allclose(porta.ops.layernorm(tx, tw, tb).to_numpy(), layer,
                               rtol=1e-4, atol=1e-4)
    rms = x64 / np.sqrt((x64 ** 2).mean(-1, keepdims=True) + 1e-6) * w
    np.testing.assert_allclose(porta.ops.rmsnorm(tx, tw).to_numpy(), rms, rtol=1e-4, atol=1e-4)


def test_reductions_and_argmax(cpu, rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    t = _put(x, cpu)
    np.testing.assert_allclose(porta.ops.sum(t, 1).to_numpy(), x.astype(np.float64).sum(1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(porta.ops.mean(t, keep_dims=True).to_numpy(),
                               x.astype(np.float64).mean(keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(porta.ops.argmax(t).to_numpy(), x.argmax(-1))


def test_float16_on_cpu(cpu, rng):
    a = rng.standard_normal((8, 16)).astype(np.float16)
    b = rng.standard_normal((16, 4)).astype(np.float16)
    out = porta.ops.matmul(porta.from_numpy(a, cpu), porta.from_numpy(b, cpu))
    assert out.dtype == porta.DType.F16
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out.to_numpy().astype(np.float64), expected, rtol=1e-2, atol=1e-2)


def test_contiguous_copy_of_a_view(device):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    view = _put(x, device).permute([2, 0, 1])
    copy = porta.ops.contiguous(view)
    assert copy.is_contiguous and copy.shape == (4, 2, 3)
    np.testing.assert_array_equal(copy.to_numpy(), x.transpose(2, 0, 1))


@pytest.mark.parametrize("stream_given", [False, True])
def test_ops_on_a_stream(cpu, stream_given):
    stream = porta.Stream(cpu) if stream_given else None
    t = porta.from_numpy(np.ones(8, np.float32), cpu)
    out = porta.ops.add(t, 1.0, stream=stream)
    np.testing.assert_array_equal(out.to_numpy(stream=stream), np.full(8, 2.0, np.float32))
