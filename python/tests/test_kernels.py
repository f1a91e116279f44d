"""Modules from OpenCL C source and SPIR-V bytes, launched with buffers, offsets and scalars."""

import shutil
import subprocess

import numpy as np
import pytest

import porta

OPENCL_SAXPY = """
__kernel void saxpy(__global float* y, __global const float* x, float a, int n) {
  int i = get_global_id(0);
  if (i < n) y[i] = a * x[i] + y[i];
}
"""

GLSL_SAXPY = """
#version 450
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(push_constant) uniform Args { float a; int n; };
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < uint(n)) y[i] = a * x[i] + y[i];
}
"""


@pytest.fixture(scope="module")
def saxpy_spirv(tmp_path_factory):
    glslc = shutil.which("glslc")
    if glslc is None:
        pytest.skip("glslc is not installed (scripts/setup.sh installs it)")
    folder = tmp_path_factory.mktemp("spirv")
    (folder / "saxpy.comp").write_text(GLSL_SAXPY)
    subprocess.run([glslc, "-fshader-stage=compute", "saxpy.comp", "-o", "saxpy.spv"],
                   cwd=folder, check=True)
    spirv = (folder / "saxpy.spv").read_bytes()
    # glslc names every entry point "main"; Porta finds a kernel by its entry point's name. The
    # names are NUL-terminated strings padded to whole words, and "main" and "saxpy" both take
    # two words, so renaming in place keeps the module valid (OpEntryPoint and OpName alike).
    assert spirv.count(b"main\0\0\0\0") >= 1
    return spirv.replace(b"main\0\0\0\0", b"saxpy\0\0\0")


def _saxpy(device, sources):
    n = 1000
    x = np.arange(n, dtype=np.float32)
    y = np.ones(n + 16, dtype=np.float32)
    module = porta.Module(device, sources, entries=["saxpy"])
    kernel = module.kernel("saxpy")
    del module  # the kernel keeps it alive
    xt = porta.from_numpy(x, device)
    yb = porta.from_numpy(y, device)
    kernel.launch((n + 63) // 64, 64, [(yb.buffer, 64), xt, np.float32(2.0), np.int32(n)])
    result = yb.to_numpy()
    np.testing.assert_array_equal(result[:16], 1.0)
    np.testing.assert_allclose(result[16:], 2.0 * x + 1.0)


def test_opencl_c_source(opencl):
    _saxpy(opencl, [porta.Source(porta.Format.OPENCL_C, OPENCL_SAXPY)])


def test_spirv_bytes(vulkan, saxpy_spirv):
    _saxpy(vulkan, [porta.Source(porta.Format.SPIRV_SHADER, saxpy_spirv)])


def test_first_accepted_source_is_used(opencl, vulkan, saxpy_spirv):
    sources = [porta.Source(porta.Format.SPIRV_SHADER, saxpy_spirv),
               porta.Source(porta.Format.OPENCL_C, OPENCL_SAXPY)]
    _saxpy(opencl, sources)
    _saxpy(vulkan, sources)


def test_python_numbers_need_a_type(opencl):
    kernel = porta.Module(opencl, [porta.Source(porta.Format.OPENCL_C, OPENCL_SAXPY)]).kernel("saxpy")
    y = porta.Buffer(opencl, 64)
    with pytest.raises(TypeError, match="argument 2 must be a NumPy scalar"):
        kernel.launch(1, 16, [y, y, 2.0, np.int32(16)])


def test_build_failure_carries_the_log(opencl):
    with pytest.raises(porta.BuildFailedError) as error:
        porta.Module(opencl, [porta.Source(porta.Format.OPENCL_C, "__kernel void k() { nope; }")])
    assert error.value.status == 8
    assert "nope" in error.value.message


def test_missing_kernel_is_not_found(opencl):
    module = porta.Module(opencl, [porta.Source(porta.Format.OPENCL_C, OPENCL_SAXPY)])
    with pytest.raises(porta.NotFoundError, match="missing"):
        module.kernel("missing")


def _native(tag, binary):
    """A Format.NATIVE source: the 64-byte header naming the architecture, then the binary."""
    return b"PORTANB1" + tag.encode().ljust(56, b"\0") + binary


def test_foreign_native_binary_falls_through_to_opencl_c(opencl):
    assert opencl.native_tags == []
    sources = [porta.Source(porta.Format.NATIVE, _native("acme-npu2:v3", b"\x01\x02")),
               porta.Source(porta.Format.OPENCL_C, OPENCL_SAXPY)]
    _saxpy(opencl, sources)


def test_foreign_native_binary_alone_is_unsupported(cpu):
    with pytest.raises(porta.UnsupportedError) as error:
        porta.Module(cpu, [porta.Source(porta.Format.NATIVE, _native("acme-npu2:v3", b"\x01"))])
    assert "native (tag acme-npu2:v3)" in error.value.message
    assert "no native tags" in error.value.message


def test_native_binary_without_header_is_invalid(cpu):
    with pytest.raises(porta.InvalidArgumentError, match="PORTA_NATIVE_MAGIC"):
        porta.Module(cpu, [porta.Source(porta.Format.NATIVE, b"\x7fELF" + bytes(100))])


def test_host_format_is_refused(cpu):
    with pytest.raises(porta.UnsupportedError, match="host-format"):
        porta.Module(cpu, [porta.Source(porta.Format.HOST, b"")])


def test_zero_grid_is_invalid_argument(opencl):
    kernel = porta.Module(opencl, [porta.Source(porta.Format.OPENCL_C, OPENCL_SAXPY)]).kernel("saxpy")
    y = porta.Buffer(opencl, 64)
    with pytest.raises(porta.InvalidArgumentError) as error:
        kernel.launch((0, 1), 16, [y, y, np.float32(1), np.int32(16)])
    assert error.value.call == "porta_kernel_launch"
    assert "grid" in error.value.message
