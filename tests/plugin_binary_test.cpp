// Checks on the plugin files themselves, as the ABI requires them to be built: exactly one
// exported symbol, no static constructors, and an entry that only hands out its table.
#include <dlfcn.h>
#include <elf.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta_backend.h"

namespace porta_test {
namespace {

// The parts of a 64-bit ELF shared object these tests look at.
struct ElfFacts {
  // Functions and objects the library defines and exports.
  std::set<std::string> exported;
  // What .init_array points at (the functions the dynamic loader runs when the library is
  // opened), by their .symtab names; "0x<address>" where no symbol names an entry.
  std::vector<std::string> init_functions;
};

// Reads |path| as an ELF64 little-endian file; nullopt with |error| set when it is not one.
std::optional<ElfFacts> ReadElf(const std::string& path, std::string* error) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof(Elf64_Ehdr)) {
    *error = path + ": too small for an ELF header";
    return std::nullopt;
  }
  Elf64_Ehdr header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
    *error = path + ": not an ELF64 file";
    return std::nullopt;
  }
  if (header.e_shentsize != sizeof(Elf64_Shdr) ||
      header.e_shoff + uint64_t{header.e_shnum} * sizeof(Elf64_Shdr) > bytes.size() ||
      header.e_shstrndx >= header.e_shnum) {
    *error = path + ": section header table out of bounds";
    return std::nullopt;
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  std::memcpy(sections.data(), bytes.data() + header.e_shoff, header.e_shnum * sizeof(Elf64_Shdr));
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_type != SHT_NOBITS && section.sh_offset + section.sh_size > bytes.size()) {
      *error = path + ": a section lies beyond the end of the file";
      return std::nullopt;
    }
  }
  auto string_at = [&](const Elf64_Shdr& table, uint64_t offset) {
    if (offset >= table.sh_size) return std::string();
    const char* start = bytes.data() + table.sh_offset + offset;
    return std::string(start, strnlen(start, table.sh_size - offset));
  };
  const Elf64_Shdr& names = sections[header.e_shstrndx];

  ElfFacts facts;
  std::map<uint64_t, std::string> functions;
  const Elf64_Shdr* init_array = nullptr;
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_type == SHT_INIT_ARRAY && string_at(names, section.sh_name) == ".init_array") {
      init_array = &section;
    }
    if (section.sh_type != SHT_DYNSYM && section.sh_type != SHT_SYMTAB) continue;
    if (section.sh_link >= sections.size() || section.sh_entsize != sizeof(Elf64_Sym)) continue;
    const Elf64_Shdr& strings = sections[section.sh_link];
    for (uint64_t i = 0; i < section.sh_size / sizeof(Elf64_Sym); ++i) {
      Elf64_Sym symbol;
      std::memcpy(&symbol, bytes.data() + section.sh_offset + i * sizeof(Elf64_Sym),
                  sizeof(symbol));
      std::string symbol_name = string_at(strings, symbol.st_name);
      unsigned type = ELF64_ST_TYPE(symbol.st_info);
      bool defined = symbol.st_shndx != SHN_UNDEF;
      if (section.sh_type == SHT_SYMTAB) {
        if (type == STT_FUNC && defined) functions.emplace(symbol.st_value, symbol_name);
        continue;
      }
      unsigned binding = ELF64_ST_BIND(symbol.st_info);
      bool global = binding == STB_GLOBAL || binding == STB_WEAK || binding == STB_GNU_UNIQUE;
      bool code_or_data = type == STT_FUNC || type == STT_OBJECT || type == STT_GNU_IFUNC;
      if (defined && global && code_or_data &&
          ELF64_ST_VISIBILITY(symbol.st_other) == STV_DEFAULT) {
        facts.exported.insert(symbol_name);
      }
    }
  }
  // The linker stores each entry's address in place as well as in its relative relocation.
  if (init_array != nullptr) {
    for (uint64_t i = 0; i < init_array->sh_size / sizeof(Elf64_Addr); ++i) {
      Elf64_Addr address;
      std::memcpy(&address, bytes.data() + init_array->sh_offset + i * sizeof(Elf64_Addr),
                  sizeof(address));
      auto found = functions.find(address);
      char fallback[32];
      std::snprintf(fallback, sizeof(fallback), "0x%llx", static_cast<unsigned long long>(address));
      facts.init_functions.push_back(found != functions.end() ? found->second : fallback);
    }
  }
  return facts;
}

