// porta-tune: measures the operator library's candidate parameters on each device, checks every
// candidate against a host reference before it may win, and writes the winners as the device's
// tuning overlay file; --show, --reset and --export inspect, delete and print that file. Uses the
// public headers only (porta.h, porta_ops.h).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "porta/porta_ops.h"
#include "tools/common/command_line.h"
#include "tools/tune/tune_problem.h"
#include "tools/tune/tune_report.h"

namespace {

using namespace porta::tune;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage: porta-tune [--devices FILTER] [--ops LIST] [--budget SECONDS] [--json]\n"
    "       porta-tune --show | --reset | --export [--devices FILTER] [--ops LIST]\n"
    "\n"
    "Measures the operator library's candidate parameters (matmul tiles, work-group sizes) on\n"
    "each device at the shape of every size bucket, checks each candidate's output against a\n"
    "host reference before it may win, and writes the winners to the device's tuning file under\n"
    "the cache folder ($PORTA_CACHE_DIR, else $XDG_CACHE_HOME/porta, else ~/.cache/porta).\n"
    "Every porta_ops context of that device then prefers them to the shipped table, until the\n"
    "library, its kernels or the driver change. The file is rewritten after each family, and\n"
    "Ctrl-C stops at the next candidate with a valid file in place.\n"
    "\n"
    "The candidate lists are short on purpose: a driver that compiles kernels at run time (PoCL)\n"
    "takes about a minute for each new matmul tile, and that compile time counts against the\n"
    "budget.\n"
    "\n"
    "  --devices FILTER  device filter, same syntax as PORTA_DEVICES (e.g. \"opencl:0,cpu\")\n"
    "  --ops LIST        families, comma-separated, measured in that order (default\n"
    "                    qmatvec,softmax,norm,reduce,ew,attention,matmul: matmul's compiles\n"
    "                    last, so they get the time the others leave)\n"
    "  --budget SECONDS  wall-clock budget of the whole run, compiles included, shared by the\n"
    "                    devices and families (default 300)\n"
    "  --show            print what the dispatcher uses for each family, dtype and bucket and\n"
    "                    why (tuning file line, table line or generic default), and why a\n"
    "                    tuning file is not used\n"
    "  --reset           delete the devices' tuning files\n"
    "  --export          print the tuning files' rows for kernels/tuning/tuning_table.txt\n"
    "  --json            print one JSON document (tuning, --show, --reset)\n"
    "  --plugin PATH     also load this plugin file or folder (repeatable)\n"
    "  --version         print the version\n"
    "  --help            print this text\n"
    "\n"
    "Exit status: 0 done, 1 a device or file operation failed, 2 bad arguments, 130 interrupted.\n";

// The cheap families first: each device-family pair gets a share of what is left, so matmul,
// whose new tiles take PoCL about a minute each to compile, gets what the others did not use.
const char* const kDefaultOps = "qmatvec,softmax,norm,reduce,ew,attention,matmul";

std::atomic<bool> g_stop{false};

void OnInterrupt(int) {
  g_stop.store(true);
  // A second Ctrl-C ends the process at once; the file is replaced by rename, never half written.
  signal(SIGINT, SIG_DFL);
}

struct Options {
  std::string plugin_paths;
  bool has_device_filter = false;
  std::string device_filter;
  std::string ops = kDefaultOps;
  std::string budget_text;
  double budget_s = 300;
  bool show = false;
  bool reset = false;
  bool export_rows = false;
  bool json = false;
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// |params| ("rows=16 wg=1") with its fields sorted, so that two spellings of one set compare
// equal.
std::string Canonical(const std::string& params) {
  std::vector<std::string> fields = Split(params, ' ');
  std::sort(fields.begin(), fields.end());
  std::string text;
  for (const std::string& field : fields) text += (text.empty() ? "" : " ") + field;
  return text;
}

// The device keys of a table row, quoted: `"opencl" "vendor" "architecture" "name"`.
bool DeviceKeys(const porta_device_info_t& info, std::string* keys) {
  keys->clear();
  for (const char* field : {info.backend, info.vendor, info.architecture, info.name}) {
    const std::string text(field);
    if (text.find('"') != std::string::npos || text.find('\n') != std::string::npos) return false;
    // A trailing '*' would be read as a prefix pattern.
    if (!text.empty() && text.back() == '*') return false;
    *keys += (keys->empty() ? "\"" : " \"") + text + "\"";
  }
  return true;
}

// "family dtype bucket" of a row written by this tool: the three fields after the four quoted
// device keys.
std::string RowKey(const std::string& row) {
  size_t pos = std::string::npos;
  for (int quote = 0; quote < 8; ++quote) {
    pos = row.find('"', pos == std::string::npos ? 0 : pos + 1);
    if (pos == std::string::npos) return "";
  }
  std::vector<std::string> fields = Split(row.substr(pos + 1), ' ');
  if (fields.size() < 3) return "";
  return fields[0] + " " + fields[1] + " " + fields[2];
}

class Progress {
 public:
  explicit Progress(bool bar) : bar_(bar) {}
  ~Progress() { Clear(); }
  void Update(const std::string& text, double elapsed, double budget) {
    if (!bar_) return;
    const int width = 20;
    const int filled = std::clamp(static_cast<int>(width * elapsed / budget), 0, width);
    std::fprintf(stderr, "\r\033[K[%s%s] %3.0f/%.0f s  %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), elapsed, budget, text.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  // A finished step: a line of its own when not on a terminal.
  void Line(const std::string& text) {
    if (bar_) return;
    std::fprintf(stderr, "porta-tune: %s\n", text.c_str());
  }
  void Clear() {
    if (bar_ && shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool bar_;
  bool shown_ = false;
};

// Enqueues the problem |count| times and waits: the time per run in *ms, or false with
// |error| set.
bool TimeRuns(porta::tune::TuneProblem& problem, porta_stream_t stream, int count, double* ms,
              std::string* error) {
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < count; ++i) {
    if (problem.Enqueue() != PORTA_OK) {
      *error = Failure("enqueueing the operation");
      return false;
    }
  }
  if (porta_stream_synchronize(stream) != PORTA_OK) {
    *error = Failure("porta_stream_synchronize");
    return false;
  }
  *ms = Seconds(start) * 1e3 / count;
  return true;
}

// The first run of a candidate (which builds its kernel), the check against the reference, and
// one more run to size the repetitions: *inner runs last about 2 ms.
CandidateResult Prepare(porta::tune::TuneProblem& problem, porta_stream_t stream, int* inner) {
  CandidateResult result;
  if (!TimeRuns(problem, stream, 1, &result.first_ms, &result.error)) return result;
  double bound = 0;
  if (!problem.Check(&result.nmse, &bound, &result.error)) return result;
  if (!TimeRuns(problem, stream, 1, &result.median_ms, &result.error)) return result;
  *inner = std::clamp(static_cast<int>(std::ceil(2.0 / std::max(result.median_ms, 1e-3))), 1, 64);
  result.ok = true;
  return result;
}

// Tunes every family of |ops| on one device, each family getting an equal share of what is left
// of the budget (|units_left| counts the device-family pairs still to come), and rewrites the
// device's tuning file after each family that found winners.
void TuneDevice(Device& dev, const std::vector<std::string>& ops, Clock::time_point start,
                double budget_s, int* units_left, Progress& progress, DeviceResult* out) {
  const Clock::time_point device_start = Clock::now();
  out->label = dev.label;
  out->backend = dev.info.backend;
  out->path = dev.file.path;
  std::string keys;
  if (!DeviceKeys(dev.info, &keys)) {
    out->error =
        "the device's names hold a '\"', a line break or a trailing '*', which table "
        "rows cannot key";
    *units_left -= static_cast<int>(ops.size());
    return;
  }
  porta_ops_context_options_t options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
  options.flags = PORTA_OPS_CONTEXT_NO_TUNING_FILE;
  porta_ops_context_t context = nullptr;
  porta_stream_t stream = nullptr;
  if (porta_ops_context_create(dev.device, &options, &context) != PORTA_OK ||
      porta_stream_create(dev.device, &stream) != PORTA_OK) {
    out->error = Failure("creating the tuning context");
    if (context != nullptr) porta_ops_context_destroy(context);
    *units_left -= static_cast<int>(ops.size());
    return;
  }
  // Rows of an earlier run that this run does not replace are kept.
  std::vector<std::string> kept;
  if (dev.file.state == PORTA_OPS_TUNING_FILE_LOADED) kept = FileRows(dev.file.path);

  for (const std::string& family : ops) {
    const Clock::time_point family_start = Clock::now();
    const double left = budget_s - Seconds(start);
    const Clock::time_point family_deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(left / std::max(*units_left, 1)));
    --*units_left;
    // The buckets the library has a tuning shape for (qmatvec: gemv only).
    std::vector<std::string> buckets;
    for (const std::string& bucket : Buckets(family)) {
      int64_t dims[3];
      if (porta_ops_tuning_shape(family.c_str(), bucket.c_str(), dims) == PORTA_OK) {
        buckets.push_back(bucket);
      }
    }
    // The block-quantized matrix-vector product is keyed by the weights' type.
    const std::string dtype = family == "qmatvec" ? "q8_0" : "f32";
    std::vector<std::string> winners;
    for (size_t b = 0; b < buckets.size(); ++b) {
      BucketResult bucket;
      bucket.family = family;
      bucket.dtype = dtype;
      bucket.bucket = buckets[b];
      const double share = std::chrono::duration<double>(family_deadline - Clock::now()).count() /
                           static_cast<double>(buckets.size() - b);
      const Clock::time_point deadline =
          Clock::now() + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(std::max(share, 0.0)));
      int64_t dims[3] = {0, 0, 0};
      porta_ops_tuning_shape(family.c_str(), bucket.bucket.c_str(), dims);
      porta_ops_set_tuning_overlay(context, nullptr);
      porta_ops_tuning_choice_t choice = PORTA_OPS_TUNING_CHOICE_INIT;
      size_t size = 0;
      std::string text;
      if (porta_ops_tuning_choice(context, family.c_str(), dtype.c_str(), bucket.bucket.c_str(),
                                  &choice) != PORTA_OK ||
          porta_ops_tuning_candidates(context, family.c_str(), dtype.c_str(), bucket.bucket.c_str(),
                                      nullptr, 0, &size) != PORTA_OK) {
        bucket.status = "error: " + Failure("querying the candidates");
        out->buckets.push_back(bucket);
        continue;
      }
      text.resize(size);
      porta_ops_tuning_candidates(context, family.c_str(), dtype.c_str(), bucket.bucket.c_str(),
                                  text.data(), size, nullptr);
      text.resize(size - 1);
      bucket.table_params = choice.params;
      bucket.table_source = choice.source;
      std::vector<std::string> candidates = Split(text, '\n');
      if (candidates.empty()) {
        bucket.status = "nothing to search";
        out->buckets.push_back(bucket);
        continue;
      }
      // The table's choice first: every winner is then measured against it.
      candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                      [&](const std::string& candidate) {
                                        return Canonical(candidate) ==
                                               Canonical(bucket.table_params);
                                      }),
                       candidates.end());
      candidates.insert(candidates.begin(), bucket.table_params);
      std::string error;
      std::unique_ptr<porta::tune::TuneProblem> problem =
          porta::tune::TuneProblem::Create(family, dims, context, stream, &error);
      if (!problem) {
        bucket.status = "error: " + error;
        out->buckets.push_back(bucket);
        continue;
      }
      bucket.shape = problem->ShapeText();
      bucket.status = "done";
      // Each candidate is built and checked first; then the ones that passed are timed in
      // turns, five rounds, so that load from elsewhere on a shared machine falls on all of them
      // alike rather than on whichever ran at the wrong moment.
      std::vector<std::string> rows;
      std::vector<int> inner;
      for (size_t c = 0; c < candidates.size(); ++c) {
        if (g_stop.load()) {
          bucket.status = "interrupted";
          break;
        }
        if (Seconds(start) >= budget_s || (c > 0 && Clock::now() >= deadline)) {
          bucket.status = "budget";
          break;
        }
        const std::string row =
            keys + " " + family + " " + dtype + " " + bucket.bucket + " " + candidates[c];
        progress.Update(dev.label + " " + family + " " + bucket.bucket + " " +
                            std::to_string(c + 1) + "/" + std::to_string(candidates.size()) + " " +
                            candidates[c],
                        Seconds(start), budget_s);
        CandidateResult result;
        int runs = 1;
        if (porta_ops_set_tuning_overlay(context, row.c_str()) != PORTA_OK) {
          result.error = Failure("porta_ops_set_tuning_overlay");
        } else {
          result = Prepare(*problem, stream, &runs);
        }
        result.params = candidates[c];
        bucket.candidates.push_back(result);
        rows.push_back(row);
        inner.push_back(runs);
      }
      std::vector<std::vector<double>> times(bucket.candidates.size());
      for (int round = 0; round < 5 && !g_stop.load(); ++round) {
        for (size_t c = 0; c < bucket.candidates.size(); ++c) {
          CandidateResult& result = bucket.candidates[c];
          double ms = 0;
          if (!result.ok) continue;
          if (porta_ops_set_tuning_overlay(context, rows[c].c_str()) != PORTA_OK) {
            result.ok = false;
            result.error = Failure("porta_ops_set_tuning_overlay");
          } else if (TimeRuns(*problem, stream, inner[c], &ms, &result.error)) {
            times[c].push_back(ms);
          } else {
            result.ok = false;
          }
        }
      }
      for (size_t c = 0; c < bucket.candidates.size(); ++c) {
        CandidateResult& result = bucket.candidates[c];
        // Without a round (Ctrl-C), the sizing run is the only time there is.
        if (result.ok && !times[c].empty()) {
          std::sort(times[c].begin(), times[c].end());
          result.median_ms = times[c][times[c].size() / 2];
        }
        progress.Line(dev.label + " " + family + " " + dtype + " " + bucket.bucket + " " +
                      result.params + ": " +
                      (result.ok ? Ms(result.median_ms) + " (first run " + Ms(result.first_ms) + ")"
                                 : result.error));
      }
      // A row only for a real comparison: two candidates that passed.
      if (const CandidateResult* winner = bucket.Winner();
          winner != nullptr && bucket.Passed() >= 2) {
        winners.push_back(keys + " " + family + " " + dtype + " " + bucket.bucket + " " +
                          winner->params);
      }
      out->buckets.push_back(bucket);
      if (g_stop.load() || Seconds(start) >= budget_s) break;
    }
    porta_ops_set_tuning_overlay(context, nullptr);
    out->family_seconds.emplace_back(family, Seconds(family_start));
    if (!winners.empty()) {
      std::set<std::string> replaced;
      for (const std::string& row : winners) replaced.insert(RowKey(row));
      std::vector<std::string> rows;
      for (const std::string& row : kept) {
        if (replaced.count(RowKey(row)) == 0) rows.push_back(row);
      }
      rows.insert(rows.end(), winners.begin(), winners.end());
      std::string joined;
      for (const std::string& row : rows) joined += row + "\n";
      if (porta_ops_tuning_file_write(context, joined.c_str()) != PORTA_OK) {
        out->error = Failure("porta_ops_tuning_file_write");
      } else {
        kept = rows;
        out->rows_written = static_cast<uint32_t>(rows.size());
      }
    }
    if (g_stop.load() || Seconds(start) >= budget_s) {
      *units_left = std::max(*units_left, 0);
      break;
    }
  }
  porta_stream_destroy(stream);
  porta_ops_context_destroy(context);
  out->seconds = Seconds(device_start);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const std::optional<int> exit_now = porta::tools::ParseCommandLine(
      "porta-tune", kUsage, argc, argv,
      {{"--json", &options.json},
       {"--show", &options.show},
       {"--reset", &options.reset},
       {"--export", &options.export_rows},
       {"--ops", nullptr, [&](const char* value) { options.ops = value; }},
       {"--budget", nullptr, [&](const char* value) { options.budget_text = value; }},
       {"--plugin", nullptr,
        [&](const char* value) {
          if (!options.plugin_paths.empty()) options.plugin_paths += ':';
          options.plugin_paths += value;
        }},
       {"--devices", nullptr, [&](const char* value) {
          options.has_device_filter = true;
          options.device_filter = value;
        }}});
  if (exit_now) return *exit_now;
  auto usage_error = [](const std::string& message) {
    std::fprintf(stderr, "porta-tune: %s\n%s", message.c_str(), kUsage);
    return 2;
  };
  if (!options.budget_text.empty()) {
    char* end = nullptr;
    options.budget_s = std::strtod(options.budget_text.c_str(), &end);
    if (*end != '\0' || !(options.budget_s > 0) || options.budget_s > 7 * 86400) {
      return usage_error("--budget '" + options.budget_text +
                         "' is not a number of seconds in (0, 604800]");
    }
  }
  if (static_cast<int>(options.show) + options.reset + options.export_rows > 1) {
    return usage_error("--show, --reset and --export are separate commands; give one");
  }
  if (options.export_rows && options.json) {
    return usage_error("--export prints table rows; it does not take --json");
  }
  const std::vector<std::string> ops = Split(options.ops, ',');
  if (ops.empty()) return usage_error("--ops needs at least one family");
  for (const std::string& family : ops) {
    int64_t dims[3];
    if (porta_ops_tuning_shape(family.c_str(), "small", dims) == PORTA_ERROR_INVALID_ARGUMENT) {
      return usage_error("--ops: " + std::string(porta_last_error_message()));
    }
  }

