#include "backends/vulkan/spirv_reflect.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace porta::vulkan {
namespace {

constexpr uint32_t kMagic = 0x07230203u;
constexpr uint32_t kVersion14 = 0x00010400u;

// Opcodes, decorations and enums of the SPIR-V specification that the reflection reads.
enum : uint32_t {
  kOpEntryPoint = 15,
  kOpExecutionMode = 16,
  kOpTypeInt = 21,
  kOpTypeFloat = 22,
  kOpTypeVector = 23,
  kOpTypeMatrix = 24,
  kOpTypeArray = 28,
  kOpTypeImage = 25,
  kOpTypeRuntimeArray = 29,
  kOpTypeStruct = 30,
  kOpTypePointer = 32,
  kOpConstant = 43,
  kOpVariable = 59,
  kOpDecorate = 71,
  kOpMemberDecorate = 72,
};
enum : uint32_t {
  kDecorationSpecId = 1,
  kDecorationBlock = 2,
  kDecorationBufferBlock = 3,
  kDecorationArrayStride = 6,
  kDecorationMatrixStride = 7,
  kDecorationBinding = 33,
  kDecorationDescriptorSet = 34,
  kDecorationOffset = 35,
};
enum : uint32_t {
  kStorageUniformConstant = 0,
  kStorageUniform = 2,
  kStoragePushConstant = 9,
  kStorageStorageBuffer = 12,
};
constexpr uint32_t kDimBuffer = 5;
constexpr uint32_t kExecutionModelGLCompute = 5;
constexpr uint32_t kExecutionModeLocalSize = 17;

struct TypeInfo {
  uint32_t opcode = 0;
  std::vector<uint32_t> operands;  // words after the result id
};

struct VariableInfo {
  uint32_t pointer_type = 0;
  uint32_t storage_class = 0;
};

// Decoded literal string starting at |words| (NUL-terminated, padded to a word); |count| words
// are available. Returns the number of words it used, or 0 when it is not terminated.
size_t ReadString(const uint32_t* words, size_t count, std::string* out) {
  out->clear();
  for (size_t i = 0; i < count; ++i) {
    for (int byte = 0; byte < 4; ++byte) {
      const char c = static_cast<char>((words[i] >> (8 * byte)) & 0xffu);
      if (c == '\0') return i + 1;
      out->push_back(c);
    }
  }
  return 0;
}

class Reflector {
 public:
  bool Run(const uint32_t* words, size_t count, SpirvModuleInfo* info, std::string* error);

 private:
  bool Fail(std::string* error, const std::string& text) {
    *error = text;
    return false;
  }
  // Size in bytes of type |id| as laid out in a push-constant block; 0 when unknown.
  uint32_t TypeSize(uint32_t id, int depth) const;
  uint32_t Decoration(uint32_t id, uint32_t decoration, uint32_t fallback) const {
    auto it = decorations_.find(Key(id, decoration));
    return it == decorations_.end() ? fallback : it->second;
  }
  bool HasDecoration(uint32_t id, uint32_t decoration) const {
    return decorations_.count(Key(id, decoration)) != 0;
  }
  static uint64_t Key(uint32_t id, uint32_t decoration) {
    return (static_cast<uint64_t>(id) << 32) | decoration;
  }

