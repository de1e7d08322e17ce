import ArgumentParser
import TallyStore

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Tenants, hours, parts, rows, bytes on disk and compression per column.")

    @OptionGroup var store: ReadStoreOptionGroup

    func run() throws {
        let s = try store.open()
        defer { try? s.close() }
        for line in s.openReport { printError("note: \(line)") }
        for m in s.missingParts { printError("missing: \(m)") }
        let st = s.stats()
        let rows: [(String, String)] = [
            ("tenants", "\(st.tenants)"),
            ("hours (tenant x hour)", "\(st.hours)"),
            ("parts", "\(st.parts)"),
            ("rows", "\(st.rows)"),
            ("rows in head (not yet sealed)", "\(st.headRows)"),
            ("parts in quarantine (rows missing)", "\(s.missingParts.count) (\(s.missingParts.reduce(0) { $0 + $1.rows }))"),
            ("bytes in parts", formatBytes(st.partBytes)),
            ("bytes in WAL", formatBytes(st.walBytes)),
            ("bytes per record", fixed(st.bytesPerRecord, 2)),
            ("footers (dictionaries, zone maps, hours, rollups)", formatBytes(st.footerBytes)),
        ]
        let width = rows.map(\.0.count).max()!
        for (k, v) in rows { print(k.rightPad(width) + "  " + v) }
        print("")
        print("column          stored      bytes/row   plain/stored")
        let sealed = max(st.rows - st.headRows, 1)
        for c in st.columns {
            let ratio = c.storedBytes > 0 ? Double(c.plainBytes) / Double(c.storedBytes) : 0
            let stored = formatBytes(c.storedBytes).leftPad(10)
            let perRow = fixed(Double(c.storedBytes) / Double(sealed), 2).leftPad(10)
            let r = (fixed(ratio, 1) + "x").leftPad(12)
            print(c.name.rightPad(14) + "  " + stored + "  " + perRow + "  " + r)
        }
    }
}
