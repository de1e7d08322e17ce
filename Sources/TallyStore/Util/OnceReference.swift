import Synchronization

/// A reference set at most once and read without a lock: what `Synchronization.AtomicLazyReference` is, compiled in
/// this module so that a read is one acquiring load specialized to `Instance`. The library's generic `load()` is not
/// inlined here and looked up its type's metadata on every call; a part's footer is read through one per block read
/// (2-3% of a raw scan, ~8% of an all-tenant question over 5,000 small parts).
package struct OnceReference<Instance: AnyObject>: ~Copyable {
    private let storage = Atomic<Unmanaged<Instance>?>(nil)

    package init() {}

    /// The reference, or nil if none is stored yet.
    @inline(__always)
    package func load() -> Instance? {
        storage.load(ordering: .acquiring)?.takeUnretainedValue()
    }

    /// Stores `desired` if nothing is stored yet; returns what is stored now (`desired`, or the reference another
    /// thread stored first).
    package func storeIfNil(_ desired: Instance) -> Instance {
        let new = Unmanaged.passRetained(desired)
        let (exchanged, current) = storage.compareExchange(expected: nil, desired: new, ordering: .acquiringAndReleasing)
        if !exchanged, let current {
            new.release()
            return current.takeUnretainedValue()
        }
        return desired
    }

    deinit {
        storage.load(ordering: .acquiring)?.release()
    }
}

extension OnceReference: @unchecked Sendable where Instance: Sendable {}
