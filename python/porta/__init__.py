"""Porta for Python: devices, streams, events, buffers, kernels and tensors on every backend.

The objects mirror Porta's C API (porta.h); ``porta.ops`` is the operator library
(porta_ops.h). See docs/python.md in the repository.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

if TYPE_CHECKING:
    import numpy.typing

from . import ops
from ._porta import (
    AbiMismatchError,
    BackendError,
    BinaryOp,
    Buffer,
    BuildFailedError,
    Device,
    DeviceLostError,
    DeviceType,
    DType,
    Error,
    Event,
    Format,
    InvalidArgumentError,
    InvalidHandleError,
    InvalidOperationError,
    Kernel,
    MemoryInfo,
    MemoryKind,
    Module,
    Stream,
    NotFoundError,
    OutOfMemoryError,
    OutOfRangeError,
    ReduceOp,
    Runtime,
    Source,
    Tensor,
    TimeoutError,
    UnaryOp,
    UnsupportedError,
    _from_dlpack,
    empty,
    from_numpy,
    version,
)

__all__ = [
    "AbiMismatchError",
    "BackendError",
    "BinaryOp",
    "Buffer",
    "BuildFailedError",
    "Device",
    "DeviceLostError",
    "DeviceType",
    "DType",
    "Error",
    "Event",
    "Format",
    "InvalidArgumentError",
    "InvalidHandleError",
    "InvalidOperationError",
    "Kernel",
    "MemoryInfo",
    "MemoryKind",
    "Module",
    "NotFoundError",
    "OutOfMemoryError",
    "OutOfRangeError",
    "ReduceOp",
    "Runtime",
    "Source",
    "Stream",
    "Tensor",
    "TimeoutError",
    "UnaryOp",
    "UnsupportedError",
    "default_runtime",
    "device",
    "devices",
    "empty",
    "from_dlpack",
    "from_numpy",
    "ops",
    "version",
    "zeros",
]

__version__ = "0.1.0"

_default_runtime: Optional[Runtime] = None
_default_lock = threading.Lock()


def default_runtime() -> Runtime:
    """The runtime that devices() and device() use, created on first call (PORTA_DEVICES applies)."""
    global _default_runtime
    with _default_lock:
        if _default_runtime is None:
            _default_runtime = Runtime()
        return _default_runtime


def devices(backend: Optional[str] = None) -> list[Device]:
    """The default runtime's devices, or only those of one backend ("cpu", "opencl", ...)."""
    found = default_runtime().devices
    if backend is None:
        return found
    return [d for d in found if d.backend == backend]


def device(backend: Optional[str] = None, index: int = 0) -> Device:
    """Device number index of the default runtime (of one backend when given).

    Raises NotFoundError, naming the devices there are, when there is no such device.
    """
    found = devices(backend)
    if index < len(found):
        return found[index]
    names = ", ".join(f"{d.backend}:{d.index} {d.name}" for d in devices()) or "none"
    where = f" of backend '{backend}'" if backend else ""
    message = f"no device {index}{where}; devices: {names}"
    error = NotFoundError(f"porta.device failed: PORTA_ERROR_NOT_FOUND: {message}")
    error.status = 6
    error.status_name = "PORTA_ERROR_NOT_FOUND"
    error.message = message
    error.call = "porta.device"
    raise error


def zeros(
    shape: Union[int, Sequence[int]],
    dtype: Union[DType, str, "numpy.typing.DTypeLike"],
    device: Device,
    stream: Optional[Stream] = None,
) -> Tensor:
    """A new contiguous tensor of zeros (filled on stream, default: the device's default stream)."""
    tensor = empty(shape, dtype, device)
    (stream or device.default_stream).fill(tensor.buffer, b"\0")
    return tensor


def from_dlpack(x: Any, *, device: Optional[Device] = None, copy: Optional[bool] = None) -> Tensor:
    """x (any object with __dlpack__, e.g. a NumPy array or a PyTorch tensor, or a DLPack capsule)
    as a Porta tensor, following the array API standard's from_dlpack.

    Zero copy: the tensor wraps x's memory on the device of the default runtime (or of device's
    runtime) that x's DLPack device names, and keeps x's memory alive. device, when given and
    not x's device, takes a copy of a host array (BufferError for anything else, or when copy is
    False). copy=True always copies (on the device); copy=False never does; copy=None (the
    default) copies only host memory Porta cannot wrap (read-only, or not aligned to its element
    size). A DLPack device with no Porta device raises NotFoundError naming both sides.
    """
    return _from_dlpack(x, default_runtime() if device is None else None, device, copy)
