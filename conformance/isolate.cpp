// porta-cts --isolate: the child protocol and the parent that restarts children (see isolate.h).
#include "conformance/isolate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string_view>
#include <utility>

namespace porta_cts {
namespace {

// The fd number the child's protocol pipe gets, whatever the parent's was.
constexpr int kChildFd = 3;

using Clock = std::chrono::steady_clock;

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char next = text[++i];
    out += next == 't' ? '\t' : next == 'n' ? '\n' : next == 'r' ? '\r' : next;
  }
  return out;
}

void WriteLine(std::FILE* out, const std::vector<std::string_view>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += '\t';
    line += Escape(fields[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out);
}

std::vector<std::string> SplitFields(std::string_view line) {
  std::vector<std::string> fields;
  while (true) {
    const size_t tab = line.find('\t');
    fields.push_back(Unescape(line.substr(0, tab)));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  return fields;
}

using TestId = std::pair<std::string, std::string>;  // suite, name

std::string FullName(const TestId& test) {
  return test.first + "." + test.second;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A record for what went wrong outside any test (the child died before its first test, between
// two tests or at exit); the summary lists it under "(no device)".
TestRecord ProcessRecord(const std::string& what) {
  TestRecord record = NewRecord("porta-cts", "TestProcess");
  record.failures.push_back(what);
  record.aborted = what;
  record.outcome = Outcome::kFailed;
  return record;
}

// How a child ended, in words: "was killed by SIGSEGV (...)", "exited with status 3".
std::string Ending(int wait_status, bool timed_out, int timeout_seconds) {
  if (timed_out) {
    return "was silent for " + std::to_string(timeout_seconds) + " s and was killed";
  }
  if (WIFSIGNALED(wait_status)) return "was killed by " + SignalName(WTERMSIG(wait_status));
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

// One child process and its protocol pipe.
class Child {
 public:
  // Starts "/proc/self/exe |args| --isolate-child=3 [--isolate-tests=|list_path|]".
  bool Start(const std::vector<std::string>& args, const std::string& list_path) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      std::fprintf(stderr, "porta-cts: pipe failed: %s\n", std::strerror(errno));
      return false;
    }
    // argv[0] is the executable's path: the child's gtest death tests re-execute argv[0].
    char self[4096];
    const ssize_t length = readlink("/proc/self/exe", self, sizeof self);
    std::vector<std::string> words = {length > 0 && static_cast<size_t>(length) < sizeof self
                                          ? std::string(self, static_cast<size_t>(length))
                                          : std::string("/proc/self/exe")};
    words.insert(words.end(), args.begin(), args.end());
    words.push_back("--isolate-child=" + std::to_string(kChildFd));
    if (!list_path.empty()) words.push_back("--isolate-tests=" + list_path);
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_ = fork();
    if (pid_ < 0) {
      std::fprintf(stderr, "porta-cts: fork failed: %s\n", std::strerror(errno));
      close(fds[0]);
      close(fds[1]);
      return false;
    }
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to exec.
      if (fds[1] == kChildFd) {
        fcntl(kChildFd, F_SETFD, 0);
      } else if (dup2(fds[1], kChildFd) < 0) {
        _exit(127);
      }
      execv("/proc/self/exe", argv.data());
      const char message[] = "porta-cts: cannot re-execute /proc/self/exe for --isolate\n";
      ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
      static_cast<void>(ignored);
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
    return true;
  }

  // Waits up to |timeout_ms| for output; appends complete lines to |lines|. Returns false at the
  // end of the output (the child closed the pipe: it is exiting or dead). *timed_out is set when
  // nothing came within the time.
  bool Read(int timeout_ms, std::vector<std::string>* lines, bool* timed_out) {
    *timed_out = false;
    pollfd poll_fd{fd_, POLLIN, 0};
    int ready;
    do {
      ready = poll(&poll_fd, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      *timed_out = true;
      return true;
    }
    char chunk[65536];
    ssize_t got;
    do {
      got = read(fd_, chunk, sizeof(chunk));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return false;
    pending_.append(chunk, static_cast<size_t>(got));
    for (size_t newline = pending_.find('\n'); newline != std::string::npos;
         newline = pending_.find('\n')) {
      lines->push_back(pending_.substr(0, newline));
      pending_.erase(0, newline + 1);
    }
    return true;
  }

  void Kill() { kill(pid_, SIGKILL); }

  // Closes the pipe and reaps the child; returns its wait status.
  int Wait() {
    close(fd_);
    fd_ = -1;
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
};

// Writes the tests of |plan| not in |done| to a new temporary file; returns its path ("" on
// failure) and how many it wrote.
std::string WriteRemaining(const std::vector<TestId>& plan, const std::set<std::string>& done,
                           size_t* count) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/porta-cts-remaining.XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    std::fprintf(stderr, "porta-cts: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    return "";
  }
  close(fd);
  std::ofstream out(path);
  *count = 0;
  for (const TestId& test : plan) {
    const std::string full = FullName(test);
    if (done.count(full) != 0) continue;
    out << full << "\n";
    ++*count;
  }
  out.close();
  if (!out) {
    std::fprintf(stderr, "porta-cts: cannot write %s\n", path.c_str());
    unlink(path.c_str());
    return "";
  }
  return path;
}

}  // namespace

void WriteDevice(std::FILE* out, const DeviceParam& device) {
  WriteLine(out, {"device", device.id, device.backend, device.name});
}

void WritePlanned(std::FILE* out, const char* suite, const char* name) {
  WriteLine(out, {"plan", suite, name});
}

void WriteStarted(std::FILE* out, const char* suite, const char* name) {
  WriteLine(out, {"start", suite, name});
}

void WriteFinished(std::FILE* out, const TestRecord& record) {
  const std::string outcome = std::to_string(static_cast<int>(record.outcome));
  const std::string seconds = std::to_string(record.seconds);
  std::vector<std::string_view> fields = {"end",   record.suite,       record.name,        outcome,
                                          seconds, record.skip_reason, record.known_reason};
  for (const std::string& failure : record.failures) fields.push_back(failure);
  WriteLine(out, fields);
}

void WriteDone(std::FILE* out, bool failed_outside) {
  WriteLine(out, {"done", failed_outside ? "1" : "0"});
}

bool ReadTestList(const std::string& path, std::string* filter, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read the test list " + path;
    return false;
  }
  std::set<std::string> listed;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) listed.insert(line);
  }
  if (listed.empty()) {
    *error = "the test list " + path + " is empty";
    return false;
  }
  // Whole suites as "Suite.*" keep the filter (which gtest prints) short.
  filter->clear();
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const testing::TestSuite& suite = *unit.GetTestSuite(i);
    std::vector<std::string> names;
    for (int j = 0; j < suite.total_test_count(); ++j) {
      const std::string full = std::string(suite.name()) + "." + suite.GetTestInfo(j)->name();
      if (listed.count(full) != 0) names.push_back(full);
    }
    if (names.empty()) continue;
    if (!filter->empty()) *filter += ':';
    if (names.size() == static_cast<size_t>(suite.total_test_count())) {
      *filter += std::string(suite.name()) + ".*";
      continue;
    }
    for (size_t k = 0; k < names.size(); ++k) *filter += (k == 0 ? "" : ":") + names[k];
  }
  if (filter->empty()) {
    *error = "no test of the test list " + path + " is registered";
    return false;
  }
  return true;
}

