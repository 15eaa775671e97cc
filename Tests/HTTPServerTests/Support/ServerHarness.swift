import Foundation
import HTTPServer

/// An `HTTPServer` on an ephemeral port, running on its own loop thread with a test handler.
final class ServerHarness: @unchecked Sendable {
    // Unchecked: `server` is created on the loop thread and only touched there (via `onLoop`/`post`).
    let loopHarness: LoopHarness
    let server: HTTPServer
    let port: Int
    let events = TestEvents()

    /// A handler gets the request, its writer, the bridge for answering later, and the shared event counters.
    typealias Handler = @Sendable (HTTPRequest, HTTPResponseWriter, LoopBridge, TestEvents) -> Void

    init(configuration: HTTPServerConfiguration = ServerHarness.configuration(), handler: @escaping Handler = TestRoutes.handle) throws {
        let created = UncheckedBox<(HTTPServer, Int)?>(nil)
        let events = events
        loopHarness = try LoopHarness { loop, bridge in
            let server = HTTPServer(loop: loop, configuration: configuration) { request, writer in
                handler(request, writer, bridge, events)
            }
            created.value = (server, try server.start())
        }
        (server, port) = created.value!
        // The loop thread's closure still holds the box; don't let it keep the server alive.
        created.value = nil
    }

    /// The test defaults: ephemeral port and a short linger so closing connections don't hang around.
    static func configuration(_ adjust: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(port: 0, lingerTimeout: .milliseconds(500))
        adjust(&configuration)
        return configuration
    }

    var bridge: LoopBridge { loopHarness.bridge }

    /// Runs `body` on the loop thread and returns its result.
    func onLoop<T>(_ body: @escaping @Sendable () -> T) throws -> T {
        try loopHarness.onLoop(body)
    }

    /// Opens a client connection to the server.
    func connect(receiveBufferSize: Int32? = nil) throws -> TestClient {
        try TestClient(port: port, receiveBufferSize: receiveBufferSize)
    }

    /// Shuts the server down (closing stragglers after `deadline`) and stops the loop thread.
    func stop(deadline: Duration = .milliseconds(500)) {
        let server = server
        loopHarness.stop { done in
            server.shutdown(deadline: deadline, completion: done)
        }
    }
}

/// Things the test routes observe, readable from the test thread.
final class TestEvents: Sendable {
    /// Requests the handler has seen.
    let requests = Counter()
    /// `onClose` callbacks fired on stream writers.
    let streamCloses = Counter()
    /// Chunk writes attempted after the stream's connection had closed.
    let writesAfterClose = Counter()
}
