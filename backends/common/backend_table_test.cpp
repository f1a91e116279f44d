// Unit tests of the slot guard the table macros of porta/sdk/backend_table.h put in every slot: an
// exception thrown by a slot function must come out of the table as the slot's status and a
// message naming the slot, never as an exception.
#include "porta/sdk/backend_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "porta/sdk/message.h"

namespace porta::common {
namespace {

// What the slot functions below throw.
enum class Throw { kNothing, kBadAlloc, kRuntimeError, kInt };
Throw what_to_throw = Throw::kNothing;
// The slot functions called, in order.
std::vector<std::string> calls;

void ThrowAsConfigured() {
  switch (what_to_throw) {
    case Throw::kNothing:
      return;
    case Throw::kBadAlloc:
      throw std::bad_alloc();
    case Throw::kRuntimeError:
      throw std::runtime_error("driver said no");
    case Throw::kInt:
      throw 42;
  }
}

// A slot function of slot type |Slot| (a function pointer type), one per |Index| so that every
// slot of the table gets its own function: records the call, then throws what is configured.
template <typename Slot, size_t Index>
struct FakeSlot;

template <typename Result, typename... Args, size_t Index>
struct FakeSlot<Result (*)(Args...), Index> {
  static Result Fn(Args...) {
    calls.push_back(std::to_string(Index));
    ThrowAsConfigured();
    if constexpr (!std::is_void_v<Result>) return PORTA_OK;
  }
};

// Every slot function the table macros name, each a distinct FakeSlot.
#define PORTA_TEST_FAKE_SLOT_(field, function)                                \
  constexpr auto& function = FakeSlot<decltype(porta_backend_table_t::field), \
                                      offsetof(porta_backend_table_t, field)>::Fn;
PORTA_BACKEND_SLOTS(PORTA_TEST_FAKE_SLOT_)
PORTA_BACKEND_GRAPH_SLOTS(PORTA_TEST_FAKE_SLOT_)
PORTA_BACKEND_V13_SLOTS(PORTA_TEST_FAKE_SLOT_)
PORTA_BACKEND_V14_SLOTS(PORTA_TEST_FAKE_SLOT_)
#undef PORTA_TEST_FAKE_SLOT_

const porta_backend_table_t kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("fake");
const porta_backend_table_t kTableWithoutGraphs = PORTA_BACKEND_TABLE("fake");

// Log lines of SetLogSink's sink.
std::vector<std::string> logged;
void Collect(void*, int, const char* text) {
  logged.emplace_back(text);
}

class SlotGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    what_to_throw = Throw::kNothing;
    calls.clear();
    logged.clear();
    porta_backend_host_t host{};
    host.struct_size = sizeof(host);
    host.log = Collect;
    SetLogSink(&host);
    text_[0] = '\0';
  }
  void TearDown() override {
    porta_backend_host_t host{};
    host.struct_size = sizeof(host);
    SetLogSink(&host);
    what_to_throw = Throw::kNothing;
  }

  // Calls |slot| with zeroed arguments and the test's message buffer as its porta_be_msg.
  template <typename Result, typename... Args>
  Result CallSlot(Result (*slot)(Args...)) {
    std::tuple<Args...> args{};
    std::apply(
        [this](auto&... arg) {
          auto set_message = [this](auto& value) {
            if constexpr (std::is_same_v<std::remove_reference_t<decltype(value)>, porta_be_msg>) {
              value = &message_;
            }
          };
          (set_message(arg), ...);
        },
        args);
    return std::apply(slot, args);
  }

  // Calls |slot| (table field |field|, whose function is FakeSlot<..., |index|>) with the fake
  // slot functions throwing std::runtime_error: the call must reach that function and come back
  // as the slot's failure naming |field|, in the message buffer or (a slot returning void) the log.
  template <typename Slot>
  void ExpectGuarded(Slot slot, const char* field, size_t index) {
    SCOPED_TRACE(field);
    calls.clear();
    logged.clear();
    text_[0] = '\0';
    ASSERT_NE(slot, nullptr);
    const std::string expected =
        std::string("the ") + field + " slot threw a C++ exception: driver said no";
    if constexpr (std::is_void_v<decltype(CallSlot(slot))>) {
      CallSlot(slot);
      ASSERT_EQ(logged.size(), 1u);
      EXPECT_EQ(logged[0], expected);
    } else {
      EXPECT_EQ(CallSlot(slot), PORTA_ERROR_BACKEND);
      EXPECT_EQ(text_, expected);
    }
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0], std::to_string(index));
  }

  char text_[256];
  porta_be_message_t message_{text_, sizeof(text_)};
};

