// Assertions for the host's scenarios and self-test: a failed check throws CheckFailed
// with a readable reason (the client prints it as the last line of stderr).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace host {

struct CheckFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <class T>
std::string show(const T& v)
{
    std::ostringstream s;
    s << v;
    return s.str();
}

template <class A, class B>
void expect_eq(const std::string& what, const A& got, const B& want)
{
    if (!(got == want)) throw CheckFailed(what + ": got " + show(got) + ", expected " + show(want));
}

inline void expect(bool ok, const std::string& what)
{
    if (!ok) throw CheckFailed(what);
}

} // namespace host