int RunIsolated(const std::vector<std::string>& child_args, int timeout_seconds, Results* results) {
  const Clock::time_point run_start = Clock::now();
  std::vector<TestId> plan;
  std::set<std::string> done;  // full names of tests with a record
  bool failed_outside = false;
  bool first = true;
  while (true) {
    std::string list_path;
    if (!first) {
      size_t remaining = 0;
      list_path = WriteRemaining(plan, done, &remaining);
      if (list_path.empty()) {
        results->Add(ProcessRecord("could not restart the test process; tests did not run"));
        break;
      }
      if (remaining == 0) {
        unlink(list_path.c_str());
        break;
      }
      std::printf("[ RESTART  ] a new test process for the %zu test(s) not yet run\n", remaining);
      std::fflush(stdout);
    }
    Child child;
    if (!child.Start(child_args, list_path)) {
      if (!list_path.empty()) unlink(list_path.c_str());
      if (first) return kExitFail;
      results->Add(ProcessRecord("could not restart the test process; tests did not run"));
      break;
    }
    bool planned = false;
    bool finished = false;
    bool timed_out = false;
    size_t progress = 0;
    TestId current;
    bool in_test = false;
    Clock::time_point test_start = Clock::now();
    Clock::time_point last_message = Clock::now();
    std::vector<std::string> lines;
    while (true) {
      const double silent = SecondsSince(last_message);
      const int wait_ms = static_cast<int>(std::max(0.0, (timeout_seconds - silent) * 1000.0)) + 1;
      bool quiet = false;
      lines.clear();
      const bool open = child.Read(wait_ms, &lines, &quiet);
      if (quiet && SecondsSince(last_message) >= timeout_seconds) {
        child.Kill();
        timed_out = true;
        break;
      }
      if (!lines.empty()) last_message = Clock::now();
      for (const std::string& line : lines) {
        const std::vector<std::string> f = SplitFields(line);
        if (f[0] == "device" && f.size() == 4) {
          if (first) {
            DeviceParam device;
            device.id = f[1];
            device.backend = f[2];
            device.name = f[3];
            MutableEnv()->devices.push_back(device);
          }
        } else if (f[0] == "plan" && f.size() == 3) {
          planned = true;
          if (first) plan.emplace_back(f[1], f[2]);
        } else if (f[0] == "start" && f.size() == 3) {
          planned = true;
          current = TestId(f[1], f[2]);
          in_test = true;
          test_start = Clock::now();
        } else if (f[0] == "end" && f.size() >= 7) {
          TestRecord record = NewRecord(f[1], f[2]);
          record.outcome = static_cast<Outcome>(std::atoi(f[3].c_str()));
          record.seconds = std::atof(f[4].c_str());
          record.skip_reason = f[5];
          record.known_reason = f[6];
          record.failures.assign(f.begin() + 7, f.end());
          done.insert(FullName(TestId(f[1], f[2])));
          results->Add(std::move(record));
          in_test = false;
          ++progress;
        } else if (f[0] == "done" && f.size() == 2) {
          finished = true;
          failed_outside = failed_outside || f[1] == "1";
        } else {
          std::fprintf(stderr, "porta-cts: unexpected message from the test process: %s\n",
                       line.c_str());
          failed_outside = true;
        }
      }
      if (!open) break;
    }
    const int status = child.Wait();
    if (!list_path.empty()) unlink(list_path.c_str());
    const bool clean_exit = !timed_out && WIFEXITED(status);
    if (first && !planned && clean_exit) {
      // The child stopped before it ran anything, and said why (no device, a bad gtest flag,
      // --gtest_list_tests): its status is the run's.
      return WEXITSTATUS(status);
    }
    first = false;
    if (finished) {
      if (!clean_exit) {
        results->Add(ProcessRecord("the test process " +
                                   Ending(status, timed_out, timeout_seconds) +
                                   " at exit, after its last test (runtime or backend shutdown)"));
      }
      // A child that finished ran everything it was given; anything missing was filtered away.
      break;
    }
    if (in_test) {
      const TestRecord record = AbortedRecord(
          current.first, current.second, WIFSIGNALED(status) && !timed_out ? WTERMSIG(status) : 0,
          WIFEXITED(status) ? WEXITSTATUS(status) : 0, timed_out ? timeout_seconds : 0,
          SecondsSince(test_start));
      std::printf("[ %-8s ] %s.%s: %s\n", timed_out ? "TIMEOUT" : "CRASHED", current.first.c_str(),
                  current.second.c_str(), record.aborted.c_str());
      std::fflush(stdout);
      done.insert(FullName(current));
      results->Add(record);
      continue;
    }
    // The child died outside any test. With no test done, a restart would die the same way: the
    // tests left did not run.
    std::string what = "the test process " + Ending(status, timed_out, timeout_seconds) +
                       (progress == 0 ? " before its first test" : " between two tests");
    size_t left = 0;
    for (const TestId& test : plan) left += done.count(FullName(test)) == 0;
    if (progress == 0 && left > 0) what += "; " + std::to_string(left) + " test(s) did not run";
    std::printf("[ CRASHED  ] %s\n", what.c_str());
    std::fflush(stdout);
    results->Add(ProcessRecord(what));
    if (progress == 0) break;
  }
  return results->Finish(SecondsSince(run_start), failed_outside);
}

}  // namespace porta_cts
