import Crypto
import Synchronization

/// The principals of keys verified lately, so that a request with a known key is answered without a catalog lookup
/// (a hop to the blocking pool and an SQLite or PostgreSQL read per request before; docs/PERFORMANCE.md, session 10).
///
/// An entry is used only while both hold:
/// - the catalog's revision (`Catalog.revision()`) is the one read before the key was looked up: any revocation
///   through this catalog, and with SQLite any commit of any process (`tally keys revoke`), changes it, so such a key
///   stops working at once;
/// - it is younger than `ttl` seconds: what the revision does not see (a revocation on another node sharing a
///   PostgreSQL catalog) is seen by the next lookup, at most `ttl` later.
///
/// Entries are keyed by the SHA-256 digest of the presented secret, never the secret. Only keys that verified are
/// kept (an unknown secret is looked up every time, so guesses cannot fill it), at most `capacity` of them.
final class VerifiedKeys: Sendable {
    /// The SHA-256 digest of a secret.
    struct Digest: Hashable, Sendable {
        let a, b, c, d: UInt64

        init(_ secret: String) {
            var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            SHA256.hash(data: Array(secret.utf8)).withUnsafeBytes { raw in
                words = (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                         raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
            (a, b, c, d) = words
        }
    }

    private struct Entry {
        let principal: Principal
        let revision: CatalogRevision
        let verifiedAt: Double
    }

    /// Seconds an entry is used at most; 0 keeps nothing.
    let ttl: Double
    /// Most entries.
    let capacity: Int
    private let entries = Mutex([Digest: Entry]())

    /// A cache whose entries live `ttl` seconds at most, `capacity` of them.
    init(ttl: Double, capacity: Int = 4_096) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The principal verified for `digest` at `revision`, if it is still young at `now` (monotonic seconds).
    func principal(for digest: Digest, revision: CatalogRevision, now: Double) -> Principal? {
        guard ttl > 0 else { return nil }
        return entries.withLock { e -> Principal? in
            guard let entry = e[digest] else { return nil }
            guard entry.revision == revision, now - entry.verifiedAt < ttl, now >= entry.verifiedAt else {
                e[digest] = nil
                return nil
            }
            return entry.principal
        }
    }

    /// Keeps `principal`, verified by a lookup that began at `revision` and `now`.
    func keep(_ principal: Principal, for digest: Digest, revision: CatalogRevision, now: Double) {
        guard ttl > 0 else { return }
        entries.withLock { e in
            if e.count >= capacity && e[digest] == nil {
                e = e.filter { $0.value.revision == revision && now - $0.value.verifiedAt < ttl }
                if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            }
            e[digest] = Entry(principal: principal, revision: revision, verifiedAt: now)
        }
    }

    /// How many entries are kept (tests).
    var count: Int { entries.withLock { $0.count } }
}
