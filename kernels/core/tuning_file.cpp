// The per-device tuning overlay file (see tuning_file.h): its place, its header, loading it with
// the reason for any refusal, writing it atomically, and the tuner's search space.
#include "kernels/core/tuning_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "kernels/porta_ops_build.h"

namespace porta::ops {
namespace {

constexpr const char* kMagic = "porta-tuning-overlay 1";

uint64_t Fnv1a(const void* data, size_t size, uint64_t hash = 0xcbf29ce484222325ull) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string Hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, value);
  return text;
}

// Driver strings go into one header line each: a line break would end the line early.
std::string OneLine(const char* text) {
  std::string line(text);
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  return line;
}

// The header's identity lines of the device, in file order.
std::vector<std::pair<std::string, std::string>> Identity(const porta_device_info_t& info) {
  return {{"library", PORTA_OPS_VERSION},
          {"kernels", KernelSourceHash()},
          {"backend", OneLine(info.backend)},
          {"vendor", OneLine(info.vendor)},
          {"name", OneLine(info.name)},
          {"architecture", OneLine(info.architecture)},
          {"driver", OneLine(info.driver_version)}};
}

bool MakeFolders(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string prefix = path.substr(0, i);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

Params Tile(int64_t tm, int64_t tn, int64_t tk, int64_t wm, int64_t wn) {
  Params params;
  params.Set("tm", tm);
  params.Set("tn", tn);
  params.Set("tk", tk);
  params.Set("wm", wm);
  params.Set("wn", wn);
  return params;
}

// The subgroup variant's tile: one subgroup of |sg| lanes, each with wm rows of wn columns.
Params SubgroupTile(int64_t wm, int64_t wn, int64_t sg) {
  Params params = Tile(wm, sg * wn, 0, wm, wn);
  params.Set("sg", sg);
  return params;
}

Params Wg(int64_t wg) {
  Params params;
  params.Set("wg", wg);
  return params;
}

}  // namespace

bool FamilyByName(const char* name, Family* family) {
  for (int i = 0; i < static_cast<int>(Family::kCount); ++i) {
    if (std::strcmp(name, FamilyName(static_cast<Family>(i))) == 0) {
      *family = static_cast<Family>(i);
      return true;
    }
  }
  return false;
}

std::string ParseRowsForDevice(const char* text, const porta_device_info_t& info,
                               porta_kernel_format_t format, std::vector<TuningRow>* rows) {
  std::string error;
  if (!ParseTuningTable(text, rows, &error)) return error;
  for (const TuningRow& row : *rows) {
    if (!RowMatchesDevice(row, info)) continue;
    const std::string why = ValidateParams(row.family, row.params, info, format);
    if (!why.empty()) return "line " + std::to_string(row.line) + ": " + why;
  }
  return "";
}

std::string CacheFolder() {
  if (const char* env = std::getenv("PORTA_CACHE_DIR")) {
    if (std::strcmp(env, "off") == 0) return "";
    return env;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/porta";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.cache/porta";
  }
  return "";
}

std::string TuningFilePath(const porta_device_info_t& info) {
  const std::string folder = CacheFolder();
  if (folder.empty()) return "";
  std::string key;
  for (const char* field : {info.backend, info.vendor, info.name, info.architecture}) {
    key += field;
    key += '\n';
  }
  std::string backend;
  for (const char* c = info.backend; *c != '\0'; ++c) {
    backend += (std::isalnum(static_cast<unsigned char>(*c)) != 0 || *c == '_') ? *c : '_';
  }
  return folder + "/tuning/" + backend + "-" + Hex64(Fnv1a(key.data(), key.size())) + ".txt";
}

const std::string& KernelSourceHash() {
  static const std::string* hash = [] {
    uint64_t value = Fnv1a(PORTA_OPS_MATMUL_TILES, std::strlen(PORTA_OPS_MATMUL_TILES));
    for (size_t i = 0; i < kEmbeddedKernelCount; ++i) {
      value = Fnv1a(kEmbeddedKernels[i].data, kEmbeddedKernels[i].size, value);
    }
    return new std::string(Hex64(value));
  }();
  return *hash;
}

