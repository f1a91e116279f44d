// Streams: command recording into batches, submission ordered by a timeline semaphore, and
// retirement of completed batches (host copies of read-backs, staging and descriptor memory);
// events as timeline values with a timestamp slot; the stream and event slots.
#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <system_error>

#include "backends/vulkan/vulkan_objects.h"
#include "porta/sdk/message.h"

namespace porta::vulkan {
namespace {

using common::Fail;

// A batch is submitted once it holds this many commands, so the GPU starts early on long
// sequences without paying a submission per command.
constexpr uint32_t kBatchCommands = 128;
// Back-pressure: recording blocks on the oldest batch beyond these amounts in flight.
constexpr size_t kMaxBatchesInFlight = 64;
constexpr uint64_t kMaxStagingInFlight = uint64_t{512} << 20;
constexpr uint32_t kDescriptorPoolSets = 64;
constexpr uint32_t kDescriptorPoolBuffers = 512;

constexpr VkAccessFlags kDeviceWrites = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkAccessFlags kDeviceAccesses = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                          VK_ACCESS_TRANSFER_READ_BIT |
                                          VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkPipelineStageFlags kDeviceStages =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

}  // namespace

void RecordInOrderBarrier(const DeviceFunctions& vk, VkCommandBuffer cmd) {
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = kDeviceWrites;
  barrier.dstAccessMask = kDeviceAccesses;
  vk.vkCmdPipelineBarrier(cmd, kDeviceStages, kDeviceStages, 0, 1, &barrier, 0, nullptr, 0,
                          nullptr);
}

porta_status_t StreamCore::Create(Device* device, std::shared_ptr<StreamCore>* out,
                                  porta_be_msg msg) {
  std::shared_ptr<StreamCore> core(new StreamCore(device));
  const DeviceFunctions& vk = device->vk;
  core->queue_ = device->queues[device->next_queue.fetch_add(1) % device->queues.size()].get();
  VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  type.initialValue = 0;
  VkSemaphoreCreateInfo semaphore{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
  porta_status_t status =
      device->Check(vk.vkCreateSemaphore(device->device, &semaphore, nullptr, &core->timeline_),
                    "vkCreateSemaphore (timeline)", msg);
  if (status != PORTA_OK) return status;
  VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool.flags =
      VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT | VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  pool.queueFamilyIndex = device->physical->queue_family;
  status = device->Check(vk.vkCreateCommandPool(device->device, &pool, nullptr, &core->pool_),
                         "vkCreateCommandPool", msg);
  if (status != PORTA_OK) return status;
  *out = std::move(core);
  return PORTA_OK;
}

StreamCore::~StreamCore() {
  // The threads take mutex_ on their way out; nothing else holds it now.
  for (HostCall& call : host_calls_) call.thread.join();
  const DeviceFunctions& vk = device_->vk;
  if (!in_flight_.empty() && !device_->lost.load()) {
    // The runtime synchronizes a stream before destroying it, so this only happens on error
    // paths; the GPU must be done with the batches before their memory goes away.
    VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    wait.semaphoreCount = 1;
    wait.pSemaphores = &timeline_;
    wait.pValues = &submitted_;
    vk.vkWaitSemaphores(device_->device, &wait, UINT64_MAX);
  }
  if (submitted_ > 0 && !device_->lost.load()) {
    // Seeing the timeline reach its last value does not mean the queue is done with this
    // stream's objects: lavapipe's queue thread still touches the semaphore after the signal,
    // and destroying it then corrupts memory. Vulkan requires every batch that refers to the
    // semaphore, command buffers and memory below to have completed, which this guarantees.
    std::lock_guard<std::mutex> queue_lock(queue_->mutex);
    vk.vkQueueWaitIdle(queue_->queue);
  }
  auto release = [this, &vk](Batch& batch) {
    for (const StagingBlock& block : batch.staging) device_->ReleaseStaging(block);
    for (VkDescriptorPool pool : batch.descriptor_pools) {
      vk.vkDestroyDescriptorPool(device_->device, pool, nullptr);
    }
    for (const TimestampSlot& slot : batch.dead_timestamps) device_->DestroyTimestampSlot(slot);
  };
  for (Batch& batch : in_flight_) release(batch);
  release(open_);
  for (VkDescriptorPool pool : free_descriptor_pools_) {
    vk.vkDestroyDescriptorPool(device_->device, pool, nullptr);
  }
  // Destroying the pool frees its command buffers.
  if (pool_ != VK_NULL_HANDLE) vk.vkDestroyCommandPool(device_->device, pool_, nullptr);
  if (timeline_ != VK_NULL_HANDLE) vk.vkDestroySemaphore(device_->device, timeline_, nullptr);
}

porta_status_t StreamCore::StickyLocked(porta_be_msg msg) {
  if (device_->lost.load()) {
    std::lock_guard<std::mutex> lock(device_->lost_mutex);
    // Set keeps the first failure: a fault recorded before the loss stays the stream's answer.
    sticky_.Set(PORTA_ERROR_DEVICE_LOST, "vulkan: the device was lost: " + device_->lost_reason);
  }
  return sticky_.Check(msg);
}

porta_status_t StreamCore::FailLocked(porta_status_t status, const std::string& text,
                                      porta_be_msg msg) {
  sticky_.Set(device_->lost.load() ? PORTA_ERROR_DEVICE_LOST : status, text);
  return StickyLocked(msg);
}

porta_status_t StreamCore::BeginCommandLocked(VkCommandBuffer* out_cmd, porta_be_msg msg) {
  if (porta_status_t sticky = StickyLocked(msg); sticky != PORTA_OK) return sticky;
  const DeviceFunctions& vk = device_->vk;
  if (open_.cmd == VK_NULL_HANDLE) {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    if (!free_cmds_.empty()) {
      cmd = free_cmds_.back();
      free_cmds_.pop_back();
    } else {
      VkCommandBufferAllocateInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      info.commandPool = pool_;
      info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      info.commandBufferCount = 1;
      porta_status_t status =
          device_->Check(vk.vkAllocateCommandBuffers(device_->device, &info, &cmd),
                         "vkAllocateCommandBuffers", msg);
      if (status != PORTA_OK) return status;
    }
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    // The pool allows per-buffer reset, so beginning a recycled buffer resets it.
    porta_status_t status =
        device_->Check(vk.vkBeginCommandBuffer(cmd, &begin), "vkBeginCommandBuffer", msg);
    if (status != PORTA_OK) {
      free_cmds_.push_back(cmd);
      return status;
    }
    open_.cmd = cmd;
    open_.commands = 0;
    open_.bound_pipeline = VK_NULL_HANDLE;
  } else if (open_.commands > 0) {
    RecordInOrderBarrier(vk, open_.cmd);
  }
  *out_cmd = open_.cmd;
  return PORTA_OK;
}

porta_status_t StreamCore::EndCommandLocked(uint32_t slot_calls, porta_be_msg msg) {
  open_.commands += slot_calls;
  if (open_.commands < kBatchCommands) return PORTA_OK;
  uint64_t value = 0;
  return FlushLocked(&value, msg);
}

porta_status_t StreamCore::AllocateStagingLocked(uint64_t size, VkBuffer* out_buffer,
                                                 uint64_t* out_offset, uint8_t** out_ptr,
                                                 porta_be_msg msg) {
  // 16-byte alignment keeps every copy region friendly to the driver's fast paths.
  const uint64_t offset = (open_.staging_used + 15) & ~uint64_t{15};
  if (open_.staging.empty() || offset + size > open_.staging.back().size) {
    StagingBlock block;
    porta_status_t status = device_->AcquireStaging(size, &block, msg);
    if (status != PORTA_OK) return status;
    open_.staging.push_back(block);
    open_.staging_used = 0;
    open_.staging_bytes += block.size;
    return AllocateStagingLocked(size, out_buffer, out_offset, out_ptr, msg);
  }
  const StagingBlock& block = open_.staging.back();
  *out_buffer = block.buffer;
  *out_offset = offset;
  *out_ptr = block.mapped + offset;
  open_.staging_used = offset + size;
  return PORTA_OK;
}

porta_status_t StreamCore::AllocateDescriptorSetLocked(const Layout& layout, VkDescriptorSet* out,
                                                       porta_be_msg msg) {
  const DeviceFunctions& vk = device_->vk;
  VkDescriptorSetAllocateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  info.descriptorSetCount = 1;
  info.pSetLayouts = &layout.set_layout;
  if (!open_.descriptor_pools.empty()) {
    info.descriptorPool = open_.descriptor_pools.back();
    if (vk.vkAllocateDescriptorSets(device_->device, &info, out) == VK_SUCCESS) return PORTA_OK;
  }
  // The current pool is full (or there is none): take a fresh one.
  VkDescriptorPool pool = VK_NULL_HANDLE;
  if (!free_descriptor_pools_.empty() && layout.buffer_count <= kDescriptorPoolBuffers &&
      layout.texel_count <= kDescriptorPoolBuffers) {
    pool = free_descriptor_pools_.back();
    free_descriptor_pools_.pop_back();
  } else {
    const VkDescriptorPoolSize sizes[2] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max(kDescriptorPoolBuffers, layout.buffer_count)},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
         std::max(kDescriptorPoolBuffers, layout.texel_count)}};
    VkDescriptorPoolCreateInfo create{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    create.maxSets = kDescriptorPoolSets;
    create.poolSizeCount = 2;
    create.pPoolSizes = sizes;
    porta_status_t status =
        device_->Check(vk.vkCreateDescriptorPool(device_->device, &create, nullptr, &pool),
                       "vkCreateDescriptorPool", msg);
    if (status != PORTA_OK) return status;
  }
  open_.descriptor_pools.push_back(pool);
  info.descriptorPool = pool;
  return device_->Check(vk.vkAllocateDescriptorSets(device_->device, &info, out),
                        "vkAllocateDescriptorSets", msg);
}

