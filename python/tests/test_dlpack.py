"""DLPack: Tensor.__dlpack__ / __dlpack_device__ and porta.from_dlpack, with NumPy (zero copy on
the CPU device), on PoCL and lavapipe, with PyTorch when it is installed, and their lifetimes."""

import ctypes
import gc
import os
import tracemalloc

import numpy as np
import pytest

import porta

KDL_CPU, KDL_CUDA, KDL_OPENCL, KDL_VULKAN = 1, 2, 4, 7


def _address(array):
    return array.__array_interface__["data"][0]


def _first_element(tensor):
    """Host address (cpu) or native handle of the tensor's memory, plus its byte offset."""
    return tensor.buffer.native_handle + tensor.offset


class _Producer:
    """A DLPack producer that hands out one capsule, as a framework's tensor would."""

    def __init__(self, capsule, device):
        self.capsule = capsule
        self.device = device

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        return self.capsule

    def __dlpack_device__(self):
        return self.device


def test_dlpack_device_names_the_backend(device):
    tensor = porta.empty((2, 3), np.float32, device)
    expected = {"cpu": KDL_CPU, "opencl": KDL_OPENCL, "vulkan": KDL_VULKAN}[device.backend]
    assert tensor.__dlpack_device__() == (expected, device.index)


def test_capsule_names_follow_max_version(cpu):
    tensor = porta.empty(4, np.float32, cpu)
    assert '"dltensor_versioned"' in repr(tensor.__dlpack__(max_version=(1, 0)))
    assert '"dltensor_versioned"' in repr(tensor.__dlpack__(max_version=(1, 3)))
    assert '"dltensor"' in repr(tensor.__dlpack__())
    assert '"dltensor"' in repr(tensor.__dlpack__(max_version=(0, 8)))


def test_numpy_from_porta_is_zero_copy(cpu):
    tensor = porta.empty((4, 6), np.float32, cpu)
    tensor.to_numpy()[...] = np.arange(24, dtype=np.float32).reshape(4, 6)
    array = np.from_dlpack(tensor)
    assert _address(array) == _first_element(tensor)
    np.testing.assert_array_equal(array, np.arange(24, dtype=np.float32).reshape(4, 6))
    # Written through NumPy, read by the device; written by the device, read through NumPy.
    array[1, 2] = 100.0
    assert porta.ops.mul(tensor, 2.0).to_numpy()[1, 2] == 200.0
    porta.ops.add(tensor, 1.0, out=tensor)
    cpu.synchronize()
    assert array[1, 2] == 101.0
    # A strided view keeps its strides (in elements in DLPack, in bytes in NumPy).
    part = tensor.slice(1, 1, 5, 2).permute([1, 0])
    view = np.from_dlpack(part)
    assert view.shape == (2, 4) and view.strides == (8, 24)
    assert _address(view) == _first_element(part)


def test_porta_from_numpy_is_zero_copy(cpu, runtime):
    host = np.arange(30, dtype=np.int32).reshape(5, 6)
    tensor = porta.from_dlpack(host, device=cpu)
    assert tensor.device == cpu and tensor.dtype == porta.DType.I32
    assert tensor.shape == (5, 6) and tensor.strides == (6, 1)
    assert _first_element(tensor) == _address(host)
    host[4, 5] = -7
    assert tensor.to_numpy()[4, 5] == -7
    cpu.default_stream.fill(tensor.buffer, np.int32(9), offset=tensor.offset, size=24)
    cpu.synchronize()
    assert (host[0] == 9).all() and host[1, 0] == 6
    # A slice's first element need not be 16-byte aligned: the CPU device still wraps it.
    part = host[1:, 1:]
    tensor = porta.from_dlpack(part, device=cpu)
    assert _first_element(tensor) == _address(part)
    assert tensor.strides == (6, 1)
    np.testing.assert_array_equal(tensor.to_numpy(), part)
    # Without a device: the default runtime's CPU device.
    tensor = porta.from_dlpack(host)
    assert tensor.device.backend == "cpu" and _first_element(tensor) == _address(host)


