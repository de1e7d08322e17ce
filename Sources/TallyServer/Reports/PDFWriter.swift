/// A small PDF 1.4 writer: pages of text in the standard Type1 fonts Helvetica and Helvetica-Bold (WinAnsiEncoding,
/// nothing embedded), filled rectangles and stroked lines, in uncompressed content streams, with a cross-reference
/// table of exact byte offsets. Enough for a printable report; coordinates are PDF points from the bottom left.
struct PDFWriter {
    /// The two fonts every page may use.
    enum Font: String {
        case regular = "F1"
        case bold = "F2"
    }

    /// An RGB colour, components 0...1.
    struct Color: Equatable {
        var r: Double, g: Double, b: Double

        /// `#rrggbb`.
        init(hex: UInt32) {
            r = Double((hex >> 16) & 0xFF) / 255
            g = Double((hex >> 8) & 0xFF) / 255
            b = Double(hex & 0xFF) / 255
        }

        static let black = Color(hex: 0x1D2430)
        static let grey = Color(hex: 0x5B6577)
        static let rule = Color(hex: 0xD8DDE6)
    }

    /// A4 portrait, points.
    static let pageWidth = 595.0
    static let pageHeight = 842.0

    /// The content stream of each page, in order.
    private(set) var pages: [String] = []

    /// Starts a new page; drawing goes to it.
    mutating func newPage() { pages.append("") }

    private mutating func emit(_ op: String) {
        if pages.isEmpty { newPage() }
        pages[pages.count - 1] += op + "\n"
    }

    /// Appends operators another writer made (its page's content) to the current page.
    mutating func append(_ content: String) {
        if pages.isEmpty { newPage() }
        pages[pages.count - 1] += content
    }

    /// Text with its baseline starting at (x, y).
    mutating func text(_ s: String, x: Double, y: Double, size: Double, font: Font = .regular, color: Color = .black) {
        emit("BT \(Self.color(color, fill: true)) /\(font.rawValue) \(Self.num(size)) Tf \(Self.num(x)) \(Self.num(y)) Td (\(Self.literal(s))) Tj ET")
    }

    /// Text ending at `right`.
    mutating func textRight(_ s: String, right: Double, y: Double, size: Double, font: Font = .regular, color: Color = .black) {
        text(s, x: right - Self.width(of: s, size: size, font: font), y: y, size: size, font: font, color: color)
    }

