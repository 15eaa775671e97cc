import Engine
import Testing

@Suite("Fair admission across tenants")
struct AdmissionQueueTests {
    func request(_ id: UInt64, _ tenant: String, promptTokens: Int = 10) -> EngineRequest {
        EngineRequest(id: RequestID(id), prompt: Array(repeating: 1, count: promptTokens), parameters: SamplingParameters(), adapter: nil,
                      tenant: tenant)
    }

    @Test("one tenant is first come, first served")
    func fifo() {
        var queue = AdmissionQueue()
        for k in 0..<5 { queue.append(request(UInt64(k), "")) }
        #expect((0..<5).compactMap { _ in queue.popNext()?.id.rawValue } == [0, 1, 2, 3, 4])
        #expect(queue.isEmpty)
    }

    @Test("a tenant flooding the queue cannot starve a tenant sending a trickle")
    func floodAndTrickle() {
        var queue = AdmissionQueue()
        for k in 0..<100 { queue.append(request(UInt64(k), "flood")) }
        var admitted: [String] = []
        for round in 0..<20 {
            if round % 4 == 0 { queue.append(request(1000 + UInt64(round), "trickle")) }
            if let next = queue.popNext() {
                admitted.append(next.tenant)
                queue.charge(tenant: next.tenant, tokens: 20)   // as if it generated 20 tokens
            }
        }
        // Every trickle request is admitted within two pops of arriving.
        #expect(admitted.filter { $0 == "trickle" }.count == 5)
    }

    @Test("an idle tenant does not bank credit: it rejoins at the waiting tenants' level")
    func noBankedCredit() {
        var queue = AdmissionQueue()
        for k in 0..<10 { queue.append(request(UInt64(k), "busy")) }
        for _ in 0..<10 { _ = queue.popNext() }   // busy has been served 100 tokens; idle none
        for k in 0..<4 { queue.append(request(100 + UInt64(k), "busy")) }
        queue.append(request(200, "late"))
        queue.append(request(201, "late"))
        // late starts level with busy rather than 100 tokens behind: they alternate.
        let order = (0..<4).compactMap { _ in queue.popNext()?.tenant }
        #expect(order.filter { $0 == "late" }.count == 2 && order.filter { $0 == "busy" }.count == 2)
    }

    @Test("a cancelled waiting request is removed")
    func remove() {
        var queue = AdmissionQueue()
        queue.append(request(1, "a"))
        queue.append(request(2, "a"))
        #expect(queue.remove(RequestID(1))?.id == RequestID(1))
        #expect(queue.count == 1 && queue.popNext()?.id == RequestID(2))
    }
}
