import CLibUV

/// A Swift object that owns one or more libuv handles and knows how to close them.
///
/// `EventLoop.close()` uses this to shut down whatever is still open, so that each owner
/// gets to update its own state (and, for connections, tell its response writers).
protocol LoopHandleOwner: AnyObject {
    /// Starts closing the owned handles; libuv finishes asynchronously on the loop thread.
    func close()
}

/// Allocation, ownership and teardown shared by every libuv handle in this module.
///
/// The ownership rule, in one place: when a handle is initialised, its Swift owner is
/// retained into `handle->data`; that retain is given back only in the `uv_close` callback,
/// after which libuv never touches the handle again. So every C callback finds a live owner,
/// and the handle's memory is freed exactly once, after libuv is done with it.
enum LoopHandle {
    /// Allocates zeroed memory big enough for a libuv handle of `kind`, typed as `Handle`.
    static func allocate<Handle>(_ type: Handle.Type, kind: uv_handle_type) -> UnsafeMutablePointer<Handle> {
        // uv_handle_size is libuv's own answer; the Swift layout is a sanity check on the import.
        let size = max(uv_handle_size(kind), MemoryLayout<Handle>.size)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return raw.bindMemory(to: Handle.self, capacity: 1)
    }

    /// Frees a handle that was allocated but never successfully initialised with libuv.
    static func deallocateUninitialised<Handle>(_ handle: UnsafeMutablePointer<Handle>) {
        UnsafeMutableRawPointer(handle).deallocate()
    }

    /// Views any libuv handle struct as the common `uv_handle_t` it begins with.
    static func base<Handle>(_ handle: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutablePointer<uv_handle_t>(OpaquePointer(handle))
    }

    /// Views a TCP (or other stream) handle as the `uv_stream_t` it begins with.
    static func stream<Handle>(_ handle: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutablePointer<uv_stream_t>(OpaquePointer(handle))
    }

    /// Retains `owner` into `handle->data`; balanced by the release in `close(_:)`'s callback.
    static func attach(_ owner: AnyObject, to handle: UnsafeMutablePointer<uv_handle_t>) {
        handle.pointee.data = Unmanaged.passRetained(owner).toOpaque()
    }

    /// Returns the Swift owner stored in `handle->data` without changing its retain count.
    static func owner<Owner: AnyObject>(of handle: UnsafeMutablePointer<uv_handle_t>, as type: Owner.Type) -> Owner {
        Unmanaged<Owner>.fromOpaque(handle.pointee.data).takeUnretainedValue()
    }

    /// Returns the owner of a specific handle type (timer, async, stream, ...).
    static func owner<Handle, Owner: AnyObject>(ofHandle handle: UnsafeMutablePointer<Handle>, as type: Owner.Type) -> Owner {
        owner(of: base(handle), as: type)
    }

    /// Starts closing `handle` unless it is already closing; the callback releases the owner and frees the memory.
    static func close(_ handle: UnsafeMutablePointer<uv_handle_t>) {
        guard uv_is_closing(handle) == 0 else { return }
        uv_close(handle) { handle in
            guard let handle else { return }
            if let data = handle.pointee.data {
                handle.pointee.data = nil
                Unmanaged<AnyObject>.fromOpaque(data).release()
            }
            UnsafeMutableRawPointer(handle).deallocate()
        }
    }
}

extension Duration {
    /// This duration in whole milliseconds for libuv timers: rounded up, never negative.
    var libuvMilliseconds: UInt64 {
        let (seconds, attoseconds) = components
        let milliseconds = (Double(seconds) * 1_000 + Double(attoseconds) / 1e15).rounded(.up)
        // Clamp: a negative delay means "now", and anything past ~3 million years is "never" anyway.
        return UInt64(min(max(milliseconds, 0), 1e17))
    }
}
