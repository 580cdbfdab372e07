import CardDomain
import Foundation
import JSONCodec
import Synchronization

/// What the gateway knows, kept from Kafka by ``ViewFeeder``: the registry in full, bank branches,
/// the submissions (who applied, through which channel, with which body) and every status.
///
/// The views answer the portals quickly; they never decide for intake. A submission the gateway
/// publishes is recorded here at once (``claim(_:)``), so a repeat gets the same answer before
/// the record comes back from the topic. State is one value in a `Mutex`.
public final class GatewayViews: Sendable {
    /// One application as `card.submission` shows it.
    public struct Application: Sendable, Hashable {
        public var applicationID: String
        public var applicantIDNumber: String
        /// `nil` when the value named no channel of the contract (intake rejects it).
        public var channel: Channel?
        /// SHA-256 of the canonical body (``SubmissionBody/canonical(_:)``): the idempotency check.
        public var digest: String
    }

    struct State {
        var persons: [String: RegistryPerson] = [:]
        var branches: [String: Branch] = [:]
        var applications: [String: Application] = [:]
        var applicationsByApplicant: [String: Set<String>] = [:]
        /// Statuses by application id, ordered by `seq`, one per `seq`.
        var statuses: [String: [StatusEvent]] = [:]
        var loaded = false
        var counts = Counts()
        /// Long polls waiting for an application's next status, by application id and token.
        var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        /// Tokens whose wait was cancelled before it was registered (see ``waitForStatuses(of:moreThan:timeout:)``).
        var cancelledWaits: Set<UInt64> = []
        var nextWaitToken: UInt64 = 0
    }

    /// Records seen per view and records refused (unreadable), for `/readyz`.
    public struct Counts: Sendable, Hashable, Encodable {
        public var persons = 0
        public var branches = 0
        public var applications = 0
        public var statuses = 0
        public var refused = 0
    }

    private let state = Mutex(State())

    public init() {}

    // MARK: - Loading

    /// Whether every viewed partition has been read up to where it stood when the gateway started.
    public var isLoaded: Bool { state.withLock { $0.loaded } }

    public func markLoaded() { state.withLock { $0.loaded = true } }

    public var counts: Counts { state.withLock { $0.counts } }

    // MARK: - Applying records

    /// What applying one record did; `refused` carries a cause for the log (already masked).
    public enum Applied: Sendable, Equatable {
        case applied
        case ignored
        case refused(cause: String)
    }

    /// Applies one record of a viewed topic.
    /// - Parameter today: the Beijing day, for the registry's "born by today" check.
    @discardableResult
    public func apply(topic: String, key: [UInt8]?, value: [UInt8]?, today: CivilDate) -> Applied {
        switch topic {
        case GatewayTopics.registry: applyRegistry(key: key, value: value, today: today)
        case GatewayTopics.branches: applyBranch(key: key, value: value)
        case GatewayTopics.submission: applySubmission(value: value)
        case GatewayTopics.status: applyStatus(value: value)
        default: .ignored
        }
    }

    private func applyRegistry(key: [UInt8]?, value: [UInt8]?, today: CivilDate) -> Applied {
        // The identity worker's own reading of the feed: the same record is accepted or refused alike.
        switch RegistryRecordRules.read(key: key, value: value, today: today) {
        case .store(let id, let person, _):
            state.withLock { $0.persons[id] = person; $0.counts.persons = $0.persons.count }
            return .applied
        case .remove(let id, _):
            state.withLock { $0.persons[id] = nil; $0.counts.persons = $0.persons.count }
            return .applied
        case .reject(let cause):
            state.withLock { $0.counts.refused += 1 }
            return .refused(cause: cause)
        }
    }

    private func applyBranch(key: [UInt8]?, value: [UInt8]?) -> Applied {
        switch BranchRecordRules.read(key: key, value: value) {
        case .store(let id, let branch, _):
            state.withLock { $0.branches[id] = branch; $0.counts.branches = $0.branches.count }
            return .applied
        case .remove(let id, _):
            state.withLock { $0.branches[id] = nil; $0.counts.branches = $0.branches.count }
            return .applied
        case .reject(let cause):
            state.withLock { $0.counts.refused += 1 }
            return .refused(cause: cause)
        }
    }

    /// Records who applied. Only a value intake would not dead-letter and that names the child
    /// (usable `submission_id`, string `applicant.id_number`) is an application; the first value
    /// under an id wins, as at intake, where the same id again changes nothing.
    private func applySubmission(value: [UInt8]?) -> Applied {
        guard let value, let tree = JSONValue(parsing: value), let id = tree["submission_id"]?.stringValue,
              Catalogues.isSubmissionID(id), let applicant = tree["applicant"]?["id_number"]?.stringValue else {
            return .ignored
        }
        let application = Application(
            applicationID: id, applicantIDNumber: applicant, channel: tree["channel"]?.stringValue.flatMap(Channel.init(rawValue:)),
            digest: SubmissionBody.digest(of: tree))
        return state.withLock { state in
            guard state.applications[id] == nil else { return .ignored }
            state.insert(application)
            return .applied
        }
    }

