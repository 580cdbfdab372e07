import Foundation
import Testing

@testable import CardDomain
@testable import JSONCodec

/// A stage passes the submission on as the bytes it read (issue 14): the envelope it writes must
/// be byte for byte what re-encoding the decoded envelope writes, or a redelivery after an
/// upgrade could emit other bytes under the same card-message-id.
@Suite("RawJSON")
struct RawJSONTests {
    static let at = Timestamp(rfc3339: "2026-11-25T10:15:01.204+08:00")!

    static func envelopes() throws -> [ApplicationEnvelope] {
        let submission = try CardJSON.decode(Submission.self, from: Array(Fixtures.sampleJSON.utf8))
        var bare = submission
        bare.household = nil
        bare.applicant.landline = nil
        bare.documents = Submission.Documents(photo: .defaultPhoto)
        var full = ApplicationEnvelope(
            submission: submission, seq: 3, receivedAt: at, relationshipLabel: .motherSon,
            identityVerifiedAt: at.adding(days: 1), routedAt: Timestamp(rfc3339: "2026-11-26T00:00:00Z")!,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        full.registeredNames = RegisteredNames(agent: "阿依古丽·买买提", applicant: "王 \"小\" 明\\")
        return [ApplicationEnvelope(submission: bare, seq: 1, receivedAt: at), full]
    }

    @Test("an envelope with the input's submission bytes spliced in equals the re-encoded envelope")
    func spliceEqualsEncode() throws {
        for envelope in try Self.envelopes() {
            let input = try CardJSON.encodeBytes(envelope)
            let raw = try #require(RawJSON(member: "submission", ofObject: input))
            #expect(raw.bytes == (try CardJSON.encodeBytes(envelope.submission)))
            var next = envelope
            next.seq += 1
            next.routedAt = Self.at
            #expect(try next.encodedBytes(submission: raw) == (try CardJSON.encodeBytes(next)))
            #expect(try next.encodedBytes(submission: nil) == (try CardJSON.encodeBytes(next)))
            // Foundation's encoder (the fallback) sees the same JSON.
            let foundation = try CompactJSONEncoder.foundationEncoder().encode(raw)
            #expect(Array(foundation) == raw.bytes)
        }
    }

    @Test("members are found whatever surrounds them; the last of a repeated key wins")
    func scanning() throws {
        func member(_ name: String, _ json: String) -> String? {
            RawJSON(member: name, ofObject: Array(json.utf8)).map { String(decoding: $0.bytes, as: UTF8.self) }
        }
        #expect(member("s", #"{"a":"}{\"s\":1","s":{"x":[1,{"y":"]"}]},"t":2}"#) == #"{"x":[1,{"y":"]"}]}"#)
        #expect(member("s", #" { "s" : [ 1 , 2 ] , "u" : null } "#) == "[ 1 , 2 ]")
        #expect(member("s", #"{"s":-1.5e3}"#) == "-1.5e3")
        #expect(member("s", #"{"s":true,"s":"again"}"#) == #""again""#)
        #expect(member("s", #"{"submission":1}"#) == nil)
        #expect(member("s", #"{"x":{"s":1}}"#) == nil)  // only top-level members
        #expect(member("s", #"{"\u0073":1}"#) == nil)   // an escaped key could spell the name: not trusted
        #expect(member("s", #"["s",1]"#) == nil)
        #expect(member("s", #"{"s":"#) == nil)
        #expect(member("s", "") == nil)
    }
}
