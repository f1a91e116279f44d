"""Reference counting: objects keep their parents alive, nothing is freed twice, and nothing
leaks across many round trips."""

import gc
import os
import tracemalloc

import numpy as np

import porta


def test_numpy_view_outlives_everything_that_made_it():
    runtime = porta.Runtime(device_filter="cpu")
    device = runtime.devices[0]
    baseline = device.memory_info().allocated_bytes
    # A buffer Porta allocated (from_numpy would share a NumPy array's own memory on the CPU).
    tensor = porta.empty(1000, np.float32, device)
    view = tensor.to_numpy()
    view[:] = np.arange(1000, dtype=np.float32)
    buffer = tensor.buffer
    buffer.free()
    runtime.close()
    del tensor, buffer, runtime
    gc.collect()
    # The view's base still holds the buffer, and the buffer its device and runtime.
    np.testing.assert_array_equal(view, np.arange(1000, dtype=np.float32))
    view[:] = 5.0
    assert view.sum() == 5000.0
    assert device.memory_info().allocated_bytes == baseline + 4000
    del view
    gc.collect()
    assert device.memory_info().allocated_bytes == baseline


def test_odd_destruction_orders():
    runtime = porta.Runtime(device_filter="opencl,cpu")
    devices = runtime.devices
    stream = porta.Stream(devices[0])
    event = porta.Event(devices[0])
    buffer = porta.Buffer(devices[0], 256)
    tensor = porta.Tensor(buffer, np.float32, [64])
    kernel = None
    if devices[0].backend == "opencl":
        source = "__kernel void k(__global float* x) { x[get_global_id(0)] = 3.0f; }"
        module = porta.Module(devices[0], [porta.Source(porta.Format.OPENCL_C, source)])
        kernel = module.kernel("k")
        module.close()
    # Parents first, children after, and the runtime before all of them.
    runtime.close()
    del runtime, devices
    gc.collect()
    if kernel is not None:
        kernel.launch(4, 16, [tensor], stream=stream)
    else:
        stream.fill(buffer, np.float32(3.0))
    event.record(stream)
    buffer.free()
    stream.close()  # the queued work still holds the buffer
    event.wait()
    np.testing.assert_array_equal(tensor.to_numpy(), np.full(64, 3.0, np.float32))
    del kernel, event, stream, tensor
    gc.collect()


def test_double_free_and_close_are_harmless(cpu):
    buffer = porta.Buffer(cpu, 64)
    with buffer:
        pass
    buffer.free()
    buffer.free()
    stream = porta.Stream(cpu)
    with stream:
        pass
    stream.close()


def _rss_bytes():
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leak_across_10000_round_trips(cpu, copy_device):
    host = np.arange(256, dtype=np.float32)

    def round_trips(device, count):
        for _ in range(count):
            out = porta.from_numpy(host, device).to_numpy()
            assert out[255] == 255.0

    # Warm up the allocator, NumPy and the binding's caches before measuring.
    round_trips(cpu, 200)
    round_trips(copy_device, 20)
    gc.collect()
    cpu_before = cpu.memory_info().allocated_bytes
    copy_before = copy_device.memory_info().allocated_bytes
    rss_before = _rss_bytes()
    tracemalloc.start()
    snapshot_before = tracemalloc.take_snapshot()
    round_trips(cpu, 10_000)
    round_trips(copy_device, 1_000)
    gc.collect()
    grown = sum(stat.size_diff for stat in
                tracemalloc.take_snapshot().compare_to(snapshot_before, "filename"))
    tracemalloc.stop()
    assert cpu.memory_info().allocated_bytes == cpu_before
    assert copy_device.memory_info().allocated_bytes == copy_before
    # 11,000 round trips of 1 KiB each: a leak of one array or buffer per trip would be >= 11 MB.
    assert grown < 256 * 1024, f"Python allocations grew by {grown} bytes"
    assert _rss_bytes() - rss_before < 8 * 1024 * 1024
