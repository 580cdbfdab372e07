import Testing

@testable import CardDomain

@Suite("Masking personal data")
struct MaskingTests {
    @Test("ID numbers keep the first 6 and last 4")
    func idNumbers() {
        #expect(Masking.idNumber("110105201503070013") == "110105********0013")
        #expect(Masking.idNumber("11010519491231002X") == "110105********002X")
        #expect(Masking.idNumber("1234567890") == "**********")  // too short to keep both ends
        #expect(Masking.idNumber("") == "*")
    }

    @Test("mobiles keep the first 3 and last 4")
    func mobiles() {
        #expect(Masking.mobile("13412342458") == "134****2458")
        #expect(Masking.mobile("1341234") == "*******")
    }

    @Test("names keep only the first character")
    func names() {
        #expect(Masking.name("张三") == "张*")
        #expect(Masking.name("欧阳娜娜") == "欧***")
        #expect(Masking.name("张") == "张*")
        #expect(Masking.name("") == "")
    }

    @Test("links keep scheme and host only, and drop credentials")
    func links() {
        #expect(Masking.uri("s3://card-uploads/2026/11/25/web-1/photo.jpg") == "s3://card-uploads/…")
        #expect(Masking.uri("https://user:secret@files.example.com/a/b?c=d") == "https://files.example.com/…")
        #expect(Masking.uri("not a link") == "…")
    }

    @Test("redact finds ID numbers, mobiles and links in free text")
    func redact() {
        let text = "applicant 110105201503070013 agent 11010519491231002X mobile 13412342458, +8613412342458 "
            + "photo s3://card-uploads/2026/11/25/web-1/photo.jpg partition 7 offset 120455"
        let redacted = Masking.redact(text)
        #expect(redacted == "applicant 110105********0013 agent 110105********002X mobile 134****2458, +86134****2458 "
            + "photo s3://card-uploads/… partition 7 offset 120455")
    }

    @Test("redact catches numbers glued to other digits and 15-digit first-generation numbers")
    func redactGlued() {
        #expect(!Masking.redact("key=1101052015030700131").contains("20150307"))
        #expect(!Masking.redact("110105150307001").contains("150307"))
        #expect(Masking.redact("11010520150307001Xabc") == "110105********001Xabc")
    }

    @Test("redact leaves ordinary numbers alone")
    func redactLeavesNumbers() {
        let text = "offset 1234567890 at byte 42, size 9175040, code 0755"
        #expect(Masking.redact(text) == text)
    }
}