TuningFileState LoadTuningFile(const porta_device_info_t& info, porta_kernel_format_t format,
                               bool enabled, const std::string& off_reason) {
  TuningFileState result;
  result.path = TuningFilePath(info);
  if (!enabled) {
    result.reason = off_reason;
    return result;
  }
  if (result.path.empty()) {
    result.reason =
        "no cache folder (PORTA_CACHE_DIR is off, or neither XDG_CACHE_HOME nor HOME "
        "is set)";
    return result;
  }
  std::ifstream in(result.path, std::ios::binary);
  if (!in) {
    result.state = PORTA_OPS_TUNING_FILE_ABSENT;
    result.reason = "no overlay file for this device (porta-tune writes one)";
    return result;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  result.state = PORTA_OPS_TUNING_FILE_IGNORED;

  // The header: "#! key value" lines up to the checksum line; other comments may come between.
  std::map<std::string, std::string> header;
  size_t pos = 0;
  bool magic = false;
  bool checksum_seen = false;
  while (pos < text.size() && !checksum_seen) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("#! ", 0) == 0) {
      const std::string rest = line.substr(3);
      if (rest == kMagic) {
        magic = true;
        continue;
      }
      const size_t space = rest.find(' ');
      const std::string key = rest.substr(0, space);
      header[key] = space == std::string::npos ? "" : rest.substr(space + 1);
      checksum_seen = key == "checksum";
    } else if (line.empty() || line[0] != '#') {
      break;
    }
  }
  if (!magic || !checksum_seen) {
    result.reason = std::string("corrupt: no '#! ") + kMagic + "' header ending in a checksum line";
    return result;
  }
  const std::string body = text.substr(pos);
  if (header["checksum"] != Hex64(Fnv1a(body.data(), body.size()))) {
    result.reason =
        "corrupt: the rows do not match the header's checksum (a truncated or "
        "hand-edited file; porta_ops_set_tuning_overlay takes hand-written rows)";
    return result;
  }
  const auto identity = Identity(info);
  // The device first (a copied file), then what makes its measurements stale.
  for (const char* key : {"backend", "vendor", "name", "architecture"}) {
    for (const auto& [name, value] : identity) {
      if (name == key && header[name] != value) {
        result.reason = "foreign: written for the device with " + name + " '" + header[name] +
                        "'; this device's is '" + value + "'";
        return result;
      }
    }
  }
  for (const char* key : {"library", "kernels", "driver"}) {
    for (const auto& [name, value] : identity) {
      if (name == key && header[name] != value) {
        result.reason = "stale: written with " + name + " '" + header[name] + "'; now '" + value +
                        "' (run porta-tune again)";
        return result;
      }
    }
  }
  std::vector<TuningRow> rows;
  const std::string error = ParseRowsForDevice(text.c_str(), info, format, &rows);
  if (!error.empty()) {
    result.reason = "corrupt: " + error;
    return result;
  }
  result.state = PORTA_OPS_TUNING_FILE_LOADED;
  result.row_count = static_cast<uint32_t>(rows.size());
  result.rows = std::move(rows);
  return result;
}

std::string WriteTuningFile(const porta_device_info_t& info, const std::string& path,
                            const std::string& rows) {
  std::string body = rows;
  if (!body.empty() && body.back() != '\n') body += '\n';
  std::string text =
      "# Porta tuning overlay of one device, written by porta-tune; rows in the format of the\n"
      "# shipped table (porta_ops_tuning_table). Used only while every '#!' line matches the\n"
      "# library, its kernels, the device and its driver; edits break the checksum.\n";
  text += std::string("#! ") + kMagic + "\n";
  for (const auto& [name, value] : Identity(info)) text += "#! " + name + " " + value + "\n";
  text += "#! checksum " + Hex64(Fnv1a(body.data(), body.size())) + "\n";
  text += body;

  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && !MakeFolders(path.substr(0, slash))) {
    return "cannot create the folder " + path.substr(0, slash) + ": " + std::strerror(errno);
  }
  static std::atomic<uint64_t> counter{0};
  const std::string temp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter.fetch_add(1));
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + temp + ": " + std::strerror(errno);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      close(fd);
      unlink(temp.c_str());
      return "cannot write " + temp + ": " + why;
    }
    written += static_cast<size_t>(n);
  }
  // The data must be on disk before the rename makes it the file, or a crash could leave an
  // empty file under the final name.
  const bool synced = fsync(fd) == 0;
  close(fd);
  if (!synced || rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    unlink(temp.c_str());
    return "cannot replace " + path + ": " + why;
  }
  return "";
}

