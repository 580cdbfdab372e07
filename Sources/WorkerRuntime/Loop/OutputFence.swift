import Kafka
import Logging
import Metrics
import Synchronization

/// The zombie fence: with the state changelog on, a partition's outputs leave only after the
/// group coordinator has accepted an offset commit made after their changelog record was
/// delivered (docs/state-changelog.md, "Fencing").
///
/// Why it fences: OffsetCommit carries the member id and the group generation, and the
/// coordinator refuses it (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, `REBALANCE_IN_PROGRESS`)
/// once this member was removed or a rebalance began. An accepted commit therefore came before
/// any other member could be given the partition, and the records delivered before it are in the
/// changelog the next owner restores: it holds those decisions and does not make them again. A
/// member that lost its session while still deciding (a zombie) gets refusals, so the outputs it
/// decided after that never leave; librdkafka then reports the assignment lost (KIP-429) and the
/// loop drops those partitions without draining. Broker transactions (KIP-447) would fence the
/// writes themselves; the embedded broker has none, so this fences what reaches the outside.
///
/// Cost: one commit round trip added to each output's latency, one commit in flight at a time
/// (the outputs that become ready meanwhile share the next one). Used from the loop's thread
/// only; the commit's answer arrives inside the consumer's poll on that same thread.
final class OutputFence {
    /// The commit in flight: its number, when it was made, and per partition the relay and the
    /// seq its acceptance releases.
    private var inFlight: (number: Int, at: ContinuousClock.Instant, covered: [Int32: (relay: OutboxRelay, through: Int64)])?
    private var commits = 0
    /// Answers with the number of the commit each answers (an answer to an abandoned commit
    /// must not release outputs that became ready after that commit was made).
    private let answers = Answers()
    /// After a refusal, the next commit waits until then (no commit storm during a rebalance).
    private(set) var retryAt: ContinuousClock.Instant?
    private var lastRefusalLog: ContinuousClock.Instant?
    private let logger: Logger
    private let refusals: Counter

    /// How long after a refused commit the next one may be tried: 100 ms.
    static let retryDelay: Duration = .milliseconds(100)
    /// A commit unanswered this long is abandoned and another made: 30 s (librdkafka answers
    /// every commit, with an error at worst after `socket.timeout.ms`; this is the backstop).
    static let answerTimeout: Duration = .seconds(30)

    fileprivate enum Answer { case accepted, refused(KafkaError) }

    /// Answers not yet taken, set on the polling thread inside the commits' callbacks.
    private final class Answers: Sendable {
        private let state = Mutex<[(number: Int, answer: Answer)]>([])
        func put(_ number: Int, _ answer: Answer) { state.withLock { $0.append((number, answer)) } }
        func take() -> [(number: Int, answer: Answer)] { state.withLock { a in defer { a = [] }; return a } }
    }

    init(worker: String, logger: Logger) {
        self.logger = logger
        refusals = Counter(label: "card_worker_fence_refusals_total", dimensions: [("worker", worker)])
    }

    /// Whether a commit is waiting for its answer.
    var isWaiting: Bool { inFlight != nil }

    /// Forgets the commit in flight (its answer, should it come, is ignored) so the next one is
    /// made at once. Called when the assignment changes: librdkafka may hold a commit made in the
    /// old generation until the rejoin is over, and only a commit in the new one can vouch now.
    func abandon() {
        inFlight = nil
        retryAt = nil
    }

    /// Takes the coordinator's answer, if it came: on acceptance releases the outputs the commit
    /// covered, on a partition its relay still serves (a partition revoked or lost meanwhile is
    /// skipped: its relay is gone from `relays`).
    func settle(relays: [Int32: OutboxRelay]) {
        let answered = answers.take()
        for case (_, .refused(let error)) in answered {
            // Counted and logged even when the commit was abandoned meanwhile: librdkafka usually
            // reports the assignment lost before it hands over the refusal that caused it.
            refusals.increment()
            // A rebalance refuses every commit until it ends: one line per 10 s is enough.
            if lastRefusalLog.map({ .now - $0 >= .seconds(10) }) ?? true {
                lastRefusalLog = .now
                logger.warning("offset commit refused: outputs held until the group accepts one (a rebalance, or this member was removed)",
                               metadata: [LogKey.error: "\(error)"])
            }
        }
        guard let commit = inFlight else { return }
        guard let answer = answered.last(where: { $0.number == commit.number })?.answer else {
            if .now - commit.at >= Self.answerTimeout {
                inFlight = nil
                logger.warning("offset commit unanswered: abandoned, another is made", metadata: ["timeout_s": "\(Self.answerTimeout.components.seconds)"])
            }
            return
        }
        inFlight = nil
        switch answer {
        case .accepted:
            retryAt = nil
            for (partition, entry) in commit.covered where relays[partition] === entry.relay {
                entry.relay.fenced(through: entry.through)
            }
        case .refused:
            retryAt = .now + Self.retryDelay
        }
    }

    /// Starts a commit of `offsets` when outputs wait for one and none is in flight.
    /// - Parameter offsets: the stored offsets of the assigned partitions (any accepted commit
    ///   fences; these also keep lag tools current). Empty: nothing was ever consumed here, so no
    ///   output can be a decision another member would make again: released without a commit.
    ///   Built only when a commit is made (this runs every loop iteration).
    func startIfNeeded(relays: [Int32: OutboxRelay], offsets: () -> [TopicPartitionOffset], consumer: KafkaConsumer) {
        guard inFlight == nil, retryAt.map({ .now >= $0 }) ?? true else { return }
        var covered: [Int32: (relay: OutboxRelay, through: Int64)] = [:]
        for (partition, relay) in relays {
            if let through = relay.fenceCandidate { covered[partition] = (relay, through) }
        }
        guard !covered.isEmpty else { return }
        let offsets = offsets()
        guard !offsets.isEmpty else {
            for entry in covered.values { entry.relay.fenced(through: entry.through) }
            return
        }
        commits += 1
        let number = commits
        inFlight = (number, .now, covered)
        consumer.commit(offsets) { [answers] error in answers.put(number, error.map { .refused($0) } ?? .accepted) }
    }
}
