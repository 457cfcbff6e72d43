#pragma once
#include <string>
namespace host {
//! In-process checks of the bridge (threads, ownership, errors, bounded stop); prints one
//! line per check and `selftest: N passed, M failed`. `self_exe` is this program (for
//! spawn). Returns the number of failed checks.
int selftest(const std::string& self_exe);
} // namespace host