    /// A filled rectangle with its lower left corner at (x, y).
    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: Color) {
        emit("\(Self.color(fill, fill: true)) \(Self.num(x)) \(Self.num(y)) \(Self.num(width)) \(Self.num(height)) re f")
    }

    /// A stroked line through `points`.
    mutating func line(_ points: [(x: Double, y: Double)], width: Double, color: Color) {
        guard let first = points.first, points.count > 1 else { return }
        var op = "\(Self.color(color, fill: false)) \(Self.num(width)) w \(Self.num(first.x)) \(Self.num(first.y)) m"
        for p in points.dropFirst() { op += " \(Self.num(p.x)) \(Self.num(p.y)) l" }
        emit(op + " S")
    }

    /// The document: catalog, page tree, the two fonts, then each page and its content stream; the cross-reference
    /// table gives each object's byte offset.
    func bytes() -> [UInt8] {
        let pages = self.pages.isEmpty ? [""] : self.pages
        var out: [UInt8] = Array("%PDF-1.4\n%".utf8) + [0xE2, 0xE3, 0xCF, 0xD3, 0x0A]
        var offsets: [Int] = []
        func object(_ body: [UInt8]) {
            offsets.append(out.count)
            out += Array("\(offsets.count) 0 obj\n".utf8) + body + Array("\nendobj\n".utf8)
        }
        // Objects 1-4 are fixed; page k (0-based) is object 5 + 2k, its content 6 + 2k.
        let kids = (0..<pages.count).map { "\(5 + 2 * $0) 0 R" }.joined(separator: " ")
        object(Array("<< /Type /Catalog /Pages 2 0 R >>".utf8))
        object(Array("<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>".utf8))
        object(Array("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".utf8))
        object(Array("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".utf8))
        for (k, content) in pages.enumerated() {
            object(Array(("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(Self.num(Self.pageWidth)) \(Self.num(Self.pageHeight))] "
                + "/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents \(6 + 2 * k) 0 R >>").utf8))
            let stream = Array(content.utf8)
            object(Array("<< /Length \(stream.count) >>\nstream\n".utf8) + stream + Array("\nendstream".utf8))
        }
        let xref = out.count
        var table = "xref\n0 \(offsets.count + 1)\n0000000000 65535 f \n"
        for o in offsets {
            let digits = String(o)
            table += String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n"
        }
        table += "trailer\n<< /Size \(offsets.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return out + Array(table.utf8)
    }

    // MARK: Text

    /// Width of `s` in points: the Helvetica advance widths of the standard font metrics (Helvetica-Bold's differ
    /// little; digits and the signs of money are the same in both).
    static func width(of s: String, size: Double, font: Font = .regular) -> Double {
        var units = 0
        for byte in winAnsi(s) {
            if byte >= 32 && byte <= 126 {
                units += helveticaWidths[Int(byte) - 32]
            } else {
                units += 556
            }
        }
        return Double(units) * size / 1000 * (font == .bold ? 1.05 : 1)
    }

    /// `s` cut (with "...") to fit `width` points.
    static func fit(_ s: String, width: Double, size: Double, font: Font = .regular) -> String {
        guard Self.width(of: s, size: size, font: font) > width else { return s }
        var cut = s
        while !cut.isEmpty && Self.width(of: cut + "...", size: size, font: font) > width { cut.removeLast() }
        return cut + "..."
    }

    /// The WinAnsiEncoding bytes of `s`: ASCII and Latin-1 as they are, the dashes and quotes WinAnsi has at their
    /// codes, anything else as `?`.
    static func winAnsi(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u.value {
            case 0x20...0x7E, 0xA0...0xFF: out.append(UInt8(u.value))
            case 0x2013: out.append(0x96)
            case 0x2014: out.append(0x97)
            case 0x2018: out.append(0x91)
            case 0x2019: out.append(0x92)
            case 0x201C: out.append(0x93)
            case 0x201D: out.append(0x94)
            case 0x2022: out.append(0x95)
            case 0x2026: out.append(0x85)
            case 0x20AC: out.append(0x80)
            default: out.append(UInt8(ascii: "?"))
            }
        }
        return out
    }

    /// A PDF literal string's content: `\`, `(` and `)` escaped, bytes outside printable ASCII as octal escapes.
    static func literal(_ s: String) -> String {
        var out = ""
        for b in winAnsi(s) {
            switch b {
            case UInt8(ascii: "\\"), UInt8(ascii: "("), UInt8(ascii: ")"): out += "\\" + String(Character(UnicodeScalar(b)))
            case 32...126: out.unicodeScalars.append(UnicodeScalar(b))
            default:
                let octal = String(b, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return out
    }

    static func color(_ c: Color, fill: Bool) -> String {
        "\(num(c.r)) \(num(c.g)) \(num(c.b)) \(fill ? "rg" : "RG")"
    }

    /// A number as PDF writes it: at most 2 decimals, no exponent.
    static func num(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        if r == r.rounded() { return String(Int64(r)) }
        var s = String(format2: r)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    /// Advance widths of Helvetica, code points 32...126 (Adobe's AFM, units of 1/1000 em).
    static let helveticaWidths: [Int] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    ]
}

extension String {
    /// `v` with exactly two decimals (v already rounded to hundredths), without Foundation.
    fileprivate init(format2 v: Double) {
        let hundredths = Int64((v * 100).rounded())
        let m = hundredths.magnitude
        let frac = m % 100
        self = (hundredths < 0 ? "-" : "") + String(m / 100) + "." + (frac < 10 ? "0" : "") + String(frac)
    }
}
