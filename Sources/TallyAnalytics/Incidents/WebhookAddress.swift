#if canImport(Glibc)
import Glibc
#endif

/// Which addresses a webhook may reach: public unicast only, unless the operator allows private ones
/// (`tally serve --allow-private-webhooks`, `AnalyticsOptions.allowPrivateWebhooks`).
///
/// A writer key chooses the URL, and the server POSTs to it from inside the operator's network: without this
/// a tenant could make the server call its own admin ports, a cloud metadata service (169.254.169.254) or
/// anything on the LAN. The URL is checked when it is saved (literal addresses and `localhost` names) and the
/// resolved address on every delivery (a name may resolve to anything, and differently each time), and the
/// delivery then connects to the very address that was checked, so a name that re-resolves between the
/// check and the connection (DNS rebinding) gains nothing.
package enum WebhookAddress {
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order.
    package struct IP: Sendable, Equatable, CustomStringConvertible {
        package var bytes: [UInt8]

        package init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// The address as `inet_ntop` writes it (IPv6 without brackets).
        package var description: String {
            var out = [CChar](repeating: 0, count: 64)
            let family = bytes.count == 4 ? AF_INET : AF_INET6
            _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) }
            return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Why `ip` may not be a webhook's destination (e.g. "a loopback address"); nil for a public address.
    package static func refusal(_ ip: IP) -> String? {
        let b = ip.bytes
        if b.count == 4 { return refusalV4(b[0], b[1], b[2], b[3]) }
        guard b.count == 16 else { return "not an IP address" }
        let zeros10 = b[0..<10].allSatisfy { $0 == 0 }
        if zeros10 && b[10] == 0xFF && b[11] == 0xFF {
            return refusalV4(b[12], b[13], b[14], b[15]).map { "an IPv4-mapped form of \($0)" }
        }
        if b[0..<15].allSatisfy({ $0 == 0 }) {
            if b[15] == 0 { return "the unspecified address" }
            if b[15] == 1 { return "a loopback address" }
        }
        if zeros10 && b[10] == 0 && b[11] == 0 {
            // IPv4-compatible (::a.b.c.d, deprecated): still a way of writing an IPv4 address.
            return refusalV4(b[12], b[13], b[14], b[15]).map { "an IPv4-compatible form of \($0)" }
        }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) {
            return refusalV4(b[12], b[13], b[14], b[15]).map { "a NAT64 form of \($0)" }
        }
        if b[0] == 0x20 && b[1] == 0x02 {
            return refusalV4(b[2], b[3], b[4], b[5]).map { "a 6to4 form of \($0)" }
        }
        if b[0] & 0xFE == 0xFC { return "a unique local address (fc00::/7)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return "a link-local address (fe80::/10)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return "a site-local address (fec0::/10)" }
        if b[0] == 0xFF { return "a multicast address" }
        return nil
    }

    private static func refusalV4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> String? {
        switch (a, b) {
        case (0, _): return a == 0 && b == 0 && c == 0 && d == 0 ? "the unspecified address" : "a 'this network' address (0.0.0.0/8)"
        case (127, _): return "a loopback address"
        case (10, _), (172, 16...31), (192, 168): return "a private address (RFC 1918)"
        case (169, 254): return "a link-local address (169.254.0.0/16, where cloud metadata services live)"
        case (100, 64...127): return "a shared address (100.64.0.0/10, carrier-grade NAT)"
        case (192, 0) where c == 0: return "an IETF protocol address (192.0.0.0/24)"
        case (198, 18...19): return "a benchmarking address (198.18.0.0/15)"
        case (224...239, _): return "a multicast address"
        case (240...255, _): return "a reserved or broadcast address"
        default: return nil
        }
    }

    /// The address `host` spells, if it is a literal: IPv6 (brackets already removed), dotted IPv4, or the
    /// legacy IPv4 forms resolvers also accept (`127.1`, `0x7f.0.0.1`, `2130706433`).
    package static func literal(_ host: String) -> IP? {
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return IP(withUnsafeBytes(of: &v6) { Array($0) })
        }
        var v4 = in_addr()
        if inet_aton(host, &v4) != 0 {
            return IP(withUnsafeBytes(of: &v4) { Array($0) })
        }
        return nil
    }

    /// Why a webhook URL's `host` is refused when it is saved: a literal address that is not public, or a
    /// `localhost` name (RFC 6761); nil when the host may be saved (a name is checked again, resolved, on
    /// every delivery).
    package static func refusal(host: String) -> String? {
        if let ip = literal(host) { return refusal(ip) }
        var name = host.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" || name.hasSuffix(".localhost") { return "a loopback name" }
        return nil
    }

    /// The addresses `host` resolves to (`getaddrinfo`, TCP), in the resolver's order; empty when none.
    package static func resolve(_ host: String) -> [IP] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var out: [IP] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let sa = ai.pointee.ai_addr {
                if ai.pointee.ai_family == AF_INET {
                    var a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    out.append(IP(withUnsafeBytes(of: &a) { Array($0) }))
                } else if ai.pointee.ai_family == AF_INET6 {
                    var a = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    out.append(IP(withUnsafeBytes(of: &a) { Array($0) }))
                }
            }
            p = ai.pointee.ai_next
        }
        var seen: [IP] = []
        for ip in out where !seen.contains(ip) { seen.append(ip) }
        return seen
    }

    /// The text a refused destination gets, for the API and the delivery record.
    package static func refusedText(host: String, address: IP?, reason: String) -> String {
        let what = address.map { literal(host) != nil ? "\(host) is" : "\(host) resolves to \($0), which is" } ?? "\(host) is"
        return "\(what) \(reason); webhooks must reach a public address (an operator can allow private ones with "
            + "tally serve --allow-private-webhooks)"
    }
}
