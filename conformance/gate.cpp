// The host gate kernel (see gate.h).
#include "conformance/gate.h"

#include <chrono>
#include <cstring>
#include <thread>

namespace porta_cts {
namespace {

int32_t GateKernel(const porta_host_group_t* group) {
  if (group->arg_count != 1 || group->args[0].size != sizeof(HostGate::State*)) return 1;
  HostGate::State* state = nullptr;
  std::memcpy(&state, group->args[0].ptr, sizeof(state));
  state->started.fetch_add(1);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(HostGate::kTimeoutMs);
  bool opened = state->open.load();
  while (!opened && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    opened = state->open.load();
  }
  // The last access to |state|: after this the owner may free it.
  state->finished.fetch_add(1);
  return opened ? 0 : HostGate::kTimeoutCode;
}

const porta_host_kernel_t kGateKernels[] = {{"porta_cts_gate", GateKernel}};

}  // namespace

HostGate::~HostGate() {
  Open();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (state_->finished.load() < launched_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (state_->finished.load() < launched_) {
    // A gate kernel never ran to the end (a backend lost it): keep the state alive rather than
    // let the kernel touch freed memory later.
    static_cast<void>(state_.release());
  }
  if (module_ != nullptr) porta_module_destroy(module_);
}

porta_status_t HostGate::Load(porta_device_t device) {
  porta_module_source_t source = {};
  source.format = PORTA_FORMAT_HOST;
  source.data = kGateKernels;
  source.size = sizeof(kGateKernels);
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = &source;
  desc.source_count = 1;
  porta_status_t status = porta_module_load(device, &desc, &module_);
  if (status != PORTA_OK) return status;
  return porta_module_get_kernel(module_, "porta_cts_gate", &kernel_);
}

porta_status_t HostGate::Close(porta_stream_t stream) {
  state_->open.store(false);
  State* state = state_.get();
  const porta_kernel_arg_t arg = porta_arg_scalar(&state, sizeof(state));
  const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  porta_status_t status = porta_kernel_launch(stream, kernel_, &config, &arg, 1);
  if (status == PORTA_OK) ++launched_;
  return status;
}

void HostGate::Open() {
  state_->open.store(true);
}

bool HostGate::started() const {
  return state_->started.load() > 0;
}

}  // namespace porta_cts
