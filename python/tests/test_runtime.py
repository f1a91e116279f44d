import subprocess
import sys

import pytest

import porta


def test_devices_listed_from_the_command_line():
    out = subprocess.run(
        [sys.executable, "-c", "import porta; print(porta.devices())"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "<porta.Device cpu:0" in out


def test_device_properties(cpu):
    assert cpu.backend == "cpu"
    assert cpu.type == porta.DeviceType.CPU
    assert cpu.name
    assert cpu.memory > 0
    assert cpu.max_allocation_bytes > 0
    assert "host_visible_memory" in cpu.capabilities
    assert porta.Format.HOST in cpu.kernel_formats
    assert porta.Format.NATIVE not in cpu.kernel_formats
    assert cpu.native_tags == []
    assert cpu.zero_copy
    assert cpu.default_stream.device == cpu


def test_memory_info_counts_allocations(cpu):
    before = cpu.memory_info().allocated_bytes
    with porta.Buffer(cpu, 1 << 20) as buffer:
        assert buffer.size == 1 << 20
        assert cpu.memory_info().allocated_bytes == before + (1 << 20)
    assert buffer.freed
    assert cpu.memory_info().allocated_bytes == before
    info = cpu.memory_info()
    assert info.total_bytes == cpu.memory
    assert info.free_bytes is None or info.free_bytes > 0


def test_runtime_context_manager_and_diagnostics():
    with porta.Runtime(device_filter="cpu") as rt:
        assert [d.backend for d in rt.devices] == ["cpu"]
        assert "cpu" in rt.diagnostics()
    assert rt.closed
    with pytest.raises(porta.InvalidOperationError, match="closed"):
        rt.devices


def test_bad_device_filter_is_invalid_argument():
    with pytest.raises(porta.InvalidArgumentError) as error:
        porta.Runtime(device_filter="cpu:notanumber")
    assert error.value.call == "porta_runtime_create"
    assert error.value.message


def test_device_lookup_by_backend(cpu):
    assert porta.device("cpu").backend == "cpu"
    with pytest.raises(porta.NotFoundError, match="no device 0 of backend 'nosuch'"):
        porta.device("nosuch")


def test_events_time_stream_work(cpu):
    with porta.Stream(cpu) as stream:
        start, end = porta.Event(cpu), porta.Event(cpu)
        buffer = porta.Buffer(cpu, 1 << 22)
        start.record(stream)
        stream.fill(buffer, b"\x01")
        end.record(stream)
        end.wait(timeout=10.0)
        assert start.query() and end.query()
        assert start.elapsed_ms(end) >= 0.0
        other = porta.Stream(cpu)
        other.wait_event(end)
        other.synchronize()
        assert other.query()


def test_untimed_event_cannot_time(cpu):
    start, end = porta.Event(cpu, timing=False), porta.Event(cpu, timing=False)
    start.record()
    end.record()
    end.wait()
    with pytest.raises(porta.InvalidArgumentError):
        start.elapsed_ms(end)
