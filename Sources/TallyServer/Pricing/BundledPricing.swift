import Foundation
import TallyStore

/// The price table shipped with Tally (`Pricing/pricing.json`, a resource of this module): what records without
/// `cost_cents` are priced with unless `--pricing FILE` names another. `tally pricing import` refreshes it from
/// LiteLLM's public price map.
public enum BundledPricing {
    /// The file's path, or nil when the resource bundle is not beside the binary.
    public static func path() -> String? {
        ServerResources.bundleDirectories().map { $0 + "/pricing.json" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The shipped table; throws naming what is missing when the binary was copied without its resources.
    public static func load() throws -> PriceTable {
        guard let path = path() else {
            throw StoreError.invalidArgument("the price table shipped with tally is missing (\(ServerResources.bundleName)/pricing.json "
                + "beside the binary); pass --pricing FILE")
        }
        return try PriceTable.load(path: path)
    }
}
