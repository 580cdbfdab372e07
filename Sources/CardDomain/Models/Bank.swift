/// The 15 banks that issue the third-generation card in Beijing, by contract code.
public enum Bank: String, Sendable, Hashable, Codable, CaseIterable {
    case icbc = "ICBC"
    case abc = "ABC"
    case boc = "BOC"
    case ccb = "CCB"
    case bocom = "BOCOM"
    case bob = "BOB"
    case hxb = "HXB"
    case brcb = "BRCB"
    case citic = "CITIC"
    case ceb = "CEB"
    case cmbc = "CMBC"
    case cgb = "CGB"
    case cmb = "CMB"
    case spdb = "SPDB"
    case psbc = "PSBC"

    /// The short Chinese name families know the bank by.
    public var chineseName: String {
        switch self {
        case .icbc: "工商银行"
        case .abc: "农业银行"
        case .boc: "中国银行"
        case .ccb: "建设银行"
        case .bocom: "交通银行"
        case .bob: "北京银行"
        case .hxb: "华夏银行"
        case .brcb: "北京农商银行"
        case .citic: "中信银行"
        case .ceb: "光大银行"
        case .cmbc: "民生银行"
        case .cgb: "广发银行"
        case .cmb: "招商银行"
        case .spdb: "浦发银行"
        case .psbc: "邮政储蓄银行"
        }
    }
}