def test_capsule_is_consumed(cpu):
    source = porta.empty(8, np.float32, cpu)
    capsule = source.__dlpack__(max_version=(1, 0))
    tensor = porta.from_dlpack(capsule, device=cpu)
    assert '"used_dltensor_versioned"' in repr(capsule)
    assert _first_element(tensor) == _first_element(source)
    with pytest.raises(TypeError, match="already consumed"):
        porta.from_dlpack(capsule, device=cpu)
    legacy = source.__dlpack__()
    tensor = porta.from_dlpack(legacy, device=cpu)
    assert '"used_dltensor"' in repr(legacy)
    assert _first_element(tensor) == _first_element(source)


def test_from_numpy_shares_the_array_on_cpu(cpu):
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    tensor = porta.from_numpy(host, cpu)
    assert _first_element(tensor) == _address(host)
    porta.ops.add(tensor, 1.0, out=tensor)
    cpu.synchronize()
    np.testing.assert_array_equal(host, np.arange(1, 13, dtype=np.float32).reshape(3, 4))
    # What cannot be shared is copied: a read-only array, a non-contiguous one.
    frozen = np.arange(12, dtype=np.float32)
    frozen.setflags(write=False)
    copied = porta.from_numpy(frozen, cpu)
    assert _first_element(copied) != _address(frozen)
    np.testing.assert_array_equal(copied.to_numpy(), frozen)
    strided = np.arange(24, dtype=np.float32)[::2]
    copied = porta.from_numpy(strided, cpu)
    np.testing.assert_array_equal(copied.to_numpy(), strided)
    copied.to_numpy()[0] = 50.0
    assert strided[0] == 0.0


def test_copy_argument(cpu):
    host = np.arange(6, dtype=np.float32)
    copied = porta.from_dlpack(host, device=cpu, copy=True)
    assert _first_element(copied) != _address(host)
    np.testing.assert_array_equal(copied.to_numpy(), host)
    tensor = porta.from_dlpack(host, device=cpu, copy=False)
    assert _first_element(tensor) == _address(host)
    exported = np.from_dlpack(_Producer(tensor.__dlpack__(max_version=(1, 0), copy=True),
                                        (KDL_CPU, 0)))
    assert _address(exported) != _address(host)
    np.testing.assert_array_equal(exported, host)


def test_unsupported_dtype_is_named(cpu):
    with pytest.raises(porta.InvalidArgumentError, match="float64"):
        porta.from_dlpack(np.zeros(4, np.float64), device=cpu)


def test_device_round_trip_is_zero_copy(copy_device, rng):
    host = rng.standard_normal((8, 16)).astype(np.float32)
    tensor = porta.from_numpy(host, copy_device)
    part = tensor.slice(0, 2, 8)
    back = porta.from_dlpack(part)
    assert back.device == copy_device
    # The same cl_mem or VkBuffer, at the same offset.
    assert back.buffer.native_handle == part.buffer.native_handle
    assert back.offset == part.offset == 2 * 16 * 4
    np.testing.assert_array_equal(back.to_numpy(), host[2:])
    porta.ops.mul(back, 0.0, out=back)
    np.testing.assert_array_equal(tensor.to_numpy()[2:], np.zeros((6, 16), np.float32))
    np.testing.assert_array_equal(tensor.to_numpy()[:2], host[:2])


def test_device_tensor_reaches_numpy_through_a_host_copy(copy_device, rng):
    host = rng.standard_normal(32).astype(np.float32)
    tensor = porta.from_numpy(host, copy_device)
    capsule = tensor.__dlpack__(max_version=(1, 0), dl_device=(KDL_CPU, 0))
    np.testing.assert_array_equal(np.from_dlpack(_Producer(capsule, (KDL_CPU, 0))), host)
    with pytest.raises(BufferError, match="copy is False"):
        tensor.__dlpack__(dl_device=(KDL_CPU, 0), copy=False)
    # A host array to another device: copied there, unless copy is False.
    moved = porta.from_dlpack(host, device=copy_device)
    assert moved.device == copy_device
    np.testing.assert_array_equal(moved.to_numpy(), host)
    with pytest.raises(BufferError, match="copy is False"):
        porta.from_dlpack(host, device=copy_device, copy=False)


def _set_device_type(capsule, device_type):
    """Rewrites the DLPack device type inside a versioned capsule (DLPack 1.0 layout)."""
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    managed = get_pointer(capsule, b"dltensor_versioned")
    # version (8), manager_ctx (8), deleter (8), flags (8), then DLTensor: data (8), device.
    ctypes.c_int32.from_address(managed + 40).value = device_type


