/// The Chinese sentences shown to families for each reason, and the names of fields.
///
/// Messages name fields ("代办人身份证号码") but never quote their values, so a status
/// event or a log line built from a reason carries no personal data.
public enum ReasonMessages {
    /// The default message for a code about a field.
    public static func message(for code: ReasonCode, field: String) -> String {
        let label = fieldLabel(field)
        let person = personLabel(field)
        switch code {
        case .schemaInvalid:
            // No field: the record as a whole (not JSON, not an object); "“”未填写" would name nothing.
            return field.isEmpty ? "提交内容不是有效的JSON对象或格式不正确，请核对后重新提交" : "“\(label)”未填写或格式不正确，请核对后重新提交"
        case .consentMissing: return consentMessage(field)
        case .applicantNotMinor: return "申请人年龄须未满18周岁，已满18周岁请由本人申领社会保障卡"
        case .idTypeNotAllowed: return "申请人已满16周岁，须使用居民身份证申领，不能使用户口簿"
        case .agentNotAdult: return "代办人须年满18周岁"
        case .idNumberInvalid: return "\(person)身份证号码有误，请核对"
        case .idBirthDateMismatch: return "申请人出生日期与身份证号码中的出生日期不一致"
        case .idGenderMismatch: return "\(person)性别与身份证号码不一致"
        case .idExpired: return "\(person)证件不在有效期内，请使用有效证件"
        case .relationshipGenderMismatch: return "与申请人关系与代办人性别不符：父亲须为男性，母亲须为女性"
        case .documentMissing: return field.isEmpty ? "缺少所需材料，请补充后重新提交" : "缺少材料：\(label)"
        case .photoSizeOutOfRange: return "照片文件大小须在20KB至8.75MB之间"
        case .photoDimensionsInvalid: return "照片尺寸须为宽358像素、高441像素"
        case .photoFormatInvalid: return "照片须为JPG或PNG格式"
        case .defaultPhotoNotAllowed: return "申请人已满7周岁，须上传本人照片，不能使用默认照片"
        case .pickupMethodNotSupported: return "目前仅支持由代办人到银行网点领卡"
        case .mobileInvalid: return "\(person)手机号码格式不正确，须为11位手机号码"
        case .landlineInvalid: return "固定电话格式不正确，应为“区号-号码”，例如010-12345678"
        case .districtInvalid: return "所属区须为北京市16个区之一"
        case .addressNotPrecise: return "居住地址须详细到门牌号，例如“永安里20号”"
        case .nationalityNotSupported: return "目前仅受理中国国籍申请人的申请"
        case .ethnicityInvalid: return "民族填写有误，请重新选择"
        case .occupationInvalid: return "职业填写有误，请重新选择"
        case .householdAnswersMissing: return "使用户口簿申领时，须说明代办人是否为户主、是否与申请人在同一户口簿"
        case .bankUnknown: return "所选银行不在可办理社会保障卡的银行之列"
        case .duplicateActiveApplication: return "申请人已有正在办理中的社会保障卡申请，请勿重复申请"
        case .personNotFound: return "未查询到\(person)的户籍登记信息"
        case .identityMismatch: return field.isEmpty ? "所填身份信息与户籍登记信息不一致" : "\(label)与户籍登记信息不一致"
        case .personInactive: return "\(person)户籍登记状态异常，无法办理"
        case .relationshipNotConfirmed: return "户籍登记信息未能确认代办人与申请人的关系"
        case .householdMismatch: return field.isEmpty ? "所填户口簿信息与户籍登记信息不一致" : "“\(label)”与户籍登记信息不一致"
        case .branchUnknown: return "所选领卡网点不存在，请重新选择"
        case .branchNotOfBank: return "所选领卡网点不属于所选银行，请重新选择"
        case .branchClosed: return "所选领卡网点暂停营业，请选择其他网点"
        case .branchNoMinorService: return "所选领卡网点不办理未成年人社会保障卡业务，请选择其他网点"
        case .bankProductionFailed: return "银行制卡失败，请重新提交申请或联系银行网点"
        case .submissionTooLarge: return "申请内容过长，超出系统可受理的大小，请精简填写内容后重新提交"
        }
    }

    /// "代办人" or "申请人" for a path under either, else "".
    static func personLabel(_ field: String) -> String {
        if field == "agent" || field.hasPrefix("agent.") { return "代办人" }
        if field == "applicant" || field.hasPrefix("applicant.") { return "申请人" }
        return ""
    }

    static func consentMessage(_ field: String) -> String {
        switch field {
        case "consents.disclaimer": return "请阅读并同意免责声明"
        case "consents.commitment": return "请阅读并确认承诺书"
        case "consents.data_authorization": return "请授权使用所提交的信息办理社会保障卡"
        default: return "请阅读并同意全部声明与授权"
        }
    }

    /// A Chinese name for a dotted field path, built segment by segment
    /// (`agent.documents.id_front` → 代办人身份证正面（国徽面）, the user guide's wording); unknown segments stay as written.
    public static func fieldLabel(_ field: String) -> String {
        var label = ""
        for segment in field.split(separator: ".") {
            var name = String(segment)
            var suffix = ""
            // `functions[2]` → 卡片功能第3项
            if let open = name.firstIndex(of: "["), name.hasSuffix("]"),
               let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                suffix = "第\(index + 1)项"
                name = String(name[..<open])
            }
            label += (segmentLabels[name] ?? name) + suffix
        }
        return label.isEmpty ? field : label
    }

    static let segmentLabels: [String: String] = [
        "schema": "消息格式", "submission_id": "申请编号", "channel": "申请渠道",
        "submitted_at": "提交时间",
        "consents": "", "disclaimer": "免责声明", "commitment": "承诺书", "data_authorization": "信息授权",
        "agent": "代办人", "applicant": "申请人",
        "name": "姓名", "id_type": "证件类型", "id_number": "身份证号码",
        "id_valid_from": "证件有效期起始日期", "id_valid_to": "证件有效期截止日期",
        "gender": "性别", "mobile": "手机号码", "relationship": "与申请人关系",
        "birth_date": "出生日期", "nationality": "国籍", "ethnicity": "民族",
        "occupation": "职业", "district": "所属区", "address": "居住地址", "landline": "固定电话",
        "household": "户口簿信息", "agent_is_householder": "代办人是否为户主",
        "same_booklet": "是否与申请人同一户口簿",
        "documents": "", "photo": "照片", "id_front": "身份证正面（国徽面）", "id_back": "身份证背面（个人信息面）",
        "birth_certificate": "出生医学证明", "householder_page": "户口簿首页",
        "applicant_page": "户口簿申请人页", "householder_own_page": "户口簿户主本人页",
        "applicant_change_page": "户口簿申请人变更页", "householder_change_page": "户口簿户主变更页",
        "uri": "文件地址", "sha256": "文件校验值", "bytes": "文件大小", "media_type": "文件格式",
        "width": "宽度", "height": "高度", "default_photo": "默认照片",
        "card": "", "bank": "办卡银行", "branch": "领卡网点", "pickup": "领卡方式", "functions": "卡片功能",
    ]
}
