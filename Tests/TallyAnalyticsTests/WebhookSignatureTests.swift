import TallyAnalytics
import Testing

@Suite("Webhook signatures, backoff and URLs")
struct WebhookSignatureTests {
    @Test("the signature is HMAC-SHA256 (RFC 4231 test case 2) in lower-case hex after sha256=")
    func knownAnswer() {
        let signature = WebhookSignature.sign(Array("what do ya want for nothing?".utf8), secret: "Jefe")
        #expect(signature == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("backoff doubles per attempt and stops growing at an hour")
    func backoff() {
        #expect((1...4).map { WebhookSignature.backoffMillis(attempt: $0, baseMillis: 30_000) } == [30_000, 60_000, 120_000, 240_000])
        #expect(WebhookSignature.backoffMillis(attempt: 30, baseMillis: 30_000) == 3_600_000)
    }

    @Test("webhook URLs: http and https with host, port and path; anything else is refused")
    func urls() {
        let local = WebhookURL("http://127.0.0.1:8081/hook?x=1")
        #expect(local?.secure == false && local?.host == "127.0.0.1" && local?.port == 8081 && local?.target == "/hook?x=1")
        let secure = WebhookURL("https://example.com")
        #expect(secure?.secure == true && secure?.host == "example.com" && secure?.port == 443 && secure?.target == "/")
        #expect(WebhookURL("http://[::1]:9/x")?.host == "::1")
        for bad in ["ftp://x/", "http://", "http://user@x/", "http://x:0/", "http://x:99999/", "http://a b/", "x"] {
            #expect(WebhookURL(bad) == nil, "\(bad)")
        }
    }
}
