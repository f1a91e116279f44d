// What the fake Level Zero loader (fake_level_zero_loader.cpp, a test-only stand-in for
// libze_loader.so.1 with one GPU whose kernels take three arguments) records, so that the
// backend's native graphs can be checked on machines without a Level Zero driver. Submissions
// complete only when the test says so or when the backend waits on their fence, which makes the
// rules of command list reuse observable.
#ifndef PORTA_BACKENDS_LEVEL_ZERO_FAKE_LEVEL_ZERO_LOADER_H_
#define PORTA_BACKENDS_LEVEL_ZERO_FAKE_LEVEL_ZERO_LOADER_H_

#include <level_zero/ze_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace porta::level_zero::fake {

// Every kernel of the fake driver takes three arguments.
inline constexpr uint32_t kKernelArgs = 3;

enum class CommandKind { kLaunch, kBarrier, kCopy, kFill, kOther };

struct Command {
  CommandKind kind = CommandKind::kOther;
  // Launches: the group size and arguments set on the kernel when the launch was appended.
  uint32_t group_size[3] = {};
  ze_group_count_t groups = {};
  std::vector<std::vector<unsigned char>> args;
  // Copies and fills.
  void* dst = nullptr;
  const void* src = nullptr;
  size_t size = 0;
  std::vector<unsigned char> pattern;  // read at append time, which the real driver need not do
};

struct List {
  std::vector<Command> commands;
  bool closed = false;
  bool destroyed = false;
  int pending = 0;  // submissions of this list not yet complete
};

struct Submission {
  ze_command_queue_handle_t queue = nullptr;
  std::vector<List*> lists;
  ze_fence_handle_t fence = nullptr;
  bool done = false;
};

struct State {
  std::vector<std::unique_ptr<List>> lists;  // every list ever created, destroyed ones included
  std::vector<Submission> submissions;
  // Rules of the API the backend broke: executing a list still pending or not closed,
  // destroying or resetting a pending list.
  std::vector<std::string> violations;
  // Host ranges imported with zexDriverImportExternalPointer and not released yet, by address.
  std::vector<std::pair<void*, size_t>> host_imported;
  int host_released = 0;
  // The next call of the function named |fail_call| returns |fail_result| (then this clears).
  std::string fail_call;
  ze_result_t fail_result = ZE_RESULT_SUCCESS;
  // Walks over every call (tests/call_fault_test.cpp): while |countdown| is not negative, each
  // call of an exported function (the error-text ones aside) counts it down, and the call that
  // takes it below zero returns |countdown_result|, counts in |calls| and is named in
  // |countdown_call|.
  long long countdown = -1;
  ze_result_t countdown_result = ZE_RESULT_ERROR_UNKNOWN;
  std::string countdown_call;
  long long calls = 0;
  // Host allocations (real memory: the backend writes event timestamps there), until freed.
  std::vector<std::unique_ptr<unsigned char[]>> host_blocks;

  // Completes every submission, as a device catching up would.
  void CompleteAll() {
    for (Submission& submission : submissions) {
      if (submission.done) continue;
      submission.done = true;
      for (List* list : submission.lists) --list->pending;
    }
  }
  List* Find(ze_command_list_handle_t handle) const { return reinterpret_cast<List*>(handle); }
};

// Exported by the fake loader as porta_fake_level_zero_state.
using StateFn = State* (*)();

}  // namespace porta::level_zero::fake

#endif  // PORTA_BACKENDS_LEVEL_ZERO_FAKE_LEVEL_ZERO_LOADER_H_
