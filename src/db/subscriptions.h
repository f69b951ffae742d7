// Copyright (c) Lightning authors. MIT License.
//
// SubscriptionHub: the engine side of Database::subscribe()
// (lightning/subscription.h). The write group leader hands each committed
// group to the hub; the hub queues the matching events for every
// subscription, whose own delivery thread calls its callback.
//
// Ordering: only the write leader calls deliver(), once per committed group,
// before it hands leadership on, so groups are queued in commit order.
// Subscriptions are registered under the database mutex with the last
// published sequence, and the leader decides whether to call deliver() under
// that mutex right after publishing its group: a subscription receives
// exactly the events numbered after its registration.
#ifndef LIGHTNING_DB_SUBSCRIPTIONS_H_
#define LIGHTNING_DB_SUBSCRIPTIONS_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "db/dbformat.h"
#include "lightning/comparator.h"
#include "lightning/subscription.h"
#include "lightning/write_batch.h"

namespace lightning {

// One committed write group, as the subscribers see it. Immutable once
// built; shared by every subscription's queue.
struct CommittedGroup {
  struct Op {
    ChangeType type;
    Slice key;    // into batch
    Slice value;  // into batch
  };
  WriteBatch batch;  // a copy of the group's operations
  SequenceNumber first_sequence = 0;
  std::vector<Op> ops;  // ops[i] has sequence first_sequence + i
};

class SubscriptionState;

class SubscriptionHub : public std::enable_shared_from_this<SubscriptionHub> {
 public:
  // user_comparator orders range filters; it must outlive the hub's
  // subscriptions' delivery (the database keeps it alive until close()).
  explicit SubscriptionHub(const Comparator* user_comparator);
  // Stops and joins every delivery thread still running.
  ~SubscriptionHub();

  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // The write path's only cost without subscribers: one relaxed load.
  // Read under the database mutex it sees every registration made before
  // (registration runs under that mutex); a stale true only costs a
  // deliver() that finds nobody.
  bool has_subscribers() const { return registered_.load(std::memory_order_relaxed) > 0; }

  // Checks callback and options, and starts the subscription's delivery
  // thread, not yet registered (it receives nothing until it is).
  // InvalidArgument for an empty callback or bad options.
  Status create(ChangeCallback callback, const SubscribeOptions& options, std::shared_ptr<SubscriptionState>* state);
  // Registers state and returns its handle; Closed (and the state stopped)
  // once close() ran. Called under the database mutex with the last
  // published sequence: the subscription receives the events numbered after
  // it.
  Result<std::unique_ptr<Subscription>> register_subscription(const std::shared_ptr<SubscriptionState>& state,
                                                              SequenceNumber last_published);

  // Hands a committed group (numbered from first_sequence) to the
  // subscriptions. Called by the write leader after the group is visible to
  // readers and before its writers are acknowledged, without the database
  // mutex but still as leader, so groups arrive in commit order. Waits for
  // room in kBlockWriters queues; drops (and reports) for kDropAndReport
  // ones. If memory runs out, the subscriptions that would miss an event end
  // with status Aborted; the write itself is unaffected.
  void deliver(const WriteBatch& group, SequenceNumber first_sequence) noexcept;

  // Database::close(): refuses new subscriptions, lets each delivery thread
  // deliver what it has queued, then stops and joins them (status Closed).
  // Must not be called from a callback (see called_from_callback()).
  void close() noexcept;

  // Whether the calling thread is running a callback of this hub (of a
  // kBlockWriters subscription, for the second).
  bool called_from_callback() const;
  bool called_from_blocking_callback() const;

 private:
  friend class SubscriptionHandle;
  // Handle side of unsubscribe(): forgets state; from its own delivery thread
  // keeps it to be joined later (reap_exited(), close(), the destructor).
  void unregister(const std::shared_ptr<SubscriptionState>& state, bool from_own_thread) noexcept;
  // Joins self-unsubscribed states whose threads have finished.
  void reap_exited();
  std::shared_ptr<const CommittedGroup> build_group(const WriteBatch& group, SequenceNumber first_sequence);
  void wait_for_room(const CommittedGroup& group);
  void publish(const std::shared_ptr<const CommittedGroup>& group) noexcept;
  void fail_group(const WriteBatch& group, SequenceNumber first_sequence) noexcept;

  const Comparator* const user_comparator_;
  std::mutex mu_;
  bool closed_ = false;                                      // guarded by mu_
  std::vector<std::shared_ptr<SubscriptionState>> active_;   // guarded by mu_
  std::vector<std::shared_ptr<SubscriptionState>> retired_;  // guarded by mu_; threads not yet joined
  std::atomic<size_t> registered_{0};                        // active_.size()
};

}  // namespace lightning

#endif  // LIGHTNING_DB_SUBSCRIPTIONS_H_
