import JSONCodec

/// What a worker does with one record of a reference topic (`registry.persons`,
/// `bank.branches`): docs/contract-additions.md, "Registry records".
///
/// Pure: the caller applies the verdict to its table and reports `notes` and `cause`
/// (already masked: ID numbers as ``Masking/idNumber(_:)``, no names) in its log, metrics
/// and dead letters.
public enum ReferenceRecordVerdict<Record: Sendable & Hashable>: Sendable, Hashable {
    /// Store `record` under `key`. `notes` name what was normalised on the way (e.g. a
    /// lower-case `x`): the record is kept, and the feed is told it is off its schema.
    case store(key: String, record: Record, notes: [String])
    /// A tombstone (null value on the compacted topic): remove whatever `key` holds.
    case remove(key: String, notes: [String])
    /// The record cannot be read unambiguously: the table keeps what it had for that key,
    /// and the record is reported loudly with `cause`.
    case reject(cause: String)

    /// What was normalised, for an accepted record; empty otherwise.
    public var notes: [String] {
        switch self {
        case .store(_, _, let notes), .remove(_, let notes): notes
        case .reject: []
        }
    }
}

/// Validation and normalisation of `registry.persons` records.
///
/// The key and every id in the value (`id_number`, `father_id`, `mother_id`,
/// `guardian_ids`) are citizen numbers. A number written with a lower-case check character
/// `x` is unambiguous (GB 11643-1999 defines only `X`; `x` is a common feed spelling), so it
/// is normalised to `X` and the record kept, with a note. Anything else that breaks the
/// schema rejects the whole record:
/// - the value is not a `registry.persons` object (missing or mistyped field: its path);
/// - a number is not 17 digits + the right check character, or names no one born by `today`;
/// - `birth_date` is after `today`, or `name` is empty after ``PersonName`` normalisation;
/// - the Kafka key disagrees with `id_number` (compaction and tombstones work by key, so a
///   record stored under its payload's id could never be removed again);
/// - a tombstone without a key (nothing to remove).
public enum RegistryRecordRules {
    /// Reads one record. `today` is the worker's Beijing day (``Timestamp/shanghaiDate``).
    public static func read(key: [UInt8]?, value: [UInt8]?, today: CivilDate) -> ReferenceRecordVerdict<RegistryPerson> {
        var notes: [String] = []
        let keyText = key.map { String(decoding: $0, as: UTF8.self) }
        let normalizedKey = keyText.map { normalize($0, field: "key", notes: &notes) }
        guard let value else {
            guard let normalizedKey else { return .reject(cause: "registry.persons tombstone without a key: nothing to remove") }
            return .remove(key: normalizedKey, notes: notes)
        }
        var person: RegistryPerson
        do {
            person = try CardJSON.decode(RegistryPerson.self, from: value)
        } catch {
            let path = IntakeValidator.path(of: error)
            return .reject(cause: path.isEmpty
                ? "not a registry.persons record (\(value.count) bytes)"
                : "not a registry.persons record: \(path) missing or of the wrong type")
        }
        person.idNumber = normalize(person.idNumber, field: "id_number", notes: &notes)
        person.fatherID = person.fatherID.map { normalize($0, field: "father_id", notes: &notes) }
        person.motherID = person.motherID.map { normalize($0, field: "mother_id", notes: &notes) }
        person.guardianIDs = person.guardianIDs.map { normalize($0, field: "guardian_ids", notes: &notes) }

        var ids: [(field: String, id: String)] = [("id_number", person.idNumber)]
        if let father = person.fatherID { ids.append(("father_id", father)) }
        if let mother = person.motherID { ids.append(("mother_id", mother)) }
        ids += person.guardianIDs.map { ("guardian_ids", $0) }
        for (field, id) in ids {
            guard let number = IDNumber(id) else {
                return .reject(cause: "\(field) \(Masking.idNumber(id)) is not a GB 11643 citizen number")
            }
            if number.namesNoOneBornBy(today) {
                return .reject(cause: "\(field) \(Masking.idNumber(id)) names someone born after \(today)")
            }
        }
        if person.birthDate > today {
            return .reject(cause: "birth_date of \(Masking.idNumber(person.idNumber)) is after \(today)")
        }
        if PersonName.normalized(person.name).isEmpty {
            return .reject(cause: "name of \(Masking.idNumber(person.idNumber)) is empty")
        }
        if let normalizedKey, normalizedKey != person.idNumber {
            return .reject(cause: "key \(Masking.idNumber(normalizedKey)) disagrees with id_number \(Masking.idNumber(person.idNumber))")
        }
        return .store(key: person.idNumber, record: person, notes: notes)
    }

    /// `text` with a final lower-case `x` read as `X` when the first 17 characters are
    /// digits; anything else unchanged (and left to the validity check).
    public static func normalizedIDNumber(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count == 18, bytes[17] == UInt8(ascii: "x"),
              bytes[0..<17].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return text }
        return String(decoding: bytes[0..<17] + [UInt8(ascii: "X")], as: UTF8.self)
    }

    private static func normalize(_ id: String, field: String, notes: inout [String]) -> String {
        let normalized = normalizedIDNumber(id)
        if normalized != id { notes.append("\(field) \(Masking.idNumber(normalized)) written with lower-case x, read as X") }
        return normalized
    }
}

/// Validation of `bank.branches` records: the value must be a branch (every field of the
/// contract present, `bank` and `branch` not empty) and its `bank/branch` must equal the
/// Kafka key when there is one; a tombstone needs a key. Nothing is normalised: branch
/// codes are the banks' own, case included.
public enum BranchRecordRules {
    public static func read(key: [UInt8]?, value: [UInt8]?) -> ReferenceRecordVerdict<Branch> {
        let keyText = key.map { String(decoding: $0, as: UTF8.self) }
        guard let value else {
            guard let keyText else { return .reject(cause: "bank.branches tombstone without a key: nothing to remove") }
            return .remove(key: keyText, notes: [])
        }
        let branch: Branch
        do {
            branch = try CardJSON.decode(Branch.self, from: value)
        } catch {
            let path = IntakeValidator.path(of: error)
            return .reject(cause: path.isEmpty
                ? "not a bank.branches record (\(value.count) bytes)"
                : "not a bank.branches record: \(path) missing or of the wrong type")
        }
        guard !branch.bank.isEmpty, !branch.branch.isEmpty else {
            return .reject(cause: "bank.branches record with an empty bank or branch code")
        }
        if let keyText, keyText != branch.key {
            // Neither is quoted: both are the sender's free text (the dead letter carries them).
            return .reject(cause: "the Kafka key (\(keyText.utf8.count) bytes) disagrees with the record's bank/branch")
        }
        return .store(key: branch.key, record: branch, notes: [])
    }
}