porta_status_t StreamCore::Flush(uint64_t* out_value, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(mutex_);
  return FlushLocked(out_value, msg);
}

void StreamCore::JoinHostCallsLocked() {
  // Waits with mutex_ released: a host call's thread takes it to retire the batches before it.
  host_cv_.wait(mutex_, [this] {
    return std::all_of(host_calls_.begin(), host_calls_.end(),
                       [](const HostCall& call) { return call.done->load(); });
  });
  for (HostCall& call : host_calls_) call.thread.join();
  host_calls_.clear();
}

bool StreamCore::HostCallsRunningLocked() {
  std::erase_if(host_calls_, [](HostCall& call) {
    if (!call.done->load()) return false;
    call.thread.join();
    return true;
  });
  return !host_calls_.empty();
}

porta_status_t StreamCore::AddHostCall(porta_host_fn fn, void* user_data, porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t value = 0;
  if (porta_status_t status = FlushLocked(&value, msg); status != PORTA_OK) return status;
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto run = [this, value, fn, user_data, done] {
    VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    wait.semaphoreCount = 1;
    wait.pSemaphores = &timeline_;
    wait.pValues = &value;
    bool reached = value == 0 ||
                   device_->vk.vkWaitSemaphores(device_->device, &wait, UINT64_MAX) == VK_SUCCESS;
    if (reached) {
      // The work before the call includes its copies to host memory, done when batches retire.
      {
        std::lock_guard<std::mutex> retire_lock(mutex_);
        reached = RetireLocked(nullptr) == PORTA_OK && sticky_.Check(nullptr) == PORTA_OK;
      }
      RetirePendingUpstream();
    }
    if (reached && !device_->lost.load()) fn(user_data);
    {
      std::lock_guard<std::mutex> done_lock(mutex_);
      done->store(true);
    }
    host_cv_.notify_all();
  };
  try {
    host_calls_.push_back({std::thread(std::move(run)), done});
  } catch (const std::system_error& error) {
    return Fail(msg, PORTA_ERROR_OUT_OF_MEMORY, "vulkan: no thread for the host call: %s",
                error.what());
  }
  return PORTA_OK;
}

