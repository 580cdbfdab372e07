import Foundation
import Mustache

/// The ops page's templates, read once from the target's resources (`Templates/*.mustache`).
///
/// `page.mustache` is output as written (less its final line break). `body.mustache` and
/// `chart.mustache` are read compactly: a line break and the indentation after it are dropped,
/// so they can be edited as indented HTML while the page stays one line per table, as the
/// fragment refresh and the tests expect.
enum OpsPageTemplates {
    static let library: Result<MustacheLibrary, TemplateError> = load()

    struct TemplateError: Error, CustomStringConvertible {
        var description: String
    }

    /// Renders `object` with the template `name`; a template missing from the installation is said
    /// on the page itself (the rest of `fleet` goes on).
    static func render(_ object: Any, template name: String) -> String {
        switch library {
        case .success(let library):
            return library.render(object, withTemplate: name) ?? "ops page template \(name) not found"
        case .failure(let error):
            return error.description
        }
    }

    private static func load() -> Result<MustacheLibrary, TemplateError> {
        var library = MustacheLibrary()
        for (name, compact) in [("page", false), ("body", true), ("chart", true)] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Templates"),
                  let text = try? String(contentsOf: url, encoding: .utf8)
            else {
                return .failure(TemplateError(description: "ops page template \(name).mustache missing from the OperatorViews resource bundle"))
            }
            do {
                try library.register(compact ? Self.compact(text) : String(text.dropLast(text.hasSuffix("\n") ? 1 : 0)), named: name)
            } catch {
                return .failure(TemplateError(description: "ops page template \(name).mustache does not parse: \(error)"))
            }
        }
        return .success(library)
    }

    /// Drops every line break and the indentation that follows it.
    static func compact(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for i in lines.indices.dropFirst() { lines[i] = lines[i].drop(while: { $0 == " " || $0 == "\t" }) }
        return lines.joined()
    }
}
