import TallyQuery
import TallyStore
import TallyText

extension Analytics {
    /// The monthly report of a tenant (a tenant key's own; an admin key names it): see `MonthlyReport`.
    ///
    /// Every number comes from the same queries as the usage and cost endpoints, on one snapshot, so the report's
    /// totals equal theirs for the month's window. `month` defaults to the month of now.
    public func monthlyReport(month: ReportMonth?, tenantID: String?, principal: Principal) async throws -> MonthlyReport {
        let tenant = try AccessPolicy.check(.readReports, principal, tenant: tenantID)
        let now = self.now
        let month = month ?? ReportMonth(containing: now)
        let budgets = try await blocking { [catalog] in try catalog.budgets(tenant: tenant) }
        let events = try await reportEvents(tenant: tenant, month: month)
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let tenants = Query.Tenants.one(tenant)
        let window = month.window
        let previous = month.previous.window
        let daily = try await series(&run, tenants: tenants, filters: [:], window: Window(from: window.from, to: window.to, resolution: .day))
        let previousDaily = try await series(&run, tenants: tenants, filters: [:],
                                       window: Window(from: previous.from, to: previous.to, resolution: .day))
        let totals = daily.reduce(Totals()) { $0 + $1.totals }
        let previousTotals = previousDaily.reduce(Totals()) { $0 + $1.totals }

        var breakdowns: [ReportBreakdown] = []
        var modelTotals: (previous: [CostChangeDecomposition.ModelTotals], current: [CostChangeDecomposition.ModelTotals]) = ([], [])
        for d in MonthlyReport.dimensions {
            let current = try await run.run(try Self.query(tenants: tenants, from: window.from, to: window.to, groupBy: [.dimension(d)],
                                                     order: .cost, useRollups: options.useRollups))
            let before = try await run.run(try Self.query(tenants: tenants, from: previous.from, to: previous.to, groupBy: [.dimension(d)],
                                                    order: .cost, useRollups: options.useRollups))
            var previousCost: [String: Int64] = [:]
            for r in 0..<before.rowCount { previousCost[before.keyColumns[0][r]] = before.cost[r] }
            let listed = min(current.rowCount, MonthlyReport.rowsPerBreakdown)
            var rows: [ReportRow] = []
            var shown = Totals()
            for r in 0..<listed {
                let t = Totals(current, row: r)
                shown = shown + t
                rows.append(ReportRow(value: current.keyColumns[0][r], totals: t, sharePercent: percent(t.costNanos, of: totals.costNanos),
                                      previousCostNanos: previousCost[current.keyColumns[0][r]] ?? 0))
            }
            breakdowns.append(ReportBreakdown(dimension: d, rows: rows, others: totals - shown, groups: current.rowCount))
            if d == .model {
                func models(_ q: QueryResult) -> [CostChangeDecomposition.ModelTotals] {
                    (0..<q.rowCount).map { r in
                        CostChangeDecomposition.ModelTotals(model: q.keyColumns[0][r], requests: q.count[r], inputTokens: q.inputTokens[r],
                                                            outputTokens: q.outputTokens[r], costNanos: q.cost[r])
                    }
                }
                modelTotals = (models(before), models(current))
            }
        }
        var weights = tokenWeights(models: modelTotals.previous.map(\.model) + modelTotals.current.map(\.model), before: window.from)
        let unpriced = Set(modelTotals.previous.filter { $0.tokens > 0 }.map(\.model)).subtracting(weights.keys)
        if !unpriced.isEmpty {
            // Models without list prices: their prices fitted to their daily totals, last month's first.
            let days = try await run.run(try Self.query(tenants: tenants, from: previous.from, to: window.to, bucket: .day,
                                                        groupBy: [.dimension(.model)], useRollups: options.useRollups))
            for model in unpriced {
                var before: [(inputTokens: Int64, outputTokens: Int64, costNanos: Int64)] = [], after = before
                for r in 0..<days.rowCount where days.keyColumns[0][r] == model {
                    let day = (days.inputTokens[r], days.outputTokens[r], days.cost[r])
                    if days.bucketStarts[r] < window.from { before.append(day) } else { after.append(day) }
                }
                weights[model] = CostChangeDecomposition.TokenWeights.fitted(days: before)
                    ?? CostChangeDecomposition.TokenWeights.fitted(days: after)
            }
        }
        let decomposition = CostChangeDecomposition(previous: modelTotals.previous, current: modelTotals.current, weights: weights)
        let inProgress = now >= window.from && now < window.to
        var reportBudgets: [ReportBudget] = []
        for b in budgets { reportBudgets.append(try await reportBudget(&run, b, month: month, now: now, inProgress: inProgress)) }
        let aggregation = "the month's totals, daily series and breakdowns by feature_tag, model, user_id and project_id "
            + "(first \(MonthlyReport.rowsPerBreakdown) by cost); the previous calendar month for comparison; "
            + "the cost change split by sequential substitution (input and output tokens weighed by list prices, else by prices "
            + "fitted to each model's daily totals); rollups \(options.useRollups ? "on" : "off")"
        return MonthlyReport(
            tenant: tenant, month: month, totals: totals, previousTotals: previousTotals, breakdowns: breakdowns, daily: daily,
            previousDaily: previousDaily, decomposition: decomposition, budgets: reportBudgets, events: events,
            inProgress: inProgress, provenance: run.provenance(window: window, aggregation: aggregation, now: now))
    }

