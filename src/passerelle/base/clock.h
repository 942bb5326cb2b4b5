// Time as the hub and the node read it: the machine's steady clock, or in tests a clock that moves
// only when told, so that timeouts and waits are tested without waiting for them.
#ifndef PASSERELLE_BASE_CLOCK_H_
#define PASSERELLE_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace passerelle {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Waits on `cv` (with `lock` held) until it is notified or `deadline` has passed by this clock;
  // true when the deadline has passed. May return early: callers check their condition again.
  virtual bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         TimePoint deadline) const = 0;
};

// The machine's steady clock.
Clock& SteadyClock();

// A clock for tests: it starts at an arbitrary point and moves only by Advance(). Waiters see
// the new time within a millisecond.
class ManualClock final : public Clock {
 public:
  TimePoint Now() const override;
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) const override;
  void Advance(std::chrono::nanoseconds by);

 private:
  std::atomic<int64_t> nanoseconds_{int64_t{1} << 40};
};

}  // namespace passerelle

#endif  // PASSERELLE_BASE_CLOCK_H_
