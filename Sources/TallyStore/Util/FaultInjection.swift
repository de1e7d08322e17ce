import Synchronization

/// Faults that tests inject into Tally's file I/O (`FileIO`, `MappedFile`), scoped by path prefix.
///
/// Every rule applies only to paths under its `prefix` (a test's own temporary directory), so tests that
/// run in parallel never see each other's faults. With no rule installed, `fault(_:_:)` is one relaxed
/// atomic load: production code pays nothing else.
package enum FaultInjection {
    /// The file operations a fault can hit.
    package enum Operation: Sendable, Equatable {
        /// `open` of a file or directory.
        case open
        /// One `write` call (a `writeAll` loops, so a rule counts each call).
        case write
        /// `fdatasync`/`fsync` of a file or directory.
        case sync
        /// Reading a whole file (`readAll`) or mapping it (`MappedFile`).
        case read
        /// `rename` (of its source path), alone or as the last step of a `publish`.
        case rename
        /// `unlink` of a file or `rmdir` of a directory.
        case remove
        /// `mkdir`.
        case makeDirectory
    }

    /// What happens to a matching call.
    package enum Fault: Sendable, Equatable {
        /// The call fails with `errno`, doing nothing (`ENOSPC`, `EIO`...).
        case fail(errno: Int32)
        /// A write writes at most `max` bytes (the kernel's right): the caller must write the rest.
        case short(max: Int)
        /// A write writes its first `keep` bytes, then fails with `errno`: a torn write.
        case torn(keep: Int, errno: Int32)
        /// The bytes read have bit `bit` of byte `offset` (clamped to the last byte) flipped; the file is not changed.
        case flipBit(offset: Int, bit: UInt8)
    }

    /// One installed fault.
    package struct Rule: Sendable {
        /// Paths this rule applies to start with this.
        package var prefix: String
        /// ...and contain this (e.g. `"/wal/"`, `".part"`), when set.
        package var contains: String?
        package var operation: Operation
        package var fault: Fault
        /// Matching calls let through before the fault hits.
        package var skip: Int
        /// Calls the fault hits before the rule expires (`Int.max`: until removed).
        package var times: Int

        package init(prefix: String, contains: String? = nil, operation: Operation, fault: Fault, skip: Int = 0, times: Int = .max) {
            self.prefix = prefix
            self.contains = contains
            self.operation = operation
            self.fault = fault
            self.skip = skip
            self.times = times
        }
    }

    private static let count = Atomic<Int>(0)
    private static let rules = Mutex<[Rule]>([])
    private static let hits = Mutex<[String: Int]>([:])

    /// Installs `rule` until `remove(under:)` is called for its prefix (or it has hit `times` calls).
    package static func install(_ rule: Rule) {
        rules.withLock {
            $0.append(rule)
            count.store($0.count, ordering: .releasing)
        }
    }

    /// Removes every rule for paths under `prefix`; returns how many calls the removed rules hit.
    @discardableResult
    package static func remove(under prefix: String) -> Int {
        rules.withLock {
            $0.removeAll { $0.prefix == prefix }
            count.store($0.count, ordering: .releasing)
        }
        return hits.withLock { $0.removeValue(forKey: prefix) ?? 0 }
    }

    /// How many calls the rules for `prefix` have hit so far.
    package static func hitCount(under prefix: String) -> Int {
        hits.withLock { $0[prefix] ?? 0 }
    }

    /// The fault for this call, if an installed rule matches (consuming one of its skips or hits).
    @inline(__always)
    static func fault(_ operation: Operation, _ path: String) -> Fault? {
        guard count.load(ordering: .relaxed) > 0 else { return nil }
        return match(operation, path)
    }

    private static func match(_ operation: Operation, _ path: String) -> Fault? {
        let hit: Rule? = rules.withLock { rules in
            guard let i = rules.firstIndex(where: {
                $0.operation == operation && path.hasPrefix($0.prefix) && ($0.contains.map { path.contains($0) } ?? true)
            }) else { return nil }
            if rules[i].skip > 0 {
                rules[i].skip -= 1
                return nil
            }
            let rule = rules[i]
            if rules[i].times != .max { rules[i].times -= 1 }
            if rules[i].times <= 0 { rules.remove(at: i) }
            count.store(rules.count, ordering: .releasing)
            return rule
        }
        guard let hit else { return nil }
        hits.withLock { $0[hit.prefix, default: 0] += 1 }
        return hit.fault
    }
}
