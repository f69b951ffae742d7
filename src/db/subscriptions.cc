// Copyright (c) Lightning authors. MIT License.
#include "db/subscriptions.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <new>
#include <thread>
#include <utility>

namespace lightning {

Subscription::~Subscription() = default;

// One subscription: its filter, queue and delivery thread. Shared by the hub
// (while registered, or until its thread is joined) and the handle.
class SubscriptionState {
 public:
  SubscriptionState(const SubscriptionHub* hub, const Comparator* cmp, ChangeCallback callback,
                    const SubscribeOptions& options)
      : hub_(hub), cmp_(cmp), callback_(std::move(callback)), options_(options) {}

  ~SubscriptionState() {
    // Every owner joins before letting go; this is the last line of defence
    // against std::terminate from a joinable std::thread.
    join();
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  bool blocking() const { return options_.overflow == OverflowPolicy::kBlockWriters; }
  // Set at registration, before the hub shares the state with writers.
  void set_first_sequence(SequenceNumber first) { first_sequence_ = first; }
  const SubscriptionHub* hub() const { return hub_; }

  bool matches(const Slice& key) const {
    if (!options_.prefix.empty()) {
      if (key.size() < options_.prefix.size() ||
          std::memcmp(key.data(), options_.prefix.data(), options_.prefix.size()) != 0) {
        return false;
      }
    }
    if (options_.start.has_value() && cmp_->compare(key, Slice(*options_.start)) < 0) return false;
    if (options_.end.has_value() && cmp_->compare(key, Slice(*options_.end)) >= 0) return false;
    return true;
  }

  bool wants_sequence(SequenceNumber sequence) const { return sequence >= first_sequence_; }

  // How many of group's events this subscription wants, and the sequence of
  // the last of them.
  uint64_t count_matching(const CommittedGroup& group, SequenceNumber* last_sequence) const {
    uint64_t n = 0;
    for (size_t i = first_index(group); i < group.ops.size(); i++) {
      if (matches(group.ops[i].key)) {
        n++;
        *last_sequence = group.first_sequence + i;
      }
    }
    return n;
  }

  // The first of group's ops numbered at or after first_sequence_ (a group
  // published just before registration carries none).
  size_t first_index(const CommittedGroup& group) const {
    if (group.first_sequence >= first_sequence_) return 0;
    return static_cast<size_t>(std::min<uint64_t>(first_sequence_ - group.first_sequence, group.ops.size()));
  }

  void wait_for_room(const CommittedGroup& group) {
    SequenceNumber last = 0;
    const uint64_t n = count_matching(group, &last);
    if (n == 0) return;
    std::unique_lock<std::mutex> l(mu_);
    // A group bigger than the whole queue goes in when the queue is empty.
    room_cv_.wait(
        l, [&] { return stopping_ || draining_ || pending_ == 0 || pending_ + n <= options_.max_pending_events; });
  }

  // May throw std::bad_alloc (the caller then aborts the subscription).
  void enqueue(const std::shared_ptr<const CommittedGroup>& group) {
    SequenceNumber last = 0;
    const uint64_t n = count_matching(*group, &last);
    if (n == 0) return;
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ || draining_) return;
    const bool fits = pending_ == 0 || pending_ + n <= options_.max_pending_events;
    if (!fits && !blocking()) {
      // Consecutive losses merge into one report.
      if (queue_.empty() || queue_.back().group != nullptr) queue_.push_back(Entry{});
      queue_.back().lost += n;
      queue_.back().last_lost_sequence = last;
      lost_.fetch_add(n, std::memory_order_relaxed);
    } else {
      queue_.push_back(Entry{group, n, 0, 0});
      pending_ += n;
    }
    wake_cv_.notify_one();
  }

  // Stops delivery: drops the queue; the callback is not called again once
  // the current call (if any) returns.
  void request_stop(const Status& why) {
    std::lock_guard<std::mutex> l(mu_);
    stop_locked(why);
  }

  // Delivers what is queued, then stops with status Closed.
  void request_drain() {
    std::lock_guard<std::mutex> l(mu_);
    draining_ = true;
    wake_cv_.notify_one();
  }

