// The C++ types schema/corpus/header/jobs.capnp names with $Proxy.wrap, hand-written as a
// libmultiprocess user's header would be: a callback is a std::function alias, and a struct
// holds it (and a vector of them) by value.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace jobs {

using Step = std::function<std::int32_t(std::int32_t)>;

struct Plan {
    std::string name;
    Step step;
    std::vector<Step> steps;
};

class Runner
{
public:
    virtual ~Runner() = default;
    //! Applies plan.step, then each of plan.steps (empty ones skipped), to value.
    virtual std::int32_t run(const Plan& plan, std::int32_t value) = 0;
    //! A plan adding offset, then doubling.
    virtual Plan make(std::int32_t offset) = 0;
};

} // namespace jobs
