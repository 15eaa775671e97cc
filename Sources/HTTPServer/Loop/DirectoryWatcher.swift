import CLibUV

/// Reports changes inside a directory (uv_fs_event_t) as callbacks on the loop thread.
///
/// Editors and copy tools produce bursts of events for one logical change; pass `debounce`
/// to get one callback per changed name once the directory has been quiet for that long.
/// `recursive` is honoured where libuv supports it (macOS, Windows); on Linux only the
/// directory itself is watched, not its subdirectories.
public final class DirectoryWatcher: LoopHandleOwner, @unchecked Sendable {
    // Unchecked because every member is used on the loop thread only.
    private let handle: UnsafeMutablePointer<uv_fs_event_t>
    private let onChange: (String?) -> Void
    private let debounce: Duration?
    private let debounceTimer: LoopTimer?
    private var pendingNames: [String?] = []
    private var isClosed = false

    /// Starts watching `path`; `onChange` gets the changed entry's name, or nil when the platform does not say.
    public init(
        loop: EventLoop,
        path: String,
        recursive: Bool = false,
        debounce: Duration? = nil,
        onChange: @escaping (String?) -> Void
    ) throws(HTTPServerError) {
        precondition(loop.isLoopThread, "DirectoryWatcher must be created on the loop thread")
        self.onChange = onChange
        self.debounce = debounce
        debounceTimer = debounce == nil ? nil : LoopTimer(loop: loop)
        handle = LoopHandle.allocate(uv_fs_event_t.self, kind: UV_FS_EVENT)
        let initStatus = uv_fs_event_init(loop.raw, handle)
        guard initStatus == 0 else {
            LoopHandle.deallocateUninitialised(handle)
            debounceTimer?.close()
            throw .libuv(operation: "uv_fs_event_init", code: initStatus)
        }
        LoopHandle.attach(self, to: LoopHandle.base(handle))
        let flags = recursive ? UInt32(UV_FS_EVENT_RECURSIVE.rawValue) : 0
        let startStatus = uv_fs_event_start(handle, { handle, name, _, status in
            guard let handle, status == 0 else { return }
            let watcher = LoopHandle.owner(ofHandle: handle, as: DirectoryWatcher.self)
            watcher.record(name.map { String(cString: $0) })
        }, path, flags)
        guard startStatus == 0 else {
            close()
            throw .libuv(operation: "uv_fs_event_start(\(path))", code: startStatus)
        }
    }

    /// Stops watching and releases the handles; later calls are ignored.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        pendingNames.removeAll()
        debounceTimer?.close()
        LoopHandle.close(LoopHandle.base(handle))
    }

    private func record(_ name: String?) {
        guard !isClosed else { return }
        guard let debounce, let debounceTimer else {
            onChange(name)
            return
        }
        if !pendingNames.contains(name) {
            pendingNames.append(name)
        }
        // Every event pushes the deadline back; the callback runs once things are quiet.
        debounceTimer.schedule(after: debounce) { [weak self] in
            self?.flush()
        }
    }

    private func flush() {
        let names = pendingNames
        pendingNames.removeAll()
        for name in names where !isClosed {
            onChange(name)
        }
    }
}
