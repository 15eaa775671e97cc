import Kernels
import Testing

/// An adapter's factors share one arena: allocations are cache-line aligned, never overlap, fit
/// the capacity computed for them, and keep their values.
@Suite struct FactorArenaTests {
    @Test func allocationsAreAlignedDisjointAndFitTheComputedCapacity() {
        let sizes = [1, 63, 64, 65, 4096, 3 << 20, 7]
        let arena = FactorArena(capacity: FactorArena.bytesNeeded(sizes))
        var blocks: [(start: Int, end: Int)] = []
        for size in sizes {
            let pointer = arena.allocate(byteCount: size)
            #expect(Int(bitPattern: pointer) % FactorArena.alignment == 0)
            pointer.initializeMemory(as: UInt8.self, repeating: 0xAB, count: size)
            blocks.append((Int(bitPattern: pointer), Int(bitPattern: pointer) + size))
        }
        for (i, a) in blocks.enumerated() {
            for b in blocks[(i + 1)...] { #expect(a.end <= b.start || b.end <= a.start) }
        }
        #expect(arena.used == arena.capacity)
        // The first block starts on a huge-page boundary, so whole 2 MiB runs can be huge pages.
        #expect(blocks[0].start % FactorArena.hugePageSize == 0)
    }

    @Test("factors stored in an arena keep their values", arguments: FactorPrecision.allCases)
    func factorsInAnArenaKeepTheirValues(precision: FactorPrecision) {
        let values = (0..<1000).map { Float($0 % 256 - 128) * 0.25 }  // exact in every precision
        let arena = FactorArena(capacity: FactorArena.bytesNeeded([values.count * precision.elementSize, 3 * precision.elementSize]))
        let factor = LowRankFactor(FloatBuffer(values), rows: 10, columns: 100, layout: .a, precision: precision, arena: arena)
        let other = LowRankFactor(FloatBuffer([1, 2, 3]), rows: 1, columns: 3, layout: .bTransposed, precision: precision,
                                  arena: arena)
        #expect((0..<values.count).map { factor[$0] } == values)
        #expect([other[0], other[1], other[2]] == [1, 2, 3])
        #expect(other.pointer - factor.pointer >= factor.byteCount)
    }
}
