#if canImport(Glibc)
import Glibc
#endif
import TallyAnalytics
import TallyStore
import TallyTestSupport
import Testing

/// Faults injected into export files (`FaultInjection` reaches them since they are published through
/// `FileIO.publish`): a failed export ends `failed`, saying why, with no file, partial or whole, left to download.
@Suite struct ExportFaultTests {
    static let may1: Int64 = 1_746_057_600_000
    static let admin = Principal(keyID: "key_admin", tenant: nil, role: .admin)

    /// Services over a fresh store in `directory`, holding `rows` records of tenant `t1` on 2025-05-01.
    static func analytics(in directory: TemporaryDirectory, rows: Int = 500) throws -> Analytics {
        var o = StoreOptions()
        o.background = false
        o.durability = .buffered
        let store = try Store(path: directory.appending("store"), options: o)
        let records = (0..<rows).map { i in
            CostRecord(tenantID: "t1", projectID: "p", environment: "prod", userID: "u\(i % 7)", featureTag: "chat",
                       requestID: "r\(i)", model: "m1", inputTokens: 10, outputTokens: 1, costNanos: 1_000_000,
                       createdAtMillis: may1 + Int64(i) * 1000)
        }
        _ = try store.append(RecordBatch(records))
        return Analytics(store: store, catalog: try SQLiteCatalog(directory: directory.appending("store")))
    }

    @Test("ENOSPC while an export is written: it ends failed, naming the cause, and no file is published; the next one succeeds",
          arguments: [ExportKind.records, .usage])
    func exportWriteFails(kind: ExportKind) async throws {
        let dir = try TemporaryDirectory()
        let analytics = try Self.analytics(in: dir)
        defer {
            FaultInjection.remove(under: dir.path + "/")
            try? analytics.close()
            dir.remove()
        }
        let spec = ExportSpec(kind: kind, format: .csv, from: Self.may1, to: Self.may1 + 86_400_000)
        FaultInjection.install(.init(prefix: analytics.exportsDirectory + "/", operation: .write, fault: .fail(errno: ENOSPC)))

        let pending = try await analytics.createExport(spec, tenantID: "t1", principal: Self.admin)
        await analytics.waitForExport(id: pending.id)
        let failed = try await analytics.export(id: pending.id, principal: Self.admin)
        #expect(failed.status == .failed)
        #expect(failed.error?.contains(String(cString: strerror(ENOSPC))) == true, "\(String(describing: failed.error))")
        #expect(FaultInjection.hitCount(under: analytics.exportsDirectory + "/") > 0, "the export's writes went around FileIO")
        #expect(!FileIO.exists(analytics.exportPath(failed)))
        #expect(FileIO.list(analytics.exportsDirectory).isEmpty, "\(FileIO.list(analytics.exportsDirectory))")

        FaultInjection.remove(under: analytics.exportsDirectory + "/")
        let again = try await analytics.createExport(spec, tenantID: "t1", principal: Self.admin)
        await analytics.waitForExport(id: again.id)
        let ready = try await analytics.export(id: again.id, principal: Self.admin)
        #expect(ready.status == .ready, "\(String(describing: ready.error))")
        #expect(FileIO.fileSize(analytics.exportPath(ready)) == Int(ready.bytes))
        #expect(FileIO.list(analytics.exportsDirectory) == [ready.file])
    }

    @Test("an export whose rename fails publishes nothing and leaves no temporary file")
    func exportRenameFails() async throws {
        let dir = try TemporaryDirectory()
        let analytics = try Self.analytics(in: dir)
        defer {
            FaultInjection.remove(under: dir.path + "/")
            try? analytics.close()
            dir.remove()
        }
        let spec = ExportSpec(kind: .records, format: .ndjson, from: Self.may1, to: Self.may1 + 86_400_000)
        FaultInjection.install(.init(prefix: analytics.exportsDirectory + "/", operation: .rename, fault: .fail(errno: EIO)))
        let pending = try await analytics.createExport(spec, tenantID: "t1", principal: Self.admin)
        await analytics.waitForExport(id: pending.id)
        let failed = try await analytics.export(id: pending.id, principal: Self.admin)
        #expect(failed.status == .failed)
        #expect(FaultInjection.hitCount(under: analytics.exportsDirectory + "/") == 1)
        #expect(FileIO.list(analytics.exportsDirectory).isEmpty, "\(FileIO.list(analytics.exportsDirectory))")
    }
}
