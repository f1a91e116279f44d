// porta-tune's results and output: what was measured per device, family, bucket and candidate,
// the text and JSON summaries, and the --show, --reset and --export commands. Public headers
// only.
#ifndef PORTA_TOOLS_TUNE_TUNE_REPORT_H_
#define PORTA_TOOLS_TUNE_TUNE_REPORT_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "porta/porta.h"
#include "porta/porta_ops.h"

namespace porta::tune {

// A device as porta-tune found it.
struct Device {
  porta_device_t device = nullptr;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  std::string label;
  // With the tuning file loaded as any application would load it.
  porta_ops_context_t loaded = nullptr;
  porta_ops_tuning_file_info_t file = PORTA_OPS_TUNING_FILE_INFO_INIT;
};

// How much faster than the dispatcher's current choice a candidate must be to replace it.
constexpr double kMargin = 0.03;

// One candidate parameter set: its check and its time.
struct CandidateResult {
  std::string params;
  bool ok = false;
  std::string error;
  double first_ms = 0;  // compile (first use) and one run
  double median_ms = 0;
  double nmse = 0;
};

// One family, dtype and bucket: the candidates measured and the dispatcher's choice before.
struct BucketResult {
  std::string family;
  std::string dtype;
  std::string bucket;
  std::string shape;
  std::string status;  // done, budget, interrupted, nothing to search, error: ...
  std::string table_params;
  std::string table_source;
  std::vector<CandidateResult> candidates;
  // The fastest candidate that passed; the dispatcher's current choice unless another beats it
  // by more than kMargin (a few percent is noise on a shared machine, not worth a row).
  const CandidateResult* Winner() const {
    const CandidateResult* best = nullptr;
    for (const CandidateResult& c : candidates) {
      if (c.ok && (best == nullptr || c.median_ms < best->median_ms)) best = &c;
    }
    const CandidateResult* table = Table();
    if (best != nullptr && table != nullptr && table->ok &&
        table->median_ms <= best->median_ms * (1 + kMargin)) {
      return table;
    }
    return best;
  }
  const CandidateResult* Table() const {
    for (const CandidateResult& c : candidates) {
      if (c.params == table_params) return &c;
    }
    return nullptr;
  }
  size_t Passed() const {
    return static_cast<size_t>(std::count_if(candidates.begin(), candidates.end(),
                                             [](const CandidateResult& c) { return c.ok; }));
  }
};

// One device's tuning run.
struct DeviceResult {
  std::string label;
  std::string backend;
  std::string path;
  std::string error;
  double seconds = 0;
  uint32_t rows_written = 0;
  // In the order measured.
  std::vector<std::pair<std::string, double>> family_seconds;
  std::vector<BucketResult> buckets;
};

// Splits |text| at |separator|, dropping empty parts.
std::vector<std::string> Split(const std::string& text, char separator);

// The buckets of |family| as the table names them.
std::vector<std::string> Buckets(const std::string& family);

// "<what>: <porta_last_error_message()>".
std::string Failure(const char* what);

// The rows of a tuning file (its non-comment lines).
std::vector<std::string> FileRows(const std::string& path);

// "1.234 ms".
std::string Ms(double ms);

// The summary of a tuning run: per device, each bucket's winner beside the table's choice, and
// the seconds each family took.
void PrintTuneText(const std::vector<DeviceResult>& results, bool interrupted);
void PrintTuneJson(const std::vector<DeviceResult>& results, double budget_s, double seconds,
                   bool interrupted);

// --show: per device, the tuning file's state and, for each family of |ops|, dtype and bucket,
// the parameters the dispatcher uses and where they come from. Returns the exit code.
int Show(std::vector<Device>& devices, const std::vector<std::string>& ops, bool as_json);
// --reset: deletes each device's tuning file. Returns the exit code.
int Reset(std::vector<Device>& devices, bool as_json);
// --export: prints each loaded tuning file's rows. Returns 1 when no device had one.
int Export(std::vector<Device>& devices);

}  // namespace porta::tune

#endif  // PORTA_TOOLS_TUNE_TUNE_REPORT_H_
