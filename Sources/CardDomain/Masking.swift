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

    /// Masks a personal name, keeping only its first character (`张*`, `欧阳**`→`欧**`).
    public static func name(_ value: String) -> String {
        guard let first = value.first else { return "" }
        return String(first) + String(repeating: "*", count: max(value.count - 1, 1))
    }

    /// Masks a link to a stored file (a photo or a scanned document) down to its scheme and
    /// host: `s3://card-uploads/…`. The path names the application and the document.
    public static func uri(_ value: String) -> String {
        let scalars = Array(value.unicodeScalars)
        guard let schemeEnd = findSchemeSeparator(scalars) else { return "…" }
        let hostStart = schemeEnd + 3
        var hostEnd = hostStart
        while hostEnd < scalars.count, !"/?#".unicodeScalars.contains(scalars[hostEnd]) { hostEnd += 1 }
        // A user-info part (user:pass@host) is credentials: drop it too.
        var host = String(String.UnicodeScalarView(scalars[hostStart..<hostEnd]))
        if let at = host.lastIndex(of: "@") { host = String(host[host.index(after: at)...]) }
        return String(String.UnicodeScalarView(scalars[0..<hostStart])) + host + "/…"
    }

    /// Scrubs free text (an error description, a decoder message) of anything that looks
    /// like personal data we can recognise by shape:
    /// - an ID number: 18 characters (17 digits + digit/X) or any digit run of 15 or more
    ///   (first-generation 15-digit numbers, and numbers glued to other digits);
    /// - a mainland mobile: 11 digits starting with 1, also after a `86` country code;
    /// - a link (`scheme://…`), cut to scheme and host.
    ///
    /// This is the last line of defence for text we did not compose ourselves; digit runs
    /// of other lengths (offsets, sizes, partitions) are left alone so errors stay useful.
    /// Names cannot be recognised by shape: never put one in an error text.
    public static func redact(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var run: [Character] = []
        func flush() {
            let digitsOnly = run.allSatisfy(\.isASCIIDigit)
            if run.count >= 15 {
                out += idNumber(String(run))
            } else if run.count == 11, run.first == "1", digitsOnly {
                out += mobile(String(run))
            } else if run.count == 13, digitsOnly, run.starts(with: ["8", "6", "1"]) {
                out += "86" + mobile(String(run.dropFirst(2)))
            } else {
                out += String(run)
            }
            run.removeAll(keepingCapacity: true)
        }
        for ch in redactLinks(text) {
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

    /// Replaces every `scheme://rest` (up to white space or a quote) with ``uri(_:)``.
    static func redactLinks(_ text: String) -> String {
        guard text.contains("://") else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            // Look for "://" and walk back over the scheme letters already copied.
            if index + 2 < scalars.count, scalars[index] == ":", scalars[index + 1] == "/", scalars[index + 2] == "/" {
                var schemeStart = index
                while schemeStart > 0, isSchemeScalar(scalars[schemeStart - 1]) { schemeStart -= 1 }
                if schemeStart < index {
                    var end = index + 3
                    while end < scalars.count, !isLinkTerminator(scalars[end]) { end += 1 }
                    out.removeLast(index - schemeStart)
                    out.append(contentsOf: uri(String(String.UnicodeScalarView(scalars[schemeStart..<end]))).unicodeScalars)
                    index = end
                    continue
                }
            }
            out.append(scalars[index])
            index += 1
        }
        return String(out)
    }

    private static func findSchemeSeparator(_ scalars: [Unicode.Scalar]) -> Int? {
        guard scalars.count >= 3 else { return nil }
        for i in 0..<(scalars.count - 2) where scalars[i] == ":" && scalars[i + 1] == "/" && scalars[i + 2] == "/" {
            return i
        }
        return nil
    }

    private static func isSchemeScalar(_ s: Unicode.Scalar) -> Bool {
        s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "+" || s == "." || s == "-")
    }

    private static func isLinkTerminator(_ s: Unicode.Scalar) -> Bool {
        s.properties.isWhitespace || s == "\"" || s == "'" || s == "<" || s == ">" || s == ")" || s == "]" || s == ","
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
