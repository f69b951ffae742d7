// Copyright (c) Lightning authors. MIT License.
//
// FunctionRef<R(Args...)>: a non-owning reference to a callable, for
// callbacks that are only called during the call they are passed to (e.g.
// Table::get's entry callback). Unlike std::function it never allocates and
// costs one indirect call, which matters on the point-read path where a
// lambda capturing a handful of references would otherwise be copied to the
// heap on every table probe.
//
// Lifetime: refers to the callable it was made from, which must outlive every
// call; pass lambdas as temporaries directly to the function taking the
// FunctionRef, never store one.
// Thread-safety: as the referenced callable.
#ifndef LIGHTNING_UTIL_FUNCTION_REF_H_
#define LIGHTNING_UTIL_FUNCTION_REF_H_

#include <type_traits>
#include <utility>

namespace lightning {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                                    std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): implicit by design
      : object_(const_cast<void*>(static_cast<const void*>(&f))), call_(&Call<std::remove_reference_t<F>>) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  template <typename F>
  static R Call(void* object, Args... args) {
    return (*static_cast<F*>(object))(std::forward<Args>(args)...);
  }

  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace lightning

#endif  // LIGHTNING_UTIL_FUNCTION_REF_H_
