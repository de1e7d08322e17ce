import Testing
@testable import TallyQuery

@Suite struct QueryErrorTests {
    @Test func namesTheParameter() {
        #expect(QueryError.invalidParameter(name: "from", reason: "must be before to").description == "from: must be before to")
    }
}
