import Foundation

/// Reads a text file that another process may be appending to (a worker's log, `fleet up`'s
/// console), as UTF-8 with any malformed sequence replaced by U+FFFD.
///
/// Why lossy: a read can end in the middle of a multibyte character (Chinese log text) that is
/// still being written; `String(contentsOf:encoding: .utf8)` then fails for the whole file
/// ("the file isn't in the correct format"), and a test that checks the log fails at random.
/// - Returns: the text; `""` when the file does not exist or cannot be read.
public func readGrowingTextFile(_ url: URL) -> String {
    guard let data = try? Data(contentsOf: url) else { return "" }
    return String(decoding: data, as: UTF8.self)
}
