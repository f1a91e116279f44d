// The mini test plugin's native kernel format: a small register byte-code that the plugin
// interprets one work item at a time. It stands in for a vendor's own binary in the tests of
// PORTA_FORMAT_NATIVE: the MINI_NATIVE plugin declares kTag, and a native source for it is a
// porta_native_header_t with that tag followed by a program in this encoding (little-endian):
//
//   "MBC1", u32 kernel count (1..64), then for each kernel:
//   u8 name length (1..63), the name, u8 argument count (0..16), one byte per argument ('b': a
//   buffer of 32-bit words, 's': a 4-byte scalar), u16 instruction count (1..4096), and the
//   instructions, 4 bytes each: opcode, a, b, c.
//
// Registers r0..r15 hold 32-bit words (an unsigned integer or a float's bits) and start at zero
// for every work item. The last instruction of a kernel is kRet, and every operand is checked
// when the program is decoded; an access outside a buffer faults at run time, as a trap does.
#ifndef PORTA_TESTS_PLUGINS_MINI_NATIVE_H_
#define PORTA_TESTS_PLUGINS_MINI_NATIVE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "porta/porta.h"

namespace mini_native {

// The architecture tag of the byte-code ("bc1": byte-code version 1).
inline constexpr char kTag[] = "porta-mini:bc1";
inline constexpr uint32_t kRegisters = 16;
inline constexpr uint32_t kMaxArgs = 16;
inline constexpr uint32_t kMaxKernels = 64;
inline constexpr uint32_t kMaxInstructions = 4096;

enum Op : uint8_t {
  kRet = 0,     // ends the work item
  kGid = 1,     // r[a] = the global index in dimension b (0..2)
  kArg = 2,     // r[a] = scalar argument b
  kImm = 3,     // r[a] = b | c << 8
  kExitGe = 4,  // ends the work item when r[a] >= r[b], unsigned
  kLoad = 5,    // r[a] = word r[c] of buffer argument b
  kStore = 6,   // word r[b] of buffer argument a = r[c]
  kFAdd = 7,    // r[a] = r[b] + r[c] as floats
  kFMul = 8,    // r[a] = r[b] * r[c] as floats
  kIAdd = 9,    // r[a] = r[b] + r[c], wrapping
  kIMul = 10,   // r[a] = r[b] * r[c], wrapping
  kShl = 11,    // r[a] = r[b] << (r[c] & 31)
  kOr = 12,     // r[a] = r[b] | r[c]
  kTrap = 13,   // faults with code a
  kOpCount = 14,
};

struct Instruction {
  uint8_t op = kRet;
  uint8_t a = 0;
  uint8_t b = 0;
  uint8_t c = 0;
};

struct Kernel {
  std::string name;
  // One character per argument: 'b' (buffer) or 's' (scalar).
  std::string args;
  std::vector<Instruction> code;
};

// |kernels| as a program behind a porta_native_header_t carrying |tag|: a complete
// PORTA_FORMAT_NATIVE source.
std::vector<uint8_t> Encode(const std::vector<Kernel>& kernels, const char* tag);

// The CTS test kernels this byte-code can express (conformance/kernels/README.md): vector_add,
// scale_add, index_2d and fault (which traps with code 7 in every work item).
std::vector<Kernel> TestKernels();

// Decodes and checks the program in the |size| bytes at |data| (the bytes after the header).
// Returns "" and the kernels, or why the program is malformed.
std::string Decode(const uint8_t* data, size_t size, std::vector<Kernel>* kernels);

// Runs every work item of |group| through |kernel| (whose arguments the caller has matched to
// its signature). Returns 0, or the fault's code with |fault| saying where and why.
int32_t RunGroup(const Kernel& kernel, const porta_host_group_t& group, std::string* fault);

}  // namespace mini_native

#endif  // PORTA_TESTS_PLUGINS_MINI_NATIVE_H_