porta_status_t StreamCore::FlushLocked(uint64_t* out_value, porta_be_msg msg) {
  *out_value = submitted_;
  if (porta_status_t sticky = StickyLocked(msg); sticky != PORTA_OK) return sticky;
  JoinHostCallsLocked();
  if (open_.cmd == VK_NULL_HANDLE && open_.waits.empty()) return PORTA_OK;
  const DeviceFunctions& vk = device_->vk;
  if (open_.cmd != VK_NULL_HANDLE) {
    // Makes device writes visible to host reads of staging and mapped memory once the timeline
    // signal is observed on the host.
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = kDeviceWrites;
    barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT;
    vk.vkCmdPipelineBarrier(open_.cmd, kDeviceStages, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                            nullptr, 0, nullptr);
    const VkResult end = vk.vkEndCommandBuffer(open_.cmd);
    if (end != VK_SUCCESS) {
      device_->Check(end, "vkEndCommandBuffer", nullptr);
      return FailLocked(PORTA_ERROR_BACKEND,
                        std::string("vulkan: vkEndCommandBuffer failed with ") + ResultName(end) +
                            "; the stream's queued work was dropped",
                        msg);
    }
  }

  // Every submission waits for the stream's previous one (command buffers of separate
  // submissions are otherwise unordered) and for the events waited on since.
  std::vector<VkSemaphore> wait_semaphores;
  std::vector<uint64_t> wait_values;
  std::vector<VkPipelineStageFlags> wait_stages;
  if (submitted_ > 0) {
    wait_semaphores.push_back(timeline_);
    wait_values.push_back(submitted_);
    wait_stages.push_back(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
  }
  for (const TimelineWait& wait : open_.waits) {
    wait_semaphores.push_back(wait.stream->timeline());
    wait_values.push_back(wait.value);
    wait_stages.push_back(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
  }
  const uint64_t signal_value = submitted_ + 1;
  VkTimelineSemaphoreSubmitInfo timeline{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
  timeline.waitSemaphoreValueCount = static_cast<uint32_t>(wait_values.size());
  timeline.pWaitSemaphoreValues = wait_values.data();
  timeline.signalSemaphoreValueCount = 1;
  timeline.pSignalSemaphoreValues = &signal_value;
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO, &timeline};
  submit.waitSemaphoreCount = static_cast<uint32_t>(wait_semaphores.size());
  submit.pWaitSemaphores = wait_semaphores.data();
  submit.pWaitDstStageMask = wait_stages.data();
  submit.commandBufferCount = open_.cmd != VK_NULL_HANDLE ? 1 : 0;
  submit.pCommandBuffers = &open_.cmd;
  submit.signalSemaphoreCount = 1;
  submit.pSignalSemaphores = &timeline_;
  VkResult result;
  {
    std::lock_guard<std::mutex> queue_lock(queue_->mutex);
    result = vk.vkQueueSubmit(queue_->queue, 1, &submit, VK_NULL_HANDLE);
  }
  if (result != VK_SUCCESS) {
    device_->Check(result, "vkQueueSubmit", nullptr);
    if (open_.cmd != VK_NULL_HANDLE) free_cmds_.push_back(open_.cmd);
    open_.cmd = VK_NULL_HANDLE;
    open_.host_copies.clear();
    open_.waits.clear();
    return FailLocked(PORTA_ERROR_BACKEND,
                      std::string("vulkan: vkQueueSubmit failed with ") + ResultName(result) +
                          "; the stream's queued work was dropped",
                      msg);
  }
  submitted_ = signal_value;
  open_.value = signal_value;
  in_flight_staging_ += open_.staging_bytes;
  in_flight_.push_back(std::move(open_));
  open_ = Batch{};
  *out_value = submitted_;
  while (in_flight_.size() > kMaxBatchesInFlight || in_flight_staging_ > kMaxStagingInFlight) {
    if (porta_status_t status = WaitOldestLocked(msg); status != PORTA_OK) return status;
  }
  return PORTA_OK;
}

void StreamCore::RetireBatch(Batch* batch) {
  const DeviceFunctions& vk = device_->vk;
  for (const HostCopy& copy : batch->host_copies) std::memcpy(copy.dst, copy.src, copy.size);
  for (const StagingBlock& block : batch->staging) device_->ReleaseStaging(block);
  for (VkDescriptorPool pool : batch->descriptor_pools) {
    vk.vkResetDescriptorPool(device_->device, pool, 0);
    free_descriptor_pools_.push_back(pool);
  }
  for (const TimestampSlot& slot : batch->dead_timestamps) device_->DestroyTimestampSlot(slot);
  if (batch->cmd != VK_NULL_HANDLE) free_cmds_.push_back(batch->cmd);
  for (TimelineWait& wait : batch->waits) pending_upstream_.push_back(std::move(wait));
  in_flight_staging_ -= batch->staging_bytes;
}

porta_status_t StreamCore::RetireLocked(porta_be_msg msg) {
  if (in_flight_.empty()) {
    retired_ = submitted_;
    return PORTA_OK;
  }
  uint64_t value = 0;
  const VkResult result =
      device_->vk.vkGetSemaphoreCounterValue(device_->device, timeline_, &value);
  if (result != VK_SUCCESS) {
    device_->Check(result, "vkGetSemaphoreCounterValue", nullptr);
    return FailLocked(
        PORTA_ERROR_BACKEND,
        std::string("vulkan: vkGetSemaphoreCounterValue failed with ") + ResultName(result), msg);
  }
  while (!in_flight_.empty() && in_flight_.front().value <= value) {
    RetireBatch(&in_flight_.front());
    in_flight_.pop_front();
  }
  retired_ = std::max(retired_, value);
  return PORTA_OK;
}

porta_status_t StreamCore::WaitOldestLocked(porta_be_msg msg) {
  if (in_flight_.empty()) return PORTA_OK;
  const uint64_t value = in_flight_.front().value;
  VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
  wait.semaphoreCount = 1;
  wait.pSemaphores = &timeline_;
  wait.pValues = &value;
  const VkResult result = device_->vk.vkWaitSemaphores(device_->device, &wait, UINT64_MAX);
  if (result != VK_SUCCESS) {
    device_->Check(result, "vkWaitSemaphores", nullptr);
    return FailLocked(PORTA_ERROR_BACKEND,
                      std::string("vulkan: vkWaitSemaphores failed with ") + ResultName(result),
                      msg);
  }
  return RetireLocked(msg);
}

bool StreamCore::IdleLocked() {
  if (open_.cmd != VK_NULL_HANDLE || !open_.waits.empty()) return false;
  if (HostCallsRunningLocked()) return false;
  if (RetireLocked(nullptr) != PORTA_OK) return false;
  // Host copies of upstream streams may still be pending; they write only host memory the
  // caller handed to those streams, never the buffers a direct copy touches.
  return in_flight_.empty() && sticky_.Check(nullptr) == PORTA_OK;
}

void StreamCore::DeferDestroyTimestamp(const TimestampSlot& slot, uint64_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Batch& batch : in_flight_) {
    if (batch.value >= value) {
      batch.dead_timestamps.push_back(slot);
      return;
    }
  }
  device_->DestroyTimestampSlot(slot);
}

void StreamCore::RetirePendingUpstream() {
  std::vector<TimelineWait> upstream;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    upstream.swap(pending_upstream_);
  }
  // The waited values have completed (a batch that waited on them has), so Poll retires them.
  for (const TimelineWait& wait : upstream) wait.stream->Poll(wait.value, nullptr);
}

