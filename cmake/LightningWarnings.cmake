# lightning_set_warnings(target): the project's warning set; -Werror when
# LIGHTNING_WERROR is on (CI turns it on).
function(lightning_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wno-unused-parameter)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
  if(LIGHTNING_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
