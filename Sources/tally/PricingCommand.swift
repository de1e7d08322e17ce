import ArgumentParser
import TallyServer
import TallyStore
import TallyText

/// `tally pricing`: the price table records without `cost_cents` are priced with.
struct PricingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pricing",
        abstract: "Shows the price table and refreshes it from LiteLLM's public price map.",
        subcommands: [Show.self, Import.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Lists each model's price in force (USD per million input and output tokens).")

        @Option(help: "A price table file (default: the one shipped with tally).")
        var pricing: String?

        @Option(help: "Only models whose name contains this text.")
        var model: String?

        func run() throws {
            let table = try loadPricing(pricing)
            let now = TimeSource.systemWallMillis()
            var rows: [(String, String, String, String)] = [("model", "input/M", "output/M", "since")]
            for name in table.models where model.map({ name.contains($0) }) ?? true {
                guard let e = table.price(model: name, at: now) ?? table.entries(for: name).last else { continue }
                rows.append((name, "$" + PriceTable.usd(e.inputPerMillionNanos), "$" + PriceTable.usd(e.outputPerMillionNanos),
                             PriceTable.dateOrTime(e.effectiveFromMillis)))
            }
            let w0 = rows.map(\.0.count).max()!, w1 = rows.map(\.1.count).max()!, w2 = rows.map(\.2.count).max()!
            for r in rows { print(r.0.rightPad(w0) + "  " + r.1.leftPad(w1) + "  " + r.2.leftPad(w2) + "  " + r.3) }
            printError("\(rows.count - 1) of \(table.models.count) models")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Merges LiteLLM's model_prices_and_context_window.json into a price table.",
            discussion: """
                Reads the chat and completion models of LiteLLM's public price map (USD per token, read exactly from \
                the JSON text) and writes the table tally reads with --pricing. A model new to the table is priced \
                from --first-price-from; a model whose price changed gets a new entry from --effective-from, and its \
                earlier prices stay, so records already made keep the price they were made at. Serve the result with \
                tally serve --pricing FILE (or tally import --pricing FILE).
                """)

        @Argument(help: "LiteLLM's model_prices_and_context_window.json (or - for standard input).")
        var file: String

        @Option(help: "The table to merge into (default: the one shipped with tally).")
        var base: String?

        @Option(help: "Where to write the merged table (default: - for standard output).")
        var out: String = "-"

        @Option(name: .customLong("effective-from"), help: "When a changed price takes effect: a date or an RFC 3339 time (default: now).")
        var effectiveFrom: String?

        @Option(name: .customLong("first-price-from"), help: "From when a model new to the table is priced (default: 2023-01-01).")
        var firstPriceFrom = "2023-01-01"

        @Option(name: .customLong("provider"), help: "Only this litellm_provider (repeatable), e.g. openai, anthropic, gemini, mistral, groq.")
        var providers: [String] = []

        func validate() throws {
            if let effectiveFrom { _ = try parseTimeOption(effectiveFrom, "--effective-from") }
            _ = try parseTimeOption(firstPriceFrom, "--first-price-from")
        }

        func run() throws {
            let bytes: [UInt8]
            do {
                bytes = file == "-" ? try FileIO.readToEnd(0, path: "standard input") : try FileIO.readAll(file)
            } catch {
                throw CommandError("cannot read \(file): \(error)")
            }
            let table = try loadPricing(base)
            let effective = try effectiveFrom.map { try parseTimeOption($0, "--effective-from") } ?? TimeSource.systemWallMillis()
            let (merged, report) = try table.importingLiteLLM(
                json: bytes, effectiveFrom: effective, firstPriceFrom: try parseTimeOption(firstPriceFrom, "--first-price-from"),
                providers: providers.isEmpty ? nil : Set(providers))
            let note = "Prices in USD per million tokens, exact decimals; each entry is in force from effective_from (UTC) "
                + "until the model's next entry. Merged from LiteLLM's price map by tally pricing import."
            let json = merged.fileJSON(note: note)
            if out == "-" {
                print(String(decoding: json, as: UTF8.self), terminator: "")
            } else {
                let slash = out.lastIndex(of: "/")
                try FileIO.writeAtomically(json, to: out, directory: slash.map { String(out[..<$0]) } ?? ".")
            }
            printError("added \(report.added.count), changed \(report.changed.count), unchanged \(report.unchanged), "
                + "skipped \(report.skipped) (not chat or completion, other provider, or no exact token prices)")
            for model in report.changed { printError("changed: \(model)") }
        }
    }
}

