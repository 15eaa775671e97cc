#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time in nanoseconds, the single time base every measurement uses.
///
/// Wall-clock time can jump (NTP, manual changes), which would corrupt latencies, so all
/// durations come from `CLOCK_MONOTONIC`; wall time is only used to stamp reports.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot, on Linux).
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Blocks the calling thread until `deadline` (a value of `now()`), returning at once if it passed.
    ///
    /// Sleeping to an absolute deadline (rather than for a relative interval) keeps an open-loop
    /// schedule from drifting: the time spent between wake-ups is not added to the next wait.
    public static func sleep(until deadline: UInt64) {
        while true {
            let current = now()
            if current >= deadline { return }
            let remaining = deadline - current
            var request = timespec(tv_sec: Int(remaining / 1_000_000_000), tv_nsec: Int(remaining % 1_000_000_000))
            var rest = timespec()
            // nanosleep may wake early on a signal; the loop re-checks the deadline.
            _ = nanosleep(&request, &rest)
        }
    }

    /// Blocks the calling thread for `seconds`.
    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        sleep(until: now() &+ UInt64(seconds * 1e9))
    }
}

/// Converts between nanoseconds and the units the reports use.
public enum TimeUnits {
    /// Nanoseconds to milliseconds.
    public static func ms(_ nanos: UInt64) -> Double { Double(nanos) / 1e6 }
    /// Nanoseconds to seconds.
    public static func seconds(_ nanos: UInt64) -> Double { Double(nanos) / 1e9 }
    /// Seconds to nanoseconds, clamped at zero.
    public static func nanos(seconds: Double) -> UInt64 { seconds <= 0 ? 0 : UInt64(seconds * 1e9) }
}