porta_status_t StreamCore::Wait(uint64_t value, uint64_t timeout_ns, porta_be_msg msg) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (porta_status_t sticky = StickyLocked(msg); sticky != PORTA_OK) return sticky;
    if (value > submitted_) {
      return Fail(msg, PORTA_ERROR_INVALID_ARGUMENT,
                  "vulkan: waiting for timeline value %" PRIu64
                  " beyond the last submitted %" PRIu64,
                  value, submitted_);
    }
    if (value <= retired_ && pending_upstream_.empty()) return PORTA_OK;
  }
  if (value > 0) {
    // Without the lock: other threads keep recording on this stream while the host waits.
    VkSemaphoreWaitInfo wait{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    wait.semaphoreCount = 1;
    wait.pSemaphores = &timeline_;
    wait.pValues = &value;
    const VkResult result = device_->vk.vkWaitSemaphores(device_->device, &wait, timeout_ns);
    if (result == VK_TIMEOUT) {
      return Fail(msg, PORTA_ERROR_TIMEOUT, "vulkan: the wait timed out after %" PRIu64 " ns",
                  timeout_ns);
    }
    if (result != VK_SUCCESS) {
      std::lock_guard<std::mutex> lock(mutex_);
      device_->Check(result, "vkWaitSemaphores", nullptr);
      return FailLocked(PORTA_ERROR_BACKEND,
                        std::string("vulkan: vkWaitSemaphores failed with ") + ResultName(result),
                        msg);
    }
  }
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status = RetireLocked(msg);
  }
  RetirePendingUpstream();
  return status;
}

