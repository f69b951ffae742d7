// Copyright (c) Lightning authors. MIT License.
//
// Clang thread-safety analysis attributes. They compile to nothing elsewhere;
// under clang with -Wthread-safety they let the compiler prove that members
// marked GUARDED_BY(mu_) are only touched with mu_ held.
#ifndef LIGHTNING_PORT_THREAD_ANNOTATIONS_H_
#define LIGHTNING_PORT_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define LIGHTNING_TSA(x) __attribute__((x))
#else
#define LIGHTNING_TSA(x)
#endif

#define CAPABILITY(x) LIGHTNING_TSA(capability(x))
#define SCOPED_CAPABILITY LIGHTNING_TSA(scoped_lockable)
#define GUARDED_BY(x) LIGHTNING_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) LIGHTNING_TSA(pt_guarded_by(x))
#define ACQUIRED_AFTER(...) LIGHTNING_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) LIGHTNING_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) LIGHTNING_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) LIGHTNING_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) LIGHTNING_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) LIGHTNING_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) LIGHTNING_TSA(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS LIGHTNING_TSA(no_thread_safety_analysis)

#endif  // LIGHTNING_PORT_THREAD_ANNOTATIONS_H_
