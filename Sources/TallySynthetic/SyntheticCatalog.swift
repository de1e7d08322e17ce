/// The fixed vocabulary of synthetic data: models with their prices and feature tags with their token shapes.
///
/// The same tables as `shared/bench/gen.py`, so Tally and its peers are measured on data of one shape.
package enum SyntheticCatalog {
    /// A model, its list prices and how popular it is.
    package struct Model: Sendable {
        package let name: String
        /// Nano-dollars per input token ($ per 1M tokens x 1000).
        package let inputNanosPerToken: Int64
        /// Nano-dollars per output token.
        package let outputNanosPerToken: Int64
        /// Relative popularity across tenants.
        package let popularity: Double
    }

    /// A feature tag and the median token counts of its calls.
    package struct Feature: Sendable {
        package let tag: String
        package let medianInputTokens: Double
        package let medianOutputTokens: Double
        package let popularity: Double
    }

    /// The 13 models of gen.py; prices in $ per 1M tokens become exact nano-dollars per token.
    package static let models: [Model] = [
        ("claude-3-opus", 15_000, 75_000, 0.03),
        ("claude-3-5-sonnet", 3_000, 15_000, 0.22),
        ("claude-3-5-haiku", 800, 4_000, 0.08),
        ("claude-3-haiku", 250, 1_250, 0.08),
        ("gpt-4o", 2_500, 10_000, 0.20),
        ("gpt-4o-mini", 150, 600, 0.17),
        ("gpt-4-turbo", 10_000, 30_000, 0.03),
        ("o1-mini", 3_000, 12_000, 0.03),
        ("llama-3-70b", 880, 880, 0.06),
        ("llama-3-8b", 180, 180, 0.04),
        ("mistral-large", 2_000, 6_000, 0.03),
        ("gemini-1.5-pro", 1_250, 5_000, 0.02),
        ("gemini-1.5-flash", 75, 300, 0.01),
    ].map { Model(name: $0.0, inputNanosPerToken: $0.1, outputNanosPerToken: $0.2, popularity: $0.3) }

    /// The 40 feature tags of gen.py: (median input tokens, median output tokens, popularity).
    package static let features: [Feature] = [
        ("customer_support.chat", 1800, 350, 10), ("customer_support.summarize", 6000, 400, 5),
        ("customer_support.triage", 900, 60, 5), ("customer_support.reply_draft", 2500, 450, 4),
        ("search.rerank", 3000, 40, 6), ("search.query_rewrite", 300, 60, 4),
        ("search.answer", 5000, 500, 6), ("rag.retrieve_answer", 7000, 600, 7),
        ("rag.citation_check", 4000, 200, 2), ("code_review.diff", 9000, 900, 4),
        ("code_review.explain", 4000, 700, 2), ("code_gen.autocomplete", 1500, 120, 8),
        ("code_gen.test_writer", 5000, 1500, 2), ("code_gen.refactor", 8000, 2500, 1),
        ("docs.summarize", 12000, 600, 4), ("docs.translate", 2500, 2600, 2),
        ("docs.extract_fields", 6000, 300, 4), ("docs.classify", 3000, 20, 3),
        ("email.compose", 800, 400, 3), ("email.summarize", 2500, 200, 3),
        ("email.categorize", 1200, 15, 2), ("sales.lead_scoring", 1500, 80, 2),
        ("sales.call_notes", 15000, 900, 2), ("sales.outreach_draft", 900, 500, 2),
        ("analytics.sql_gen", 3500, 250, 3), ("analytics.insight", 8000, 800, 2),
        ("hr.resume_screen", 4000, 300, 1), ("hr.policy_qa", 3000, 300, 1),
        ("legal.contract_review", 25000, 1500, 1), ("legal.clause_extract", 18000, 500, 1),
        ("marketing.copy", 600, 700, 2), ("marketing.seo_meta", 1500, 120, 1),
        ("product.feedback_cluster", 10000, 800, 1), ("product.release_notes", 5000, 1200, 1),
        ("moderation.content_check", 700, 10, 5), ("agent.plan", 6000, 800, 3),
        ("agent.tool_call", 9000, 250, 6), ("agent.reflect", 11000, 600, 2),
        ("voice.transcript_summary", 14000, 700, 1), ("ops.incident_summary", 9000, 700, 1),
    ].map { Feature(tag: $0.0, medianInputTokens: $0.1, medianOutputTokens: $0.2, popularity: $0.3) }

    /// Environments and their shares of calls.
    static let environments: [(name: String, share: Double)] = [("prod", 0.75), ("staging", 0.15), ("dev", 0.10)]

    /// Verbs the 300 global skills are named after (`sk_<verb>_<nnn>`).
    static let skillVerbs = [
        "summarize", "classify", "extract", "plan", "search", "rank", "draft", "translate",
        "sql", "code", "review", "answer", "route", "moderate", "critique",
    ]

    /// Number of skills in the global pool.
    static let skillCount = 300

    /// Token clamps of gen.py.
    static let maxInputTokens: Double = 200_000
    static let maxOutputTokens: Double = 16_384
}
