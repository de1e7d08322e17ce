import Testing
import TallySynthetic
@testable import TallyQuery

/// `MergeIndex`: keys of one id without buckets are found by that id, any other key moves the index to hashing;
/// either way it answers as a dictionary would.
@Suite struct MergeIndexTests {
    /// A random key: mostly one small id (the direct kind), sometimes two ids, a bucket, no id, or a large id.
    static func key(_ rng: inout Xoshiro256, direct: Bool) -> MergeKey {
        var ids = SIMD8<Int32>(repeating: -1)
        ids[0] = Int32(rng.below(300))
        guard !direct else { return MergeKey(ids: ids, bucket: 0) }
        switch rng.below(4) {
        case 0: ids[1] = Int32(rng.below(3))
        case 1: return MergeKey(ids: ids, bucket: Int64(rng.below(3)) * 3_600_000)
        case 2: ids[0] = -1
        default: ids[0] = MergeIndex.directLimit + Int32(rng.below(3))
        }
        return MergeKey(ids: ids, bucket: 0)
    }

    /// 400 sequences of inserts and finds, each switching to hashed keys at a random point (or never): every
    /// answer equals a dictionary's, and the indices stay insertion order.
    @Test func answersAsADictionary() {
        var rng = Xoshiro256(seed: 3, stream: 9)
        for trial in 0..<400 {
            var index = MergeIndex()
            if trial % 3 == 0 { index.reserve(rng.below(500)) }
            var reference: [[Int64]: Int] = [:]
            let n = 1 + rng.below(1_000)
            let switchAt = rng.below(2) == 0 ? Int.max : rng.below(n)
            func plain(_ k: MergeKey) -> [Int64] { (0..<8).map { Int64(k.ids[$0]) } + [k.bucket] }
            for i in 0..<n {
                let k = Self.key(&rng, direct: i < switchAt || rng.below(2) == 0)
                let probe = Self.key(&rng, direct: rng.below(2) == 0)
                #expect(index.find(probe) == reference[plain(probe)])
                let (at, added) = index.insert(k)
                if let known = reference[plain(k)] {
                    #expect(!added && at == known)
                } else {
                    #expect(added && at == reference.count)
                    reference[plain(k)] = at
                }
            }
            #expect(index.keys.count == reference.count)
            for (i, k) in index.keys.enumerated() {
                #expect(reference[plain(k)] == i)
                #expect(index.find(k) == i)
            }
        }
    }

    /// The direct kind: one id in the first position, bucket 0; nothing else has a direct id.
    @Test func directIDs() {
        var ids = SIMD8<Int32>(repeating: -1)
        ids[0] = 5
        #expect(MergeKey(ids: ids, bucket: 0).directID == 5)
        #expect(MergeKey(ids: ids, bucket: 1).directID == nil)
        ids[3] = 0
        #expect(MergeKey(ids: ids, bucket: 0).directID == nil)
        #expect(MergeKey(ids: SIMD8(repeating: -1), bucket: 0).directID == nil)
    }
}
