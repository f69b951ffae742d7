// Copyright (c) Lightning authors. MIT License.
#include "db/snapshot.h"

#include <algorithm>

namespace lightning {

Snapshot::~Snapshot() = default;

class SnapshotImpl final : public Snapshot {
 public:
  SnapshotImpl(std::shared_ptr<SnapshotList> list, SequenceNumber sequence)
      : list_(std::move(list)), sequence_(sequence) {}
  ~SnapshotImpl() override { list_->release(sequence_); }
  uint64_t sequence() const override { return sequence_; }
  const SnapshotList* list() const { return list_.get(); }

 private:
  const std::shared_ptr<SnapshotList> list_;
  const SequenceNumber sequence_;
};

std::shared_ptr<const Snapshot> SnapshotList::take() {
  port::MutexLock l(&mu_);
  const SequenceNumber sequence = last_sequence_->load(std::memory_order_acquire);
  auto snapshot = std::make_shared<SnapshotImpl>(shared_from_this(), sequence);
  live_[sequence]++;
  return snapshot;
}

void SnapshotList::release(SequenceNumber sequence) {
  port::MutexLock l(&mu_);
  auto it = live_.find(sequence);
  if (it != live_.end() && --it->second == 0) live_.erase(it);
}

SequenceNumber SnapshotList::oldest() const {
  port::MutexLock l(&mu_);
  const SequenceNumber last = last_sequence_->load(std::memory_order_acquire);
  return live_.empty() ? last : std::min(last, live_.begin()->first);
}

size_t SnapshotList::count() const {
  port::MutexLock l(&mu_);
  size_t n = 0;
  for (const auto& [sequence, count] : live_) n += count;
  return n;
}

bool SnapshotList::owns(const Snapshot* snapshot) const {
  const auto* impl = dynamic_cast<const SnapshotImpl*>(snapshot);
  return impl != nullptr && impl->list() == this;
}

}  // namespace lightning
