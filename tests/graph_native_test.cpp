// The runtime's side of native graphs, against the graphs test plugin (tests/plugins/
// mini_backend.cpp with MINI_GRAPHS): runs of device-side nodes go to the backend as native
// graphs, a backend without graph_update_kernel_args gets a rebuilt graph after an update, a
// replay the backend declines goes node by node, and every native graph is destroyed (the plugin
// aborts at shutdown otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

using GraphNativeTest = LoaderTest;

constexpr uint32_t kN = 256;
constexpr uint32_t kBlock = 64;
constexpr uint64_t kBytes = kN * sizeof(float);

// y[i] += alpha * x[i] for the group's elements: args y, x, alpha.
int32_t ScaleAdd(const porta_host_group_t* group) {
  auto* y = static_cast<float*>(group->args[0].ptr);
  const auto* x = static_cast<const float*>(group->args[1].ptr);
  float alpha = 0.0f;
  std::memcpy(&alpha, group->args[2].ptr, sizeof(alpha));
  const uint32_t first = group->group_id[0] * group->group_size[0];
  for (uint32_t i = first; i < first + group->group_size[0] && i < kN; ++i) y[i] += alpha * x[i];
  return 0;
}

const porta_host_kernel_t kKernels[] = {{"scale_add", ScaleAdd}};

class Fixture {
 public:
  explicit Fixture(RuntimePtr* runtime) {
    EXPECT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GRAPHS}, runtime), PORTA_OK)
        << porta_last_error_message();
    if (!*runtime) return;
    device = FindDevice(runtime->get(), "graphs");
    EXPECT_NE(device, nullptr) << Diagnostics(runtime->get());
  }
  porta_device_t device = nullptr;
};

TEST_F(GraphNativeTest, RebuildsAfterUpdatesAndFallsBackWhenALaunchIsDeclined) {
  RuntimePtr runtime;
  Fixture fixture(&runtime);
  porta_device_t device = fixture.device;
  ASSERT_NE(device, nullptr);
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  porta_module_source_t source = {};
  source.format = PORTA_FORMAT_HOST;
  source.data = kKernels;
  source.size = sizeof(kKernels);
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = &source;
  desc.source_count = 1;
  porta_module_t module = nullptr;
  ASSERT_EQ(porta_module_load(device, &desc, &module), PORTA_OK) << porta_last_error_message();
  porta_kernel_t kernel = nullptr;
  ASSERT_EQ(porta_module_get_kernel(module, "scale_add", &kernel), PORTA_OK);
  porta_buffer_t x = nullptr, y = nullptr, z = nullptr;
  for (porta_buffer_t* b : {&x, &y, &z}) {
    ASSERT_EQ(porta_buffer_alloc(device, kBytes, PORTA_MEMORY_DEVICE, b), PORTA_OK);
  }
  std::vector<float> hx(kN);
  for (uint32_t i = 0; i < kN; ++i) hx[i] = static_cast<float>(i % 13) - 6.0f;
  std::vector<float> out(kN, -1.0f);
  const float zero = 0.0f, one = 1.0f, three = 3.0f;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.grid[0] = kN / kBlock;
  config.block[0] = kBlock;
  auto launch = [&](porta_buffer_t dst, const float* alpha) {
    const porta_kernel_arg_t args[] = {porta_arg_buffer(dst, 0), porta_arg_buffer(x, 0),
                                       porta_arg_scalar(alpha, 4)};
    return porta_kernel_launch(stream.get(), kernel, &config, args, 3);
  };

  // Nodes: h2d copy | fill, launch, launch | d2h copy: one run of three device-side nodes.
  ASSERT_EQ(porta_stream_begin_capture(stream.get()), PORTA_OK);
  ASSERT_EQ(porta_copy_host_to_device(stream.get(), x, 0, hx.data(), kBytes), PORTA_OK);
  ASSERT_EQ(porta_fill_buffer(stream.get(), y, 0, kBytes, &zero, 4), PORTA_OK);
  ASSERT_EQ(launch(y, &one), PORTA_OK);
  ASSERT_EQ(launch(y, &one), PORTA_OK);
  ASSERT_EQ(porta_copy_device_to_host(stream.get(), out.data(), y, 0, kBytes), PORTA_OK);
  porta_graph_t graph = nullptr;
  ASSERT_EQ(porta_stream_end_capture(stream.get(), &graph), PORTA_OK) << porta_last_error_message();
  porta_graph_exec_t exec = nullptr;
  ASSERT_EQ(porta_graph_instantiate(graph, &exec), PORTA_OK) << porta_last_error_message();
  uint32_t native = 0;
  ASSERT_EQ(porta_graph_exec_native_node_count(exec, &native), PORTA_OK);
  EXPECT_EQ(native, 3u);

  // Six replays: the plugin declines every third, which must not change the result.
  for (int r = 0; r < 6; ++r) {
    std::fill(out.begin(), out.end(), -1.0f);
    ASSERT_EQ(porta_graph_launch(exec, stream.get()), PORTA_OK) << porta_last_error_message();
    ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK);
    for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], 2.0f * hx[i]) << "replay " << r;
  }

  // The plugin has no update slot: the runtime retires the graph and builds a new one, which
  // must carry the new scalar (node 3) and the new buffer (node 2: into z, which is not read).
  const porta_kernel_arg_t first[] = {porta_arg_buffer(z, 0), porta_arg_buffer(x, 0),
                                      porta_arg_scalar(&one, 4)};
  const porta_kernel_arg_t second[] = {porta_arg_buffer(y, 0), porta_arg_buffer(x, 0),
                                       porta_arg_scalar(&three, 4)};
  ASSERT_EQ(porta_graph_exec_update_kernel_args(exec, 2, first, 3), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_graph_exec_update_kernel_args(exec, 3, second, 3), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_graph_exec_native_node_count(exec, &native), PORTA_OK);
  EXPECT_EQ(native, 3u);
  for (int r = 0; r < 3; ++r) {
    std::fill(out.begin(), out.end(), -1.0f);
    ASSERT_EQ(porta_graph_launch(exec, stream.get()), PORTA_OK) << porta_last_error_message();
    ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK);
    for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], 3.0f * hx[i]) << "updated replay " << r;
  }

  // With PORTA_GRAPH_NATIVE=0 this process would replay node by node; the switch is read once,
  // so it is covered by running the CTS with it, not here.
  EXPECT_EQ(porta_graph_exec_destroy(exec), PORTA_OK);
  EXPECT_EQ(porta_graph_destroy(graph), PORTA_OK);
  EXPECT_EQ(porta_module_destroy(module), PORTA_OK);
  for (porta_buffer_t b : {x, y, z}) EXPECT_EQ(porta_buffer_free(b), PORTA_OK);
}

}  // namespace
}  // namespace porta_test
