// Events: record / wait / query, ordering across streams and devices, timings, the timeout
// path of porta_event_wait, and faults reaching the event's waiters. Tests that need work to be
// deterministically pending hold a stream with the gate (gate.h), in the device's own format.
#include <chrono>
#include <thread>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

class EventTest : public StreamTest {
 protected:
  // Loads the gate and closes it on |stream|.
  void CloseGate(Gate* gate, porta_stream_t stream) {
    ASSERT_TRUE(gate->Load(device_));
    ASSERT_PORTA_OK(gate->Close(stream));
  }
};

TEST_P(EventTest, UnrecordedEventIsComplete) {
  for (uint32_t flags : {PORTA_EVENT_DEFAULT, PORTA_EVENT_DISABLE_TIMING}) {
    EventHandle event;
    ASSERT_PORTA_OK(porta_event_create(device_, flags, event.out()));
    EXPECT_PORTA_OK(porta_event_query(event.get()));
    EXPECT_PORTA_OK(porta_event_wait(event.get(), 0));
    EXPECT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
    // A stream waiting on a never-recorded event does not wait at all.
    EXPECT_PORTA_OK(porta_stream_wait_event(stream_.get(), event.get()));
    EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    EXPECT_PORTA_OK(porta_event_destroy(event.release()));
  }
}

TEST_P(EventTest, RecordWaitQuery) {
  // Where the gate can hold the stream, the event is known to be pending when first queried;
  // elsewhere that answer depends on timing, so the early query is made only on held devices.
  const bool gated = GateApplies(device_);
  Gate gate;
  if (gated) {
    CloseGate(&gate, stream_.get());
    if (HasFatalFailure()) return;
  }
  constexpr uint64_t kSize = 1u << 20;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  const std::vector<uint8_t> data = RandomBytes(kSize, 1);
  std::vector<uint8_t> read(kSize);
  SyncOnExit sync(stream_.get(), &gate);
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read.data(), buffer.get(), 0, kSize));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  if (gated) {
    EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_event_query(event.get()));
    gate.Open();
  }
  ASSERT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_PORTA_OK(porta_event_query(event.get()));
  EXPECT_EQ(read, data) << "the event completed before the work recorded before it";
}

TEST_P(EventTest, WaitWithZeroTimeoutNeverHangs) {
  constexpr uint64_t kSize = 16u << 20;
  BufferHandle a, b;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, a.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, b.out()));
  const uint8_t zero = 0;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), a.get(), 0, kSize, &zero, 1));
  for (int i = 0; i < 4; ++i) {
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), b.get(), 0, a.get(), 0, kSize));
  }
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  // Whether 64 MiB of copies are still running here depends on the device and the machine, so
  // only the promptness of the answer is checked while they may run; the exact TIMEOUT of a
  // pending event is WaitTimesOutWhileWorkIsBlocked's (on devices whose stream can be held).
  const auto start = std::chrono::steady_clock::now();
  const porta_status_t racing = porta_event_wait(event.get(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1))
      << "a zero-timeout wait blocked (it returned " << porta_status_string(racing) << ")";
  EXPECT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
  // Once complete, a zero-timeout wait is exactly OK, and at once.
  const auto again = std::chrono::steady_clock::now();
  EXPECT_PORTA_OK(porta_event_wait(event.get(), 0));
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(1));
}

TEST_P(EventTest, WaitTimesOutWhileWorkIsBlocked) {
  PORTA_CTS_REQUIRE_GATE(device_);
  Gate gate;
  CloseGate(&gate, stream_.get());
  if (HasFatalFailure()) return;
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_event_query(event.get()));
  EXPECT_PORTA_STATUS(PORTA_ERROR_TIMEOUT, porta_event_wait(event.get(), 0));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_PORTA_STATUS(PORTA_ERROR_TIMEOUT, porta_event_wait(event.get(), 5'000'000));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(4)) << "a 5 ms wait returned early";
  EXPECT_LT(waited, std::chrono::seconds(5)) << "a 5 ms wait took far too long";
  gate.Open();
  EXPECT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_PORTA_OK(porta_event_query(event.get()));
}

TEST_P(EventTest, StreamWaitEventOrdersWorkAcrossStreams) {
  const bool gated = GateApplies(device_);
  Gate gate;
  if (gated) {
    CloseGate(&gate, stream_.get());
    if (HasFatalFailure()) return;
  }
  constexpr uint64_t kSize = 256u << 10;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  const std::vector<uint8_t> data = RandomBytes(kSize, 2);
  std::vector<uint8_t> read(kSize, 0);
  SyncOnExit sync(stream_.get(), &gate);
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DISABLE_TIMING, event.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));

  StreamHandle consumer;
  ASSERT_PORTA_OK(porta_stream_create(device_, consumer.out()));
  SyncOnExit sync_consumer(consumer.get(), &gate);
  ASSERT_PORTA_OK(porta_stream_wait_event(consumer.get(), event.get()));
  ASSERT_PORTA_OK(porta_copy_device_to_host(consumer.get(), read.data(), buffer.get(), 0, kSize));
  if (gated) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_stream_query(consumer.get()));
    EXPECT_EQ(read[0], 0u);
    gate.Open();
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(consumer.get()));
  EXPECT_EQ(read, data) << "the waiting stream ran before the event's work completed";
}