struct PluginFile {
  const char* path;
  bool has_entry;
};

std::vector<PluginFile> PluginFiles() {
  std::vector<PluginFile> files = {
      {PORTA_TEST_PLUGIN_GOOD, true},         {PORTA_TEST_PLUGIN_MAJOR2, true},
      {PORTA_TEST_PLUGIN_OLD_MINOR, true},    {PORTA_TEST_PLUGIN_MISSING_REQUIRED, true},
      {PORTA_TEST_PLUGIN_INIT_FAILS, true},   {PORTA_TEST_PLUGIN_NO_ENTRY, false},
      {PORTA_TEST_PLUGIN_ZERO_DEVICES, true},
  };
#ifdef PORTA_TEST_PLUGIN_CPU
  files.push_back({PORTA_TEST_PLUGIN_CPU, true});
#endif
  return files;
}

TEST(PluginBinaryTest, ExportsOnlyTheEntry) {
  for (const PluginFile& file : PluginFiles()) {
    std::string error;
    std::optional<ElfFacts> facts = ReadElf(file.path, &error);
    ASSERT_TRUE(facts.has_value()) << error;
    std::set<std::string> expected;
    if (file.has_entry) expected.insert(PORTA_BACKEND_ENTRY_SYMBOL);
    EXPECT_EQ(facts->exported, expected) << file.path;
  }
}

// The reference module is built with the same toolchain and flags but defines nothing that runs
// at load time, so its .init_array holds only what the toolchain adds by itself (frame_dummy,
// sanitizer module constructors). Any other entry is a static constructor of the plugin: C++
// dynamic initialization (_GLOBAL__sub_I_*) or an __attribute__((constructor)) function.
TEST(PluginBinaryTest, NoStaticConstructors) {
  std::string error;
  std::optional<ElfFacts> reference = ReadElf(PORTA_TEST_EMPTY_MODULE, &error);
  ASSERT_TRUE(reference.has_value()) << error;
  // Toolchain constructors carry a per-object counter (GCC's sanitizer constructors are
  // _sub_I_00099_<n>), so names are compared without trailing digits.
  auto family = [](std::string name) {
    while (!name.empty() && name.back() >= '0' && name.back() <= '9') name.pop_back();
    return name;
  };
  std::set<std::string> toolchain;
  for (const std::string& function : reference->init_functions) toolchain.insert(family(function));
  for (const PluginFile& file : PluginFiles()) {
    std::optional<ElfFacts> facts = ReadElf(file.path, &error);
    ASSERT_TRUE(facts.has_value()) << error;
    for (const std::string& function : facts->init_functions) {
      EXPECT_TRUE(toolchain.count(family(function)) != 0)
          << file.path << " runs " << function << " when it is loaded (a static constructor)";
    }
  }
}

TEST(PluginBinaryTest, ReaderRejectsNonElfFiles) {
  std::string error;
  EXPECT_FALSE(ReadElf(__FILE__, &error).has_value());
  EXPECT_NE(error.find("ELF"), std::string::npos) << error;
}

