#include "passerelle/base/clock.h"

namespace passerelle {
namespace {

class Steady final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) const override {
    return cv.wait_until(lock, deadline) == std::cv_status::timeout;
  }
};

}  // namespace

Clock& SteadyClock() {
  static Steady clock;
  return clock;
}

Clock::TimePoint ManualClock::Now() const {
  return TimePoint(std::chrono::nanoseconds(nanoseconds_.load()));
}

bool ManualClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                            TimePoint deadline) const {
  if (Now() >= deadline) return true;
  cv.wait_for(lock, std::chrono::milliseconds(1));
  return Now() >= deadline;
}

void ManualClock::Advance(std::chrono::nanoseconds by) { nanoseconds_ += by.count(); }

}  // namespace passerelle
