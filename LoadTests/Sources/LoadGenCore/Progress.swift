#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Prints a one-line status on stderr about once per second while a run is under way.
///
/// On a terminal the line is rewritten in place with `\r`; when stderr is a file or pipe
/// (CI logs) each update is its own line, because carriage returns make logs unreadable.
public final class ProgressPrinter: Sendable {
    private let line: @Sendable () -> String
    private let interval: Double
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private let isTerminal = isatty(STDERR_FILENO) != 0

    /// A printer that asks `line` for the text every `interval` seconds.
    public init(interval: Double = 1, line: @escaping @Sendable () -> String) {
        self.line = line
        self.interval = interval
    }

    /// Starts printing on a background thread.
    public func start() {
        Thread { [self] in
            var next = MonotonicClock.now()
            var lastWidth = 0
            while true {
                next &+= TimeUnits.nanos(seconds: interval)
                // Wake in short slices so that stop() does not wait a whole interval.
                while MonotonicClock.now() < next, !stopped.withLock({ $0 }) {
                    MonotonicClock.sleep(until: min(next, MonotonicClock.now() &+ 50_000_000))
                }
                if stopped.withLock({ $0 }) { break }
                let text = line()
                if isTerminal {
                    let padding = String(repeating: " ", count: max(lastWidth - text.count, 0))
                    Self.write("\r" + text + padding)
                    lastWidth = text.count
                } else {
                    Self.write(text + "\n")
                }
            }
            if isTerminal, lastWidth > 0 { Self.write("\n") }
            finished.signal()
        }.start()
    }

    /// Stops printing and waits for the thread to finish its line.
    public func stop() {
        stopped.withLock { $0 = true }
        finished.wait()
    }

    /// Writes `text` to stderr unbuffered.
    public static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// The standard progress line for a run.
    public static func describe(_ label: String, _ s: ProgressSnapshot) -> String {
        let rate = s.elapsed > 0 ? Double(s.succeeded) / s.elapsed : 0
        let tokens = s.elapsed > 0 ? Double(s.tokens) / s.elapsed : 0
        var text = "[\(label)] \(fmt(s.elapsed, 1))s sent \(s.sent) done \(s.finished) in-flight \(s.sent - s.finished)"
        text += " | \(fmt(rate, 1)) req/s \(fmt(tokens, 0)) tok/s | p99 e2e \(fmt(s.e2eP99, 0)) ms | errors \(s.errors)"
        if s.mismatches > 0 { text += " | MISMATCHES \(s.mismatches)" }
        return text
    }

    private static func fmt(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
