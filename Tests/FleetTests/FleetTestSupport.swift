import Foundation

/// Locating the repository and running its scripts from the fleet tests.
enum FleetTestSupport {
    /// The first directory above this file (symlinks resolved, so a scratch package linking the
    /// tests still finds the real repository) that holds Topics/.
    static let repoRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Topics").path, isDirectory: &isDirectory),
               isDirectory.boolValue {
                return dir
            }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { preconditionFailure("no Topics/ directory above \(#filePath)") }
            dir = parent
        }
    }()

    static var topicsDirectory: URL { repoRoot.appendingPathComponent("Topics") }

    /// Runs `python3 <arguments>` in the repository root; returns its exit status and output.
    static func python(_ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, output: String) {
        try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments, stdin: stdin)
    }

    /// Runs a program to completion, collecting stdout and stderr together.
    static func run(_ executable: URL, _ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            // Write on another thread so a full stdout pipe can never deadlock us.
            let writer = input.fileHandleForWriting
            Thread {
                writer.write(stdin)
                try? writer.close()
            }.start()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
