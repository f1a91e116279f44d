"""Each failure raises the porta.Error subclass of its status, with porta_last_error_message()."""

import numpy as np
import pytest

import porta


def test_hierarchy():
    assert issubclass(porta.Error, RuntimeError)
    for cls in (porta.InvalidArgumentError, porta.OutOfRangeError, porta.BuildFailedError,
                porta.DeviceLostError, porta.InvalidOperationError, porta.UnsupportedError):
        assert issubclass(cls, porta.Error)
    assert issubclass(porta.OutOfMemoryError, MemoryError)
    assert issubclass(porta.TimeoutError, TimeoutError)


def test_zero_size_buffer(cpu):
    with pytest.raises(porta.InvalidArgumentError) as error:
        porta.Buffer(cpu, 0)
    e = error.value
    assert (e.status, e.status_name, e.call) == (2, "PORTA_ERROR_INVALID_ARGUMENT",
                                                  "porta_buffer_alloc")
    assert "size" in e.message
    assert e.message in str(e)


def test_allocation_beyond_the_limit(cpu):
    with pytest.raises(porta.OutOfRangeError) as error:
        porta.Buffer(cpu, cpu.max_allocation_bytes + 1)
    assert str(cpu.max_allocation_bytes) in error.value.message


def test_host_visible_memory_cannot_be_mapped_from_device_memory(cpu):
    # A device-kind buffer on the CPU device reads back through a copy, not a mapping.
    buffer = porta.Buffer(cpu, 16, porta.MemoryKind.DEVICE)
    cpu.default_stream.fill(buffer, np.uint8(7))
    values = porta.Tensor(buffer, np.int8, [16]).to_numpy()
    assert (values == 7).all()


def test_copy_out_of_range(copy_device):
    buffer = porta.Buffer(copy_device, 64)
    with pytest.raises(porta.OutOfRangeError) as error:
        copy_device.default_stream.copy_from_host(buffer, np.zeros(32, np.uint8), dst_offset=48)
    assert "64" in error.value.message


def test_fill_pattern_must_be_typed(cpu):
    buffer = porta.Buffer(cpu, 64)
    with pytest.raises(TypeError, match="NumPy scalar"):
        cpu.default_stream.fill(buffer, 7)
    with pytest.raises(porta.InvalidArgumentError):
        cpu.default_stream.fill(buffer, b"\0\0\0")


def test_freed_buffer_and_closed_stream(cpu):
    buffer = porta.Buffer(cpu, 64)
    buffer.free()
    with pytest.raises(porta.InvalidOperationError, match="freed"):
        buffer.size
    stream = porta.Stream(cpu)
    stream.close()
    with pytest.raises(porta.InvalidOperationError, match="closed"):
        stream.synchronize()


def test_view_outside_its_buffer(cpu):
    buffer = porta.Buffer(cpu, 64)
    with pytest.raises(porta.OutOfRangeError, match="64 bytes"):
        porta.Tensor(buffer, np.float32, [4, 5])


def test_op_shape_mismatch_names_the_problem(device):
    a = porta.zeros((2, 3), np.float32, device)
    b = porta.zeros((4, 5), np.float32, device)
    with pytest.raises(porta.InvalidArgumentError) as error:
        porta.ops.matmul(a, b, out=porta.empty((2, 5), np.float32, device))
    assert error.value.call == "porta_ops_matmul"
    assert error.value.message


def test_numpy_types_porta_lacks():
    with pytest.raises(TypeError, match="float64"):
        porta.empty(4, np.float64, porta.device("cpu"))


def test_bf16_has_no_numpy_view(cpu):
    tensor = porta.zeros(4, porta.DType.BF16, cpu)
    with pytest.raises(porta.UnsupportedError, match="bf16"):
        tensor.to_numpy()
    as_f32 = porta.ops.cast(tensor, np.float32)
    np.testing.assert_array_equal(as_f32.to_numpy(), np.zeros(4, np.float32))


def test_event_wait_timeout_type(cpu):
    event = porta.Event(cpu)
    event.wait(timeout=0.0)  # a new event counts as complete
    assert event.query()
