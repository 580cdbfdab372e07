import Foundation
import Logging

/// Who this worker instance is, for standby placement: an id that stays with its state directory
/// (so a restarted instance keeps the standbys it warmed), and whether this process alone uses
/// that directory.
///
/// Two locks (`flock`; the kernel drops them when the process dies, kill -9 included): the first
/// process takes `instance.lock` exclusively; any other process on the same directory holds
/// `instance.shared` shared for its life. Only the first may keep standby copies, and only while
/// nobody holds `instance.shared` (``isShared``): a copy of partition P in a shared directory
/// would be the other instance's active file.
final class InstanceIdentity: Sendable {
    /// `<hostname>/<8 hex digits>`, kept in `<state-dir>/instance-id` (created on first start).
    let id: String
    /// Whether this process holds the directory's exclusive lock.
    let ownsDirectory: Bool
    /// `instance.lock` (held) for the owner, `instance.shared` (held shared) for any other process.
    private let heldDescriptor: Int32
    /// The owner's descriptor of `instance.shared`, for ``isShared``.
    private let sharedProbe: Int32

    /// File inside the state directory holding the instance id, one line.
    static let fileName = "instance-id"

    private init(id: String, ownsDirectory: Bool, held: Int32, probe: Int32) {
        self.id = id
        self.ownsDirectory = ownsDirectory
        heldDescriptor = held
        sharedProbe = probe
    }

    deinit {
        if heldDescriptor >= 0 { close(heldDescriptor) }
        if sharedProbe >= 0 { close(sharedProbe) }
    }

    /// Whether another live process uses the directory now (it holds `instance.shared`). Two
    /// system calls: cheap enough to ask before every use of a copy.
    var isShared: Bool {
        guard ownsDirectory else { return true }
        guard sharedProbe >= 0 else { return false }
        guard flock(sharedProbe, LOCK_EX | LOCK_NB) == 0 else { return true }
        flock(sharedProbe, LOCK_UN)
        return false
    }

    /// Reads or creates the directory's id and takes its locks.
    /// - Throws: file errors when the id cannot be written (the directory is not writable).
    static func load(directory: URL, logger: Logger) throws -> InstanceIdentity {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(fileName)
        let stored = (try? String(contentsOf: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let id: String
        if let stored, !stored.isEmpty {
            id = stored
        } else {
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
            id = "\(host)/\(String(format: "%08x", UInt32.random(in: .min ... .max)))"
            try Data((id + "\n").utf8).write(to: file, options: .atomic)
        }
        func openLock(_ name: String) -> Int32 {
            open(directory.appendingPathComponent(name).path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        }
        let lock = openLock("instance.lock")
        if lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 {
            return InstanceIdentity(id: id, ownsDirectory: true, held: lock, probe: openLock("instance.shared"))
        }
        if lock >= 0 { close(lock) }
        let shared = openLock("instance.shared")
        if shared >= 0 { flock(shared, LOCK_SH) }
        logger.warning("another live process uses this state directory: no standby copies are kept in it (give each instance its own directory)",
                       metadata: ["state.directory": "\(directory.path)"])
        // Its own id, so its heartbeats do not overwrite those of the process that holds the directory.
        return InstanceIdentity(id: "\(id)+\(getpid())", ownsDirectory: false, held: shared, probe: -1)
    }
}
