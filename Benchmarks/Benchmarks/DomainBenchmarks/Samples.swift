import CardDomain
import Foundation
import JSONCodec

/// The contract's example submission (contract.md, "card.submission"), with its attachment
/// placeholders filled in: about 2.2 KB, the size the demo generator writes.
enum Samples {
    static let submissionJSON: [UInt8] = Array("""
    {
      "schema": "card.submission.v1",
      "submission_id": "web-20261125-000123",
      "channel": "hrss_web",
      "submitted_at": "2026-11-25T10:15:00+08:00",
      "consents": {"disclaimer": true, "commitment": true, "data_authorization": true},
      "agent": {
        "name": "张三", "id_type": "resident_id", "id_number": "110105198503072444",
        "id_valid_from": "2015-06-01", "id_valid_to": "2035-06-01",
        "gender": "female", "mobile": "13412342458", "relationship": "mother",
        "documents": {"id_front": \(attachment("agent_id_front.jpg")), "id_back": \(attachment("agent_id_back.jpg"))}
      },
      "applicant": {
        "name": "代办二十五", "id_type": "resident_id", "id_number": "110105201503070013",
        "id_valid_from": "2023-01-10", "id_valid_to": "2028-01-10",
        "gender": "male", "birth_date": "2015-03-07", "nationality": "CHN",
        "ethnicity": "01", "occupation": "student", "district": "110105",
        "address": "北京市朝阳区永安里20号", "mobile": "13412342458", "landline": "010-12345678"
      },
      "household": {"agent_is_householder": true, "same_booklet": true},
      "documents": {"photo": \(attachment("photo.jpg", bytes: 48213, width: 358, height: 441)),
                    "id_front": \(attachment("id_front.jpg")), "id_back": \(attachment("id_back.jpg")),
                    "birth_certificate": \(attachment("birth_certificate.png", mediaType: "image/png"))},
      "card": {"bank": "BOB", "branch": "BOB-0105-01", "pickup": "agent_branch_pickup",
               "functions": ["social_security", "medical_settlement"]}
    }
    """.utf8)

    static func attachment(
        _ file: String, bytes: Int = 402_551, mediaType: String = "image/jpeg", width: Int = 1280, height: Int = 808
    ) -> String {
        """
        {"uri": "s3://card-uploads/2026/11/25/web-20261125-000123/\(file)", \
        "sha256": "\(String(repeating: "ab", count: 32))", "bytes": \(bytes), \
        "media_type": "\(mediaType)", "width": \(width), "height": \(height)}
        """
    }

    /// The sample decoded; a benchmark that cannot decode its own sample stops at start.
    static let submission: Submission = {
        do { return try CardJSON.decode(Submission.self, from: submissionJSON) } catch {
            fatalError("the benchmark's sample submission does not decode: \(error)")
        }
    }()

    static let receivedAt = Timestamp(secondsSinceEpoch: 1_795_000_000)

    /// The envelope identity sends on (seq 2), carrying the whole submission.
    static let envelope = ApplicationEnvelope(submission: submission, seq: 2, receivedAt: receivedAt)
    static let envelopeJSON: [UInt8] = { (try? CardJSON.encodeBytes(envelope)) ?? [] }()

    static let status = StatusEvent(applicationID: submission.submissionID, status: .received, at: receivedAt, seq: 1)

    /// The two people of the sample as the registry holds them.
    static let agentRecord: [UInt8] = Array(#"""
    {"id_number":"110105198503072444","name":"张三","gender":"female","birth_date":"1985-03-07","status":"active","household_id":"H-1","mobile":"13412342458"}
    """#.utf8)
}
