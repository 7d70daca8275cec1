#pragma once
// `bitsd passwd USER`: prints a credentials_file line for Basic authentication.

namespace bitsd::main {

// argv[0] is "passwd". Returns the process exit code.
int run_passwd(int argc, char** argv);

}  // namespace bitsd::main