  // Waits for the delivery thread to end. Never from that thread.
  void join() {
    std::lock_guard<std::mutex> l(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  bool exited() const { return exited_.load(std::memory_order_acquire); }
  bool active() const {
    std::lock_guard<std::mutex> l(mu_);
    return !stopping_ && !draining_;
  }
  Status status() const {
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }
  bool on_own_thread() const;

 private:
  struct Entry {
    std::shared_ptr<const CommittedGroup> group;  // null: a loss report
    uint64_t matching = 0;                        // events of group queued for us
    uint64_t lost = 0;
    SequenceNumber last_lost_sequence = 0;
  };

  void stop_locked(const Status& why) {
    if (!stopping_) {
      stopping_ = true;
      if (status_.ok()) status_ = why;
      stop_flag_.store(true, std::memory_order_release);
    }
    queue_.clear();
    pending_ = 0;
    wake_cv_.notify_one();
    room_cv_.notify_all();
  }

  void run();
  // Calls the callback for entry's events; false if the subscription stopped.
  bool deliver(const Entry& entry);

  const SubscriptionHub* const hub_;  // identity only (called_from_callback)
  const Comparator* const cmp_;
  const ChangeCallback callback_;
  const SubscribeOptions options_;
  SequenceNumber first_sequence_ = 0;  // events numbered below are not ours

  mutable std::mutex mu_;
  std::condition_variable wake_cv_;  // the delivery thread waits for events
  std::condition_variable room_cv_;  // a kBlockWriters leader waits for room
  std::deque<Entry> queue_;
  uint64_t pending_ = 0;  // matching events queued
  bool stopping_ = false;
  bool draining_ = false;
  Status status_;
  // stopping_, readable between two events without the mutex.
  std::atomic<bool> stop_flag_{false};
  std::atomic<uint64_t> delivered_{0}, lost_{0};
  std::atomic<bool> exited_{false};

  std::mutex join_mu_;
  std::thread thread_;
};

namespace {
// The subscription whose callback this thread delivers, if any.
thread_local const SubscriptionState* t_delivering = nullptr;
}  // namespace

bool SubscriptionState::on_own_thread() const { return t_delivering == this; }

void SubscriptionState::run() {
  t_delivering = this;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    wake_cv_.wait(l, [&] { return stopping_ || draining_ || !queue_.empty(); });
    if (stopping_) break;
    if (queue_.empty()) {  // draining and done
      stopping_ = true;
      stop_flag_.store(true, std::memory_order_release);
      if (status_.ok()) status_ = Status::Closed("the database was closed");
      break;
    }
    Entry entry = std::move(queue_.front());
    queue_.pop_front();
    pending_ -= entry.matching;
    room_cv_.notify_all();
    l.unlock();
    const bool go_on = deliver(entry);
    entry.group.reset();  // outside the lock: may free a large group
    l.lock();
    if (!go_on) break;
  }
  l.unlock();
  t_delivering = nullptr;
  exited_.store(true, std::memory_order_release);
}

bool SubscriptionState::deliver(const Entry& entry) {
  try {
    if (entry.group == nullptr) {
      if (stop_flag_.load(std::memory_order_acquire)) return false;
      ChangeEvent event;
      event.type = ChangeType::kLost;
      event.sequence = entry.last_lost_sequence;
      event.lost_events = entry.lost;
      callback_(event);
      return true;
    }
    const CommittedGroup& group = *entry.group;
    for (size_t i = first_index(group); i < group.ops.size(); i++) {
      const CommittedGroup::Op& op = group.ops[i];
      if (!matches(op.key)) continue;
      // Checked before every call: unsubscribe() from the callback (or a
      // concurrent one) ends delivery in the middle of a group.
      if (stop_flag_.load(std::memory_order_acquire)) return false;
      ChangeEvent event;
      event.type = op.type;
      event.sequence = group.first_sequence + i;
      event.key = op.key;
      event.value = op.value;
      callback_(event);
      delivered_.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  } catch (const std::exception& e) {
    request_stop(Status::Aborted("the subscription callback threw an exception", e.what()));
  } catch (...) {
    request_stop(Status::Aborted("the subscription callback threw an exception"));
  }
  return false;
}

// ---------------------------------------------------------------- handle

class SubscriptionHandle final : public Subscription {
 public:
  SubscriptionHandle(std::shared_ptr<SubscriptionHub> hub, std::shared_ptr<SubscriptionState> state)
      : hub_(std::move(hub)), state_(std::move(state)) {}
  ~SubscriptionHandle() override { unsubscribe(); }

  void unsubscribe() override {
    std::shared_ptr<SubscriptionState> state;
    {
      std::lock_guard<std::mutex> l(mu_);
      state = std::move(state_);  // concurrent calls: one of them does the work
      state_for_reports_ = state != nullptr ? state : state_for_reports_;
    }
    if (state == nullptr) {
      // Another call owns the stop; wait for it unless this is the delivery
      // thread itself (which must not wait for its own end).
      const std::shared_ptr<SubscriptionState> s = reports();
      if (s != nullptr && !s->on_own_thread()) s->join();
      return;
    }
    const bool own_thread = state->on_own_thread();
    state->request_stop(Status::OK());
    hub_->unregister(state, own_thread);
    if (!own_thread) state->join();
  }

  bool active() const override {
    const auto s = reports();
    return s != nullptr && s->active();
  }
  Status status() const override {
    const auto s = reports();
    return s != nullptr ? s->status() : Status::OK();
  }
  uint64_t events_delivered() const override {
    const auto s = reports();
    return s != nullptr ? s->delivered() : 0;
  }
  uint64_t events_lost() const override {
    const auto s = reports();
    return s != nullptr ? s->lost() : 0;
  }

 private:
  std::shared_ptr<SubscriptionState> reports() const {
    std::lock_guard<std::mutex> l(mu_);
    return state_ != nullptr ? state_ : state_for_reports_;
  }

  const std::shared_ptr<SubscriptionHub> hub_;
  mutable std::mutex mu_;
  std::shared_ptr<SubscriptionState> state_;              // null once unsubscribe() started
  std::shared_ptr<SubscriptionState> state_for_reports_;  // kept for the counters afterwards
};

// ---------------------------------------------------------------- hub

SubscriptionHub::SubscriptionHub(const Comparator* user_comparator) : user_comparator_(user_comparator) {}

SubscriptionHub::~SubscriptionHub() {
  // close() normally ran; a hub destroyed without it still ends its threads.
  std::vector<std::shared_ptr<SubscriptionState>> active, retired;
  {
    std::lock_guard<std::mutex> l(mu_);
    active = std::move(active_);
    retired = std::move(retired_);
  }
  for (auto& s : active) s->request_stop(Status::Closed("the database was closed"));
  for (auto& s : active) s->join();
  for (auto& s : retired) s->join();
}

Status SubscriptionHub::create(ChangeCallback callback, const SubscribeOptions& options,
                               std::shared_ptr<SubscriptionState>* state) {
  if (!callback) return Status::InvalidArgument("subscribe: the callback is empty");
  if (options.max_pending_events == 0) return Status::InvalidArgument("subscribe: max_pending_events must be >= 1");
  if (options.overflow != OverflowPolicy::kDropAndReport && options.overflow != OverflowPolicy::kBlockWriters) {
    return Status::InvalidArgument("subscribe: unknown overflow policy");
  }
  if (options.start.has_value() && options.end.has_value() &&
      user_comparator_->compare(Slice(*options.start), Slice(*options.end)) >= 0) {
    return Status::InvalidArgument("subscribe: the range is empty (start must come before end)");
  }
  reap_exited();
  auto s = std::make_shared<SubscriptionState>(this, user_comparator_, std::move(callback), options);
  try {
    s->start();
  } catch (const std::system_error& e) {
    return Status::IOError("subscribe: cannot start the delivery thread", e.what());
  }
  *state = std::move(s);
  return Status::OK();
}

Result<std::unique_ptr<Subscription>> SubscriptionHub::register_subscription(
    const std::shared_ptr<SubscriptionState>& state, SequenceNumber last_published) {
  // On every failure below the handle's destructor stops and joins state.
  std::unique_ptr<Subscription> handle;
  try {
    handle = std::make_unique<SubscriptionHandle>(shared_from_this(), state);
  } catch (const std::bad_alloc&) {
    state->request_stop(Status::OK());
    state->join();
    return Status::IOError("out of memory");
  }
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return Status::Closed("the database is closed");
  state->set_first_sequence(last_published + 1);
  try {
    active_.push_back(state);
    // unregister() moves states from active_ to retired_ without allocating.
    retired_.reserve(active_.size() + retired_.size());
  } catch (const std::bad_alloc&) {
    return Status::IOError("out of memory");
  }
  registered_.store(active_.size(), std::memory_order_relaxed);
  return handle;
}

std::shared_ptr<const CommittedGroup> SubscriptionHub::build_group(const WriteBatch& group,
                                                                   SequenceNumber first_sequence) {
  auto g = std::make_shared<CommittedGroup>();
  g->batch = group;
  g->first_sequence = first_sequence;
  g->ops.reserve(group.count());
  struct Decoder final : WriteBatch::Handler {
    std::vector<CommittedGroup::Op>* ops;
    void put(const Slice& key, const Slice& value) override { ops->push_back({ChangeType::kPut, key, value}); }
    void remove(const Slice& key) override { ops->push_back({ChangeType::kDelete, key, Slice()}); }
  } decoder;
  decoder.ops = &g->ops;
  // The batch was just written to the memtable from the same bytes, so it
  // parses; if it somehow did not, the subscribers get what did.
  (void)g->batch.iterate(&decoder);
  return g;
}

void SubscriptionHub::wait_for_room(const CommittedGroup& group) {
  std::vector<std::shared_ptr<SubscriptionState>> blocking;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& s : active_) {
      if (s->blocking()) blocking.push_back(s);
    }
  }
  for (const auto& s : blocking) s->wait_for_room(group);
}

void SubscriptionHub::publish(const std::shared_ptr<const CommittedGroup>& group) noexcept {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& s : active_) {
    try {
      s->enqueue(group);
    } catch (const std::bad_alloc&) {
      s->request_stop(Status::Aborted("out of memory queueing change events; the subscription ended"));
    }
  }
}

