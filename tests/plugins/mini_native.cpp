#include "tests/plugins/mini_native.h"

#include <bit>
#include <cstring>

namespace mini_native {
namespace {

constexpr char kMagic[4] = {'M', 'B', 'C', '1'};
// The fault code of an access outside a buffer; a trap's own code is its operand a (1..255).
constexpr int32_t kOutOfBoundsFault = 256;

void Put(std::vector<uint8_t>* out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// Byte by byte: GCC 12's -Warray-bounds misreads vector::insert of a range here.
void Append(std::vector<uint8_t>* out, const void* data, size_t size) {
  for (size_t i = 0; i < size; ++i) out->push_back(static_cast<const uint8_t*>(data)[i]);
}

// Reads the program front to back; every read is bounds-checked.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Read(size_t bytes, uint32_t* value) {
    if (size_ - at_ < bytes) return false;
    *value = 0;
    for (size_t i = 0; i < bytes; ++i) *value |= uint32_t{data_[at_ + i]} << (8 * i);
    at_ += bytes;
    return true;
  }
  bool ReadText(size_t bytes, std::string* text) {
    if (size_ - at_ < bytes) return false;
    text->assign(reinterpret_cast<const char*>(data_ + at_), bytes);
    at_ += bytes;
    return true;
  }
  size_t at() const { return at_; }
  size_t left() const { return size_ - at_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// Why |in| (instruction |pc| of |kernel|) has a bad operand, or "".
std::string CheckOperands(const Kernel& kernel, const Instruction& in) {
  auto reg = [](uint8_t r) { return r < kRegisters; };
  auto arg = [&](uint8_t index, char kind) {
    return index < kernel.args.size() && kernel.args[index] == kind;
  };
  bool ok = true;
  switch (in.op) {
    case kRet:
      break;
    case kGid:
      ok = reg(in.a) && in.b < 3;
      break;
    case kArg:
      ok = reg(in.a) && arg(in.b, 's');
      break;
    case kImm:
      ok = reg(in.a);
      break;
    case kExitGe:
      ok = reg(in.a) && reg(in.b);
      break;
    case kLoad:
      ok = reg(in.a) && arg(in.b, 'b') && reg(in.c);
      break;
    case kStore:
      ok = arg(in.a, 'b') && reg(in.b) && reg(in.c);
      break;
    case kFAdd:
    case kFMul:
    case kIAdd:
    case kIMul:
    case kShl:
    case kOr:
      ok = reg(in.a) && reg(in.b) && reg(in.c);
      break;
    case kTrap:
      ok = in.a != 0;
      break;
    default:
      return "has the unknown opcode " + std::to_string(in.op);
  }
  if (ok) return "";
  return "(opcode " + std::to_string(in.op) + ") has an operand out of range: a " +
         std::to_string(in.a) + ", b " + std::to_string(in.b) + ", c " + std::to_string(in.c) +
         " with " + std::to_string(kRegisters) + " registers and arguments \"" + kernel.args + "\"";
}

std::string DecodeKernel(Reader* reader, Kernel* kernel) {
  uint32_t length = 0;
  if (!reader->Read(1, &length) || length == 0 || length > 63 ||
      !reader->ReadText(length, &kernel->name)) {
    return "a kernel name is missing, empty or longer than 63 bytes";
  }
  uint32_t arg_count = 0;
  if (!reader->Read(1, &arg_count) || arg_count > kMaxArgs ||
      !reader->ReadText(arg_count, &kernel->args)) {
    return "kernel '" + kernel->name + "' has a malformed argument list";
  }
  for (char kind : kernel->args) {
    if (kind != 'b' && kind != 's') {
      return "kernel '" + kernel->name + "' has an argument kind other than 'b' and 's'";
    }
  }
  uint32_t count = 0;
  if (!reader->Read(2, &count) || count == 0 || count > kMaxInstructions ||
      reader->left() / 4 < count) {
    return "kernel '" + kernel->name + "' has a malformed instruction count";
  }
  kernel->code.resize(count);
  for (uint32_t pc = 0; pc < count; ++pc) {
    Instruction& in = kernel->code[pc];
    uint32_t word = 0;
    reader->Read(4, &word);
    in = {static_cast<uint8_t>(word), static_cast<uint8_t>(word >> 8),
          static_cast<uint8_t>(word >> 16), static_cast<uint8_t>(word >> 24)};
    const std::string problem = CheckOperands(*kernel, in);
    if (!problem.empty()) {
      return "kernel '" + kernel->name + "' instruction " + std::to_string(pc) + " " + problem;
    }
  }
  if (kernel->code.back().op != kRet) {
    return "kernel '" + kernel->name + "' does not end with ret";
  }
  return "";
}

float AsFloat(uint32_t bits) {
  return std::bit_cast<float>(bits);
}

uint32_t AsBits(float value) {
  return std::bit_cast<uint32_t>(value);
}

}  // namespace

std::vector<uint8_t> Encode(const std::vector<Kernel>& kernels, const char* tag) {
  porta_native_header_t header = {};
  std::memcpy(header.magic, PORTA_NATIVE_MAGIC, sizeof(header.magic));
  std::strncpy(header.tag, tag, sizeof(header.tag) - 1);
  std::vector<uint8_t> out;
  Append(&out, &header, sizeof(header));
  Append(&out, kMagic, sizeof(kMagic));
  Put(&out, static_cast<uint32_t>(kernels.size()), 4);
  for (const Kernel& kernel : kernels) {
    Put(&out, static_cast<uint32_t>(kernel.name.size()), 1);
    Append(&out, kernel.name.data(), kernel.name.size());
    Put(&out, static_cast<uint32_t>(kernel.args.size()), 1);
    Append(&out, kernel.args.data(), kernel.args.size());
    Put(&out, static_cast<uint32_t>(kernel.code.size()), 2);
    for (const Instruction& in : kernel.code) Append(&out, &in, sizeof(in));
  }
  return out;
}

std::vector<Kernel> TestKernels() {
  return {
      // c[i] = a[i] + b[i] for i < n.
      {"vector_add",
       "bbbs",
       {{kGid, 0, 0, 0},
        {kArg, 1, 3, 0},
        {kExitGe, 0, 1, 0},
        {kLoad, 2, 0, 0},
        {kLoad, 3, 1, 0},
        {kFAdd, 2, 2, 3},
        {kStore, 2, 0, 2},
        {kRet, 0, 0, 0}}},
      // y[i] = alpha * x[i] + y[i] for i < n.
      {"scale_add",
       "bbss",
       {{kGid, 0, 0, 0},
        {kArg, 1, 3, 0},
        {kExitGe, 0, 1, 0},
        {kLoad, 2, 1, 0},
        {kArg, 3, 2, 0},
        {kFMul, 2, 3, 2},
        {kLoad, 4, 0, 0},
        {kFAdd, 2, 2, 4},
        {kStore, 0, 0, 2},
        {kRet, 0, 0, 0}}},
      // out[y * width + x] = (y << 16) | x for x < width, y < height.
      {"index_2d",
       "bss",
       {{kGid, 0, 0, 0},
        {kGid, 1, 1, 0},
        {kArg, 2, 1, 0},
        {kArg, 3, 2, 0},
        {kExitGe, 0, 2, 0},
        {kExitGe, 1, 3, 0},
        {kIMul, 4, 1, 2},
        {kIAdd, 4, 4, 0},
        {kImm, 5, 16, 0},
        {kShl, 6, 1, 5},
        {kOr, 6, 6, 0},
        {kStore, 0, 4, 6},
        {kRet, 0, 0, 0}}},
      // Faults in every work item, writing nothing.
      {"fault", "b", {{kTrap, 7, 0, 0}, {kRet, 0, 0, 0}}},
  };
}

std::string Decode(const uint8_t* data, size_t size, std::vector<Kernel>* kernels) {
  Reader reader(data, size);
  std::string magic;
  if (!reader.ReadText(sizeof(kMagic), &magic) || magic != std::string(kMagic, sizeof(kMagic))) {
    return "the program does not start with \"MBC1\"";
  }
  uint32_t count = 0;
  if (!reader.Read(4, &count) || count == 0 || count > kMaxKernels) {
    return "the program's kernel count is missing or not 1.." + std::to_string(kMaxKernels);
  }
  kernels->assign(count, Kernel{});
  for (uint32_t k = 0; k < count; ++k) {
    const std::string problem = DecodeKernel(&reader, &(*kernels)[k]);
    if (!problem.empty()) return problem + " (at byte " + std::to_string(reader.at()) + ")";
    for (uint32_t other = 0; other < k; ++other) {
      if ((*kernels)[other].name == (*kernels)[k].name) {
        return "two kernels are named '" + (*kernels)[k].name + "'";
      }
    }
  }
  if (reader.left() != 0) {
    return std::to_string(reader.left()) + " bytes follow the last kernel";
  }
  return "";
}

int32_t RunGroup(const Kernel& kernel, const porta_host_group_t& group, std::string* fault) {
  uint32_t local[3];
  for (local[2] = 0; local[2] < group.group_size[2]; ++local[2]) {
    for (local[1] = 0; local[1] < group.group_size[1]; ++local[1]) {
      for (local[0] = 0; local[0] < group.group_size[0]; ++local[0]) {
        uint32_t r[kRegisters] = {};
        for (const Instruction& in : kernel.code) {
          if (in.op == kRet) break;
          if (in.op == kExitGe) {
            if (r[in.a] >= r[in.b]) break;
            continue;
          }
          switch (in.op) {
            case kGid:
              r[in.a] = group.group_id[in.b] * group.group_size[in.b] + local[in.b];
              break;
            case kArg:
              std::memcpy(&r[in.a], group.args[in.b].ptr, sizeof(uint32_t));
              break;
            case kImm:
              r[in.a] = uint32_t{in.b} | uint32_t{in.c} << 8;
              break;
            case kLoad:
            case kStore: {
              const uint8_t buffer = in.op == kLoad ? in.b : in.a;
              const uint32_t index = in.op == kLoad ? r[in.c] : r[in.b];
              const porta_host_arg_t& arg = group.args[buffer];
              if ((uint64_t{index} + 1) * 4 > arg.size) {
                *fault = std::string(in.op == kLoad ? "load from" : "store to") + " word " +
                         std::to_string(index) + " of argument " + std::to_string(buffer) +
                         ", past its " + std::to_string(arg.size) + " bytes";
                return kOutOfBoundsFault;
              }
              auto* word = static_cast<uint8_t*>(arg.ptr) + uint64_t{index} * 4;
              if (in.op == kLoad) {
                std::memcpy(&r[in.a], word, 4);
              } else {
                std::memcpy(word, &r[in.c], 4);
              }
              break;
            }
            case kFAdd:
              r[in.a] = AsBits(AsFloat(r[in.b]) + AsFloat(r[in.c]));
              break;
            case kFMul:
              r[in.a] = AsBits(AsFloat(r[in.b]) * AsFloat(r[in.c]));
              break;
            case kIAdd:
              r[in.a] = r[in.b] + r[in.c];
              break;
            case kIMul:
              r[in.a] = r[in.b] * r[in.c];
              break;
            case kShl:
              r[in.a] = r[in.b] << (r[in.c] & 31u);
              break;
            case kOr:
              r[in.a] = r[in.b] | r[in.c];
              break;
            default:  // kTrap: Decode admits no other opcode.
              *fault = "trap " + std::to_string(in.a);
              return in.a;
          }
        }
      }
    }
  }
  return 0;
}

}  // namespace mini_native