porta_status_t StreamCore::Query(porta_be_msg msg) {
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status = RetireLocked(msg);
    const bool open = open_.cmd != VK_NULL_HANDLE || !open_.waits.empty();
    if (status == PORTA_OK && open && in_flight_.empty()) {
      uint64_t value = 0;
      status = FlushLocked(&value, msg);
      if (status == PORTA_OK) status = RetireLocked(msg);
    }
    if (status == PORTA_OK) status = StickyLocked(msg);
    const bool pending = open_.cmd != VK_NULL_HANDLE || !open_.waits.empty() ||
                         !in_flight_.empty() || HostCallsRunningLocked();
    if (status == PORTA_OK && pending) status = PORTA_NOT_READY;
  }
  RetirePendingUpstream();
  return status;
}

porta_status_t StreamCore::Poll(uint64_t value, porta_be_msg msg) {
  porta_status_t status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status = RetireLocked(msg);
    if (status == PORTA_OK) status = StickyLocked(msg);
    if (status == PORTA_OK && retired_ < value) status = PORTA_NOT_READY;
  }
  RetirePendingUpstream();
  return status;
}

//===--- Stream slots -------------------------------------------------------------------------===//

porta_status_t StreamCreate(porta_be_device_t handle, porta_be_stream_t* out_stream,
                            porta_be_msg msg) {
  auto* device = As<Device>(handle);
  if (porta_status_t lost = device->LostStatus(msg); lost != PORTA_OK) return lost;
  auto stream = std::make_unique<Stream>();
  porta_status_t status = StreamCore::Create(device, &stream->core, msg);
  if (status == PORTA_OK) *out_stream = ToHandle<porta_be_stream_t>(stream.release());
  return CheckValidation(device, status, msg);
}

