import Foundation
@testable import Kafka
import Synchronization
import Testing

/// A function value kept as a generic container's value and read through `inout`
/// (`Mutex.withLock { $0 }`) is re-wrapped in two reabstraction thunks at every read. The
/// producer's delivery-report observer did that: a worker's calls went deeper with every round of
/// reports, costing a fifth of its CPU within 15 s and, after ~262,000 rounds, its poll thread's stack.
@Suite("Kafka: the delivery-report observer")
struct ReportsObserverTests {
    /// The address of a local of the caller's frame: equal between calls at the same stack depth.
    @inline(never)
    static func stackAddress() -> Int {
        var marker = 0
        return withUnsafeMutablePointer(to: &marker) { Int(bitPattern: $0) }
    }

    @Test("an observer notified 10,000 times runs its body at the same stack depth every time")
    func sameDepth() {
        let observer = ReportsObserver()
        let depths = Mutex<[Int]>([])
        observer.replace { depths.withLock { $0.append(Self.stackAddress()) } }
        for _ in 0..<10_000 { observer.notify() }
        let seen = depths.withLock { $0 }
        #expect(seen.count == 10_000)
        // Before the fix the 10,000th call ran ~320 KB deeper than the first (32 bytes per call).
        #expect(abs((seen.first ?? 0) - (seen.last ?? 0)) < 1024, "stack moved \((seen.first ?? 0) - (seen.last ?? 0)) bytes")
        observer.replace(nil)
        observer.notify()
        #expect(depths.withLock { $0.count } == 10_000)
    }

    @Test("no Mutex or Atomic in Sources holds a function value (the observer's fault, for its whole kind)")
    func noFunctionValuesInLocks() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(files.count > 50)
        // `Mutex<(…) -> …>`, `Mutex<(@Sendable () -> Void)?>`, `Atomic<…->…>`: a function type as the value.
        let pattern = try Regex(#"(Mutex|Atomic)<[^>\n]*->"#)
        var offenders: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains(pattern) && !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                offenders.append("\(file.lastPathComponent):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(offenders.isEmpty, "keep the function in a final class box: \(offenders)")
    }
}