std::vector<Params> TuningCandidates(Family family, const char* bucket, const Params& current,
                                     const porta_device_info_t& info,
                                     porta_kernel_format_t format) {
  // Only buckets the family has (and a shape to tune them at).
  int64_t dims[3];
  if (!TuningShape(family, bucket, dims)) return {};
  std::vector<Params> listed;
  const bool gemv = std::strcmp(bucket, "gemv") == 0;
  switch (family) {
    case Family::kMatmul:
      // The host kernel ignores tiles. Elsewhere a few tiles only: PoCL compiles each new tile
      // for about a minute, and the precompiled formats have just PORTA_OPS_MATMUL_TILES.
      if (format == PORTA_FORMAT_HOST) break;
      // The direct tiles (tk = 0, no shared memory) exist in OpenCL C (wn a multiple of 8) and on
      // spirv-shader (the compiled ones), the subgroup one (sg = 8) only on spirv-shader where
      // every subgroup has 8 lanes; ValidateParams drops them elsewhere.
      if (gemv) {
        listed = {Tile(4, 128, 32, 1, 4), Tile(1, 256, 32, 1, 4), Tile(1, 128, 32, 1, 4),
                  Tile(4, 64, 0, 1, 8)};
      } else {
        listed = {Tile(64, 64, 16, 4, 4), Tile(32, 32, 16, 2, 2), Tile(32, 64, 16, 4, 4),
                  Tile(32, 64, 16, 8, 4), Tile(32, 64, 0, 4, 8),  Tile(64, 32, 0, 4, 8),
                  SubgroupTile(16, 4, 8)};
      }
      break;
    case Family::kEw:
      // Host work-groups are items per call (up to the device's limit); device ones work-items.
      if (format == PORTA_FORMAT_HOST) {
        listed = {Wg(256), Wg(512), Wg(1024), Wg(4096)};
      } else {
        listed = {Wg(64), Wg(128), Wg(256)};
      }
      break;
    case Family::kReduce:
    case Family::kSoftmax:
    case Family::kNorm:
      // A host work-group is one row on one thread: nothing to search there.
      if (format == PORTA_FORMAT_HOST) break;
      listed = {Wg(32), Wg(64), Wg(128), Wg(256)};
      break;
    case Family::kAttention: {
      // The work-group kernel's sizes and the direct variant (direct=1: OpenCL C at any wg,
      // spirv-shader at wg=8 on 8-lane subgroups); the host kernel takes neither.
      if (format == PORTA_FORMAT_HOST) break;
      auto direct = [](int64_t wg) {
        Params params = Wg(wg);
        params.Set("direct", 1);
        return params;
      };
      listed = {Wg(32), Wg(64), Wg(128), direct(8), direct(16), direct(32)};
      break;
    }
    case Family::kQmatvec: {
      // Only M = 1 (the gemv bucket): the kernel variant, its work-group and rows per group.
      // mmax and gemm stay the current choice's; they matter only for M > 1.
      if (!gemv) break;
      auto variant = [&](int64_t wg, int64_t rows, int64_t mv) {
        Params params;
        params.Set("wg", wg);
        params.Set("rows", rows);
        params.Set("mmax", current.Get("mmax", 4));
        params.Set("gemm", current.Get("gemm", 1));
        params.Set("mv", mv);
        return params;
      };
      if (format == PORTA_FORMAT_HOST) {
        listed = {variant(1, 4, 1), variant(1, 16, 1), variant(1, 64, 1)};
      } else {
        listed = {variant(64, 64, 2), variant(32, 128, 2), variant(128, 4, 1), variant(16, 4, 1)};
      }
      break;
    }
    default:
      break;
  }
  std::vector<Params> valid;
  for (Params& params : listed) {
    if (ValidateParams(family, params, info, format).empty()) valid.push_back(std::move(params));
  }
  return valid;
}

bool TuningShape(Family family, const std::string& bucket, int64_t dims[3]) {
  auto set = [&](int64_t a, int64_t b, int64_t c) {
    dims[0] = a;
    dims[1] = b;
    dims[2] = c;
    return true;
  };
  switch (family) {
    case Family::kMatmul:
      // large: M*N*K = 2^24 >= 2^21; small: 2^18; gemv: M = 1.
      if (bucket == "large") return set(256, 256, 256);
      if (bucket == "small") return set(64, 64, 64);
      if (bucket == "gemv") return set(1, 1024, 1024);
      return false;
    case Family::kReduce:
    case Family::kSoftmax:
    case Family::kNorm:
      // The bucket is the row length's: small below 2^16.
      if (bucket == "large") return set(8, 65536, 1);
      if (bucket == "small") return set(256, 1024, 1);
      return false;
    case Family::kQmatvec:
      // SmolLM2's MLP up-projection at decode time: 1536 rows of 576.
      if (bucket == "gemv") return set(1, 1536, 576);
      return false;
    case Family::kAttention:
      // Causal self-attention over 128 positions, 4 heads of 64 (SmolLM2's head size); the
      // large bucket (64 Ki keys and more) has no shape: too slow to measure in a budget.
      if (bucket == "small") return set(4, 128, 64);
      return false;
    case Family::kEw:
      if (bucket == "large") return set(1 << 20, 1, 1);
      if (bucket == "small") return set(16384, 1, 1);
      return false;
    default:
      return false;
  }
}

}  // namespace porta::ops
