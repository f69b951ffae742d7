// Copyright (c) Lightning authors. MIT License.
//
// LIGHTNING_EXPORT marks the public C++ API (classes and free functions of
// include/lightning/*.h). libLightning is compiled with hidden visibility
// (-fvisibility=hidden -fvisibility-inlines-hidden), so only what carries this
// mark, plus the C API of lightning_db.h (its own LIGHTNING_C_API), is
// exported from libLightning.so; the engine's internals, the codecs it links
// and the standard-library code instantiated inside it are not. On a class
// it exports the class's out-of-line members, vtable and typeinfo (a consumer
// may derive from Comparator, Env, Iterator, ...). For a static libLightning.a
// the mark changes nothing.
//
// Thread-safety and lifetime: a macro; nothing at run time.
#ifndef LIGHTNING_EXPORT_H_
#define LIGHTNING_EXPORT_H_

#if defined(_WIN32)
#if defined(LIGHTNING_BUILDING_LIBRARY)
#define LIGHTNING_EXPORT __declspec(dllexport)
#else
#define LIGHTNING_EXPORT
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define LIGHTNING_EXPORT [[gnu::visibility("default")]]
#else
#define LIGHTNING_EXPORT
#endif

#endif  // LIGHTNING_EXPORT_H_
