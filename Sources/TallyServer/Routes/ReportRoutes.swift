import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics

/// The monthly report.
struct ReportRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("reports/monthly", use: monthlyReport)
    }

    /// `GET reports/monthly?month=YYYY-MM&format=json|csv|html|pdf`: a tenant's month (admins name `tenant_id` or `tenant`).
    @Sendable func monthlyReport(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id", "tenant", "month", "format"])
        // `tenant` is accepted as another name of `tenant_id` (report links are written by hand).
        let tenantID = try q.single("tenant_id")
        let alias = try q.single("tenant")
        if tenantID != nil && alias != nil { throw Problem.invalidParameter("tenant", "give tenant_id or tenant, not both") }
        var month: ReportMonth?
        if let text = try q.single("month") {
            guard let m = ReportMonth(text) else { throw Problem.invalidParameter("month", "must be a month such as 2025-05 (YYYY-MM)") }
            month = m
        }
        let format = try q.single("format") ?? "json"
        guard ["json", "csv", "html", "pdf"].contains(format) else {
            throw Problem.invalidParameter("format", "must be one of json, csv, html, pdf")
        }
        let report = try await analytics.monthlyReport(month: month, tenantID: tenantID ?? alias, principal: context.principal)
        let name = "tally-\(report.tenant)-\(report.month)"
        switch format {
        case "csv":
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"\(name).csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: MonthlyReportRendering.csv(report))))
        case "pdf":
            return Response(status: .ok, headers: [.contentType: "application/pdf",
                                                   .contentDisposition: "inline; filename=\"\(name).pdf\""],
                            body: .init(byteBuffer: ByteBuffer(bytes: MonthlyReportRendering.pdf(report))))
        case "html":
            return Response(status: .ok, headers: [
                .contentType: "text/html; charset=utf-8",
                // The page is self-contained: no script, and nothing may be fetched from anywhere.
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ], body: .init(byteBuffer: ByteBuffer(string: MonthlyReportRendering.html(report))))
        default:
            return JSONCoding.response(report)
        }
    }
}
