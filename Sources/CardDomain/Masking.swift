/// Masks personal data before it can reach a log line, a metric label or a dead letter.
///
/// The contract fixes the shapes: ID numbers keep the first 6 and last 4 characters
/// (`110105********0013`), mobiles keep the first 3 and last 4 (`134****2458`).
public enum Masking {
    /// Masks a citizen ID number as first 6 + `********` + last 4.
    ///
    /// Anything too short to keep both ends is masked entirely, so a malformed value
    /// never leaks more than a well-formed one would.
    public static func idNumber(_ value: String) -> String {
        let chars = Array(value)
        guard chars.count >= 11 else { return String(repeating: "*", count: max(chars.count, 1)) }
        return String(chars.prefix(6)) + "********" + String(chars.suffix(4))
    }

    /// Masks a mobile number as first 3 + `****` + last 4.
    public static func mobile(_ value: String) -> String {
        let chars = Array(value)
        guard chars.count >= 8 else { return String(repeating: "*", count: max(chars.count, 1)) }
        return String(chars.prefix(3)) + "****" + String(chars.suffix(4))
    }

    /// Masks a personal name, keeping only its first character (`张*`).
    public static func name(_ value: String) -> String {
        guard let first = value.first else { return "" }
        return String(first) + String(repeating: "*", count: max(value.count - 1, 1))
    }

    /// Scrubs free text (an error description, a decoder message) of anything that looks
    /// like an ID number (17 digits + digit/X) or a mainland mobile (11 digits starting 1).
    ///
    /// This is the last line of defence for text we did not compose ourselves; digit runs
    /// of other lengths (offsets, sizes) are left alone so errors stay useful.
    public static func redact(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var run: [Character] = []
        func flush() {
            if run.count == 18 {
                out += idNumber(String(run))
            } else if run.count == 11, run.first == "1", run.allSatisfy(\.isASCIIDigit) {
                out += mobile(String(run))
            } else {
                out += String(run)
            }
            run.removeAll(keepingCapacity: true)
        }
        for ch in text {
            if ch.isASCIIDigit || ((ch == "X" || ch == "x") && run.count == 17) {
                run.append(ch)
            } else {
                flush()
                out.append(ch)
            }
        }
        flush()
        return out
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
