// Unit test of the acme backend's table, driven directly as the runtime drives it, with the SDK's
// test scaffolding (porta/sdk/backend_test_support.h). The conformance suite (porta-cts --plugin)
// checks the behaviour through the public API; this test pins what only the table shows: the
// handshake, the zero-device reason, and that work queued on a stream runs on the stream's
// worker, after the call that queued it has returned.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_backend_entry(const porta_backend_host_t* host,
                                              const porta_backend_table_t** out_table,
                                              porta_be_msg msg);

namespace {

TEST(AcmeBackend, ServesItsTableAndRefusesAnotherMajor) {
  const porta_backend_table_t* table = porta::test::Table(porta_backend_entry);
  ASSERT_NE(table, nullptr);
  EXPECT_STREQ(table->name, "acme");
  EXPECT_EQ(table->struct_size, sizeof(porta_backend_table_t));
  EXPECT_EQ(table->abi_minor, PORTA_BACKEND_ABI_MINOR);
  porta::test::ExpectRefusesOtherMajor(porta_backend_entry);
}

TEST(AcmeBackend, ZeroDevicesComeWithTheReason) {
  porta::test::ScopedEnv env("ACME_DEVICES", "0");
  const porta_backend_table_t* table = porta::test::Table(porta_backend_entry);
  ASSERT_NE(table, nullptr);
  const porta_backend_host_t host = porta::test::Host();
  porta::test::Message message;
  porta_be_backend_t backend = nullptr;
  ASSERT_EQ(table->init(&host, &backend, message.get()), PORTA_OK) << message.text;
  uint32_t count = 99;
  EXPECT_EQ(table->device_count(backend, &count, message.get()), PORTA_OK);
  EXPECT_EQ(count, 0u);
  EXPECT_NE(std::string(message.text).find("ACME_DEVICES=0"), std::string::npos) << message.text;
  table->shutdown(backend);
}

// Blocks until the flag its scalar argument points at is set.
int32_t WaitForFlag(const porta_host_group_t* group) {
  auto* flag = *static_cast<std::atomic<bool>* const*>(group->args[0].ptr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!flag->load()) {
    if (std::chrono::steady_clock::now() > deadline) return 99;
    std::this_thread::yield();
  }
  return 0;
}

// Reports a device fault.
int32_t Fault(const porta_host_group_t* /*group*/) {
  return 7;
}

TEST(AcmeBackend, StreamsRunWorkAsynchronouslyAndKeepFaults) {
  const porta_backend_table_t* table = porta::test::Table(porta_backend_entry);
  ASSERT_NE(table, nullptr);
  const porta_backend_host_t host = porta::test::Host();
  porta::test::Message message;
  porta_be_backend_t backend = nullptr;
  ASSERT_EQ(table->init(&host, &backend, message.get()), PORTA_OK) << message.text;
  porta_be_device_t device = nullptr;
  ASSERT_EQ(table->device_open(backend, 0, &device, message.get()), PORTA_OK) << message.text;
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(table->stream_create(device, &stream, message.get()), PORTA_OK) << message.text;
  const porta_host_kernel_t kernels[] = {{"wait_for_flag", WaitForFlag}, {"fault", Fault}};
  porta_module_source_t source = {};
  source.format = PORTA_FORMAT_HOST;
  source.data = kernels;
  source.size = sizeof(kernels);
  porta_be_module_t module = nullptr;
  ASSERT_EQ(table->module_load(device, &source, &module, message.get()), PORTA_OK) << message.text;
  porta_be_kernel_t wait = nullptr;
  porta_be_kernel_t fault = nullptr;
  ASSERT_EQ(table->module_get_kernel(module, "wait_for_flag", &wait, message.get()), PORTA_OK);
  ASSERT_EQ(table->module_get_kernel(module, "fault", &fault, message.get()), PORTA_OK);

  std::atomic<bool> flag{false};
  std::atomic<bool>* flag_address = &flag;
  porta_be_arg_t arg = {};
  arg.kind = PORTA_ARG_SCALAR;
  arg.scalar = &flag_address;
  arg.scalar_size = sizeof(flag_address);
  porta_launch_config_t config = {};
  config.grid[0] = config.grid[1] = config.grid[2] = 1;
  config.block[0] = config.block[1] = config.block[2] = 1;
  // The launch returns while its kernel still waits: the stream reports pending work.
  ASSERT_EQ(table->kernel_launch(stream, wait, &config, &arg, 1, message.get()), PORTA_OK);
  EXPECT_EQ(table->stream_query(stream, message.get()), PORTA_NOT_READY);
  flag.store(true);
  EXPECT_EQ(table->stream_synchronize(stream, message.get()), PORTA_OK) << message.text;

  // A fault is sticky: synchronize, query and every later call report it.
  ASSERT_EQ(table->kernel_launch(stream, fault, &config, nullptr, 0, message.get()), PORTA_OK);
  EXPECT_EQ(table->stream_synchronize(stream, message.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(message.text).find("'fault' returned 7"), std::string::npos)
      << message.text;
  EXPECT_EQ(table->stream_query(stream, message.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_EQ(table->kernel_launch(stream, wait, &config, &arg, 1, message.get()),
            PORTA_ERROR_DEVICE_LOST);

  table->module_destroy(module);
  table->stream_destroy(stream);
  table->device_close(device);
  table->shutdown(backend);
}

}  // namespace
