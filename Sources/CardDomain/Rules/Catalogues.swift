import Foundation

/// Closed lists and text patterns from the contract's intake rules.
///
/// Patterns are checked by hand over UTF-8 rather than with `Regex`: they are tiny, run
/// for every submission, and hand checks make the accepted alphabet explicit (ASCII
/// digits only, so a full-width "１３４…" is not a mobile number).
public enum Catalogues {
    // MARK: - Districts

    /// Beijing's 16 districts (GB/T 2260), code → name.
    public static let beijingDistricts: [String: String] = [
        "110101": "东城区", "110102": "西城区", "110105": "朝阳区", "110106": "丰台区",
        "110107": "石景山区", "110108": "海淀区", "110109": "门头沟区", "110111": "房山区",
        "110112": "通州区", "110113": "顺义区", "110114": "昌平区", "110115": "大兴区",
        "110116": "怀柔区", "110117": "平谷区", "110118": "密云区", "110119": "延庆区",
    ]

    public static func isBeijingDistrict(_ code: String) -> Bool { beijingDistricts[code] != nil }

    // MARK: - Ethnicity (GB 3304-1991)

    /// The 56 ethnic groups in GB 3304-1991 order; code `01` is index 0.
    public static let ethnicities: [String] = [
        "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族", "布依族", "朝鲜族",
        "满族", "侗族", "瑶族", "白族", "土家族", "哈尼族", "哈萨克族", "傣族", "黎族", "傈僳族",
        "佤族", "畲族", "高山族", "拉祜族", "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族",
        "达斡尔族", "仫佬族", "羌族", "布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族", "阿昌族", "普米族",
        "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族", "鄂温克族", "德昂族", "保安族", "裕固族", "京族", "塔塔尔族",
        "独龙族", "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
    ]

    /// The name for a two-digit code `01`…`56`, or `nil` for anything else (`1`, `57`, `001`).
    public static func ethnicityName(_ code: String) -> String? {
        let bytes = Array(code.utf8)
        guard bytes.count == 2, let number = ASCIIDigits.int(bytes), (1...56).contains(number) else { return nil }
        return ethnicities[number - 1]
    }

    // MARK: - Occupation

    /// The occupation catalogue: three portal choices for children and the eight major
    /// groups of GB/T 6565-2015 (大类), code → name.
    public static let occupations: [String: String] = [
        "student": "学生", "preschool": "学龄前儿童", "other": "其他",
        "1": "党的机关、国家机关、群众团体和社会组织、企事业单位负责人",
        "2": "专业技术人员",
        "3": "办事人员和有关人员",
        "4": "社会生产服务和生活服务人员",
        "5": "农、林、牧、渔业生产及辅助人员",
        "6": "生产制造及有关人员",
        "7": "军人",
        "8": "不便分类的其他从业人员",
    ]

    public static func isOccupation(_ code: String) -> Bool { occupations[code] != nil }

    // MARK: - Text patterns

    /// `^1[3-9][0-9]{9}$`
    public static func isMobile(_ text: String) -> Bool {
        let b = Array(text.utf8)
        return b.count == 11 && b[0] == UInt8(ascii: "1")
            && (UInt8(ascii: "3")...UInt8(ascii: "9")).contains(b[1]) && b[2...].allSatisfy(isDigit)
    }

    /// `^0[0-9]{2,3}-[0-9]{7,8}$`: area code with its leading 0, a hyphen, the number.
    public static func isLandline(_ text: String) -> Bool {
        let parts = text.utf8.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let area = parts[0], number = parts[1]
        return (3...4).contains(area.count) && area.first == UInt8(ascii: "0") && area.allSatisfy(isDigit)
            && (7...8).contains(number.count) && number.allSatisfy(isDigit)
    }

    /// Whether an address names a house number: a run of digits immediately followed by 号.
    ///
    /// ASCII and full-width digits both count (portals pass through what parents type);
    /// Chinese numerals ("二十号") do not, as the contract asks for a digit run.
    public static func hasHouseNumber(_ address: String) -> Bool {
        var previousWasDigit = false
        for scalar in address.unicodeScalars {
            if scalar == "号" && previousWasDigit { return true }
            previousWasDigit = ("0"..."9").contains(scalar) || ("０"..."９").contains(scalar)
        }
        return false
    }

    /// 64 hexadecimal digits, either case.
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { isDigit($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
    }

    /// `scheme://something`, the shape of a claim-check link (`s3://…`, `https://…`).
    public static func isURI(_ text: String) -> Bool {
        guard let range = text.range(of: "://") else { return false }
        let scheme = text[..<range.lowerBound].utf8
        guard let first = scheme.first, isLetter(first),
              scheme.allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else { return false }
        return range.upperBound < text.endIndex
    }

    /// `[A-Za-z0-9_-]{1,64}`: a usable `submission_id`.
    public static func isSubmissionID(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { isDigit($0) || isLetter($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
}
