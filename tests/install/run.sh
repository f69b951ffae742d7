#!/usr/bin/env bash
# The install test (tests/install/CMakeLists.txt adds it to CTest, label
# "install"). Two modes:
#
#   run.sh installed ...         `cmake --install` of the already-built tree into
#                                a fresh prefix; checks what was installed (files,
#                                SONAME, the exported symbols), then builds and
#                                runs the C++ and C consumers four ways:
#                                find_package shared/static, pkg-config
#                                shared/static.
#   run.sh add_subdirectory ...  a parent project that includes the source tree
#                                (tests/bench off by default there), built and run.
#
# Options (all given by CTest, as --name=value): --source-dir --build-dir
# --work-dir --cmake --generator --c-compiler --cxx-compiler --build-type
# --sanitize --launcher --werror --shared (1 when libLightning.so was built).
set -euo pipefail

mode=$1
shift
source_dir= build_dir= work_dir= cmake=cmake generator=Ninja c_compiler=cc cxx_compiler=c++ build_type=Debug
sanitize= launcher= werror=OFF shared=1
for option in "$@"; do
  value=${option#*=}
  case $option in
    --source-dir=*) source_dir=$value ;;
    --build-dir=*) build_dir=$value ;;
    --work-dir=*) work_dir=$value ;;
    --cmake=*) cmake=$value ;;
    --generator=*) generator=$value ;;
    --c-compiler=*) c_compiler=$value ;;
    --cxx-compiler=*) cxx_compiler=$value ;;
    --build-type=*) build_type=$value ;;
    --sanitize=*) sanitize=$value ;;
    --launcher=*) launcher=$value ;;
    --werror=*) werror=$value ;;
    --shared=*) shared=$value ;;
    *) echo "run.sh: unknown option $option" >&2; exit 2 ;;
  esac
done
[ -n "$source_dir" ] && [ -n "$work_dir" ] || { echo "run.sh: --source-dir and --work-dir are required" >&2; exit 2; }
consumer_dir=$source_dir/tests/install

fail() {
  echo "install test: FAILED: $*" >&2
  exit 1
}
step() { echo "=== $*"; }

# What every consumer build is given: the build's compilers (clang for TSan)
# and type; a sanitized library needs the sanitizer runtime in the program
# (the CMake targets carry that link option; pkg-config does not).
cmake_consumer_args=(-G "$generator" -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_C_COMPILER="$c_compiler"
                     -DCMAKE_CXX_COMPILER="$cxx_compiler")
sanitizer_flags=()
if [ -n "$sanitize" ]; then
  sanitizer_flags=(-fsanitize="$sanitize" -fno-omit-frame-pointer)
fi

# needs_liblightning <program>: whether the program loads libLightning.so.
needs_liblightning() {
  readelf -d "$1" | grep -q 'NEEDED.*\[libLightning\.so'
}

# run_consumers <directory with the two programs> <shared|static> <label>
run_consumers() {
  local dir=$1 linkage=$2 label=$3
  for program in lightning_install_consumer lightning_install_c_consumer; do
    [ -x "$dir/$program" ] || fail "$label: $program was not built"
    if [ "$linkage" = shared ]; then
      needs_liblightning "$dir/$program" || fail "$label: $program does not load libLightning.so"
    else
      ! needs_liblightning "$dir/$program" || fail "$label: $program loads libLightning.so, not the static library"
    fi
    rm -rf "$dir/db-$program"
    # No LD_LIBRARY_PATH: a shared consumer must find the library by its RUNPATH.
    env -u LD_LIBRARY_PATH "$dir/$program" "$dir/db-$program" || fail "$label: $program failed"
  done
  echo "$label: ok"
}

rm -rf "$work_dir"
mkdir -p "$work_dir"

