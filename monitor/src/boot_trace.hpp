// Phase-by-phase timing of the monitor's start-up, printed by --trace-boot.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ukrun {

class BootTrace {
public:
    explicit BootTrace(bool enabled) : enabled_(enabled), last_(now_ns()), start_(last_) {}

    // Ends the current phase under `name`. Costs one clock read when enabled, nothing otherwise.
    void mark(const char* name)
    {
        if (!enabled_)
            return;
        const uint64_t t = now_ns();
        phases_.push_back({name, t - last_});
        last_ = t;
    }

    bool enabled() const noexcept { return enabled_; }
    // "boot trace: name 12.3us, ... total 456.7us" (one line).
    std::string summary() const;

    static uint64_t now_ns() noexcept
    {
        timespec ts;
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
    }

private:
    struct Phase {
        const char* name;
        uint64_t ns;
    };
    bool enabled_;
    uint64_t last_;
    uint64_t start_;
    std::vector<Phase> phases_;
};

} // namespace ukrun
