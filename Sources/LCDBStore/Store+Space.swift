import Foundation
import LCDBCore

extension Store {
    /// Refuses to start writing `bytes` that cannot fit: a file database needs
    /// about twice the bytes free while they are written (the WAL holds the
    /// new pages until they are checkpointed into the file); an in-memory one
    /// is held to half the machine's memory. Estimates use Double, so absurd
    /// sizes cannot overflow.
    public func requireSpace(for bytes: Double, _ what: String) throws {
        let margin = 64.0 * 1024 * 1024
        if let path {
            let folder = (path as NSString).deletingLastPathComponent
            var info = statvfs()
            guard statvfs(folder.isEmpty ? "." : folder, &info) == 0 else { return }
            let free = Double(info.f_bavail) * Double(info.f_frsize)
            if 2 * bytes + margin > free {
                throw StoreError(.diskFull, "\(what) needs \(Store.formatBytes(bytes)); writing it takes about \(Store.formatBytes(2 * bytes)) of free disk, and the disk holding '\(path)' has \(Store.formatBytes(free)) free. Nothing was written")
            }
        } else {
            try requireMemory(for: bytes, what, advice: " for an in-memory database; open a database file instead. Nothing was written")
        }
    }

    /// Refuses to hold `bytes` in memory beyond `MemoryBudget` (half of what
    /// the process can get).
    func requireMemory(for bytes: Double, _ what: String, advice: String = "") throws {
        do {
            try MemoryBudget.require(bytes + 64.0 * 1024 * 1024, for: what, advice: advice)
        } catch {
            throw StoreError(.tooLarge, error.message)
        }
    }

    /// Where a statement puts a temporary file too large for memory (a
    /// low-rank factor being built): the database's folder, whose disk holds
    /// the result anyway; the system's temporary folder for an in-memory one.
    public var spillDirectory: String {
        guard let path else { return NSTemporaryDirectory() }
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    /// Bytes of a block-diagonal matrix over `collection`, as a Double: about
    /// half for the `upper` layout (its diagonal squares add at most 1/16).
    static func matrixBytes(_ collection: LayerCollection, scalarSize: Int, layout: MatrixLayout = .full) -> Double {
        collection.entries.reduce(0.0) {
            let side = Double($1.layer.numel)
            return $0 + (layout == .full ? side * side : side * (side + 1) / 2 * 17 / 16)
        } * Double(scalarSize)
    }

    /// `1.5 GB`, `320 MB`, `12 kB` (powers of 1000, as disks are sold).
    public static func formatBytes(_ bytes: Double) -> String { MemoryBudget.format(bytes) }
}
