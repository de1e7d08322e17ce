import Synchronization
import Testing
@testable import TallyStore

@Suite struct OnceReferenceTests {
    final class Value: Sendable {
        let n: Int
        init(_ n: Int) { self.n = n }
    }

    final class Holder: Sendable {
        let reference = OnceReference<Value>()
    }

    @Test("a once-reference keeps the first value stored, gives every thread that one, and lets it go with itself")
    func firstStoreWins() async throws {
        weak var kept: Value?
        weak var lost: Value?
        do {
            let holder = Holder()
            let empty = holder.reference.load()
            #expect(empty == nil)
            let winners = await withTaskGroup(of: Int.self) { group in
                for n in 0..<16 { group.addTask { holder.reference.storeIfNil(Value(n)).n } }
                return await group.reduce(into: Set<Int>()) { $0.insert($1) }
            }
            #expect(winners.count == 1)
            let loaded = holder.reference.load()
            let stored = try #require(loaded)
            #expect(winners == [stored.n])
            let other = Value(99)
            let again = holder.reference.storeIfNil(other)
            #expect(again === stored)
            kept = stored
            lost = other
        }
        #expect(lost == nil, "a value not stored is released")
        #expect(kept == nil, "the stored value is released with the reference")
    }

    struct Failure: Error {}

    /// Derived indexes: a slot keeps the first value made and every thread gets that one; slots are apart; a failed
    /// make keeps nothing; the values are released with the indexes.
    @Test func derivedIndexSlots() async throws {
        weak var kept: Value?
        do {
            let derived = DerivedIndexes()
            let winners = await withTaskGroup(of: Int.self) { group in
                for n in 0..<16 {
                    group.addTask {
                        derived.value(3) { Value(n) }.n
                    }
                }
                return await group.reduce(into: Set<Int>()) { $0.insert($1) }
            }
            #expect(winners.count == 1)
            let first = derived.value(3) { Value(-1) }
            #expect(winners == [first.n])
            #expect(derived.value(4) { [7, 8] } == [7, 8])
            #expect(derived.value(4) { [0] } == [7, 8], "a slot is made once")
            #expect(derived.value(DerivedIndexes.slotCount - 1) { "last" } == "last")
            #expect(throws: Failure.self) { try derived.value(5) { () throws -> Int in throw Failure() } }
            #expect(derived.value(5) { 11 } == 11, "a failed make keeps nothing")
            kept = first
        }
        #expect(kept == nil, "the values are released with the indexes")
    }
}
