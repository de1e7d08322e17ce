import TallyText

/// One plain-text email as RFC 5322 text: the headers Date, Message-ID, From, To, Subject, MIME-Version,
/// Content-Type (`text/plain; charset=utf-8`) and Content-Transfer-Encoding (`quoted-printable`), then the body,
/// every line ending in CRLF and no line longer than 78 characters. A Subject that is not short printable ASCII is
/// written as RFC 2047 encoded words (`=?utf-8?B?...?=`), folded.
///
/// What goes to the SMTP server after `DATA` is `rendered` dot-stuffed (`SMTPClient`).
public struct SMTPMessage: Sendable, Equatable {
    /// The envelope sender and `From:`.
    public var from: String
    /// The envelope recipients and `To:`.
    public var to: [String]
    public var subject: String
    /// The text, UTF-8, lines separated by LF or CRLF.
    public var body: String
    /// `Date:`, ms UTC.
    public var date: Int64
    /// `Message-ID:` without the angle brackets, e.g. `alr_3f9a0c1d2e4b5a69@tally`.
    public var messageID: String

    /// A message.
    public init(from: String, to: [String], subject: String, body: String, date: Int64, messageID: String) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.date = date
        self.messageID = messageID
    }

    /// The message as sent: headers, an empty line, the quoted-printable body; CRLF line ends.
    public var rendered: [UInt8] {
        var out: [UInt8] = []
        func header(_ text: String) { out += Array(text.utf8) + [13, 10] }
        header("Date: " + Self.rfc5322Date(date))
        header("Message-ID: <\(messageID)>")
        header("From: " + from)
        header("To: " + to.joined(separator: ",\r\n "))
        header("Subject: " + Self.encodedHeaderText(subject))
        header("MIME-Version: 1.0")
        header("Content-Type: text/plain; charset=utf-8")
        header("Content-Transfer-Encoding: quoted-printable")
        out += [13, 10]
        out += Self.quotedPrintable(body)
        return out
    }

    /// `Sun, 06 Dec 2026 10:26:24 +0000`.
    static func rfc5322Date(_ millis: Int64) -> String {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(two(Int64(d))) \(months[m - 1]) \(y) \(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60)) +0000"
    }

    /// Header text as it is when it is printable ASCII of at most 60 bytes, else as folded RFC 2047 encoded words of
    /// at most 39 bytes of UTF-8 each (whole characters; 64 characters encoded), so no header line passes 78
    /// characters, `Subject: ` included.
    static func encodedHeaderText(_ text: String) -> String {
        let bytes = Array(text.utf8)
        if bytes.count <= 60, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for ch in text.unicodeScalars {
            let scalar = ch.value < 0x20 || ch.value == 0x7F ? " " : String(ch)
            let utf8 = Array(scalar.utf8)
            if chunk.count + utf8.count > 39 {
                words.append("=?utf-8?B?" + Base64.encode(chunk) + "?=")
                chunk = []
            }
            chunk += utf8
        }
        if !chunk.isEmpty { words.append("=?utf-8?B?" + Base64.encode(chunk) + "?=") }
        return words.joined(separator: "\r\n ")
    }

    /// Quoted-printable (RFC 2045 section 6.7): printable ASCII but `=` as it is, other bytes as `=XX`, a space or tab
    /// before a line end encoded, lines kept to 76 characters with soft breaks (`=` CRLF); hard line ends CRLF.
    static func quotedPrintable(_ text: String) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        var lines = Array(text.utf8).split(separator: 10, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == 13 ? line.dropLast() : line
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines {
            var width = 0
            for (i, b) in line.enumerated() {
                let last = i == line.count - 1
                let literal = (b >= 33 && b <= 126 && b != 61) || ((b == 32 || b == 9) && !last)
                let piece: [UInt8] = literal ? [b] : [61, digits[Int(b >> 4)], digits[Int(b & 15)]]
                // A soft break leaves room for its `=`: at most 75 characters before it.
                if width + piece.count > 75 {
                    out += [61, 13, 10]
                    width = 0
                }
                out += piece
                width += piece.count
            }
            out += [13, 10]
        }
        return out
    }

    /// Dot-stuffing (RFC 5321 section 4.5.2): a line starting with `.` gets another; then the final `.` line.
    static func dataPayload(_ rendered: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rendered.count + 16)
        var lineStart = true
        for b in rendered {
            if lineStart && b == 46 { out.append(46) }
            out.append(b)
            lineStart = b == 10
        }
        if !lineStart { out += [13, 10] }
        out += [46, 13, 10]
        return out
    }
}

/// Standard Base64 (RFC 4648 section 4) with padding: AUTH exchanges and encoded words.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(n > 1 ? alphabet[Int(v >> 6 & 63)] : 61)
            out.append(n > 2 ? alphabet[Int(v & 63)] : 61)
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
