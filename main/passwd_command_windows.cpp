// Windows counterpart of passwd_command.cpp: the hashes come from libxcrypt, which the Windows
// build does not have (and Basic authentication, which reads them, is refused there at config
// time). A credentials_file line can be written on any Linux host with `bitsd passwd`.

#include "main/passwd_command.hpp"

#include "main/exit_codes.hpp"

#include <iostream>

namespace bitsd::main {

int run_passwd(int, char**) {
    std::cerr << "bitsd passwd is not available in the Windows build (no libxcrypt), and neither is "
                 "Basic authentication; use auth.type \"trusted-header\" behind a proxy\n";
    return exit_code::usage;
}

}  // namespace bitsd::main