TEST_P(EventTest, StreamWaitEventAcrossDevices) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t other = OtherDevices(device_).front();
  constexpr uint64_t kSize = 256u << 10;
  BufferHandle local, remote;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, local.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(other, kSize, PORTA_MEMORY_DEVICE, remote.out()));
  const std::vector<uint8_t> data = RandomBytes(kSize, 3);
  std::vector<uint8_t> read(kSize, 0);
  SyncOnExit sync(stream_.get());
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), local.get(), 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));

  StreamHandle other_stream;
  ASSERT_PORTA_OK(porta_stream_create(other, other_stream.out()));
  SyncOnExit sync_other(other_stream.get());
  ASSERT_PORTA_OK(porta_stream_wait_event(other_stream.get(), event.get()));
  ASSERT_PORTA_OK(
      porta_copy_device_to_device(other_stream.get(), remote.get(), 0, local.get(), 0, kSize));
  ASSERT_PORTA_OK(
      porta_copy_device_to_host(other_stream.get(), read.data(), remote.get(), 0, kSize));
  ASSERT_PORTA_OK(porta_stream_synchronize(other_stream.get()));
  EXPECT_EQ(read, data);
}

TEST_P(EventTest, ReRecordingReplacesThePoint) {
  PORTA_CTS_REQUIRE_GATE(device_);
  Gate gate;
  CloseGate(&gate, stream_.get());
  if (HasFatalFailure()) return;
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_event_query(event.get()));
  StreamHandle idle;
  ASSERT_PORTA_OK(porta_stream_create(device_, idle.out()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), idle.get()));
  EXPECT_PORTA_OK(porta_event_wait(event.get(), 5'000'000'000ull))
      << "the event still waits for its previous recording";
  gate.Open();
}

TEST_P(EventTest, StreamWaitCapturesTheCurrentRecording) {
  PORTA_CTS_REQUIRE_GATE(device_);
  Gate gate;
  CloseGate(&gate, stream_.get());
  if (HasFatalFailure()) return;
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  StreamHandle waiter, idle;
  ASSERT_PORTA_OK(porta_stream_create(device_, waiter.out()));
  ASSERT_PORTA_OK(porta_stream_create(device_, idle.out()));
  ASSERT_PORTA_OK(porta_stream_wait_event(waiter.get(), event.get()));
  // Neither re-recording nor destroying the event releases the wait already queued.
  ASSERT_PORTA_OK(porta_event_record(event.get(), idle.get()));
  ASSERT_PORTA_OK(porta_event_destroy(event.release()));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_stream_query(waiter.get()));
  gate.Open();
  EXPECT_PORTA_OK(porta_stream_synchronize(waiter.get()));
}

TEST_P(EventTest, ElapsedTimeIsNonNegativeAndIncreasing) {
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_TIMESTAMPS);
  constexpr uint64_t kSize = 8u << 20;
  BufferHandle a, b;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, a.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, b.out()));
  EventHandle events[3];
  for (auto& event : events) {
    ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  }
  const uint8_t one = 1;
  ASSERT_PORTA_OK(porta_event_record(events[0].get(), stream_.get()));
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), a.get(), 0, kSize, &one, 1));
  ASSERT_PORTA_OK(porta_event_record(events[1].get(), stream_.get()));
  ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), b.get(), 0, a.get(), 0, kSize));
  ASSERT_PORTA_OK(porta_event_record(events[2].get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  float t01 = -1, t02 = -1, t12 = -1, t00 = -1;
  ASSERT_PORTA_OK(porta_event_elapsed_ms(events[0].get(), events[1].get(), &t01));
  ASSERT_PORTA_OK(porta_event_elapsed_ms(events[0].get(), events[2].get(), &t02));
  ASSERT_PORTA_OK(porta_event_elapsed_ms(events[1].get(), events[2].get(), &t12));
  ASSERT_PORTA_OK(porta_event_elapsed_ms(events[0].get(), events[0].get(), &t00));
  EXPECT_GE(t01, 0.0f);
  EXPECT_GE(t12, 0.0f);
  EXPECT_GE(t02, t01);
  EXPECT_GE(t02, t12);
  EXPECT_FLOAT_EQ(t00, 0.0f);
}

TEST_P(EventTest, ElapsedTimeIsNotReadyWhilePending) {
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_TIMESTAMPS);
  PORTA_CTS_REQUIRE_GATE(device_);
  EventHandle start, end;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, start.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, end.out()));
  ASSERT_PORTA_OK(porta_event_record(start.get(), stream_.get()));
  Gate gate;
  CloseGate(&gate, stream_.get());
  if (HasFatalFailure()) return;
  ASSERT_PORTA_OK(porta_event_record(end.get(), stream_.get()));
  float ms = -1;
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_event_elapsed_ms(start.get(), end.get(), &ms));
  gate.Open();
  ASSERT_PORTA_OK(porta_event_wait(end.get(), UINT64_MAX));
  ASSERT_PORTA_OK(porta_event_elapsed_ms(start.get(), end.get(), &ms));
  EXPECT_GE(ms, 0.0f);
}

