import Foundation
import Testing
import TallyTestSupport

/// What the CLI says when a user gets something wrong: one clear sentence naming the mistake, and no option a
/// command does not use.
@Suite struct CLIMessagesTests {
    let header = "tenant_id,request_id,model,input_tokens,output_tokens,cost_cents,created_at\n"

    @Test func versionIsPrinted() throws {
        let run = try runTally(["--version"])
        #expect(run.status == 0)
        #expect(run.out.hasPrefix("tally "))
    }

    @Test func anUnknownCommandIsNamedWithASuggestion() throws {
        let run = try runTally(["stat", "--data", "x"])
        #expect(run.status == 64)
        #expect(run.err.contains("unknown command 'stat'"))
        #expect(run.err.contains("did you mean 'stats'"))
        #expect(!run.err.contains("Unknown option"))
    }

    @Test func readOnlyCommandsDoNotOfferDurability() throws {
        for command in ["stats", "verify", "query", "export"] {
            let run = try runTally([command, "--help"])
            #expect(run.status == 0)
            #expect(!run.out.contains("--durability"), "\(command) offers --durability")
        }
        #expect(try runTally(["import", "--help"]).out.contains("--durability"))
    }

    @Test func helpTextIsWrappedAtWordsNotCutMidSentence() throws {
        // Each paragraph of a discussion is one source line: ArgumentParser wraps it at the width, so no line of the
        // help ends early in the middle of a sentence (a line shorter than half the width followed by a lower-case
        // continuation).
        for command in ["query", "export", "import", "repair", "serve"] {
            let lines = try runTally([command, "--help"]).out.split(separator: "\n", omittingEmptySubsequences: false)
            for (line, next) in zip(lines, lines.dropFirst()) where !line.hasPrefix(" ") && !next.hasPrefix(" ") {
                guard let first = next.first, first.isLowercase, !line.isEmpty else { continue }
                #expect(line.count > 40, "\(command) --help breaks early: '\(line)' / '\(next)'")
            }
        }
    }

    @Test func aMissingStoreIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for args in [["stats"], ["verify"], ["query", "usage", "--tenant", "a"], ["export", "--tenant", "a", "--out", "-"], ["compact"]] {
            let run = try runTally([args[0], "--data", dir.path + "/nothing"] + args.dropFirst())
            #expect(run.status == 1, "\(args)")
            #expect(run.err.contains("no Tally store at \(dir.path)/nothing (create one with tally import or tally serve)"), "\(args): \(run.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/nothing"), "a read must not create the store it did not find")
    }

    @Test func aMissingImportFileIsNamedWithoutAUsageText() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let run = try runTally(["import", "--data", dir.path, dir.path + "/no-such.csv"])
        #expect(run.status == 1)
        #expect(run.err.contains("cannot open \(dir.path)/no-such.csv: No such file or directory"))
        #expect(!run.err.contains("Usage:"))
    }

    @Test func aBadTimeNamesTheAcceptedForms() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for args in [["query", "--data", dir.path, "usage", "--tenant", "a", "--from", "yesterday"],
                     ["export", "--data", dir.path, "--tenant", "a", "--to", "2025-13-01", "--out", "-"],
                     ["generate", "--rows", "1", "--end", "06/01/2025", "--out", "-"]] {
            let run = try runTally(args)
            #expect(run.status == 64, "\(args)")
            #expect(run.err.contains("write a date (2025-06-01, midnight UTC) or an RFC 3339 time"), "\(args): \(run.err)")
        }
    }

    @Test func aBadCSVHeaderIsOneReportNotOnePerRecord() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let csv = "tenant_id,request_id\n" + (0..<300).map { "acme,r\($0)\n" }.joined()
        let run = try runTally(["import", "--data", dir.path, "--format", "csv", "-"], stdin: csv)
        #expect(run.status == 1)
        #expect(run.err.contains("line 1, field model"))
        #expect(!run.err.contains("line 2"))
        #expect(!run.err.contains("--skip-bad"), "no good record to keep: --skip-bad would store nothing either")
        #expect(run.err.contains("nothing stored"))
    }

    @Test func aQueryForATenantWithNoRecordsSaysSo() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runTally(["import", "--data", dir.path, "--format", "csv", "-"],
                             stdin: header + "acme,r1,gpt-4o,10,5,1234.5,2025-05-01T10:00:00Z\n").status == 0)
        var run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme,acmee"])
        #expect(run.status == 1)
        #expect(run.err.contains("no records of tenant 'acmee'"))
        run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme"])
        #expect(run.status == 0)
        #expect(run.out.contains("$12.35"), "money in tables is dollars to the cent: \(run.out)")
        #expect(!run.out.contains("1234.5000000"))
        run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme", "--exact"])
        #expect(run.out.contains("1234.5000000"))
        run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme", "--format", "json"])
        #expect(run.out.contains("\"cost_cents\": \"1234.5000000\""), "JSON stays exact")
    }

    @Test func measuresChooseTheSumsAndAnUnknownOneIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runTally(["import", "--data", dir.path, "--format", "csv", "-"],
                             stdin: header + "acme,r1,gpt-4o,10,5,1234.5,2025-05-01T10:00:00Z\nacme,r2,gpt-4o,7,2,0.5,2025-05-01T11:00:00Z\n").status == 0)
        for rollups in [[], ["--no-rollups"]] {
            var run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme", "--group-by", "model", "--format", "csv",
                                    "--measures", "cost"] + rollups)
            #expect(run.status == 0, "\(run.err)")
            #expect(run.out == "model,count,cost_cents\ngpt-4o,2,1235.0000000\n", "\(run.out)")
            run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme", "--group-by", "model", "--format", "csv",
                                "--measures", "tokens", "--order", "tokens"] + rollups)
            #expect(run.out == "model,count,input_tokens,output_tokens\ngpt-4o,2,17,7\n", "\(run.out)")
        }
        let run = try runTally(["query", "--data", dir.path, "cost", "--tenant", "acme", "--measures", "cost,price"])
        #expect(run.status != 0)
        #expect(run.err.contains("--measures: unknown measure 'price'"), "\(run.err)")
    }
}