def test_device_without_a_porta_device_is_named(cpu, runtime):
    if any(d.backend == "cuda" for d in runtime.devices):
        pytest.skip("this machine has a CUDA device")
    baseline = cpu.memory_info().allocated_bytes
    source = porta.empty(16, np.float32, cpu)
    capsule = source.__dlpack__(max_version=(1, 0))
    _set_device_type(capsule, KDL_CUDA)
    with pytest.raises(porta.NotFoundError) as raised:
        porta.from_dlpack(_Producer(capsule, (KDL_CUDA, 0)), device=None)
    message = str(raised.value)
    assert "kDLCUDA:0" in message and "cpu:" in message
    # The capsule was not consumed: its destructor runs the deleter, which frees the export.
    assert '"dltensor_versioned"' in repr(capsule)
    del capsule, source, raised
    gc.collect()
    assert cpu.memory_info().allocated_bytes == baseline


def test_numpy_array_outlives_the_tensor_that_made_it():
    runtime = porta.Runtime(device_filter="cpu")
    device = runtime.devices[0]
    baseline = device.memory_info().allocated_bytes
    tensor = porta.empty(1000, np.float32, device)
    tensor.to_numpy()[...] = np.arange(1000, dtype=np.float32)
    array = np.from_dlpack(tensor)
    tensor.buffer.free()
    runtime.close()
    del tensor, runtime
    gc.collect()
    # The capsule's export holds the buffer (porta_buffer_retain) after every Python object of
    # Porta is gone.
    assert device.memory_info().allocated_bytes == baseline + 4000
    np.testing.assert_array_equal(array, np.arange(1000, dtype=np.float32))
    array[:] = 2.0
    assert array.sum() == 2000.0
    del array
    gc.collect()
    assert device.memory_info().allocated_bytes == baseline


def test_tensor_outlives_the_numpy_array_it_wraps(cpu):
    host = np.arange(500, dtype=np.float32)
    tensor = porta.from_dlpack(host, device=cpu)
    address = _address(host)
    del host
    gc.collect()
    assert _first_element(tensor) == address
    np.testing.assert_array_equal(tensor.to_numpy(), np.arange(500, dtype=np.float32))


def _rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leak_across_10000_dlpack_round_trips(cpu):
    host = np.arange(256, dtype=np.float32)

    def round_trips(count):
        for _ in range(count):
            tensor = porta.from_dlpack(host, device=cpu)  # NumPy -> Porta
            back = np.from_dlpack(tensor)  # Porta -> NumPy
            assert back[255] == 255.0
            fresh = porta.empty(64, np.float32, cpu)  # memory Porta allocated, through NumPy
            assert np.from_dlpack(fresh).shape == (64,)

    round_trips(200)
    gc.collect()
    allocated_before = cpu.memory_info().allocated_bytes
    rss_before = _rss_bytes()
    tracemalloc.start()
    snapshot_before = tracemalloc.take_snapshot()
    round_trips(10_000)
    gc.collect()
    grown = sum(stat.size_diff for stat in
                tracemalloc.take_snapshot().compare_to(snapshot_before, "filename"))
    tracemalloc.stop()
    assert cpu.memory_info().allocated_bytes == allocated_before
    # A leaked export, capsule or buffer per trip would be >= 2.5 MB of 256-byte buffers alone.
    assert grown < 256 * 1024, f"Python allocations grew by {grown} bytes"
    assert _rss_bytes() - rss_before < 8 * 1024 * 1024


def test_pytorch_exchange(cpu):
    try:
        import torch
    except ImportError as error:
        pytest.skip(f"PyTorch is not installed ({error})")
    tensor = porta.empty((3, 4), np.float32, cpu)
    tensor.to_numpy()[...] = np.arange(12, dtype=np.float32).reshape(3, 4)
    shared = torch.from_dlpack(tensor)
    assert shared.data_ptr() == _first_element(tensor)
    shared[0, 0] = 42.0
    assert tensor.to_numpy()[0, 0] == 42.0
    source = torch.arange(10, dtype=torch.float32)
    back = porta.from_dlpack(source, device=cpu)
    assert _first_element(back) == source.data_ptr()
    source[3] = -1.0
    assert back.to_numpy()[3] == -1.0
