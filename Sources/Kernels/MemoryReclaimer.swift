import CKernels
import Dispatch
import Synchronization

/// Gives freed memory back to the system soon after large objects (adapter versions) are
/// freed: glibc keeps freed heap pages in the process otherwise, so an unloaded adapter would
/// still count in resident memory. A burst of frees becomes one call, on a background queue,
/// so the thread that dropped the last reference (often the engine's) never waits for it.
public enum MemoryReclaimer {
    private static let queue = DispatchQueue(label: "switchboard.memory-reclaimer", qos: .utility)
    private static let pending = Atomic<Bool>(false)
    /// How long to wait for more frees before releasing.
    private static let delay = DispatchTimeInterval.milliseconds(100)

    /// Schedules a release unless one is already scheduled.
    public static func releaseSoon() {
        guard pending.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        queue.asyncAfter(deadline: .now() + delay) {
            pending.store(false, ordering: .releasing)
            sb_release_free_memory()
        }
    }
}