PORTA_CTS_INSTANTIATE(EventTest);

// Faults reach waiters: an event recorded after work that faulted carries the fault (status and
// detail) to porta_event_wait / porta_event_query, and a stream that waits on it is faulted too,
// naming the stream the fault came from. These go on using the device after the fault, so they
// run where the fault stays on its stream (the host format); where it may end the device's
// context (a CUDA or HIP trap) they skip, and ModuleLaunchTest.DeviceFaultIsSticky checks that
// fault in a child process. Devices without a kernel that can fault skip with that reason.
class EventFaultTest : public StreamTest {
 protected:
  // The code the `fault` kernel returns (conformance/kernels/README.md); a fault's message names
  // it, and so does every message that passes the fault on.
  static constexpr uint64_t kFaultCode = 7;
  // How a stream that waited on a faulted recording describes its sticky error (porta.h).
  static constexpr const char* kWaitedOnFault =
      "waited on an event recorded after a fault on stream";

  void SetUp() override {
    StreamTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    PORTA_CTS_REQUIRE_FAULT(info_);
    if (FaultKindFor(info_) == FaultKind::kEndsDevice) {
      RecordSkipReason("a fault that spares the device");
      GTEST_SKIP() << "the fault kernel this device runs ("
                   << KernelFormatName(TestKernelFormatFor(info_, "fault"))
                   << ") may end the device's context, and these checks use the device after "
                      "the fault; ModuleLaunchTest.DeviceFaultIsSticky checks it in a child "
                      "process";
    }
    PORTA_CTS_REQUIRE_GATE(device_);
    ASSERT_PORTA_OK(LoadTestKernel(device_, "fault", &module_, &fault_));
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, out_.out()));
    ASSERT_TRUE(gate_.Load(device_));
  }

  // Queues the fault kernel on |stream|.
  porta_status_t LaunchFault(porta_stream_t stream) {
    const porta_kernel_arg_t arg = porta_arg_buffer(out_.get(), 0);
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    config.grid[0] = 4;
    return porta_kernel_launch(stream, fault_, &config, &arg, 1);
  }

  ModuleHandle module_;
  porta_kernel_t fault_ = nullptr;
  BufferHandle out_;
  Gate gate_;
};

TEST_P(EventFaultTest, WaitAndQueryReportTheFaultOfTheRecording) {
  StreamHandle faulting;
  ASSERT_PORTA_OK(porta_stream_create(device_, faulting.out()));
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  // The gate holds the stream, so the fault cannot have happened before the record is queued.
  ASSERT_PORTA_OK(gate_.Close(faulting.get()));
  ASSERT_PORTA_OK(LaunchFault(faulting.get()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), faulting.get()));
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_event_query(event.get()));
  gate_.Open();
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_query(event.get()));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_wait(event.get(), 0));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(faulting.get()));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
}

TEST_P(EventFaultTest, StreamThatWaitedOnAFaultedRecordingFaults) {
  StreamHandle faulting, waiter;
  ASSERT_PORTA_OK(porta_stream_create(device_, faulting.out()));
  ASSERT_PORTA_OK(porta_stream_create(device_, waiter.out()));
  EventHandle event, after;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, after.out()));
  ASSERT_PORTA_OK(gate_.Close(faulting.get()));
  ASSERT_PORTA_OK(LaunchFault(faulting.get()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), faulting.get()));
  // Queued while the fault is still ahead: the wait itself succeeds, the fault surfaces later.
  ASSERT_PORTA_OK(porta_stream_wait_event(waiter.get(), event.get()));
  const uint32_t pattern = 0x5a5a5a5a;
  ASSERT_PORTA_OK(porta_fill_buffer(waiter.get(), out_.get(), 0, 64, &pattern, 4));
  ASSERT_PORTA_OK(porta_event_record(after.get(), waiter.get()));
  gate_.Open();
  // An event recorded on the waiter after the wait carries the fault as well.
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_wait(after.get(), UINT64_MAX));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(waiter.get()));
  EXPECT_TRUE(LastErrorSays(kWaitedOnFault));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  // Sticky: every later call on the waiter says so.
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_query(waiter.get()));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST,
                      porta_fill_buffer(waiter.get(), out_.get(), 0, 64, &pattern, 4));
  EXPECT_TRUE(LastErrorSays(kWaitedOnFault));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(faulting.get()));
  EXPECT_PORTA_OK(porta_stream_destroy(waiter.release()));
}