  std::unordered_map<uint64_t, uint32_t> decorations_;
  // Offset decorations of struct members: key (struct id, member index).
  std::unordered_map<uint64_t, uint32_t> member_offsets_;
  std::unordered_map<uint32_t, TypeInfo> types_;
  std::unordered_map<uint32_t, uint32_t> constants_;
  std::unordered_map<uint32_t, VariableInfo> variables_;
};

uint32_t Reflector::TypeSize(uint32_t id, int depth) const {
  if (depth > 16) return 0;
  auto it = types_.find(id);
  if (it == types_.end()) return 0;
  const TypeInfo& type = it->second;
  switch (type.opcode) {
    case kOpTypeInt:
    case kOpTypeFloat:
      return type.operands.empty() ? 0 : type.operands[0] / 8;
    case kOpTypeVector:
      return type.operands.size() < 2 ? 0
                                      : TypeSize(type.operands[0], depth + 1) * type.operands[1];
    case kOpTypeMatrix: {
      if (type.operands.size() < 2) return 0;
      // Without a MatrixStride (it sits on the struct member) assume tightly packed columns.
      return TypeSize(type.operands[0], depth + 1) * type.operands[1];
    }
    case kOpTypeArray: {
      if (type.operands.size() < 2) return 0;
      auto length = constants_.find(type.operands[1]);
      if (length == constants_.end()) return 0;
      const uint32_t stride =
          Decoration(id, kDecorationArrayStride, TypeSize(type.operands[0], depth + 1));
      return stride * length->second;
    }
    case kOpTypeStruct: {
      uint32_t size = 0;
      for (size_t member = 0; member < type.operands.size(); ++member) {
        auto offset = member_offsets_.find((static_cast<uint64_t>(id) << 32) | member);
        const uint32_t start = offset == member_offsets_.end() ? size : offset->second;
        size = std::max(size, start + TypeSize(type.operands[member], depth + 1));
      }
      return size;
    }
    default:
      return 0;
  }
}

bool Reflector::Run(const uint32_t* words, size_t count, SpirvModuleInfo* info,
                    std::string* error) {
  if (count < 5) return Fail(error, "the SPIR-V binary is shorter than its 5-word header");
  if (words[0] != kMagic) {
    char text[128];
    std::snprintf(text, sizeof(text), "not a SPIR-V binary: magic number 0x%08x, expected 0x%08x",
                  words[0], kMagic);
    return Fail(error, text);
  }
  info->version = words[1];

  struct RawEntry {
    uint32_t function = 0;
    SpirvEntryPoint entry;
    std::vector<uint32_t> interface;
  };
  std::vector<RawEntry> entries;
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> local_sizes;

  size_t pos = 5;
  while (pos < count) {
    const uint32_t word_count = words[pos] >> 16;
    const uint32_t opcode = words[pos] & 0xffffu;
    if (word_count == 0 || pos + word_count > count) {
      char text[128];
      std::snprintf(text, sizeof(text),
                    "malformed SPIR-V: instruction at word %zu (opcode %u) has length %u", pos,
                    opcode, word_count);
      return Fail(error, text);
    }
    const uint32_t* op = words + pos + 1;
    const size_t n = word_count - 1;
    switch (opcode) {
      case kOpEntryPoint:
        if (n >= 3 && op[0] == kExecutionModelGLCompute) {
          RawEntry raw;
          raw.function = op[1];
          const size_t used = ReadString(op + 2, n - 2, &raw.entry.name);
          if (used == 0) return Fail(error, "malformed SPIR-V: unterminated entry point name");
          raw.interface.assign(op + 2 + used, op + n);
          entries.push_back(std::move(raw));
        }
        break;
      case kOpExecutionMode:
        if (n >= 5 && op[1] == kExecutionModeLocalSize) {
          local_sizes.push_back({op[0], {op[2], op[3], op[4]}});
        }
        break;
      case kOpTypeInt:
      case kOpTypeFloat:
      case kOpTypeVector:
      case kOpTypeMatrix:
      case kOpTypeArray:
      case kOpTypeRuntimeArray:
      case kOpTypeStruct:
      case kOpTypePointer:
      case kOpTypeImage:
        if (n >= 1) types_[op[0]] = TypeInfo{opcode, std::vector<uint32_t>(op + 1, op + n)};
        break;
      case kOpConstant:
        if (n >= 3) constants_[op[1]] = op[2];
        break;
      case kOpVariable:
        if (n >= 3) variables_[op[1]] = VariableInfo{op[0], op[2]};
        break;
      case kOpDecorate:
        if (n >= 2) {
          decorations_[Key(op[0], op[1])] = n >= 3 ? op[2] : 1;
          if (op[1] == kDecorationSpecId && n >= 3 && op[2] < 32) {
            info->spec_id_mask |= 1u << op[2];
          }
        }
        break;
      case kOpMemberDecorate:
        if (n >= 4 && op[2] == kDecorationOffset) {
          member_offsets_[(static_cast<uint64_t>(op[0]) << 32) | op[1]] = op[3];
        }
        break;
      default:
        break;
    }
    pos += word_count;
  }
  if (entries.empty()) return Fail(error, "the SPIR-V module has no GLCompute entry point");

  // Classify every resource variable; anything Porta's argument mapping cannot feed is an error
  // now rather than a validation failure at launch.
  std::unordered_map<uint32_t, uint32_t> binding_of;  // variable id -> binding
  std::unordered_map<uint32_t, uint32_t> texel_of;    // variable id -> buffer argument it views
  std::unordered_map<uint32_t, uint32_t> push_bytes_of;
  for (const auto& [id, variable] : variables_) {
    const uint32_t storage = variable.storage_class;
    auto pointer = types_.find(variable.pointer_type);
    const uint32_t pointee = pointer != types_.end() && pointer->second.operands.size() >= 2
                                 ? pointer->second.operands[1]
                                 : 0;
    if (storage == kStoragePushConstant) {
      push_bytes_of[id] = TypeSize(pointee, 0);
      continue;
    }
    if (storage != kStorageUniform && storage != kStorageStorageBuffer &&
        storage != kStorageUniformConstant) {
      continue;
    }
    const uint32_t set = Decoration(id, kDecorationDescriptorSet, 0);
    const uint32_t binding = Decoration(id, kDecorationBinding, 0);
    char where[96];
    std::snprintf(where, sizeof(where), "descriptor set %u binding %u", set, binding);
    if (set != 0) {
      return Fail(error, std::string("the module uses ") + where +
                             "; Porta binds buffer arguments to descriptor set 0 only");
    }
    auto pointee_type = types_.find(pointee);
    // A sampled image of dimension Buffer: a uniform texel buffer (operands: sampled type, Dim,
    // Depth, Arrayed, MS, Sampled, Format).
    const bool texel_buffer =
        storage == kStorageUniformConstant && pointee_type != types_.end() &&
        pointee_type->second.opcode == kOpTypeImage && pointee_type->second.operands.size() >= 6 &&
        pointee_type->second.operands[1] == kDimBuffer && pointee_type->second.operands[5] == 1;
    if (texel_buffer) {
      if (binding < kTexelBindingBase || binding >= kTexelBindingBase + kMaxTexelViews) {
        char text[256];
        std::snprintf(text, sizeof(text),
                      "the module's %s is a uniform texel buffer; Porta binds those at bindings "
                      "%u to %u only (binding %u + i: a view of buffer argument i)",
                      where, kTexelBindingBase, kTexelBindingBase + kMaxTexelViews - 1,
                      kTexelBindingBase);
        return Fail(error, text);
      }
      texel_of[id] = binding - kTexelBindingBase;
      continue;
    }
    const bool is_struct =
        pointee_type != types_.end() && pointee_type->second.opcode == kOpTypeStruct;
    const bool storage_buffer =
        is_struct &&
        ((storage == kStorageStorageBuffer && HasDecoration(pointee, kDecorationBlock)) ||
         (storage == kStorageUniform && HasDecoration(pointee, kDecorationBufferBlock)));
    if (!storage_buffer) {
      const char* what = storage == kStorageUniformConstant        ? "an image, sampler or array"
                         : storage == kStorageUniform && is_struct ? "a uniform buffer"
                                                                   : "an array of descriptors";
      return Fail(error, std::string("the module's ") + where + " is " + what +
                             "; Porta passes buffer arguments as single storage buffers only");
    }
    binding_of[id] = binding;
  }

  uint32_t module_push_bytes = 0;
  for (const auto& [id, bytes] : push_bytes_of)
    module_push_bytes = std::max(module_push_bytes, bytes);
  std::set<uint32_t> module_bindings;
  for (const auto& [id, binding] : binding_of) module_bindings.insert(binding);
  uint32_t module_texel_views = 0;
  for (const auto& [id, argument] : texel_of) module_texel_views |= 1u << argument;

  for (RawEntry& raw : entries) {
    for (const auto& [function, sizes] : local_sizes) {
      if (function == raw.function) std::copy(sizes.begin(), sizes.end(), raw.entry.local_size);
    }
    if (info->version >= kVersion14) {
      std::set<uint32_t> bindings;
      for (uint32_t id : raw.interface) {
        auto binding = binding_of.find(id);
        if (binding != binding_of.end()) bindings.insert(binding->second);
        auto texel = texel_of.find(id);
        if (texel != texel_of.end()) raw.entry.texel_views |= 1u << texel->second;
        auto push = push_bytes_of.find(id);
        if (push != push_bytes_of.end()) {
          raw.entry.push_constant_bytes = std::max(raw.entry.push_constant_bytes, push->second);
        }
      }
      raw.entry.bindings.assign(bindings.begin(), bindings.end());
    } else {
      raw.entry.bindings.assign(module_bindings.begin(), module_bindings.end());
      raw.entry.texel_views = module_texel_views;
      raw.entry.push_constant_bytes = module_push_bytes;
    }
    info->entry_points.push_back(std::move(raw.entry));
  }
  return true;
}

}  // namespace

const SpirvEntryPoint* SpirvModuleInfo::Find(const std::string& name) const {
  for (const SpirvEntryPoint& entry : entry_points) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

bool ReflectSpirv(const uint32_t* words, size_t word_count, SpirvModuleInfo* info,
                  std::string* error) {
  *info = SpirvModuleInfo{};
  Reflector reflector;
  return reflector.Run(words, word_count, info, error);
}

}  // namespace porta::vulkan
