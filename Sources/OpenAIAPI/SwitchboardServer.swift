import Adapters
import Engine
import Foundation
import HTTPServer
import Llama
import Logging

/// Everything a running server is configured with.
public struct ServerOptions: Sendable {
    public var http = HTTPServerConfiguration()
    public var engine = EngineConfiguration()
    /// Memory for the KV cache, in MiB.
    public var kvCacheMegabytes = 1024
    /// Time in-flight requests get after a shutdown request.
    public var drainDeadline: Duration = .seconds(30)
    public var limits = APILimits()
    /// Folder of adapter folders loaded at start and watched for changes (nil: none).
    public var adapterDirectory: String?
    /// More folders the admin API may load adapters from (the adapter directory always may).
    public var adapterRoots: [String] = []
    public var adapterLimits = AdapterLimits()
    /// Callers and their permissions; nil accepts everyone (loopback only).
    public var tenants: TenantsFile?

    /// Defaults: 127.0.0.1:8080, 64 running, 512-token steps, 1 GiB of KV cache, 512 output tokens promised per sequence.
    public init() {}
}

/// The assembled server: event loop + HTTP + API on one thread, the engine on another.
///
/// `run` blocks the calling thread, which becomes the loop thread, until `shutdown` (or a
/// SIGINT/SIGTERM when `handleSignals`) has drained the in-flight requests.
public final class SwitchboardServer: @unchecked Sendable {
    public let service: OpenAIService
    public let engine: EngineService
    private let options: ServerOptions
    private let logger: Logger
    private let cache: PagedKVCache
    /// Set by `run` on the loop thread; the engine's deliveries go through it.
    private let bridgeSlot = BridgeSlot()
    // Loop-thread state, created by `run`.
    private var loop: EventLoop?
    private var http: HTTPServer?
    private var signals: [SignalWatcher] = []
    private var directoryWatch: AdapterDirectoryWatch?
    private var shuttingDown = false
    private let stopped = NSCondition()
    private var hasStopped = false

    /// Builds the server for `bundle` with adapters from `registry`; nothing listens until `run`.
    public init(bundle: ModelBundle, registry: AdapterRegistry, options: ServerOptions, logger: Logger) throws {
        self.options = options
        self.logger = logger
        cache = PagedKVCache(config: bundle.model.config, megabytes: options.kvCacheMegabytes)
        let generator = Generator(model: bundle.model, cache: cache, tokenizer: bundle.tokenizer,
                                  maxStepTokens: options.engine.maxStepTokens)
        let service = OpenAIService(bundle: bundle, registry: registry,
                                    adapterRoots: options.adapterRoots + [options.adapterDirectory].compactMap { $0 },
                                    adapterLimits: options.adapterLimits, tenants: options.tenants, limits: options.limits,
                                    maxSequenceTokens: cache.blockCount * cache.blockSize, logger: logger)
        self.service = service
        let slot = bridgeSlot
        engine = EngineService(generator: generator, configuration: options.engine, logger: logger) { events in
            slot.post { service.receive(events) }
        }
        service.attach(engine)
        if let directory = options.adapterDirectory { service.manager.loadDirectoryNow(directory) }
    }

    /// Listens, starts the engine, calls `onListening` with the bound port, then serves until
    /// shut down. The calling thread becomes the loop thread.
    public func run(handleSignals: Bool, onListening: (Int) -> Void) throws {
        let loop = try EventLoop()
        self.loop = loop
        bridgeSlot.set(try LoopBridge(loop: loop))
        let service = self.service
        let http = HTTPServer(loop: loop, configuration: options.http, logger: logger) { request, writer in
            service.handle(request, writer)
        }
        self.http = http
        let port = try http.start()
        service.useLoop(loop)
        if let directory = options.adapterDirectory {
            directoryWatch = try AdapterDirectoryWatch(directory: directory, loop: loop, manager: service.manager, logger: logger)
        }
        engine.start()
        if handleSignals {
            signals = try [SIGINT, SIGTERM].map { number in
                try SignalWatcher(loop: loop, signal: number) { [self] received in
                    logger.info("signal \(received): draining \(service.inFlightCount) in-flight request(s)")
                    beginShutdown()
                }
            }
        }
        logger.info("KV cache: \(cache.blockCount) blocks of \(cache.blockSize) tokens (\(options.kvCacheMegabytes) MiB)")
        onListening(port)
        loop.run()
        loop.close()
        stopped.lock()
        hasStopped = true
        stopped.broadcast()
        stopped.unlock()
    }

    /// Starts `run` on a new thread and returns the port once listening (tests, embedding).
    public func runInBackground() throws -> Int {
        let started = NSCondition()
        nonisolated(unsafe) var port: Int?
        nonisolated(unsafe) var failure: Error?
        let thread = Thread { [self] in
            do {
                try run(handleSignals: false) { bound in
                    started.lock(); port = bound; started.broadcast(); started.unlock()
                }
            } catch {
                started.lock(); failure = error; started.broadcast(); started.unlock()
            }
        }
        thread.name = "switchboard-loop"
        thread.start()
        started.lock()
        while port == nil && failure == nil { started.wait() }
        started.unlock()
        if let failure { throw failure }
        return port!
    }

    /// Drains and stops the server; thread-safe. Returns at once; `waitUntilStopped` waits.
    public func shutdown() {
        bridgeSlot.post { [self] in beginShutdown() }
    }

    /// Blocks until the loop has stopped.
    public func waitUntilStopped() {
        stopped.lock()
        while !hasStopped { stopped.wait() }
        stopped.unlock()
    }

    /// On the loop thread: refuse new work, let in-flight requests finish (until the deadline),
    /// then stop the engine and the loop.
    private func beginShutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        service.beginDraining()
        engine.drain()
        http?.shutdown(deadline: options.drainDeadline) { [self] in
            engine.stop()
            directoryWatch?.close()
            for watcher in signals { watcher.close() }
            bridgeSlot.close()
            loop?.stop()
        }
    }
}

/// The loop's bridge once `run` made it; posts before that are dropped (nothing is running yet).
private final class BridgeSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var bridge: LoopBridge?

    func set(_ bridge: LoopBridge) { lock.withLock { self.bridge = bridge } }

    func post(_ job: @escaping @Sendable () -> Void) {
        let bridge = lock.withLock { self.bridge }
        bridge?.post(job)
    }

    /// On the loop thread: runs what is queued, then refuses more.
    func close() { lock.withLock { bridge }?.close() }
}
