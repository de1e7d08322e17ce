import ArgumentParser
import TallyStore

@main
struct Tally: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Records what every LLM call costs and answers where the money goes.",
        subcommands: [GenerateCommand.self]
    )
}
