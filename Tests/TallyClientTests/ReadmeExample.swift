import Foundation
import TallyClient

/// README.md's Swift client example ("Getting data in", between the swift-client-example markers), compiled here:
/// `TallyClientTests.readmeSwiftExample` checks the README's block is this function's body and runs it.
func readmeSwiftExample(baseURL: String, writerKey: String, tenantID: String) async -> TallyClient {
    // swift-client-example:start
    // baseURL: "http://127.0.0.1:8080"; writerKey: a writer key (tly_...); tenantID: its tenant.
    var configuration = TallyClient.Configuration(baseURL: baseURL, apiKey: writerKey, tenantID: tenantID)
    configuration.onError = { error in print("tally:", error) }  // TallyClientError: refused records, batches given up
    let tally = TallyClient(configuration: configuration)
    tally.record(TallyRecord(model: "gpt-4o", inputTokens: 1200, outputTokens: 300, featureTag: "support-bot", userID: "u-42"))
    tally.record(TallyRecord(model: "my-finetune", inputTokens: 50, outputTokens: 5, costCents: Decimal(string: "3.1415926"),
                             featureTag: "search"))
    await tally.shutdown()  // flushes
    print("stored", tally.statistics.stored, "dropped", tally.statistics.dropped)
    // swift-client-example:end
    return tally
}
