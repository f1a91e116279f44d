// Writes the CTS test kernels in the mini plugin's native byte-code (mini_native.h), one native
// binary per kernel, as a vendor's compiler would for porta-cts --kernel-file NAME:native:FILE.
// Usage: porta_test_mini_native_kernels OUTPUT_DIR [TAG]   (TAG defaults to mini_native::kTag)
// Writes OUTPUT_DIR/<kernel>.pnb for vector_add, scale_add, index_2d and fault.
#include <cstdio>
#include <string>

#include "tests/plugins/mini_native.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR [TAG]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const char* tag = argc == 3 ? argv[2] : mini_native::kTag;
  for (const mini_native::Kernel& kernel : mini_native::TestKernels()) {
    const std::vector<uint8_t> binary = mini_native::Encode({kernel}, tag);
    const std::string path = dir + "/" + kernel.name + ".pnb";
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) {
      std::perror(path.c_str());
      return 1;
    }
    const bool written = std::fwrite(binary.data(), 1, binary.size(), file) == binary.size();
    if (std::fclose(file) != 0 || !written) {
      std::fprintf(stderr, "%s: write failed\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
