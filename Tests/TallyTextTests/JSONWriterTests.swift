import Foundation
import TallyText
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test("members keep their order; strings, money, times and numbers have one exact form")
    func output() throws {
        var w = JSONWriter()
        w.object { w in
            w.field("s", "a\"b\\c\n\u{01}é")
            w.field("n", -42)
            w.field("d", 56.64)
            w.field("nil", String?.none)
            w.field("cents", cents: 1_234_567_890_123)
            w.field("neg", cents: -5)
            w.field("t", time: 1_746_057_600_000)
            w.field("ms", time: 1_746_057_600_999)
            w.field("old", time: -1)
            w.field("ints", integers: [1, 2])
            w.field("empty") { _ in }
        }
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"s":"a\"b\\c\n\u0001é","n":-42,"d":56.64,"nil":null,"cents":"123456.7890123","neg":"-0.0000005","t":"2025-05-01T00:00:00Z","ms":"2025-05-01T00:00:00.999Z","old":"1969-12-31T23:59:59.999Z","ints":[1,2],"empty":{}}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any]
        #expect(parsed?["s"] as? String == "a\"b\\c\n\u{01}é")
    }
}