TEST_P(EventFaultTest, RecordingOnAFaultedStreamCarriesTheFault) {
  StreamHandle faulting, waiter, clean;
  ASSERT_PORTA_OK(porta_stream_create(device_, faulting.out()));
  ASSERT_PORTA_OK(porta_stream_create(device_, waiter.out()));
  ASSERT_PORTA_OK(porta_stream_create(device_, clean.out()));
  ASSERT_PORTA_OK(LaunchFault(faulting.get()));
  ASSERT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(faulting.get()));
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  // A clean recording first: the failed record below must not leave the event answering for it.
  ASSERT_PORTA_OK(porta_event_record(event.get(), clean.get()));
  ASSERT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_record(event.get(), faulting.get()));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_query(event.get()));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  // The fault is known by now, so the wait reports it at once.
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_wait_event(waiter.get(), event.get()));
  EXPECT_TRUE(LastErrorSays(kWaitedOnFault));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(waiter.get()));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));

  // Re-recording on a healthy stream makes the event clean again (as a CUDA event re-recorded
  // after a fault on another stream): the fault stays with the recording and the stream it hit.
  ASSERT_PORTA_OK(porta_event_record(event.get(), clean.get()));
  EXPECT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_PORTA_OK(porta_event_query(event.get()));
  StreamHandle later;
  ASSERT_PORTA_OK(porta_stream_create(device_, later.out()));
  EXPECT_PORTA_OK(porta_stream_wait_event(later.get(), event.get()));
  EXPECT_PORTA_OK(porta_stream_synchronize(later.get()));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_query(faulting.get()));
}

TEST_P(EventFaultTest, GraphReplayThatWaitsOnAFaultedRecordingFaults) {
  StreamHandle faulting, replayer;
  ASSERT_PORTA_OK(porta_stream_create(device_, faulting.out()));
  ASSERT_PORTA_OK(porta_stream_create(device_, replayer.out()));
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  // A graph that waits on the event, then fills the buffer.
  porta_graph_t graph = nullptr;
  const uint32_t pattern = 0x11223344;
  ASSERT_PORTA_OK(porta_stream_begin_capture(replayer.get()));
  ASSERT_PORTA_OK(porta_stream_wait_event(replayer.get(), event.get()));
  ASSERT_PORTA_OK(porta_fill_buffer(replayer.get(), out_.get(), 0, 64, &pattern, 4));
  ASSERT_PORTA_OK(porta_stream_end_capture(replayer.get(), &graph));
  porta_graph_exec_t exec = nullptr;
  const porta_status_t instantiated = porta_graph_instantiate(graph, &exec);
  EXPECT_PORTA_OK(porta_graph_destroy(graph));
  ASSERT_PORTA_OK(instantiated);

  ASSERT_PORTA_OK(gate_.Close(faulting.get()));
  ASSERT_PORTA_OK(LaunchFault(faulting.get()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), faulting.get()));
  EXPECT_PORTA_OK(porta_graph_launch(exec, replayer.get()));
  gate_.Open();
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(replayer.get()));
  EXPECT_TRUE(LastErrorSays(kWaitedOnFault));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_OK(porta_graph_exec_destroy(exec));
}

TEST_P(EventFaultTest, WaitAcrossDevicesCarriesTheFault) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t other = OtherDevices(device_).front();
  StreamHandle faulting, waiter;
  ASSERT_PORTA_OK(porta_stream_create(device_, faulting.out()));
  ASSERT_PORTA_OK(porta_stream_create(other, waiter.out()));
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(gate_.Close(faulting.get()));
  ASSERT_PORTA_OK(LaunchFault(faulting.get()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), faulting.get()));
  gate_.Open();
  // Across devices the host waits for the event, so the fault is known when the call returns.
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_wait_event(waiter.get(), event.get()));
  EXPECT_TRUE(LastErrorSays(kWaitedOnFault));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(waiter.get()));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_query(event.get()));
  EXPECT_TRUE(LastErrorNamesNumber(kFaultCode));
}

PORTA_CTS_INSTANTIATE(EventFaultTest);

}  // namespace
}  // namespace porta_cts
