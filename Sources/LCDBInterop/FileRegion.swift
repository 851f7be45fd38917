import Foundation

/// Reading part of a file, and writing a file piece by piece: the streamed
/// paths of imports and exports, which never hold a whole block.
public enum FileRegion {
    public static func read(_ path: String, offset: Int, count: Int) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InteropError(path, "cannot read the file (missing or not readable)")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: count) ?? Data()
            guard data.count == count else { throw InteropError(path, "truncated: ended inside the data") }
            return data
        } catch let error as InteropError {
            throw error
        } catch {
            throw InteropError(path, "cannot read the file: \(error.localizedDescription)")
        }
    }
}

/// A file written in order, piece by piece.
public final class FileWriter {
    private let handle: FileHandle
    public let path: String

    public init(_ path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw InteropError(path, "cannot write the file")
        }
        self.handle = handle
    }

    public func write(_ data: Data) throws {
        do { try handle.write(contentsOf: data) } catch {
            throw InteropError(path, "cannot write the file: \(error.localizedDescription)")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(Data(bytes))
    }

    public func close() throws {
        do { try handle.close() } catch { throw InteropError(path, "cannot finish writing: \(error.localizedDescription)") }
    }

    deinit { try? handle.close() }
}
