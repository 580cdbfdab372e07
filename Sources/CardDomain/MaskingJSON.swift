import JSONCodec

extension Masking {
    /// A JSON document with its personal data masked by field name, for showing records to people
    /// (`fleet dlq show`, diffs of repairs): `name` → ``name(_:)``, `id_number`, `*_id_number`,
    /// `father_id`, `mother_id`, `guardian_ids` → ``idNumber(_:)``, `mobile` → ``mobile(_:)``,
    /// `landline` → its first 4 characters + `****`, `uri` → ``uri(_:)``, `address` → its first
    /// 6 characters + `…`, `birth_date` → its year + `-**-**`, every string under `registered_names`
    /// → ``name(_:)``; every other string goes through ``redact(_:)``, which catches ID numbers,
    /// mobiles and links by shape wherever they are.
    /// - Parameter field: the member name `value` sits under, when it is part of a larger document
    ///   (a patch's target `/agent/name` → `name`), so a lone value is masked as that field.
    public static func json(_ value: JSONValue, field: String? = nil) -> JSONValue {
        json(value, key: field)
    }

    private static func json(_ value: JSONValue, key: String?) -> JSONValue {
        switch value {
        case .object(let members) where key == "registered_names":
            return .object(members.mapValues { json($0, key: "name") })
        case .object(let members):
            return .object(Dictionary(uniqueKeysWithValues: members.map { ($0.key, json($0.value, key: $0.key)) }))
        case .array(let elements):
            return .array(elements.map { json($0, key: key) })
        case .string(let text):
            return .string(field(text, key: key))
        default:
            return value
        }
    }

    private static func field(_ text: String, key: String?) -> String {
        switch key {
        case "name"?: return name(text)
        case "id_number"?, "father_id"?, "mother_id"?, "guardian_ids"?: return idNumber(text)
        case let k? where k.hasSuffix("_id_number"): return idNumber(text)
        case "mobile"?: return mobile(text)
        case "landline"?: return String(text.prefix(4)) + "****"
        case "uri"?: return uri(text)
        case "address"?: return String(text.prefix(6)) + "…"
        case "birth_date"?: return String(text.prefix(4)) + "-**-**"
        default: return redact(text)
        }
    }
}