void SubscriptionHub::deliver(const WriteBatch& group, SequenceNumber first_sequence) noexcept {
  std::shared_ptr<const CommittedGroup> committed;
  try {
    committed = build_group(group, first_sequence);
  } catch (...) {  // std::bad_alloc
    fail_group(group, first_sequence);
    return;
  }
  try {
    wait_for_room(*committed);
  } catch (...) {  // std::bad_alloc listing the subscriptions: publish() overfills instead
  }
  publish(committed);
}

void SubscriptionHub::fail_group(const WriteBatch& group, SequenceNumber first_sequence) noexcept {
  // Only those whose filter matches an event of the group miss something.
  struct Matcher final : WriteBatch::Handler {
    const SubscriptionState* state;
    SequenceNumber sequence;
    bool any = false;
    void put(const Slice& key, const Slice&) override { check(key); }
    void remove(const Slice& key) override { check(key); }
    void check(const Slice& key) {
      any = any || (state->wants_sequence(sequence) && state->matches(key));
      sequence++;
    }
  };
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& s : active_) {
    Matcher m;
    m.state = s.get();
    m.sequence = first_sequence;
    (void)group.iterate(&m);
    if (m.any) s->request_stop(Status::Aborted("out of memory building change events; the subscription ended"));
  }
}

