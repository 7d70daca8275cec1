# Cross-compiling bitsd for 64-bit Windows with Debian's mingw-w64 (GCC 12).
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
# The -posix thread-model compilers: the -win32 ones have no std::thread or std::mutex.
# scripts/build-windows installs them and wine64 (to run the tests) and builds everything.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(BITSD_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${BITSD_MINGW_PREFIX}-gcc-posix)
set(CMAKE_CXX_COMPILER ${BITSD_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${BITSD_MINGW_PREFIX}-windres)

# Libraries and headers come from the mingw sysroot only: /usr/include and /usr/lib hold the
# Linux builds of everything, which break a Windows compile at once. The few header-only
# trees the build needs (boost, fmt, spdlog, nlohmann, CLI11, catch2) are linked into a folder
# of their own by cmake/windows_dependencies.cmake.
set(CMAKE_FIND_ROOT_PATH /usr/${BITSD_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Tests built for Windows run through wine (ctest and catch_discover_tests prepend this).
# Debian installs wine64 in /usr/lib/wine (/usr/bin/wine64 comes with the wine package).
find_program(BITSD_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(BITSD_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BITSD_WINE})
endif()
