/// The routing rules: the chosen branch against the `bank.branches` table.
public enum RoutingRules {
    /// Checks the bank and branch an application asked for.
    ///
    /// - Parameters:
    ///   - bank: `card.bank` of the submission.
    ///   - branchCode: `card.branch` of the submission.
    ///   - branch: the `bank.branches` record under `bank/branch`, or under the branch code
    ///     for any bank if the worker keeps such an index (that is how a branch of another
    ///     bank is recognised), `nil` if none.
    /// - Returns: no reasons when the branch can take the order; otherwise BRANCH_UNKNOWN
    ///   alone, or every one of BRANCH_NOT_OF_BANK, BRANCH_CLOSED, BRANCH_NO_MINOR_SERVICE
    ///   that applies. All reasons are about `card.branch`.
    public static func check(bank: Bank, branchCode: String, branch: Branch?) -> [Reason] {
        guard let branch, branch.branch == branchCode else {
            return [Reason(code: .branchUnknown, field: "card.branch")]
        }
        var reasons: [Reason] = []
        if branch.bank != bank.rawValue { reasons.append(Reason(code: .branchNotOfBank, field: "card.branch")) }
        if !branch.open { reasons.append(Reason(code: .branchClosed, field: "card.branch")) }
        if !branch.servesMinors { reasons.append(Reason(code: .branchNoMinorService, field: "card.branch")) }
        return reasons
    }

    /// Convenience for a submission: its `card.bank` and `card.branch`.
    public static func check(_ submission: Submission, branch: Branch?) -> [Reason] {
        check(bank: submission.card.bank, branchCode: submission.card.branch, branch: branch)
    }
}