void StreamDestroy(porta_be_stream_t stream) {
  delete As<Stream>(stream);
}

porta_status_t StreamSynchronize(porta_be_stream_t stream, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  uint64_t value = 0;
  porta_status_t status = core->Flush(&value, msg);
  if (status == PORTA_OK) status = core->Wait(value, UINT64_MAX, msg);
  return CheckValidation(core->device(), status, msg);
}

porta_status_t StreamQuery(porta_be_stream_t stream, porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  return CheckValidation(core->device(), core->Query(msg), msg);
}

porta_status_t StreamNativeHandles(porta_be_stream_t stream, porta_native_handles_t* out,
                                   porta_be_msg /*msg*/) {
  StreamCore* core = CoreOf(stream);
  out->count = 3;
  out->handles[PORTA_NATIVE_VULKAN_QUEUE] = reinterpret_cast<uint64_t>(core->queue());
  out->handles[PORTA_NATIVE_VULKAN_STREAM_QUEUE_FAMILY] = core->device()->physical->queue_family;
  out->handles[PORTA_NATIVE_VULKAN_STREAM_TIMELINE] = reinterpret_cast<uint64_t>(core->timeline());
  return PORTA_OK;
}

porta_status_t StreamHostFunc(porta_be_stream_t stream, porta_host_fn fn, void* user_data,
                              porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  return CheckValidation(core->device(), core->AddHostCall(fn, user_data, msg), msg);
}

//===--- Event slots --------------------------------------------------------------------------===//

