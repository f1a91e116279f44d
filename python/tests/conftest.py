"""Shared fixtures: one runtime over every device (PORTA_DEVICES does not apply), and a device
per CI backend that skips, with the backend's own reason, only where that backend has no device.
"""

import numpy as np
import pytest

import porta


@pytest.fixture(scope="session")
def runtime():
    with porta.Runtime(device_filter="") as rt:
        yield rt


def _device_of(runtime, backend):
    for device in runtime.devices:
        if device.backend == backend:
            return device
    reasons = [line.strip() for line in runtime.diagnostics().splitlines() if backend in line]
    pytest.skip(f"no {backend} device here: {'; '.join(reasons) or 'backend not reported'}")


@pytest.fixture(scope="session")
def cpu(runtime):
    return _device_of(runtime, "cpu")


@pytest.fixture(scope="session")
def opencl(runtime):
    return _device_of(runtime, "opencl")


@pytest.fixture(scope="session")
def vulkan(runtime):
    return _device_of(runtime, "vulkan")


@pytest.fixture(params=["cpu", "opencl", "vulkan"])
def device(request, runtime):
    """Each CI device in turn."""
    return _device_of(runtime, request.param)


@pytest.fixture(params=["opencl", "vulkan"])
def copy_device(request, runtime):
    """The devices whose memory is not the host's: NumPy round trips copy."""
    return _device_of(runtime, request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(12)