TEST_F(SlotGuardTest, EverySlotIsGuardedAndCallsItsFunction) {
  what_to_throw = Throw::kRuntimeError;
#define PORTA_TEST_EXPECT_GUARDED_(field, function) \
  ExpectGuarded(kTable.field, #field, offsetof(porta_backend_table_t, field));
  PORTA_BACKEND_SLOTS(PORTA_TEST_EXPECT_GUARDED_)
  PORTA_BACKEND_GRAPH_SLOTS(PORTA_TEST_EXPECT_GUARDED_)
  PORTA_BACKEND_V13_SLOTS(PORTA_TEST_EXPECT_GUARDED_)
  PORTA_BACKEND_V14_SLOTS(PORTA_TEST_EXPECT_GUARDED_)
#undef PORTA_TEST_EXPECT_GUARDED_
}

TEST_F(SlotGuardTest, BadAllocIsOutOfMemoryNamingTheSlot) {
  what_to_throw = Throw::kBadAlloc;
  EXPECT_EQ(CallSlot(kTable.buffer_alloc), PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_STREQ(text_, "the buffer_alloc slot threw std::bad_alloc (host out of memory)");
}

TEST_F(SlotGuardTest, ExceptionOfUnknownTypeIsBackendError) {
  what_to_throw = Throw::kInt;
  EXPECT_EQ(CallSlot(kTable.kernel_launch), PORTA_ERROR_BACKEND);
  EXPECT_STREQ(text_, "the kernel_launch slot threw a C++ exception of unknown type");
}

TEST_F(SlotGuardTest, VoidSlotSwallowsWithoutALogSink) {
  porta_backend_host_t host{};
  host.struct_size = sizeof(host);
  SetLogSink(&host);
  what_to_throw = Throw::kBadAlloc;
  CallSlot(kTable.buffer_free);
  EXPECT_TRUE(logged.empty());
}

TEST_F(SlotGuardTest, StatusSlotWithoutMessageBufferStillReturnsTheStatus) {
  what_to_throw = Throw::kRuntimeError;
  EXPECT_EQ(kTable.stream_synchronize(nullptr, nullptr), PORTA_ERROR_BACKEND);
}

TEST_F(SlotGuardTest, NoExceptionPassesTheFunctionsAnswerThrough) {
  EXPECT_EQ(CallSlot(kTable.device_count), PORTA_OK);
  EXPECT_STREQ(text_, "");
  EXPECT_TRUE(logged.empty());
}

TEST_F(SlotGuardTest, MessageIsCutAtTheBuffersCapacity) {
  what_to_throw = Throw::kRuntimeError;
  char small[12];
  porta_be_message_t message{small, sizeof(small)};
  EXPECT_EQ(kTable.stream_query(nullptr, &message), PORTA_ERROR_BACKEND);
  EXPECT_STREQ(small, "the stream_");
}

TEST_F(SlotGuardTest, TableWithoutGraphsLeavesTheGraphSlotsNull) {
  EXPECT_EQ(kTableWithoutGraphs.graph_create, nullptr);
  EXPECT_EQ(kTableWithoutGraphs.graph_launch, nullptr);
  EXPECT_EQ(kTableWithoutGraphs.graph_update_kernel_args, nullptr);
  EXPECT_EQ(kTableWithoutGraphs.graph_destroy, nullptr);
  what_to_throw = Throw::kRuntimeError;
  EXPECT_EQ(CallSlot(kTableWithoutGraphs.stream_host_func), PORTA_ERROR_BACKEND);
  EXPECT_STREQ(text_, "the stream_host_func slot threw a C++ exception: driver said no");
}

}  // namespace
}  // namespace porta::common
