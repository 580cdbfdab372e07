import Foundation

/// The one normalisation under which personal names are compared (registry vs submission,
/// agent and applicant alike): docs/contract-additions.md, "Names".
///
/// Names of ethnic-minority citizens are written with a separator dot between the parts
/// (阿依古丽·买买提). The registry writes U+00B7 MIDDLE DOT, the character GB 18030 and the
/// Ministry of Public Security's naming rules use; portals and input methods send many
/// look-alikes. Normalising, in this order:
/// 1. Unicode NFKC (compatibility composition): full-width Latin letters and digits become
///    ASCII, U+3000 IDEOGRAPHIC SPACE and U+00A0 NO-BREAK SPACE become U+0020, CJK
///    compatibility ideographs become their unified form, U+0387 becomes U+00B7.
/// 2. Zero-width and format characters (U+200B–U+200D, U+2060, U+FEFF, U+00AD) are dropped:
///    they are invisible, so no clerk could have meant them.
/// 3. Every code point in ``separatorDots`` becomes U+00B7.
/// 4. White space next to a separator dot is dropped, leading and trailing white space is
///    dropped, and any other run of white space becomes one U+0020.
///
/// Letter case is kept: a citizen's registered name is compared as written.
public enum PersonName {
    /// U+00B7 MIDDLE DOT: the separator the registry uses and the card prints.
    public static let separator: Unicode.Scalar = "\u{00B7}"

    /// Code points read as the name separator dot (after NFKC), each with why it is sent:
    /// - U+00B7 MIDDLE DOT (the registered one), U+0387 GREEK ANO TELEIA (canonically equal)
    /// - U+2022 BULLET, U+2219 BULLET OPERATOR, U+22C5 DOT OPERATOR, U+25CF BLACK CIRCLE,
    ///   U+2027 HYPHENATION POINT: Windows and Office input methods
    /// - U+30FB KATAKANA MIDDLE DOT (NFKC of U+FF65 HALFWIDTH KATAKANA MIDDLE DOT):
    ///   Japanese-capable IMEs and GBK round trips
    /// - U+2E31 WORD SEPARATOR MIDDLE DOT, U+2E33 RAISED DOT, U+16EB RUNIC SINGLE
    ///   PUNCTUATION, U+2981 Z NOTATION SPOT, U+1427 CANADIAN SYLLABICS FINAL MIDDLE DOT:
    ///   visually identical picks from character maps
    /// - U+002E FULL STOP, U+FF0E FULLWIDTH FULL STOP (NFKC → U+002E), U+2024 ONE DOT LEADER
    ///   (NFKC → U+002E): a dot typed where no middle dot was at hand
    public static let separatorDots: Set<Unicode.Scalar> = [
        "\u{00B7}", "\u{0387}", "\u{2022}", "\u{2219}", "\u{22C5}", "\u{25CF}", "\u{2027}",
        "\u{30FB}", "\u{FF65}", "\u{2E31}", "\u{2E33}", "\u{16EB}", "\u{2981}", "\u{1427}",
        "\u{002E}", "\u{FF0E}", "\u{2024}",
    ]

    /// Invisible characters removed before comparing.
    static let invisible: Set<Unicode.Scalar> = ["\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}", "\u{00AD}"]

    /// `name` in the comparison form described on the type.
    public static func normalized(_ name: String) -> String {
        // Foundation's NFKC (ICU through NSString) was ~2.6 % of identity's CPU; almost every name is
        // made of characters NFKC leaves alone, so it runs only when one of the others is there.
        let nfkc = isNFKCStable(name) ? name : name.precomposedStringWithCompatibilityMapping
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in nfkc.unicodeScalars where !invisible.contains(scalar) {
            if scalar.properties.isWhitespace {
                pendingSpace = true
                continue
            }
            let isDot = separatorDots.contains(scalar)
            // A space before the first character or beside a dot is no separator of its own.
            if pendingSpace, !out.isEmpty, !isDot, out.last != separator { out.append(" ") }
            pendingSpace = false
            out.append(isDot ? separator : scalar)
        }
        return String(out)
    }

    /// Whether NFKC leaves `name` as it is because every scalar is printable ASCII, U+00B7, or a CJK
    /// unified ideograph (basic block or extension A): each is its own NFKC form (NFKC_Quick_Check=Yes)
    /// with canonical combining class 0, so no pair of them composes either (UAX #15, "Detecting
    /// Normalization Forms"). Anything else, and the caller runs the full NFKC.
    static func isNFKCStable(_ name: String) -> Bool {
        name.unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0x20...0x7E, 0xB7, 0x3400...0x4DBF, 0x4E00...0x9FFF: true
            default: false
            }
        }
    }

    /// Whether two names are the same person's name under ``normalized(_:)``.
    public static func same(_ lhs: String, _ rhs: String) -> Bool {
        normalized(lhs) == normalized(rhs)
    }
}
