import Foundation
import Hummingbird

/// Protects the ops page with a shared token when one is configured (`--ops-token`, `CARD_OPS_TOKEN`).
///
/// A browser sends it as the password of HTTP Basic authentication (RFC 7617; any user name,
/// the browser asks once), a script or Prometheus as `Authorization: Bearer <token>` (RFC 6750).
/// Anything else gets 401 with a `WWW-Authenticate` challenge. The comparison takes the same
/// time wherever the first differing byte is, so the token cannot be guessed byte by byte.
struct OpsAccessToken<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = Self.presentedToken(request.headers[.authorization]), Self.constantTimeEqual(presented, token) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"card-ops\", charset=\"UTF-8\""],
                            body: .init(byteBuffer: ByteBuffer(string: "the ops page needs its token (HTTP Basic password, or Authorization: Bearer)\n")))
        }
        return try await next(request, context)
    }

    /// The token a request presents: a Bearer credential, or the password of a Basic one.
    static func presentedToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0].lowercased() {
        case "bearer": return parts[1].trimmingCharacters(in: .whitespaces)
        case "basic":
            guard let data = Data(base64Encoded: parts[1].trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
            return String(text[text.index(after: colon)...])
        default: return nil
        }
    }

    /// Equal strings, compared over all bytes of the longer one whatever the content.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}
