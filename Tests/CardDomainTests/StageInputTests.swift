import Foundation
import Testing

@testable import CardDomain
@testable import JSONCodec

/// The stages after intake decode only what they read of `card.application.v1` (issue 14). These
/// hold the selective parse to the full one: the same texts accepted and refused, the same values
/// for the parts read, the same coding paths in errors, and the same bytes written onwards.
@Suite("Stage inputs: selective parsing of the envelope")
struct StageInputTests {
    static let every = JSONSelection.members(["a": .all, "s": .members(["x": .all])])

    @Test("a selection accepts and refuses exactly the texts the full parser does", arguments: [
        #"{"a":1,"s":{"x":[1,2],"y":{"z":"\u5f20"}},"t":[true,false,null,-1.5e3]}"#,
        #"{"t":"北京市朝阳区","s":{"y":"\ud83d\ude00","x":{}}}"#,
        #"{"t":"a\"b\\c\/d\n"}"#, #"{"t":{"u":[[[]]]}}"#, #"[1,2]"#, #""s""#, "{}",
        // not JSON, inside members the selection skips
        #"{"t":[1,]}"#, #"{"t":01}"#, #"{"t":"\ud83d"}"#, #"{"t":"\x"}"#, "{\"t\":\"tab\there\"}", #"{"t":1e999}"#,
        #"{"t":tru}"#, #"{"t":{"u" 1}}"#, #"{"t":"unterminated}"#, #"{"t":{'u':1}}"#, #"{"s":{"y":NaN}}"#, #"{"a":1} {}"#,
    ])
    func sameVerdict(_ text: String) {
        let bytes = Array(text.utf8)
        #expect((JSONValue(parsing: bytes) == nil) == (JSONValue(parsing: bytes, selecting: Self.every) == nil))
    }

    @Test("invalid UTF-8 and hostile nesting in a skipped member are refused too")
    func skippedBytesAreChecked() {
        #expect(JSONValue(parsing: Array(#"{"t":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), selecting: Self.every) == nil)
        let deep = #"{"t":"# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}"
        #expect(JSONValue(parsing: Array(deep.utf8)) == nil)
        #expect(JSONValue(parsing: Array(deep.utf8), selecting: Self.every) == nil)
    }

    @Test("selected members are what the full tree holds; the others are left out")
    func selectedMembers() throws {
        let bytes = Array(#"{"a":{"k":[1,"2"]},"s":{"x":"张","y":[1]},"t":3,"a":{"k":true}}"#.utf8)
        let full = try #require(JSONValue(parsing: bytes))
        let partial = try #require(JSONValue(parsing: bytes, selecting: Self.every))
        #expect(partial["a"] == full["a"])  // the last of a repeated key, as in the full tree
        #expect(partial["s"] == .object(["x": .string("张")]))
        #expect(partial["t"] == nil)
    }

    static func inputs() throws -> [(ApplicationEnvelope, [UInt8])] {
        try RawJSONTests.envelopes().map { ($0, try CardJSON.encodeBytes($0)) }
    }

    @Test("each stage's input holds the parts of the envelope it reads")
    func partsEqualTheWhole() throws {
        for (envelope, bytes) in try Self.inputs() {
            let identity = try CardJSON.decode(IdentityInput.self, from: bytes, selecting: IdentityInput.selection)
            #expect(identity.head == EnvelopeHead(envelope))
            #expect(identity.agent == envelope.submission.agent)
            #expect(identity.applicant == envelope.submission.applicant)
            #expect(identity.household == envelope.submission.household)
            #expect(identity.card == envelope.submission.card)
            let registry = RegistryPerson(idNumber: envelope.submission.agent.idNumber, name: envelope.submission.agent.name,
                                          gender: envelope.submission.agent.gender, birthDate: CivilDate(year: 2000, month: 1, day: 1)!)
            #expect(IdentityRules.check(claimedAgent: identity.agent, claimedApplicant: identity.applicant, household: identity.household,
                                        agent: registry, applicant: nil)
                    == IdentityRules.check(envelope.submission, agent: registry, applicant: nil))

            let routing = try CardJSON.decode(RoutingInput.self, from: bytes, selecting: RoutingInput.selection)
            #expect(routing.head == EnvelopeHead(envelope))
            #expect(routing.card == envelope.submission.card)
            #expect(routing.applicantIDNumber == envelope.applicantIDNumber)

            let production = try CardJSON.decode(ProductionInput.self, from: bytes, selecting: ProductionInput.selection)
            #expect(production.head == EnvelopeHead(envelope))
            let at = RawJSONTests.at.adding(days: 2)
            #expect(production.order(orderedAt: at) == CardOrder(submission: envelope.submission, orderedAt: at, registeredNames: envelope.registeredNames))
        }
    }

    @Test("the next envelope from the head and the input's submission bytes equals re-encoding the whole")
    func headEncodesAsTheWhole() throws {
        for (envelope, bytes) in try Self.inputs() {
            var head = try CardJSON.decode(RoutingInput.self, from: bytes, selecting: RoutingInput.selection).head
            var next = envelope
            head.seq += 1; next.seq += 1
            head.routedAt = RawJSONTests.at; next.routedAt = RawJSONTests.at
            head.traceparent = nil; next.traceparent = nil
            let raw = try #require(RawJSON(member: "submission", ofObject: bytes))
            #expect(try head.encodedBytes(submission: raw) == (try CardJSON.encodeBytes(next)))
            #expect(try RawJSON(encoding: envelope.submission) == raw)
        }
    }

    @Test("errors name the path of the part that is wrong, as decoding the whole envelope does")
    func errorPaths() throws {
        let (_, bytes) = try #require(try Self.inputs().last)
        var tree = try #require(JSONValue(parsing: bytes))
        guard case .object(var top) = tree, case .object(var submission) = top["submission"], case .object(var card) = submission["card"] else {
            Issue.record("the envelope is not an object of objects")
            return
        }
        card["bank"] = nil
        submission["card"] = .object(card)
        top["submission"] = .object(submission)
        tree = .object(top)
        let broken = try CardJSON.encodeBytes(tree)
        func path(_ body: () throws -> Void) -> String? {
            do { try body() } catch DecodingError.keyNotFound(let key, let context) {
                return (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            } catch { return "other error: \(error)" }
            return nil
        }
        let whole = path { _ = try CardJSON.decode(ApplicationEnvelope.self, from: broken) }
        #expect(whole == "submission.card.bank")
        #expect(path { _ = try CardJSON.decode(RoutingInput.self, from: broken, selecting: RoutingInput.selection) } == whole)
        #expect(path { _ = try CardJSON.decode(IdentityInput.self, from: broken, selecting: IdentityInput.selection) } == whole)
        #expect(path { _ = try CardJSON.decode(ProductionInput.self, from: broken, selecting: ProductionInput.selection) } == whole)
    }
}
