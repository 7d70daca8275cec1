# One rule for platform files, used by every library after its file(GLOB):
#   foo_posix.cpp    POSIX only (Linux, macOS)
#   foo_windows.cpp  Windows only (the mingw-w64 cross build, cmake/mingw-w64.cmake)
# A Linux-only source without the suffix (systemd, openat2, ...) is named in POSIX_ONLY, and a
# *_windows.cpp next to it gives Windows its counterpart (or a clear refusal): new Linux-only
# code needs one, or the Windows build in CI stops at the link.
function(bitsd_platform_sources list_var)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "POSIX_ONLY")
  set(kept)
  foreach(source IN LISTS ${list_var})
    get_filename_component(name ${source} NAME)
    if(WIN32)
      if(name MATCHES "_posix\\.cpp$" OR name IN_LIST arg_POSIX_ONLY)
        continue()
      endif()
    elseif(name MATCHES "_windows\\.cpp$")
      continue()
    endif()
    list(APPEND kept ${source})
  endforeach()
  set(${list_var} ${kept} PARENT_SCOPE)
endfunction()