porta_status_t EventCreate(porta_be_device_t handle, uint32_t flags, porta_be_event_t* out_event,
                           porta_be_msg msg) {
  auto* device = reinterpret_cast<Device*>(handle);
  auto event = std::make_unique<Event>();
  event->device = device;
  if (!(flags & PORTA_EVENT_DISABLE_TIMING) &&
      (device->physical->info.capabilities & PORTA_CAP_TIMESTAMPS)) {
    porta_status_t status = device->CreateTimestampSlot(&event->timestamp, msg);
    if (status != PORTA_OK) return CheckValidation(device, status, msg);
  }
  *out_event = reinterpret_cast<porta_be_event_t>(event.release());
  return CheckValidation(device, PORTA_OK, msg);
}

void EventDestroy(porta_be_event_t handle) {
  Event* event = As<Event>(handle);
  if (event->timestamp.pool != VK_NULL_HANDLE) {
    if (event->stream != nullptr) {
      // The timestamp write may still be queued; the stream destroys the slot after it.
      event->stream->DeferDestroyTimestamp(event->timestamp, event->value);
    } else {
      event->device->DestroyTimestampSlot(event->timestamp);
    }
  }
  delete event;
}

porta_status_t EventRecord(porta_be_event_t handle, porta_be_stream_t stream, porta_be_msg msg) {
  Event* event = As<Event>(handle);
  StreamCore* core = CoreOf(stream);
  Device* device = core->device();
  std::lock_guard<std::mutex> event_lock(event->mutex);
  if (event->timestamp.pool != VK_NULL_HANDLE && event->stream != nullptr &&
      event->stream->Poll(event->value, nullptr) != PORTA_OK) {
    // The previous recording's timestamp write and copy may still be queued (possibly on another
    // queue); rather than order the new ones after them, take a fresh slot and retire the old
    // one later.
    TimestampSlot fresh;
    porta_status_t status = device->CreateTimestampSlot(&fresh, msg);
    if (status != PORTA_OK) return CheckValidation(device, status, msg);
    event->stream->DeferDestroyTimestamp(event->timestamp, event->value);
    event->timestamp = fresh;
  }
  porta_status_t status = PORTA_OK;
  uint64_t value = 0;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    // On a stream with nothing recorded, waited for or in flight the point is now: the event is
    // complete at once, its time read from the device clock. A submission would wait behind
    // other streams' work where streams share a queue (lavapipe has one), though nothing on this
    // stream precedes the record.
    const bool timed = event->timestamp.pool != VK_NULL_HANDLE;
    if ((!timed || device->vk.vkGetCalibratedTimestampsEXT != nullptr) && core->IdleLocked()) {
      uint64_t now = 0;
      if (timed) {
        VkCalibratedTimestampInfoEXT info{VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT};
        info.timeDomain = VK_TIME_DOMAIN_DEVICE_EXT;
        uint64_t deviation = 0;
        const VkResult result =
            device->vk.vkGetCalibratedTimestampsEXT(device->device, 1, &info, &now, &deviation);
        if (result != VK_SUCCESS) {
          return CheckValidation(device,
                                 Fail(msg, PORTA_ERROR_BACKEND,
                                      "vulkan: vkGetCalibratedTimestampsEXT failed with %s (%d)",
                                      ResultName(result), static_cast<int>(result)),
                                 msg);
        }
        *event->timestamp.result = now;
      }
      event->stream = core->shared_from_this();
      event->value = core->SubmittedLocked();
      return CheckValidation(device, PORTA_OK, msg);
    }
    if (timed) {
      VkCommandBuffer cmd = VK_NULL_HANDLE;
      status = core->BeginCommandLocked(&cmd, msg);
      if (status == PORTA_OK) {
        const TimestampSlot& slot = event->timestamp;
        device->vk.vkCmdResetQueryPool(cmd, slot.pool, 0, 1);
        // Bottom of pipe: the time at which every earlier command has finished.
        device->vk.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, slot.pool, 0);
        // The copy is a transfer write that the batch's final barrier makes visible to the host
        // once the timeline value is reached; WAIT_BIT orders it after the timestamp write.
        device->vk.vkCmdCopyQueryPoolResults(cmd, slot.pool, 0, 1, slot.buffer, 0, sizeof(uint64_t),
                                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        ++core->open_batch().commands;
      }
    }
    // The signal must be submitted before anyone can wait on it, so recording always flushes.
    if (status == PORTA_OK) status = core->FlushLocked(&value, msg);
  }
  if (status == PORTA_OK) {
    event->stream = core->shared_from_this();
    event->value = value;
  }
  return CheckValidation(device, status, msg);
}