    private func applyStatus(value: [UInt8]?) -> Applied {
        guard let value else { return .ignored }
        guard let event = try? CardJSON.decode(StatusEvent.self, from: value) else {
            state.withLock { $0.counts.refused += 1 }
            return .refused(cause: "card.status value is not a card.status.v1 event (\(value.count) bytes)")
        }
        let woken: [CheckedContinuation<Void, Never>]? = state.withLock { state in
            var history = state.statuses[event.applicationID] ?? []
            // Each status is emitted once, but a record may be read twice (a re-read after an error).
            guard !history.contains(where: { $0.seq == event.seq }) else { return nil }
            history.append(event)
            history.sort { $0.seq < $1.seq }
            state.statuses[event.applicationID] = history
            state.counts.statuses += 1
            return state.waiters.removeValue(forKey: event.applicationID).map { Array($0.values) } ?? []
        }
        guard let woken else { return .ignored }
        // Resumed outside the lock: a resumed task may come straight back for the state.
        woken.forEach { $0.resume() }
        return .applied
    }

    /// Waits until the application has more than `count` statuses, `timeout` passes, or the task is
    /// cancelled, whichever comes first: the long poll of `GET /v1/applications/{id}?wait=`.
    ///
    /// The check and the registration happen under the lock a new status is applied under, so a
    /// status cannot slip in between; each waiter is resumed exactly once (by the status, by the
    /// timeout's cancellation, or at once when already cancelled).
    public func waitForStatuses(of id: String, moreThan count: Int, timeout: Duration) async {
        let token = state.withLock { state -> UInt64 in
            state.nextWaitToken += 1
            return state.nextWaitToken
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = state.withLock { state -> Bool in
                            if state.cancelledWaits.remove(token) != nil { return true }
                            if (state.statuses[id]?.count ?? 0) > count { return true }
                            state.waiters[id, default: [:]][token] = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: { [self] in
                    let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
                        if let continuation = state.waiters[id]?.removeValue(forKey: token) {
                            if state.waiters[id]?.isEmpty == true { state.waiters[id] = nil }
                            return continuation
                        }
                        // Not registered yet: tell the registration to return at once.
                        state.cancelledWaits.insert(token)
                        return nil
                    }
                    waiting?.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        // A wait that ended by its status leaves no cancelled mark behind; one that raced may: drop it.
        state.withLock { _ = $0.cancelledWaits.remove(token) }
    }

    // MARK: - Submissions the gateway publishes

    /// What ``claim(_:)`` found under the submission id.
    public enum Claim: Sendable, Equatable {
        /// Not used before: now recorded; publish it.
        case new
        /// Used by the same body: answer as before, publish nothing.
        case same(Application)
        /// Used by another body.
        case conflict
    }

    /// Records `application` unless its id is taken, atomically, so two requests racing with the
    /// same id publish once.
    public func claim(_ application: Application) -> Claim {
        state.withLock { state in
            if let existing = state.applications[application.applicationID] {
                return existing.digest == application.digest ? .same(existing) : .conflict
            }
            state.insert(application)
            return .new
        }
    }

    /// The recorded application under `id`, if any.
    public func application(_ id: String) -> Application? { state.withLock { $0.applications[id] } }

    /// Undoes a ``claim(_:)`` whose record could not be published, so a retry may publish it.
    public func release(_ application: Application) {
        state.withLock { state in
            guard state.applications[application.applicationID] == application else { return }
            state.applications[application.applicationID] = nil
            state.applicationsByApplicant[application.applicantIDNumber]?.remove(application.applicationID)
            state.counts.applications = state.applications.count
        }
    }

    // MARK: - Queries

    public func person(_ idNumber: String) -> RegistryPerson? { state.withLock { $0.persons[idNumber] } }

    /// The statuses of an application, oldest first.
    public func statuses(_ applicationID: String) -> [StatusEvent] { state.withLock { $0.statuses[applicationID] ?? [] } }

    /// Applications of this child that are still active: neither `rejected` nor `failed` (the
    /// contract's duplicate rule, ``ApplicationStatus/freesApplicant``). One that intake has not
    /// answered yet counts as active: it may well become so, and intake decides either way.
    public func activeApplications(of applicantIDNumber: String) -> [Application] {
        state.withLock { state in
            (state.applicationsByApplicant[applicantIDNumber] ?? []).compactMap { id in
                guard let application = state.applications[id] else { return nil }
                let freed = (state.statuses[id] ?? []).contains { $0.status.freesApplicant }
                return freed ? nil : application
            }.sorted { $0.applicationID < $1.applicationID }
        }
    }

    /// Open branches of `bank` that serve minors, in `district` when given, by branch code.
    public func branches(bank: String, district: String?) -> [Branch] {
        state.withLock { state in
            state.branches.values.filter { branch in
                branch.bank == bank && branch.open && branch.servesMinors && (district.map { $0 == branch.district } ?? true)
            }.sorted { $0.branch < $1.branch }
        }
    }
}

extension GatewayViews.State {
    mutating func insert(_ application: GatewayViews.Application) {
        applications[application.applicationID] = application
        applicationsByApplicant[application.applicantIDNumber, default: []].insert(application.applicationID)
        counts.applications = applications.count
    }
}
