import Testing

@testable import CardDomain

@Suite("Routing rules against bank.branches")
struct RoutingRulesTests {
    static let branch = Branch(
        bank: "BOB", branch: "BOB-0105-01", name: "北京银行朝阳支行", district: "110105", address: "北京市朝阳区永安里1号")

    private func codes(bank: Bank = .bob, code: String = "BOB-0105-01", _ branch: Branch?) -> [ReasonCode] {
        let reasons = RoutingRules.check(bank: bank, branchCode: code, branch: branch)
        #expect(reasons.allSatisfy { $0.field == "card.branch" && !$0.message.isEmpty })
        return reasons.map(\.code)
    }

    @Test("an open branch of the chosen bank serving minors passes")
    func passes() {
        #expect(codes(Self.branch) == [])
        #expect(Self.branch.key == "BOB/BOB-0105-01")
    }

    @Test("BRANCH_UNKNOWN when there is no record (or a record of another code)")
    func unknown() {
        #expect(codes(nil) == [.branchUnknown])
        #expect(codes(code: "BOB-0105-02", Self.branch) == [.branchUnknown])
    }

    @Test("BRANCH_NOT_OF_BANK when the branch belongs to another bank")
    func otherBank() {
        #expect(codes(bank: .icbc, Self.branch) == [.branchNotOfBank])
    }

    @Test("BRANCH_CLOSED when not open")
    func closed() {
        var branch = Self.branch
        branch.open = false
        #expect(codes(branch) == [.branchClosed])
    }

    @Test("BRANCH_NO_MINOR_SERVICE when it does not serve minors")
    func noMinors() {
        var branch = Self.branch
        branch.servesMinors = false
        #expect(codes(branch) == [.branchNoMinorService])
    }

    @Test("all applicable branch reasons at once")
    func allAtOnce() {
        var branch = Self.branch
        branch.open = false
        branch.servesMinors = false
        #expect(codes(bank: .ccb, branch) == [.branchNotOfBank, .branchClosed, .branchNoMinorService])
    }

    @Test("the submission overload uses card.bank and card.branch")
    func submissionOverload() throws {
        let submission = try #require(parse(Fixtures.sample())?.accepted)
        #expect(RoutingRules.check(submission, branch: Self.branch) == [])
        #expect(RoutingRules.check(submission, branch: nil).map(\.code) == [.branchUnknown])
    }
}
