#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets that are made rather than collected:
#   corpus/spirv          the Vulkan shaders of the repository compiled with glslc for the
#                         Vulkan 1.2 and 1.3 environments, one SPIR-V 1.4+ build (entry-point
#                         interfaces list buffers), and three broken variants of one (no
#                         OpFunctionEnd, an instruction running past the end, a bad magic number)
#   corpus/device_filter  filter texts of every shape the syntax has, and malformed ones
#   corpus/plugin_paths   path lists with empty elements and odd characters
#   corpus/disk_cache     valid cache files of the fuzz target's key (the format of
#                         backends/common/disk_cache.cpp) and a truncated one
#   corpus/tuning_table   the shipped tuning table and rows of every family, quoting and comments
#   corpus/opencl_c       the repository's OpenCL C kernels and sources using double in comments,
#                         literals and code
#   corpus/known_failures porta-cts --known-failures files: entries, comments, CRLF, and each
#                         kind of bad line
# Inputs a fuzzer found (crashes fixed since) are kept in the same folders under names starting
# with "regression-" and are not touched here. Needs glslc and python3.
set -euo pipefail
cd "$(dirname "$0")"

spirv=corpus/spirv
seeded=("$spirv" corpus/device_filter corpus/plugin_paths corpus/disk_cache corpus/tuning_table
        corpus/opencl_c corpus/known_failures)
mkdir -p "${seeded[@]}"
find "${seeded[@]}" -type f \
  ! -name 'regression-*' -delete

shaders=(../../backends/vulkan/shaders/fill.comp ../../backends/vulkan/test_shaders/*.comp
         ../../conformance/kernels/vulkan/*.comp)
for shader in "${shaders[@]}"; do
  name=$(basename "$shader" .comp)
  glslc -O --target-env=vulkan1.2 "$shader" -o "$spirv/$name-vk12.spv"
done
glslc -O --target-env=vulkan1.3 ../../conformance/kernels/vulkan/reduce_sum.comp \
  -o "$spirv/reduce_sum-vk13.spv"
glslc -O0 --target-env=vulkan1.2 --target-spv=spv1.4 ../../conformance/kernels/vulkan/index_2d.comp \
  -o "$spirv/index_2d-spv14-O0.spv"

python3 - "$spirv" <<'PY'
import pathlib, struct, sys
folder = pathlib.Path(sys.argv[1])
data = (folder / "vector_add-vk12.spv").read_bytes()
words = list(struct.unpack(f"<{len(data) // 4}I", data))
def write(name, w):
    (folder / name).write_bytes(struct.pack(f"<{len(w)}I", *w))
write("broken-no-function-end.spv", words[:-1])
write("broken-length-past-end.spv", words[:5] + [(words[5] & 0xffff) | 0xfff00000] + words[6:])
write("broken-magic.spv", [0x07230204] + words[1:])
PY

i=0
for text in 'cpu' 'opencl:0,vulkan:*,cpu' ' Vulkan : 1 , gpu' 'npu,accelerator:3' 'cpu:5' \
  'nosuchbackend' ',cpu' 'cpu,' ':1' 'cpu:x' 'cpu:1234567890' 'gpu:*,cpu:0,opencl:2,vulkan:*'; do
  printf '%s' "$text" > "corpus/device_filter/seed-$i.txt"
  i=$((i + 1))
done
i=0
for text in '/usr/lib/porta' 'a:b:c' '::x::' ':' '/opt/vendor/libporta_plugin_x.so:./plugins/' \
  'relative/path:/abs/path:'; do
  printf '%s' "$text" > "corpus/plugin_paths/seed-$i.txt"
  i=$((i + 1))
done
i=0
for text in $'# backend | device | test | reason\nacme_npu | NPU-2 | EventTest.Elapsed* | no timers\n' \
  $'*|*|Ops*.Matmul?|a | reason | with bars\r\n\n  \t\n' 'cpu | * | A.B' 'cpu | * | MemoryTest | r' \
  'cpu | * | Devices/A.B/cpu_0 | r' $'cpu | * | A.B | bad\x01byte' ' | | | ' 'open cl | * | A.B | r'; do
  printf '%s' "$text" > "corpus/known_failures/seed-$i.txt"
  i=$((i + 1))
done

python3 - corpus/disk_cache <<'PY'
import pathlib, struct, sys
folder = pathlib.Path(sys.argv[1])
KEY = b"fuzz:device=cpu;options=-O2"  # disk_cache_fuzz.cpp's kKey
def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h
def entry(payload, key=KEY):
    return (b"PORTAC01" + struct.pack("<II", 1, len(key)) + key +
            struct.pack("<QQ", len(payload), fnv(payload)) + payload)
(folder / "empty-payload.bin").write_bytes(entry(b""))
(folder / "small-payload.bin").write_bytes(entry(b"\x7fELF program binary"))
(folder / "other-key.bin").write_bytes(entry(b"abc", b"another key"))
(folder / "truncated.bin").write_bytes(entry(b"0123456789")[:-3])
PY
cp ../../kernels/tuning/tuning_table.txt corpus/tuning_table/shipped.txt
cat > corpus/tuning_table/rows.txt <<'ROWS'
# backend vendor architecture device family dtype bucket params...
vulkan * * "llvmpipe (LLVM 15.0.6, 256 bits)" matmul f32 large tm=64 tn=64 tk=16 wm=4 wn=4
opencl pocl* * * qmatvec q4_0 gemv wg=64 rows=4 mmax=8 gemm=1 mv=2
cpu * * * ew * * wg=256   # trailing comment
cuda NVIDIA sm_80 * softmax f16 small wg=128
ROWS
printf 'cpu * * * norm bf16 * wg=999999\n' > corpus/tuning_table/bad-value.txt
printf 'cpu * * * matmul f32 * tm=32\n' > corpus/tuning_table/bad-matmul.txt
printf 'cpu "unterminated * * ew * * wg=1' > corpus/tuning_table/bad-quote.txt
cp ../../conformance/kernels/opencl/*.cl corpus/opencl_c/
cat > corpus/opencl_c/doubles.cl <<'CL'
// double in a comment
/* double
   in a block comment */
const char* s = "double in a string"; char c = 'd';
#ifdef cl_khr_fp64
kernel void k(global double2* out) { out[0] = (double2)(1.0, 2.0); }
#endif
CL
printf 'kernel void k(global float* x) { x[0] = 1.0f; }\n' > corpus/opencl_c/no-double.cl
echo "seeds: $(find "${seeded[@]}" -type f | wc -l) files"
