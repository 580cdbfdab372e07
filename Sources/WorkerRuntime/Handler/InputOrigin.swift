/// Who writes an input topic, and so what a worker may trust in its records.
///
/// - `fleet`: the fleet's own workers wrote it through their outboxes. Its `card-message-id` header
///   is the deterministic id the upstream stage stamped, and the runtime drops an id it has already
///   applied. Its keys are the fleet's, placed by the fleet's partitioner.
/// - `outside`: portals, banks, the registry wrote it with whatever client they run. Headers are
///   input, not trust: `card-message-id` is ignored (a bank adapter that copies the order's headers
///   onto its events must not have them dropped as duplicates); the handler's own business-id dedup
///   holds. Placement is checked: a record off the partition its contract key maps to
///   (`WorkerHandler.contractKey(of:)`) is re-keyed there through the outbox before any state sees it.
///
/// docs/contract-additions.md, "Headers a record from outside may carry" and "Partitioner and keys".
public enum InputOrigin: Sendable, Hashable {
    case fleet
    case outside
}
