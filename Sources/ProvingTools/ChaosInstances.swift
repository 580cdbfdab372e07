import Foundation

/// What `fleet chaos` does to the workers, one event at a time (issue 13's proof: instances added,
/// removed and killed -9 at random, each instance on its own disk).
///
/// With `--instances 1` (the default) the only event is today's: SIGKILL, then a restart on the same
/// state directory. With `--instances N` (N > 1) each worker type starts with N instances
/// (`intake-1` … `intake-N`, each on `state/<instance>`) and every event picks a worker type at
/// random, then one of the events its instance count allows, keeping **between 1 and N + 1 live
/// instances per type** (N + 1: a surge instance, as a rolling deployment's `maxSurge: 1` adds one
/// before it takes one away; 1: a type never disappears, its partitions always have an owner to move to):
///
/// | event | what happens | allowed when |
/// |---|---|---|
/// | `kill-restart` | SIGKILL; restarted on its own disk after `--restart-delay` | always |
/// | `kill-replace` | SIGKILL and the disk is lost (its state directory deleted); a new instance on a fresh disk after `--restart-delay` | always |
/// | `add` | a new instance on a fresh, empty disk (a new host or pod) | live < N + 1 |
/// | `remove` | SIGTERM: drains its outbox, commits, leaves the group; not restarted | live > 1 |
///
/// Weights (of the allowed ones): kill-restart 3, kill-replace 3, add 2, remove 2.
enum WorkerEvent: Equatable, CustomStringConvertible {
    case killRestart(instance: String)
    case killReplace(instance: String, worker: String)
    case add(worker: String)
    case remove(instance: String)

    var description: String {
        switch self {
        case .killRestart(let instance): "SIGKILL \(instance) (restarted on its own disk)"
        case .killReplace(let instance, _): "SIGKILL \(instance), its disk lost (replaced by an instance on a fresh disk)"
        case .add(let worker): "add an instance of \(worker) on a fresh disk"
        case .remove(let instance): "SIGTERM \(instance) (removed gracefully)"
        }
    }

    /// The kind, for the tally printed at the end.
    var kind: String {
        switch self {
        case .killRestart: "kill-restart"
        case .killReplace: "kill-replace"
        case .add: "add"
        case .remove: "remove"
        }
    }

    static let kinds = ["kill-restart", "kill-replace", "add", "remove"]

    /// Pure: the next event.
    /// - Parameters:
    ///   - live: per worker type, its live instances by name (a killed one awaiting its restart counts).
    ///   - pending: per worker type, replacements started later (they count towards the upper bound).
    ///   - instances: N of `--instances`.
    ///   - next: a random number source (`UInt64`s).
    static func choose(live: [String: [String]], pending: [String: Int] = [:], workers: [String], instances: Int,
                       next: () -> UInt64) -> WorkerEvent? {
        let candidates = workers.filter { !(live[$0] ?? []).isEmpty }
        guard !candidates.isEmpty else { return nil }
        let worker = candidates[Int(next() % UInt64(candidates.count))]
        let names = live[worker] ?? []
        let victim = names[Int(next() % UInt64(names.count))]
        guard instances > 1 else { return .killRestart(instance: victim) }
        let count = names.count + pending[worker, default: 0]
        var weighted: [(WorkerEvent, UInt64)] = [(.killRestart(instance: victim), 3), (.killReplace(instance: victim, worker: worker), 3)]
        if count < instances + 1 { weighted.append((.add(worker: worker), 2)) }
        if names.count > 1 { weighted.append((.remove(instance: victim), 2)) }
        var roll = next() % weighted.reduce(0) { $0 + $1.1 }
        for (event, weight) in weighted {
            if roll < weight { return event }
            roll -= weight
        }
        return weighted.last?.0
    }
}