    /// The weights of each model's input and output tokens for the cost change: its list prices in the price table in
    /// force just before `before` (the previous period's prices, as sequential substitution holds them), else its first
    /// prices. Models the table does not price (or a server without a table) get none here; `monthlyReport` fits
    /// theirs to their daily totals (`TokenWeights.fitted`).
    func tokenWeights(models: [String], before: Int64) -> [String: CostChangeDecomposition.TokenWeights] {
        guard let table = options.pricing else { return [:] }
        var out: [String: CostChangeDecomposition.TokenWeights] = [:]
        for m in Set(models) {
            guard let p = table.price(model: m, at: before - 1) ?? table.entries(for: m).first else { continue }
            guard p.inputPerMillionNanos > 0 || p.outputPerMillionNanos > 0 else { continue }
            out[m] = CostChangeDecomposition.TokenWeights(input: p.inputPerMillionNanos, output: p.outputPerMillionNanos)
        }
        return out
    }

    /// A budget measured over the month: monthly budgets by the month's spend, daily ones by their days.
    func reportBudget(_ run: inout QueryRun, _ b: Budget, month: ReportMonth, now: Int64, inProgress: Bool) async throws -> ReportBudget {
        let window = month.window
        let days = try await series(&run, tenants: .one(b.tenant), filters: b.filters, window: Window(from: window.from, to: window.to, resolution: .day))
        let spent = days.reduce(Int64(0)) { $0 + $1.totals.costNanos }
        func state(_ nanos: Int64) -> String {
            nanos > b.limitNanos ? "exceeded" : nanos > b.warnThresholdNanos ? "warning" : "ok"
        }
        switch b.period {
        case .monthly:
            var projected: Int64?
            if inProgress, now > window.from {
                let elapsed = Double(now - window.from)
                projected = Int64((Double(spent) * Double(window.to - window.from) / elapsed).rounded())
            }
            return ReportBudget(budget: b, spentNanos: spent, utilizationPercent: percent(spent, of: b.limitNanos) ?? 0, maxDayNanos: nil,
                                daysOverLimit: nil, projectedNanos: projected, state: state(spent))
        case .daily:
            let maxDay = days.map(\.totals.costNanos).max() ?? 0
            return ReportBudget(budget: b, spentNanos: spent, utilizationPercent: percent(maxDay, of: b.limitNanos) ?? 0, maxDayNanos: maxDay,
                                daysOverLimit: days.filter { $0.totals.costNanos > b.limitNanos }.count, projectedNanos: nil,
                                state: state(maxDay))
        }
    }

    /// The anomalies whose days overlap the month and their incidents (and any incident open during the month), from the catalog.
    func reportEvents(tenant: String, month: ReportMonth) async throws -> ReportEvents {
        let window = month.window
        let catalog = self.catalog
        return try await blocking {
            let anomalies = try catalog.anomalies(tenant: tenant, filter: AnomalyFilter(tenantID: tenant, from: window.from, to: window.to, limit: 500))
            // An incident belongs to the month when it was open during it, or when one of the month's anomalies
            // opened or joined it (detection may run, and open it, after the month).
            let linked = Set(anomalies.compactMap(\.incidentID))
            let incidents = try catalog.incidents(tenant: tenant, status: nil, limit: 500).filter { v in
                linked.contains(v.incident.id) || (v.incident.openedAt < window.to && (v.incident.resolvedAt ?? .max) >= window.from)
            }
            var events = ReportEvents()
            events.anomalies = anomalies.sorted { ($0.firstDay, $0.id) < ($1.firstDay, $1.id) }.map { a in
                let subject = a.entity.level == .tenant ? "tenant" : "\(a.entity.level.rawValue) \(a.entity.value)"
                return ReportEvents.Item(
                    id: a.id, kind: a.type.rawValue, severity: a.severity.rawValue, status: a.status.rawValue,
                    title: "\(subject): spent \(Money.formatCents(a.actualNanos)) cents against \(Money.formatCents(a.expectedNanos)) expected over \(a.days) day(s)",
                    at: a.firstDay, link: "/api/v1/analytics/anomalies/" + a.id)
            }
            events.incidents = incidents.sorted { ($0.incident.openedAt, $0.incident.id) < ($1.incident.openedAt, $1.incident.id) }.map { v in
                ReportEvents.Item(
                    id: v.incident.id, kind: "incident", severity: v.incident.severity.rawValue, status: v.incident.status.rawValue,
                    title: v.incident.title, at: v.incident.openedAt, link: "/api/v1/analytics/incidents/" + v.incident.id)
            }
            return events
        }
    }
}
