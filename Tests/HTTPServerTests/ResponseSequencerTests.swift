import HTTPServer
import Testing

@Suite("Response ordering on one connection (no sockets)")
struct ResponseSequencerTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("the oldest response writes straight through")
    func headWritesThrough() {
        var sequencer = ResponseSequencer()
        let slot = sequencer.open()
        #expect(sequencer.write(bytes("a"), to: slot) == bytes("a"))
        #expect(sequencer.finish(slot, closesConnection: false) == .init())
        #expect(sequencer.isIdle)
    }

    @Test("a later response waits, then is released in order when earlier ones finish")
    func laterResponsesWait() {
        var sequencer = ResponseSequencer()
        let first = sequencer.open(), second = sequencer.open(), third = sequencer.open()
        #expect(sequencer.write(bytes("3"), to: third) == [])
        #expect(sequencer.finish(third, closesConnection: false) == .init())
        #expect(sequencer.write(bytes("2a"), to: second) == [])
        #expect(sequencer.write(bytes("1"), to: first) == bytes("1"))
        #expect(sequencer.outstandingCount == 3)
        // Finishing the first releases the second's bytes so far; the third must still wait.
        #expect(sequencer.finish(first, closesConnection: false) == .init(bytes: bytes("2a")))
        #expect(sequencer.write(bytes("2b"), to: second) == bytes("2b"))
        #expect(sequencer.finish(second, closesConnection: false) == .init(bytes: bytes("3")))
        #expect(sequencer.isIdle)
    }

    @Test("a closing response drops everything queued after it")
    func closeDropsTheRest() {
        var sequencer = ResponseSequencer()
        let first = sequencer.open(), second = sequencer.open()
        _ = sequencer.write(bytes("later"), to: second)
        #expect(sequencer.finish(second, closesConnection: false) == .init())
        #expect(sequencer.finish(first, closesConnection: true) == .init(bytes: [], closesConnection: true))
        #expect(sequencer.isClosed)
        #expect(sequencer.isIdle)
        let afterClose = sequencer.open()
        #expect(sequencer.write(bytes("x"), to: afterClose) == [])
    }

    @Test("a closing response that was waiting closes once it reaches the wire")
    func queuedClose() {
        var sequencer = ResponseSequencer()
        let first = sequencer.open(), second = sequencer.open()
        _ = sequencer.write(bytes("bye"), to: second)
        #expect(sequencer.finish(second, closesConnection: true) == .init())
        #expect(sequencer.finish(first, closesConnection: false) == .init(bytes: bytes("bye"), closesConnection: true))
    }

    @Test("newestSlot tracks the last outstanding response")
    func newestSlot() {
        var sequencer = ResponseSequencer()
        #expect(sequencer.newestSlot == nil)
        let first = sequencer.open()
        let second = sequencer.open()
        #expect(sequencer.newestSlot == second)
        _ = sequencer.finish(first, closesConnection: false)
        #expect(sequencer.newestSlot == second)
        _ = sequencer.finish(second, closesConnection: false)
        #expect(sequencer.newestSlot == nil)
    }
}