  porta_runtime_t runtime = porta::tools::CreateRuntime(
      "porta-tune", options.plugin_paths.c_str(),
      options.has_device_filter ? options.device_filter.c_str() : nullptr);
  if (runtime == nullptr) return 1;
  uint32_t count = 0;
  porta_runtime_device_count(runtime, &count);
  std::vector<Device> devices;
  int exit_code = 0;
  for (uint32_t i = 0; i < count; ++i) {
    Device dev;
    if (porta_runtime_device(runtime, i, &dev.device) != PORTA_OK ||
        porta_device_get_info(dev.device, &dev.info) != PORTA_OK ||
        porta_ops_context_create(dev.device, nullptr, &dev.loaded) != PORTA_OK ||
        porta_ops_tuning_file_status(dev.loaded, &dev.file) != PORTA_OK) {
      std::fprintf(stderr, "porta-tune: device %u: %s\n", i, porta_last_error_message());
      exit_code = 1;
      continue;
    }
    dev.label =
        "device " + std::to_string(i) + ": " + dev.info.name + " (" + dev.info.backend + ")";
    devices.push_back(dev);
  }
  if (devices.empty()) {
    std::fprintf(stderr, "porta-tune: no device%s\n",
                 options.has_device_filter ? " matches --devices" : "");
    porta_runtime_destroy(runtime);
    return 1;
  }

  if (options.show) {
    exit_code = std::max(exit_code, Show(devices, ops, options.json));
  } else if (options.reset) {
    exit_code = std::max(exit_code, Reset(devices, options.json));
  } else if (options.export_rows) {
    exit_code = std::max(exit_code, Export(devices));
  } else {
    signal(SIGINT, OnInterrupt);
    const Clock::time_point start = Clock::now();
    int units_left = static_cast<int>(devices.size() * ops.size());
    Progress progress(!options.json && isatty(STDERR_FILENO) != 0);
    std::vector<DeviceResult> results;
    for (Device& dev : devices) {
      DeviceResult result;
      TuneDevice(dev, ops, start, options.budget_s, &units_left, progress, &result);
      if (!result.error.empty()) exit_code = 1;
      results.push_back(result);
      if (g_stop.load()) break;
    }
    progress.Clear();
    if (options.json) {
      PrintTuneJson(results, options.budget_s, Seconds(start), g_stop.load());
    } else {
      PrintTuneText(results, g_stop.load());
    }
    if (g_stop.load()) exit_code = 130;
  }
  std::fflush(stdout);
  for (Device& dev : devices) porta_ops_context_destroy(dev.loaded);
  porta_runtime_destroy(runtime);
  return exit_code;
}
