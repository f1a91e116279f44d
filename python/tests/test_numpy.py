"""NumPy round trips: zero copy on the CPU device, copies on PoCL and lavapipe."""

import numpy as np
import pytest

import porta


def _address(array):
    return array.__array_interface__["data"][0]


def test_cpu_round_trip_is_zero_copy(cpu, rng):
    host = rng.standard_normal((4, 6)).astype(np.float32)
    expected = host.copy()
    tensor = porta.from_numpy(host, cpu)
    view = tensor.to_numpy()
    np.testing.assert_array_equal(view, host)
    # The view is the buffer's memory: the CPU device's native handle is the host address, and
    # the buffer wraps the array itself (from_numpy shares a C-contiguous array on the CPU).
    assert _address(view) == tensor.buffer.native_handle + tensor.offset
    assert _address(view) == _address(host)
    assert _address(tensor.to_numpy()) == _address(view)

    # Written through NumPy, read by the device.
    view[1, 2] = 100.0
    doubled = porta.ops.mul(tensor, 2.0).to_numpy()
    assert doubled[1, 2] == 200.0

    # Written by the device, read through NumPy without another to_numpy().
    porta.ops.add(tensor, 1.0, out=tensor)
    cpu.synchronize()
    assert view[1, 2] == 101.0
    np.testing.assert_array_equal(view[0], expected[0] + np.float32(1.0))
    np.testing.assert_array_equal(host, view)

    # A device fill is seen by the view too.
    cpu.default_stream.fill(tensor.buffer, b"\0")
    cpu.synchronize()
    assert not view.any()


def test_cpu_view_of_a_strided_tensor(cpu):
    host = np.arange(24, dtype=np.int32).reshape(4, 6)
    tensor = porta.from_numpy(host, cpu)
    part = tensor.slice(1, 1, 5, 2).permute([1, 0])
    assert part.shape == (2, 4) and part.strides == (2, 6) and not part.is_contiguous
    view = part.to_numpy()
    np.testing.assert_array_equal(view, host[:, 1:5:2].T)
    view[0, 0] = -1
    assert tensor.to_numpy()[0, 1] == -1


def test_empty_on_cpu_is_filled_in_place(cpu):
    tensor = porta.empty((3, 5), np.float16, cpu)
    view = tensor.to_numpy()
    view[...] = np.arange(15, dtype=np.float16).reshape(3, 5)
    total = porta.ops.sum(tensor, dtype=porta.DType.F32).to_numpy()
    assert total == 105.0


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int8])
def test_copy_round_trip(copy_device, dtype, rng):
    host = (rng.standard_normal((5, 7)) * 50).astype(dtype)
    tensor = porta.from_numpy(host, copy_device)
    assert tensor.device == copy_device and tensor.dtype == tensor.dtype
    assert tensor.buffer.kind == porta.MemoryKind.DEVICE
    first = tensor.to_numpy()
    np.testing.assert_array_equal(first, host)
    # A copy: writing it leaves the device's data alone.
    first[...] = 0
    np.testing.assert_array_equal(tensor.to_numpy(), host)


def test_copy_of_a_strided_view(copy_device):
    host = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    tensor = porta.from_numpy(host, copy_device)
    view = tensor.permute([2, 0, 1]).slice(0, 1, 5, 3)
    np.testing.assert_array_equal(view.to_numpy(), host.transpose(2, 0, 1)[1:5:3])


def test_stream_copies_and_fill(copy_device):
    data = np.arange(256, dtype=np.uint8)
    with porta.Stream(copy_device) as stream:
        a = porta.Buffer(copy_device, 256)
        b = porta.Buffer(copy_device, 512)
        stream.copy_from_host(a, data)
        stream.fill(b, np.uint32(0xDEADBEEF))
        stream.copy(b, a, size=128, dst_offset=64, src_offset=32)
        out = np.empty(512, dtype=np.uint8)
        stream.copy_to_host(out, b)
        stream.synchronize()
    words = out.view(np.uint32)
    assert (words[:16] == 0xDEADBEEF).all() and (words[48:] == 0xDEADBEEF).all()
    np.testing.assert_array_equal(out[64:192], data[32:160])


def test_copy_between_devices(cpu, copy_device, rng):
    host = rng.standard_normal(1000).astype(np.float32)
    source = porta.from_numpy(host, cpu)
    target = porta.empty(1000, np.float32, copy_device)
    copy_device.default_stream.copy(target.buffer, source.buffer)
    np.testing.assert_array_equal(target.to_numpy(), host)