if [ "$mode" = add_subdirectory ]; then
  step "add_subdirectory: a parent project building Lightning from $source_dir"
  subdir_args=("${cmake_consumer_args[@]}" -DLIGHTNING_SOURCE_DIR="$source_dir" -DLIGHTNING_WERROR="$werror")
  [ -z "$sanitize" ] || subdir_args+=(-DLIGHTNING_SANITIZE="$sanitize")
  if [ -n "$launcher" ]; then
    subdir_args+=(-DCMAKE_C_COMPILER_LAUNCHER="$launcher" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
    # The same sources and flags as the main build: let ccache reuse its
    # objects although the build directory differs (only the debug info's
    # compilation directory is affected).
    export CCACHE_NOHASHDIR=1
  fi
  "$cmake" -S "$consumer_dir/add_subdirectory" -B "$work_dir/build" "${subdir_args[@]}" >"$work_dir/configure.log" 2>&1 ||
    { cat "$work_dir/configure.log"; fail "add_subdirectory: configure"; }
  "$cmake" --build "$work_dir/build" -j2 >"$work_dir/build.log" 2>&1 ||
    { tail -50 "$work_dir/build.log"; fail "add_subdirectory: build"; }
  run_consumers "$work_dir/build" static "add_subdirectory"
  exit 0
fi

[ "$mode" = installed ] || fail "unknown mode $mode"
[ -n "$build_dir" ] || fail "--build-dir is required"
prefix=$work_dir/prefix

step "cmake --install $build_dir --prefix $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" >"$work_dir/install.log" ||
  { cat "$work_dir/install.log"; fail "cmake --install"; }

libdir=$(dirname "$(find "$prefix" -name libLightning.a -print -quit)")
[ -f "$libdir/libLightning.a" ] || fail "libLightning.a was not installed"
for header in db.h status.h slice.h export.h options.h lightning_db.h; do
  [ -f "$prefix/include/lightning/$header" ] || fail "include/lightning/$header was not installed"
done
for file in cmake/Lightning/LightningConfig.cmake cmake/Lightning/LightningConfigVersion.cmake \
            cmake/Lightning/LightningTargets.cmake pkgconfig/lightning.pc; do
  [ -f "$libdir/$file" ] || fail "$file was not installed under $libdir"
done

if [ "$shared" = 1 ]; then
  real_library=$(readlink -f "$libdir/libLightning.so")
  [ -f "$real_library" ] || fail "libLightning.so was not installed"
  soname=$(readelf -d "$real_library" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ -n "$soname" ] || fail "libLightning.so has no SONAME"
  [ -e "$libdir/$soname" ] || fail "the SONAME link $soname was not installed"
  echo "libLightning.so: $(basename "$real_library"), SONAME $soname"

  # Only the public API is exported: C functions lightning_*, and C++ symbols
  # of namespace lightning (with the vtables, typeinfo and thunks of its
  # classes); none of the codecs, the standard library or the engine's
  # internals (DBImpl, BTreePager, ArcCache, ...).
  exported=$(nm -D --defined-only "$real_library" | awk '{print $NF}')
  c_count=$(grep -c '^lightning_' <<<"$exported" || true)
  cxx_symbols=$(grep -v '^lightning_' <<<"$exported" | c++filt)
  unexpected=$(grep -v -E '^((typeinfo|typeinfo name|vtable|non-virtual thunk to) (for )?)?lightning::' \
               <<<"$cxx_symbols" || true)
  [ -z "$unexpected" ] || fail "libLightning.so exports symbols outside the public API:"$'\n'"$unexpected"
  internal=$(grep -E 'lightning::(DBImpl|BTree|ArcCache|Cache|MemTable|Table|Block|Version|Wal|Log|Arena|Skip|Compaction)' \
             <<<"$cxx_symbols" || true)
  [ -z "$internal" ] || fail "libLightning.so exports internal classes:"$'\n'"$internal"
  [ "$c_count" -gt 0 ] || fail "libLightning.so exports no C API function"
  grep -q '^lightning::Database::open(' <<<"$cxx_symbols" || fail "lightning::Database::open is not exported"
  echo "exported: $c_count C functions, $(grep -c . <<<"$cxx_symbols") C++ symbols"
fi

linkages=(static)
[ "$shared" = 1 ] && linkages=(shared static)

for linkage in "${linkages[@]}"; do
  step "find_package(Lightning), $linkage"
  use_static=OFF
  [ "$linkage" = static ] && use_static=ON
  build=$work_dir/find_package-$linkage
  "$cmake" -S "$consumer_dir/find_package" -B "$build" "${cmake_consumer_args[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
           -DLightning_USE_STATIC_LIBS="$use_static" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; fail "find_package $linkage: configure"; }
  "$cmake" --build "$build" >"$build.build.log" 2>&1 || { cat "$build.build.log"; fail "find_package $linkage: build"; }
  run_consumers "$build" "$linkage" "find_package $linkage"
done

export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --exists lightning || fail "pkg-config does not find lightning.pc"
[ "$(pkg-config --modversion lightning)" = "$(sed -n 's/^Version: //p' "$libdir/pkgconfig/lightning.pc")" ] ||
  fail "pkg-config --modversion"
cflags=$(pkg-config --cflags lightning)
for linkage in "${linkages[@]}"; do
  step "pkg-config lightning, $linkage"
  build=$work_dir/pkg-config-$linkage
  mkdir -p "$build"
  if [ "$linkage" = shared ]; then
    libs="$(pkg-config --libs lightning) -Wl,-rpath,$(pkg-config --variable=libdir lightning)"
  else
    # --static adds Libs.private/Requires.private. Where both libraries are
    # installed the linker prefers libLightning.so for -lLightning; asking for
    # the archive by name is how a program links it statically.
    libs=$(pkg-config --static --libs lightning | sed 's/-lLightning\b/-l:libLightning.a/')
  fi
  # shellcheck disable=SC2086  # the flags are words
  "$cxx_compiler" -std=c++17 -Wall -Wextra -Werror "${sanitizer_flags[@]}" $cflags "$consumer_dir/consumer.cc" \
    -o "$build/lightning_install_consumer" $libs || fail "pkg-config $linkage: C++ build"
  # shellcheck disable=SC2086
  "$c_compiler" -std=c99 -pedantic -Wall -Wextra -Wstrict-prototypes -Werror "${sanitizer_flags[@]}" $cflags \
    "$consumer_dir/consumer.c" -o "$build/lightning_install_c_consumer" $libs || fail "pkg-config $linkage: C build"
  run_consumers "$build" "$linkage" "pkg-config $linkage"
done

echo "install test: ok"