void SubscriptionHub::close() noexcept {
  std::vector<std::shared_ptr<SubscriptionState>> active, retired;
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    active = std::move(active_);
    active_.clear();
    registered_.store(0, std::memory_order_relaxed);
    retired = std::move(retired_);
    retired_.clear();
  }
  for (auto& s : active) s->request_drain();
  for (auto& s : active) s->join();
  for (auto& s : retired) s->join();
}

bool SubscriptionHub::called_from_callback() const { return t_delivering != nullptr && t_delivering->hub() == this; }

bool SubscriptionHub::called_from_blocking_callback() const {
  return called_from_callback() && t_delivering->blocking();
}

void SubscriptionHub::unregister(const std::shared_ptr<SubscriptionState>& state, bool from_own_thread) noexcept {
  std::lock_guard<std::mutex> l(mu_);
  auto it = std::find(active_.begin(), active_.end(), state);
  if (it == active_.end()) return;  // close() took it (and joins it)
  active_.erase(it);
  registered_.store(active_.size(), std::memory_order_relaxed);
  if (from_own_thread) retired_.push_back(state);
}

void SubscriptionHub::reap_exited() {
  std::vector<std::shared_ptr<SubscriptionState>> done;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto keep = std::partition(retired_.begin(), retired_.end(), [](const auto& s) { return !s->exited(); });
    done.assign(std::make_move_iterator(keep), std::make_move_iterator(retired_.end()));
    retired_.erase(keep, retired_.end());
  }
  for (auto& s : done) s->join();
}

}  // namespace lightning
