import CardDomain
@testable import CardWorkers
import JSONCodec
import Testing
@testable import WorkerRuntime

/// The pure rules behind "input, not trust": contract keys, co-partitioning, trace context from outside.
@Suite("Outside input rules, pure")
struct OutsideInputRulesTests {
    static let submission = #"{"submission_id": "web-1", "applicant": {"id_number": "110105201503070013"}}"#

    @Test("a submission's contract key is applicant.id_number, only when intake would keep state for it")
    func submissionContractKey() {
        #expect(ContractKeys.submission(Array(Self.submission.utf8)) == "110105201503070013")
        #expect(ContractKeys.submission(Array("{not json".utf8)) == nil)
        #expect(ContractKeys.submission(Array(#"{"submission_id": "../x", "applicant": {"id_number": "110105201503070013"}}"#.utf8)) == nil,
                "no usable submission_id: dead-lettered where it is")
        #expect(ContractKeys.submission(Array(#"{"submission_id": "web-1", "applicant": {"id_number": 42}}"#.utf8)) == nil)
    }

    @Test("intake's parse memo hands the contract-key parse to validation only for the same bytes, once")
    func parseMemo() throws {
        let memo = ParsedSubmissionMemo()
        let bytes = Array(Self.submission.utf8)
        let tree = try #require(JSONValue(parsing: bytes))
        #expect(memo.take(bytes) == nil, "nothing kept yet")
        memo.keep(bytes, tree)
        #expect(memo.take(Array(Self.submission.replacingOccurrences(of: "web-1", with: "web-2").utf8)) == nil, "other bytes: parse again")
        memo.keep(bytes, tree)
        #expect(memo.take(bytes) == .some(tree))
        #expect(memo.take(bytes) == nil, "taken once")
        memo.keep(Array("{not json".utf8), nil)
        #expect(memo.take(Array("{not json".utf8)) == .some(nil), "known not to be JSON: no second parse either")
        // Validation from the kept tree is validation from the bytes.
        let outcome = IntakeValidator.validate(bytes, parsed: tree)
        #expect(outcome == IntakeValidator.validate(bytes))
    }

    @Test("traceparent: the ASCII byte path judges exactly as the Character path")
    func traceparentPaths() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        var samples = [valid, valid.uppercased(), "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                       valid + "-extra", "ff" + valid.dropFirst(2), "00-" + String(repeating: "0", count: 32) + "-00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-" + String(repeating: "0", count: 16) + "-01", "", "-", "---",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "00--00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\r\n", "0\r\n-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
        // Every single-character edit of a valid value.
        for i in valid.indices { for c in ["0", "f", "F", "g", "-", " "] { var v = valid; v.replaceSubrange(i...i, with: c); samples.append(v) } }
        for sample in samples {
            let fast = TraceContext.parseASCII(sample), general = TraceContext.parseGeneral(sample)
            #expect(fast?.traceID == general?.traceID && fast?.spanID == general?.spanID && fast?.flags == general?.flags, "\(sample)")
        }
        #expect(TraceContext.parse(valid)?.spanID == "00f067aa0ba902b7")
        let fullWidth = "00-４bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  // non-ASCII: the general path decides
        #expect(TraceContext.parse(fullWidth)?.traceID == TraceContext.parseGeneral(fullWidth)?.traceID)
    }

    @Test("a bank event's contract key is its application_id, only when it decodes")
    func bankEventContractKey() {
        let event = #"{"application_id": "app-1", "order_id": "o-1", "event": "at_branch", "reason": null, "at": "2026-11-25T10:15:00+08:00"}"#
        #expect(ContractKeys.bankEvent(Array(event.utf8)) == "app-1")
        #expect(ContractKeys.bankEvent(Array(event.replacingOccurrences(of: "at_branch", with: "exploded").utf8)) == nil)
    }

    @Test("the handlers say which topics come from outside: their card-message-id is not trusted")
    func origins() {
        #expect(IntakeHandler().origin(of: "card.submission") == .outside)
        #expect(IntakeHandler().origin(of: "card.application-closed") == .fleet)
        #expect(ProductionHandler().origin(of: "card.bank-events") == .outside)
        #expect(ProductionHandler().origin(of: "card.card-production") == .fleet)
        #expect(IdentityHandler().origin(of: "card.identity-verification") == .fleet)
    }

    @Test("co-partitioning: equal counts pass, a mismatch names every topic's count, missing topics wait")
    func copartitioning() {
        let topics = ["card.submission", "card.application-closed"]
        #expect(InputPlacement.copartitioningProblem(topics: topics, counts: ["card.submission": 24, "card.application-closed": 24]) == nil)
        #expect(InputPlacement.copartitioningProblem(topics: topics, counts: ["card.submission": 24]) == nil)
        let problem = InputPlacement.copartitioningProblem(topics: topics, counts: ["card.submission": 24, "card.application-closed": 12])
        #expect(problem?.contains("card.submission has 24") == true && problem?.contains("card.application-closed has 12") == true)
    }

    @Test("a traceparent from outside is validated: malformed ones start a trace of our own instead")
    func outsideTraceparent() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        #expect(TraceContext.traceID(of: valid) == "4bf92f3577b34da6a3ce929d0e0e4736")
        for forged in [valid + "-extra", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "00-4bf92f35-00f067aa0ba902b7-01\nforged log line"] {
            #expect(TraceContext.traceID(of: forged) == nil, "\(forged)")
            #expect(TraceContext.traceID(of: TraceContext.child(of: forged, applicationID: "app-1", stage: "intake"))
                    == TraceContext.traceID(of: TraceContext.child(of: nil, applicationID: "app-1", stage: "intake")))
        }
        #expect(TraceContext.traceID(of: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future") != nil,
                "a later version may carry more fields after the four")
    }
}
