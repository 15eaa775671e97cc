import Adapters
import Kernels
import Testing
import TestSupport

/// The forward pass reads each adapter's deltas through its flat table of `DeltaEntry` values;
/// the table must say exactly what the adapter's `ModuleDelta`s say.
@Suite struct DeltaTableTests {
    @Test func moduleIndexIsThePositionInAllCases() {
        for (position, module) in ProjectionModule.allCases.enumerated() { #expect(module.index == position) }
        #expect(ProjectionModule.count == ProjectionModule.allCases.count)
    }

    @Test("every fixture adapter's table entry matches its delta", arguments: fixtureAdapterNames)
    func tableMatchesDeltas(name: String) throws {
        let model = try tinyModel()
        for precision in FactorPrecision.allCases {
            let adapter = try fixtureAdapter(name, model: model, precision: precision)
            var changed = false
            for layer in 0..<model.config.layerCount {
                for module in ProjectionModule.allCases {
                    let index = layer * ProjectionModule.count + module.index
                    let entry = index < adapter.deltaTableCount ? adapter.deltaTable[index] : DeltaEntry.none
                    switch adapter.delta(layer: layer, module: module) {
                    case .lowRank(let d)?:
                        changed = true
                        #expect(entry.kind == DeltaEntry.Kind.lowRank)
                        #expect(entry.rank == d.rank)
                        #expect(entry.inFeatures == d.inFeatures)
                        #expect(entry.outFeatures == d.outFeatures)
                        #expect(entry.a == d.a.pointer)
                        #expect(entry.bTransposed == d.bTransposed.pointer)
                        // A file's 16-bit factors stay as stored, whatever is configured.
                        #expect(entry.precision == (name == "lora-bf16" ? .bf16 : precision))
                        #expect(entry.scale == d.scale)
                        let gain: UnsafePointer<Float>? = d.doraGain.map { UnsafePointer($0.pointer) }
                        #expect(entry.gain == gain)
                    case .ia3(let s)?:
                        changed = true
                        let kind: DeltaEntry.Kind = s.scalesInput ? .ia3Input : .ia3Output
                        #expect(entry.kind == kind)
                        let vector: UnsafePointer<Float>? = UnsafePointer(s.vector.pointer)
                        #expect(entry.vector == vector)
                        #expect(entry.vectorCount == s.vector.count)
                    case nil:
                        #expect(entry.kind == DeltaEntry.Kind.none)
                    }
                }
            }
            #expect(adapter.hasModuleDeltas == changed)
        }
    }

    /// The low-rank kernel streams every adapter's factors each step: they sit packed in one
    /// arena per adapter, not scattered over the heap.
    @Test("an adapter's factors are packed together", arguments: ["lora", "lora-all", "rslora", "dora", "lora-bf16"])
    func factorsArePacked(name: String) throws {
        let model = try tinyModel()
        for precision in FactorPrecision.allCases {
            let adapter = try fixtureAdapter(name, model: model, precision: precision)
            var factors: [LowRankFactor] = []
            for layer in 0..<model.config.layerCount {
                for module in ProjectionModule.allCases {
                    if case .lowRank(let d)? = adapter.delta(layer: layer, module: module) { factors += [d.a, d.bTransposed] }
                }
            }
            let starts = factors.map { Int(bitPattern: $0.pointer) }
            let span = zip(starts, factors).map { $0 + $1.byteCount }.max()! - starts.min()!
            #expect(span <= FactorArena.bytesNeeded(factors.map(\.byteCount)))
        }
    }
}
