// --isolate: porta-cts runs the tests in a child process, itself re-executed, so that a crash or a
// hang in a backend costs one test, not the run. The child reports every test over a pipe (the
// protocol below); when it dies in the middle of a test (a signal, an exit) or stays silent longer
// than the per-test timeout (it is then killed), the parent records that test as failed, naming
// the signal or the timeout, and starts a new child for the tests not yet run. One child runs
// the whole suite when nothing crashes, so isolation costs one process start, not one per test.
//
// The protocol: one line per message, fields separated by tabs, with '\\', tab, newline and
// carriage return escaped as \\, \t, \n, \r:
//   device <id> <backend> <name>       a device under test (before the tests)
//   plan <suite> <name>                a test this child will run, in order (before the tests)
//   start <suite> <name>               the test begins
//   end <suite> <name> <outcome> <seconds> <skip reason> <known reason> <failure>...
//   done <0|1>                          all tests ran; 1: a failure outside any test
#ifndef PORTA_CONFORMANCE_ISOLATE_H_
#define PORTA_CONFORMANCE_ISOLATE_H_

#include <cstdio>
#include <string>
#include <vector>

#include "conformance/cts.h"
#include "conformance/report.h"

namespace porta_cts {

// The child's side: protocol messages written to |out|.
void WriteDevice(std::FILE* out, const DeviceParam& device);
void WritePlanned(std::FILE* out, const char* suite, const char* name);
void WriteStarted(std::FILE* out, const char* suite, const char* name);
void WriteFinished(std::FILE* out, const TestRecord& record);
void WriteDone(std::FILE* out, bool failed_outside);

// Reads the tests a restarted child runs (one "Suite.Name" per line, written by the parent) into
// a gtest filter that selects exactly them: "Suite.*" for a suite all of whose tests are listed,
// the names otherwise. Needs the tests registered (InitGoogleTest done).
bool ReadTestList(const std::string& path, std::string* filter, std::string* error);

// The parent's side: runs the selected tests in children started as
// "/proc/self/exe <child_args> --isolate-child=FD [--isolate-tests=FILE]", adds every test's
// record to |results| and fills Env().devices from the first child's device messages. Returns the
// exit status: that of the first child when it ended before it listed a test (no device, no test
// selected, a bad gtest flag; it said why), otherwise |results|' Finish.
int RunIsolated(const std::vector<std::string>& child_args, int timeout_seconds, Results* results);

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_ISOLATE_H_
