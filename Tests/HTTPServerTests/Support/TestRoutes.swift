import Foundation
import HTTPServer

/// The handler the server tests use, one small route per behaviour.
enum TestRoutes {
    static func handle(_ request: HTTPRequest, _ writer: HTTPResponseWriter, _ bridge: LoopBridge, _ events: TestEvents) {
        events.requests.increment()
        switch request.path {
        case "/echo":
            echo(request, writer)
        case "/delay":
            // Answer from another thread after a pause, the way an engine result arrives.
            let milliseconds = Int(request.query?.split(separator: "=").last ?? "") ?? 100
            let tag = request.header("X-Tag") ?? ""
            Thread.detachNewThread {
                usleep(UInt32(milliseconds * 1000))
                bridge.post {
                    writer.respond(status: 200, headers: [("X-Tag", tag)], body: Array("delayed \(milliseconds)".utf8))
                }
            }
        case "/stream":
            writer.startStream(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
            Thread.detachNewThread {
                for index in 1...3 {
                    usleep(10_000)
                    bridge.post { writer.writeChunk(Array("data: \(index)\n\n".utf8)) }
                }
                bridge.post { writer.endStream() }
            }
        case "/endless":
            endless(writer, bridge, events, chunk: Array("data: tick\n\n".utf8), pause: 10_000)
        case "/flood":
            endless(writer, bridge, events, chunk: [UInt8](repeating: 65, count: 64 * 1024), pause: 500)
        case "/big":
            writer.respond(status: 200, body: [UInt8](repeating: 66, count: 4 * 1024 * 1024))
        case "/close":
            writer.respond(status: 200, headers: [("Connection", "close")], body: Array("bye".utf8))
        default:
            writer.respond(status: 404, body: Array("no route \(request.path)".utf8))
        }
    }

    /// Replies with "METHOD PATH" and the body, plus the query in a header.
    private static func echo(_ request: HTTPRequest, _ writer: HTTPResponseWriter) {
        var headers = [("Content-Type", "text/plain"), ("X-Connection", "\(request.connectionID)")]
        if let query = request.query {
            headers.append(("X-Query", query))
        }
        writer.respond(status: 200, headers: headers, body: Array("\(request.method) \(request.path)\n".utf8) + request.body)
    }

    /// Streams `chunk` every `pause` microseconds until the client goes away (or 10 s pass).
    private static func endless(_ writer: HTTPResponseWriter, _ bridge: LoopBridge, _ events: TestEvents, chunk: [UInt8], pause: UInt32) {
        writer.startStream(status: 200, headers: [("Content-Type", "text/event-stream")])
        let closed = Counter()
        writer.onClose = {
            events.streamCloses.increment()
            closed.increment()
        }
        Thread.detachNewThread {
            let deadline = TestClient.now() + 10
            // Keep posting for a little while after the close, to show late writes are ignored.
            var extraRoundsAfterClose = 5
            while TestClient.now() < deadline, extraRoundsAfterClose > 0 {
                if closed.value > 0 {
                    extraRoundsAfterClose -= 1
                }
                let posted = bridge.post {
                    if !writer.isConnectionOpen {
                        events.writesAfterClose.increment()
                    }
                    writer.writeChunk(chunk)
                }
                if !posted { return }
                usleep(pause)
            }
        }
    }
}
