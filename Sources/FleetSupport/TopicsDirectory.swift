import Foundation

/// The repository's Topics/ folder: the flag, else `./Topics`, else the folder above the executable's build folder.
public func locateTopicsDirectory(_ flag: String?) throws -> URL {
    if let flag { return URL(fileURLWithPath: flag) }
    var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Topics")]
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    while url.path != "/" {
        candidates.append(url.appendingPathComponent("Topics"))
        url.deleteLastPathComponent()
    }
    guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("card.status.json").path) }) else {
        throw FleetRunError("no Topics/ folder (with card.status.json) in the current folder or above the fleet executable; run from the repository root or pass --topics-dir")
    }
    return found
}
