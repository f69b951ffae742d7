# Install rules (included by the top-level CMakeLists.txt when
# LIGHTNING_INSTALL is on): the headers, libLightning.a and libLightning.so,
# the CMake package (find_package(Lightning CONFIG)) and lightning.pc.
# Everything installed is relocatable: the package and the .pc file find the
# prefix from their own location, so `cmake --install build --prefix <dir>`
# works for any <dir>. docs/INSTALL.md shows how consumers use them.
include(CMakePackageConfigHelpers)

set(LIGHTNING_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Lightning)
set(LIGHTNING_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(lightning_installed_targets lightning)
if(TARGET lightning_shared)
  list(APPEND lightning_installed_targets lightning_shared)
endif()
install(TARGETS ${lightning_installed_targets} EXPORT LightningTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lightning ${PROJECT_SOURCE_DIR}/capi/include/lightning
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development
        FILES_MATCHING PATTERN "*.h")

# The CMake package: LightningTargets.cmake defines Lightning::lightning_static
# and Lightning::lightning_shared; LightningConfig.cmake adds
# Lightning::lightning, one of the two (see cmake/LightningConfig.cmake.in).
install(EXPORT LightningTargets NAMESPACE Lightning:: DESTINATION ${LIGHTNING_INSTALL_CMAKEDIR}
        COMPONENT Development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/LightningConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/LightningConfig.cmake
                              INSTALL_DESTINATION ${LIGHTNING_INSTALL_CMAKEDIR})
# 0.x releases promise no compatibility across minor versions (nor does the
# SONAME, see CMakeLists.txt); from 1.0 on, the major version decides.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(lightning_version_compatibility SameMinorVersion)
else()
  set(lightning_version_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/LightningConfigVersion.cmake
                                 COMPATIBILITY ${lightning_version_compatibility})
install(FILES ${PROJECT_BINARY_DIR}/LightningConfig.cmake ${PROJECT_BINARY_DIR}/LightningConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindLZ4.cmake ${PROJECT_SOURCE_DIR}/cmake/FindxxHash.cmake
        DESTINATION ${LIGHTNING_INSTALL_CMAKEDIR} COMPONENT Development)

# lightning.pc. The prefix is written relative to the .pc file's directory
# (${pcfiledir}, understood by pkg-config and pkgconf) unless the install
# directories are absolute.
set(LIGHTNING_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(LIGHTNING_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
set(LIGHTNING_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  file(RELATIVE_PATH lightning_pc_up "/prefix/${LIGHTNING_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" lightning_pc_up "${lightning_pc_up}")
  set(LIGHTNING_PC_PREFIX "\${pcfiledir}/${lightning_pc_up}")
  set(LIGHTNING_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(LIGHTNING_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# What a static link (pkg-config --static) needs besides libLightning.a: the
# codecs, as pkg-config modules where this system has their .pc files (they
# then bring their own dependencies) and as plain -l flags where not; the C++
# runtime (a C program may link the archive); threads.
find_package(PkgConfig QUIET)
set(lightning_pc_requires_private "")
set(lightning_pc_libs_private "")
foreach(module_and_library IN ITEMS "libzstd:zstd" "liblz4:lz4" "libxxhash:xxhash" "snappy:snappy")
  string(REPLACE ":" ";" module_and_library "${module_and_library}")
  list(GET module_and_library 0 pc_module)
  list(GET module_and_library 1 pc_library)
  set(pc_module_found FALSE)
  if(PKG_CONFIG_FOUND)
    execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --exists ${pc_module} RESULT_VARIABLE pc_exists_result)
    if(pc_exists_result EQUAL 0)
      set(pc_module_found TRUE)
    endif()
  endif()
  if(pc_module_found)
    list(APPEND lightning_pc_requires_private ${pc_module})
  else()
    list(APPEND lightning_pc_libs_private -l${pc_library})
  endif()
endforeach()
list(APPEND lightning_pc_libs_private -lstdc++ -lm)
if(CMAKE_USE_PTHREADS_INIT)
  list(APPEND lightning_pc_libs_private -pthread)
endif()
list(JOIN lightning_pc_requires_private " " LIGHTNING_PC_REQUIRES_PRIVATE)
list(JOIN lightning_pc_libs_private " " LIGHTNING_PC_LIBS_PRIVATE)
configure_file(${PROJECT_SOURCE_DIR}/cmake/lightning.pc.in ${PROJECT_BINARY_DIR}/lightning.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/lightning.pc DESTINATION ${LIGHTNING_INSTALL_PKGCONFIGDIR}
        COMPONENT Development)
