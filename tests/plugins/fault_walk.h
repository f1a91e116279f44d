// What tests/call_fault_test.cpp shares with the test plugin built with MINI_FAULTY
// (mini_backend.cpp): the test owns one FaultWalk and names it, and the call to fail, in the
// environment variable PORTA_TEST_FAULT_WALK as "<n> <address>", which the plugin's entry
// function reads. Calls into the plugin are counted from 0 (the entry function itself), then
// every table slot that returns a status; the n-th fails with PORTA_ERROR_BACKEND and a message
// that says "injected failure of <slot>", and its name is left in |fired|.
#ifndef PORTA_TESTS_PLUGINS_FAULT_WALK_H_
#define PORTA_TESTS_PLUGINS_FAULT_WALK_H_

#include <atomic>

namespace porta_test {

struct FaultWalk {
  std::atomic<long long> countdown{-1};
  std::atomic<long long> calls{0};
  char fired[64] = {};
};

inline constexpr char kFaultWalkVariable[] = "PORTA_TEST_FAULT_WALK";

}  // namespace porta_test

#endif  // PORTA_TESTS_PLUGINS_FAULT_WALK_H_
