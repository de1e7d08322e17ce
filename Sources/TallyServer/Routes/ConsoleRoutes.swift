import HTTPTypes
import Hummingbird
import NIOCore

/// The web console: its page and its static files, without a key (the page asks for one).
struct ConsoleRoutes: Sendable {
    typealias Context = APIRequestContext

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("/", use: root)
        group.get("console", use: console)
        group.get("console/:file", use: consoleAsset)
    }

    /// What the console's pages may load: only this server (scripts, styles, API calls); no inline script, no frames.
    static let consoleSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        + "connect-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    /// `GET /`: the server's address opened in a browser leads to the console.
    @Sendable func root(_ request: Request, context: Context) -> Response {
        Response(status: .found, headers: [.location: "/console"])
    }

    /// `GET /console`: the console page (no key: the page asks for one and keeps it in the tab's session storage).
    @Sendable func console(_ request: Request, context: Context) throws -> Response {
        try consoleFile("index.html")
    }

    /// `GET /console/{file}`: the console's script and style sheet.
    @Sendable func consoleAsset(_ request: Request, context: Context) throws -> Response {
        guard let name = context.parameters.get("file"), name != "index.html" else { throw Problem(.notFound, "no such console file") }
        return try consoleFile(name)
    }

    private func consoleFile(_ name: String) throws -> Response {
        guard let asset = ConsoleAssets.files[name] else {
            throw Problem(.notFound, name == "index.html" ? "the console's files are not installed beside this binary" : "no such console file")
        }
        return Response(status: .ok, headers: [
            .contentType: asset.mediaType,
            .contentSecurityPolicy: Self.consoleSecurityPolicy,
            .cacheControl: "no-cache",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
