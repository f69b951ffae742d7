// Copyright (c) Lightning authors. MIT License.
//
// Change subscriptions: Database::subscribe() calls a callback for every put
// and removal committed after it returns (optionally only for keys in a
// prefix or range).
//
// Delivery model. Each subscription has its own delivery thread and a bounded
// queue of pending events. The write group leader, once a group is committed
// (in the log and the memtable, and visible to readers), appends the group's
// events to the queue of every subscription whose filter they match; the
// delivery thread then calls the callback, one event at a time. So:
//  - Events arrive in commit order (sequence order), across all writers; a
//    batch or transaction arrives whole, in order, with consecutive sequence
//    numbers. Nothing is delivered for a write that failed or a transaction
//    that conflicted, and nothing before it is visible to readers: a callback
//    that reads the key sees (at least) the event's version.
//  - The callback never runs on a writer's thread; a slow callback does not
//    slow the writers down until its queue is full (SubscribeOptions::
//    max_pending_events). Then SubscribeOptions::overflow decides:
//      kDropAndReport (default): the writer does not wait; the events that do
//        not fit are dropped and the subscriber later receives one kLost event
//        (ChangeEvent::lost_events says how many were dropped) in their place.
//      kBlockWriters: the write group leader waits for room before it makes
//        the group visible, so every writer waits for the slowest such
//        subscriber and no event is ever dropped. Its callback must not write
//        to the database (put/remove/write/commit/flush/sync_wal/compact
//        return InvalidArgument from it): that write could wait for the very
//        callback that issued it.
//  - With no subscription, the write path pays one relaxed atomic load per
//    write group.
//
// Callbacks may read the database, start transactions, and subscribe or
// unsubscribe (their own subscription included). While close() delivers the
// last queued events, the database already answers Closed. They must not call
// Database::close() (it returns InvalidArgument) or destroy the Database. An
// exception escaping a callback ends that subscription (status() says
// Aborted); no exception reaches the writer.
#ifndef LIGHTNING_SUBSCRIPTION_H_
#define LIGHTNING_SUBSCRIPTION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lightning/export.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

// The stable numbers let the C API pass them through as integers.
enum class ChangeType : uint8_t {
  kPut = 0,     // key was set to value
  kDelete = 1,  // key was removed (removing a missing key is an event too)
  kLost = 2,    // lost_events events were dropped here (kDropAndReport overflow)
};

// One committed change. The Slices point into memory owned by the delivery
// thread and are valid only during the callback: copy what you keep.
struct ChangeEvent {
  ChangeType type = ChangeType::kPut;
  // The change's sequence number (commit order). For kLost: that of the last
  // dropped event.
  uint64_t sequence = 0;
  Slice key;                 // empty for kLost
  Slice value;               // the new value for kPut; empty otherwise
  uint64_t lost_events = 0;  // kLost only
};

enum class OverflowPolicy : uint8_t {
  kDropAndReport = 0,
  kBlockWriters = 1,
};

// Which changes a subscription receives, and what happens when it falls
// behind. A plain value.
struct SubscribeOptions {
  // Only keys that begin with these bytes (compared bytewise whatever the
  // database's comparator). Empty: every key.
  std::string prefix;
  // Only keys in [start, end) in the database's comparator order; either
  // bound may be absent. Combined with prefix, a key must match both.
  std::optional<std::string> start;
  std::optional<std::string> end;
  // Events that may wait in the queue, at least 1. A single write with more
  // matching events than this is still queued whole when the queue is empty.
  size_t max_pending_events = 65536;
  OverflowPolicy overflow = OverflowPolicy::kDropAndReport;
};

// The C++ callback. The C form is (ChangeCallbackFn, void* state).
using ChangeCallback = std::function<void(const ChangeEvent& event)>;
using ChangeCallbackFn = void (*)(void* state, const ChangeEvent* event);

// The handle of one subscription (RAII): destroying it unsubscribes.
//
// Thread-safety: every method may be called from any thread, concurrently
// (the destructor, like any, only once nothing else uses the handle),
// including from inside this or another subscription's callback.
// Lifetime: the handle may outlive its Database; once the database is closed
// the subscription is over (active() is false) and the handle only reports.
class LIGHTNING_EXPORT Subscription {
 public:
  // unsubscribe().
  virtual ~Subscription();

  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Stops delivery and drops the events still queued. When it returns, the
  // callback is not running and will never run again; called from inside
  // this subscription's own callback, it returns at once and the callback is
  // not called again after the current call returns. Calling it again (or
  // after the database closed) does nothing.
  // Do not unsubscribe B from A's callback while B's callback unsubscribes A:
  // each would wait for the other.
  virtual void unsubscribe() = 0;

  // True until unsubscribe(), Database::close() (which first delivers every
  // event already queued), or an exception from the callback.
  virtual bool active() const = 0;

  // OK while active and after unsubscribe(); Closed once the database was
  // closed; Aborted (with the exception's message) if the callback threw.
  virtual Status status() const = 0;

  // Events passed to the callback so far (kLost events not counted), and
  // events dropped on overflow.
  virtual uint64_t events_delivered() const = 0;
  virtual uint64_t events_lost() const = 0;

 protected:
  Subscription() = default;
};

}  // namespace lightning

#endif  // LIGHTNING_SUBSCRIPTION_H_
