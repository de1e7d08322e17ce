#if canImport(Glibc)
import Glibc
#endif
import TallyStore

/// Names on standard error the unreadable parts an answer may lack; returns whether to go on (`allowPartial`).
func reportMissing(_ missing: [MissingPart], allowPartial: Bool, what: String) -> Bool {
    guard !missing.isEmpty else { return true }
    let rows = missing.reduce(0) { $0 + $1.rows }
    for m in missing { printError("missing: \(m)") }
    if allowPartial {
        printError("warning: incomplete \(what): \(missing.count) quarantined or unreadable part(s) (\(rows) rows) are left out")
        return true
    }
    printError("\(what) failed: \(missing.count) quarantined or unreadable part(s) (\(rows) rows) may hold rows of it; "
        + "run `tally verify`, restore the parts or accept the loss, or pass --allow-partial for an answer without them")
    return false
}

/// Writes a line to standard error.
func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    var p = 1.0
    for _ in 0..<decimals { p *= 10 }
    let r = (value * p).rounded() / p
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
    } else if decimals > 0 {
        s += "." + String(repeating: "0", count: decimals)
    }
    return s
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : fixed(v, 1) + " " + units[u]
}

extension String {
    func rightPad(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
