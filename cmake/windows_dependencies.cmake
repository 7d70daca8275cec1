# The dependencies of the Windows cross build (cmake/mingw-w64.cmake), without find_package:
# Debian ships them for Linux only, but the ones bitsd needs are header-only. Their header trees
# are linked from /usr/include into a folder of the build tree that holds nothing else, because
# -I/usr/include would bring glibc's and Linux's headers into a Windows compile.
set(BITSD_WINDOWS_INCLUDE_DIR ${CMAKE_BINARY_DIR}/windows-include)
file(MAKE_DIRECTORY ${BITSD_WINDOWS_INCLUDE_DIR})
foreach(tree boost fmt spdlog nlohmann CLI catch2)
  if(NOT EXISTS /usr/include/${tree})
    message(FATAL_ERROR "/usr/include/${tree} is missing: run scripts/install-deps")
  endif()
  file(CREATE_LINK /usr/include/${tree} ${BITSD_WINDOWS_INCLUDE_DIR}/${tree} SYMBOLIC)
endforeach()

function(bitsd_header_target name)
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${BITSD_WINDOWS_INCLUDE_DIR})
endfunction()
bitsd_header_target(Boost::headers)
bitsd_header_target(nlohmann_json::nlohmann_json)
bitsd_header_target(CLI11::CLI11)
bitsd_header_target(Catch2::Catch2)
# spdlog header-only, over fmt header-only (Debian's spdlog/tweakme.h selects the external fmt).
bitsd_header_target(spdlog::spdlog)
set_property(TARGET spdlog::spdlog PROPERTY INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY)

find_package(Threads REQUIRED)

# Windows 10 and later; the Win32 headers without their min/max macros and rarely used parts.
add_compile_definitions(_WIN32_WINNT=0x0A00 WINVER=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
# Beast and Asio in one translation unit exceed the 2^15 sections of a plain COFF object.
add_compile_options(-Wa,-mbig-obj)
# One self-contained .exe: libstdc++, libgcc and winpthreads linked in, so it imports only
# Windows' own DLLs (`objdump -p bitsd.exe | grep 'DLL Name'`).
add_link_options(-static -static-libgcc -static-libstdc++)
# bcrypt: BCryptGenRandom, used by Beast (and by session_id_source_windows.cpp and
# delivery/idempotency_key_windows.cpp, since the Windows build has no OpenSSL).
link_libraries(ws2_32 mswsock bcrypt)
