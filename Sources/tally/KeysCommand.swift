import ArgumentParser
import TallyAnalytics
import TallyStore
import TallyText
#if canImport(Glibc)
import Glibc
#endif

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Creates, lists and revokes API keys (stored only as SHA-256 hashes, in DIR/catalog.sqlite or the PostgreSQL catalog).",
        subcommands: [Create.self, List.self, Revoke.self, Demo.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates a key and prints its secret once.",
            discussion: "A reader key reads its tenant's statistics, a writer key writes its tenant's records, an admin key does both for every tenant.")

        @Option(help: "The data directory (its catalog.sqlite holds the keys unless --catalog postgres).")
        var data: String?

        @OptionGroup var catalogOptions: CatalogOptions

        @Option(help: "The tenant of a reader or writer key.")
        var tenant: String?

        @Option(help: "reader or writer (or admin, same as --admin).")
        var role: Role?

        @Flag(help: "Create an admin key (all tenants).")
        var admin = false

        func validate() throws {
            try catalogOptions.check(data: data)
            let role = admin ? .admin : self.role
            guard let role else { throw ValidationError("pass --role reader|writer with --tenant, or --admin") }
            if admin && self.role != nil && self.role != .admin { throw ValidationError("--admin and --role \(self.role!.rawValue) disagree") }
            if role == .admin && tenant != nil { throw ValidationError("an admin key belongs to no tenant: leave out --tenant") }
            if role != .admin && tenant == nil { throw ValidationError("a \(role.rawValue) key needs --tenant") }
            if let tenant, !AccessPolicy.isValidTenantID(tenant) {
                throw ValidationError("--tenant must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
            }
        }

        func run() throws {
            let catalog = try catalogOptions.open(data: data)
            let (key, secret) = try catalog.createKey(tenant: tenant, role: admin ? .admin : role!)
            print(secret)
            printError("created \(key.id) (\(key.role.rawValue)\(key.tenant.map { " of tenant " + $0 } ?? ", all tenants")); "
                       + "the secret above is shown only now")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists keys (never their secrets).")

        @Option(help: "The data directory (its catalog.sqlite holds the keys unless --catalog postgres).")
        var data: String?

        @OptionGroup var catalogOptions: CatalogOptions

        @Flag(help: "Leave out revoked keys.")
        var active = false

        func validate() throws { try catalogOptions.check(data: data) }

        func run() throws {
            let keys = try catalogOptions.open(data: data).listKeys(includeRevoked: !active)
            print("id".rightPad(17) + "role".rightPad(8) + "tenant".rightPad(26) + "created".rightPad(26) + "revoked")
            for k in keys {
                print(k.id.rightPad(17) + k.role.rawValue.rightPad(8) + (k.tenant ?? "*").rightPad(26)
                      + Timestamp.format(k.createdAt).rightPad(26) + (k.revokedAt.map(Timestamp.format) ?? "-"))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes a key; a running server refuses it at once.")

        @Option(help: "The data directory (its catalog.sqlite holds the keys unless --catalog postgres).")
        var data: String?

        @OptionGroup var catalogOptions: CatalogOptions

        @Argument(help: "The key id (key_...), as `tally keys list` shows it.")
        var id: String

        func validate() throws { try catalogOptions.check(data: data) }

        func run() throws {
            guard let key = try catalogOptions.open(data: data).revokeKey(id: id) else {
                printError("no key \(id)")
                throw ExitCode(1)
            }
            print("revoked \(key.id) at \(Timestamp.format(key.revokedAt ?? 0))")
        }
    }

    /// For `make run`: creates demo keys once, keeps them in DIR/demo-keys.txt, prints them and curl lines.
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates demo keys if there are none (kept in DIR/demo-keys.txt) and prints curl examples.")

        @Option(help: "The data directory.")
        var data: String

        @Option(help: "Host the curl examples call.")
        var host = "127.0.0.1"

        @Option(help: "Port the curl examples call.")
        var port = 8080

        func run() async throws {
            let file = data + "/demo-keys.txt"
            let catalog = try SQLiteCatalog(directory: data)
            var values = Self.read(file)
            if values.isEmpty {
                guard try catalog.listKeys().isEmpty else {
                    printError("keys exist already but \(file) does not: create one with `tally keys create`")
                    return
                }
                values = try await makeKeys(catalog)
                let text = values.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n"
                let directory = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? "."
                do {
                    try FileIO.publish(file, directory: directory.isEmpty ? "/" : directory, mode: 0o600) { fd, path in
                        try FileIO.writeAll(fd, Array(text.utf8), path: path)
                    }
                } catch {
                    throw ValidationError("cannot write \(file): \(error)")
                }
            }
            let v = Dictionary(values, uniquingKeysWith: { a, _ in a })
            let base = "http://\(host):\(port)/api/v1/analytics"
            let window = "from=\(v["FROM"] ?? "")&to=\(v["TO"] ?? "")"
            print("""
                demo keys (kept in \(file); tenant \(v["TENANT"] ?? ""), data \(v["FROM"] ?? "") .. \(v["TO"] ?? "")):
                  admin (all tenants)   \(v["ADMIN_KEY"] ?? "")
                  reader                \(v["READER_KEY"] ?? "")
                  writer                \(v["WRITER_KEY"] ?? "")

                console: http://\(host):\(port)/console (paste the reader key, or the admin key and a tenant)

                try:
                  curl -s '\(base)/statistics/usage?\(window)&resolution=day' -H 'Authorization: Bearer \(v["READER_KEY"] ?? "")'
                  curl -s '\(base)/statistics/cost?\(window)' -H 'Authorization: Bearer \(v["READER_KEY"] ?? "")'
                  curl -s '\(base)/statistics/cost?\(window)&group_by=feature,model&limit=5&trailing_days=7' -H 'Authorization: Bearer \(v["READER_KEY"] ?? "")'
                  curl -s '\(base)/statistics/cost?\(window)&group_by=tenant&limit=10' -H 'Authorization: Bearer \(v["ADMIN_KEY"] ?? "")'
                  printf '{"tenant_id":"\(v["TENANT"] ?? "")","request_id":"demo-1","model":"gpt-4o","input_tokens":1200,"output_tokens":300,"created_at":"\(v["TO"] ?? "")"}\\n' | curl -s -X POST '\(base)/records' -H 'Authorization: Bearer \(v["WRITER_KEY"] ?? "")' -H 'Content-Type: application/x-ndjson' --data-binary @-
                  curl -s '\(base)/_status'; curl -s '\(base)/health'; curl -s 'http://\(host):\(port)/metrics'

                """)
        }

        /// Creates an admin key and a reader and a writer key for the largest tenant; the window is the last 30 days of data.
        private func makeKeys(_ catalog: SQLiteCatalog) async throws -> [(String, String)] {
            var options = StoreOptions()
            options.background = false
            options.readOnly = true
            let store = try Store(path: data, options: options)
            defer { try? store.close() }
            let analytics = Analytics(store: store, catalog: catalog)
            let tenant = try await analytics.largestTenant() ?? "demo"
            let newest = try await analytics.newestRecord(tenant: tenant) ?? TimeSource.systemWallMillis()
            let to = TimeUnit.dayStart(newest) + TimeUnit.dayMillis
            let admin = try catalog.createKey(tenant: nil, role: .admin)
            let reader = try catalog.createKey(tenant: tenant, role: .reader)
            let writer = try catalog.createKey(tenant: tenant, role: .writer)
            return [
                ("TENANT", tenant), ("ADMIN_KEY", admin.secret), ("READER_KEY", reader.secret), ("WRITER_KEY", writer.secret),
                ("FROM", Timestamp.formatSeconds(to - 30 * TimeUnit.dayMillis)), ("TO", Timestamp.formatSeconds(to)),
            ]
        }

        private static func read(_ path: String) -> [(String, String)] {
            guard let bytes = try? FileIO.readAll(path) else { return [] }
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
                let pair = line.split(separator: "=", maxSplits: 1)
                return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
            }
        }
    }
}

extension Role: ExpressibleByArgument {}