// Opens a plugin without the runtime and returns its entry (nullptr when absent).
class DirectPlugin {
 public:
  explicit DirectPlugin(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
  ~DirectPlugin() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  DirectPlugin(const DirectPlugin&) = delete;
  DirectPlugin& operator=(const DirectPlugin&) = delete;
  bool open() const { return handle_ != nullptr; }
  porta_backend_entry_fn entry() const {
    return reinterpret_cast<porta_backend_entry_fn>(dlsym(handle_, PORTA_BACKEND_ENTRY_SYMBOL));
  }

 private:
  void* handle_;
};

porta_backend_host_t Host(uint32_t major, uint32_t minor) {
  porta_backend_host_t host = {};
  host.struct_size = sizeof(host);
  host.abi_major = major;
  host.abi_minor = minor;
  host.porta_version = "0.1.0";
  return host;
}

// The loader tests rely on the plugins answering exactly this; check it without the runtime.
TEST(PluginBinaryTest, EntriesAnswerTheirDeclaredTables) {
  struct Case {
    const char* path;
    uint32_t major;
    uint32_t minor;
    size_t struct_size;
    const char* name;
  };
  const Case kCases[] = {
      {PORTA_TEST_PLUGIN_GOOD, 1, PORTA_BACKEND_ABI_MINOR, sizeof(porta_backend_table_t), "good"},
      {PORTA_TEST_PLUGIN_MAJOR2, 2, PORTA_BACKEND_ABI_MINOR, sizeof(porta_backend_table_t),
       "major2"},
      {PORTA_TEST_PLUGIN_OLD_MINOR, 1, 0, offsetof(porta_backend_table_t, buffer_native_handle),
       "old_minor"},
      {PORTA_TEST_PLUGIN_MISSING_REQUIRED, 1, PORTA_BACKEND_ABI_MINOR,
       sizeof(porta_backend_table_t), "missing_required"},
      {PORTA_TEST_PLUGIN_GRAPHS, 1, PORTA_BACKEND_ABI_MINOR, sizeof(porta_backend_table_t),
       "graphs"},
  };
  for (const Case& c : kCases) {
    DirectPlugin plugin(c.path);
    ASSERT_TRUE(plugin.open()) << dlerror();
    porta_backend_entry_fn entry = plugin.entry();
    ASSERT_NE(entry, nullptr) << c.path;
    porta_backend_host_t host = Host(PORTA_BACKEND_ABI_MAJOR, PORTA_BACKEND_ABI_MINOR);
    char text[256] = "";
    porta_be_message_t msg = {text, sizeof(text)};
    const porta_backend_table_t* table = nullptr;
    ASSERT_EQ(entry(&host, &table, &msg), PORTA_OK) << text;
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->abi_major, c.major) << c.path;
    EXPECT_EQ(table->abi_minor, c.minor) << c.path;
    EXPECT_EQ(table->struct_size, c.struct_size) << c.path;
    EXPECT_STREQ(table->name, c.name);
    EXPECT_EQ(table->stream_query == nullptr, std::string(c.name) == "missing_required") << c.path;
    EXPECT_EQ(table->graph_create != nullptr, std::string(c.name) == "graphs") << c.path;
  }
  DirectPlugin no_entry(PORTA_TEST_PLUGIN_NO_ENTRY);
  ASSERT_TRUE(no_entry.open()) << dlerror();
  EXPECT_EQ(no_entry.entry(), nullptr);
}

TEST(PluginBinaryTest, EntryRefusesAnUnknownMajor) {
  DirectPlugin plugin(PORTA_TEST_PLUGIN_GOOD);
  ASSERT_TRUE(plugin.open()) << dlerror();
  porta_backend_host_t host = Host(PORTA_BACKEND_ABI_MAJOR + 1, 0);
  char text[256] = "";
  porta_be_message_t msg = {text, sizeof(text)};
  const porta_backend_table_t* table = nullptr;
  EXPECT_EQ(plugin.entry()(&host, &table, &msg), PORTA_ERROR_ABI_MISMATCH);
  EXPECT_EQ(table, nullptr);
  EXPECT_NE(std::string(text).find("offered 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace porta_test