porta_status_t StreamWaitEvent(porta_be_stream_t stream, porta_be_event_t handle,
                               porta_be_msg msg) {
  StreamCore* core = CoreOf(stream);
  Event* event = As<Event>(handle);
  TimelineWait wait;
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    wait = {event->stream, event->value};
  }
  // A never-recorded event is complete; the stream's own points are already in order.
  if (wait.stream == nullptr || wait.stream.get() == core || wait.value == 0) {
    return CheckValidation(core->device(), PORTA_OK, msg);
  }
  porta_status_t status = PORTA_OK;
  {
    std::lock_guard<std::mutex> lock(core->mutex());
    // Work recorded before the wait must not be delayed by it.
    uint64_t value = 0;
    if (core->open_batch().cmd != VK_NULL_HANDLE) status = core->FlushLocked(&value, msg);
    if (status == PORTA_OK) core->AddWaitLocked(wait);
  }
  return CheckValidation(core->device(), status, msg);
}

porta_status_t EventWait(porta_be_event_t handle, uint64_t timeout_ns, porta_be_msg msg) {
  Event* event = As<Event>(handle);
  TimelineWait point;
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    point = {event->stream, event->value};
  }
  porta_status_t status = PORTA_OK;
  if (point.stream != nullptr) status = point.stream->Wait(point.value, timeout_ns, msg);
  return CheckValidation(event->device, status, msg);
}

porta_status_t EventQuery(porta_be_event_t handle, porta_be_msg msg) {
  Event* event = As<Event>(handle);
  TimelineWait point;
  {
    std::lock_guard<std::mutex> event_lock(event->mutex);
    point = {event->stream, event->value};
  }
  porta_status_t status = PORTA_OK;
  if (point.stream != nullptr) status = point.stream->Poll(point.value, msg);
  return CheckValidation(event->device, status, msg);
}

porta_status_t EventElapsedMs(porta_be_event_t start_handle, porta_be_event_t end_handle,
                              float* out_ms, porta_be_msg msg) {
  Event* events[2] = {As<Event>(start_handle), As<Event>(end_handle)};
  Device* device = events[0]->device;
  uint64_t stamps[2] = {0, 0};
  // The runtime has checked that the device has timestamps (so events created with timing have
  // a timestamp slot) and that both events were created with timing and recorded.
  for (int i = 0; i < 2; ++i) {
    Event* event = events[i];
    // Under the event's lock, so that a concurrent re-recording cannot retire the slot between
    // the poll and the read.
    std::lock_guard<std::mutex> event_lock(event->mutex);
    // Never waits: a pending recording is PORTA_NOT_READY, a completed one has its time in the
    // slot's buffer already.
    const porta_status_t status = event->stream->Poll(event->value, msg);
    if (status != PORTA_OK) return CheckValidation(device, status, msg);
    stamps[i] = *event->timestamp.result;
  }
  const uint32_t bits = device->physical->timestamp_valid_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  // Differences are taken modulo the counter width, so one wrap-around between the two stamps
  // is harmless; a start later than the end gives a negative time, as in CUDA.
  const uint64_t forward = (stamps[1] - stamps[0]) & mask;
  const uint64_t backward = (stamps[0] - stamps[1]) & mask;
  const double ticks =
      forward <= backward ? static_cast<double>(forward) : -static_cast<double>(backward);
  *out_ms = static_cast<float>(ticks * device->physical->properties.limits.timestampPeriod / 1e6);
  return CheckValidation(device, PORTA_OK, msg);
}

}  // namespace porta::vulkan
