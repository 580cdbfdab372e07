/// Which members of a JSON object to build into a ``JSONValue`` tree.
///
/// Why: the stages after intake read a few parts of a 2–3 KB `card.application.v1` envelope
/// (routing: the bank and branch) yet built all of it, every string and dictionary, per message
/// (issue 14: decoding the envelope was the largest single cost of identity, routing and
/// production). A selection builds what the stage reads; the rest is checked by the same strict
/// rules and dropped, so a text is accepted or refused exactly as by ``JSONValue/init(parsing:)``.
public indirect enum JSONSelection: Sendable, Hashable {
    /// The whole value.
    case all
    /// For an object: only these members, each with its own selection; any other member is
    /// checked and left out of the tree. For any other value: the whole value (the decoder then
    /// reports the type it expected).
    case members([String: JSONSelection])
}

public extension JSONValue {
    /// Parses UTF-8 JSON bytes as ``init(parsing:)`` does, accepting and refusing exactly the same
    /// texts, but building only the members `selection` names.
    init?(parsing bytes: [UInt8], selecting selection: JSONSelection) {
        guard let value = JSONParser.parse(bytes, selecting: selection) else { return nil }
        self = value
    }
}

public extension CardJSON {
    /// ``decode(_:from:)`` through a selection: for a `T` that reads only the selected members.
    /// - Throws: `DecodingError.dataCorrupted` if the bytes are not JSON, or the decoding error of
    ///   the first field that does not fit (a member `T` reads but `selection` left out is missing).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], selecting selection: JSONSelection) throws -> T {
        guard let tree = JSONValue(parsing: bytes, selecting: selection) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not valid UTF-8 JSON: \(JSONValue.parseFailure(bytes) ?? "unreadable")"))
        }
        return try tree.decode(type)
    }
}
