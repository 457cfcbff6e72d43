// mphub: logging and error classification shared by both roles.

#include "peer.h"

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

namespace mphub {
namespace peer {

bool IpcError::disconnected() const
{
    const std::string_view text{what()};
    return text.find("IPC client method call interrupted by disconnect") != std::string_view::npos ||
           text.find("IPC client method called after disconnect") != std::string_view::npos;
}

mp::LogOptions MakeLogOptions()
{
    mp::LogOptions options;
    options.log_level = mp::Log::Raise;
    if (const char* level = std::getenv("MPHUB_LOG")) {
        const std::string_view name{level};
        if (name == "trace") options.log_level = mp::Log::Trace;
        if (name == "debug") options.log_level = mp::Log::Debug;
        if (name == "info") options.log_level = mp::Log::Info;
        if (name == "warning") options.log_level = mp::Log::Warning;
        if (name == "error") options.log_level = mp::Log::Error;
    }
    options.log_fn = [](mp::LogMessage message) {
        if (message.level == mp::Log::Raise) {
            // kj appends "\nstack: <addresses>" to exception texts; keep the reason only.
            std::string text = std::move(message.message);
            if (const auto stack = text.find("\nstack: "); stack != std::string::npos) text.erase(stack);
            throw IpcError(text);
        }
        std::cerr << message.message << std::endl;
    };
    return options;
}

} // namespace peer
} // namespace mphub
