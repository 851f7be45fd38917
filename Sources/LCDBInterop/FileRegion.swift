import Foundation

/// Reading part of a file, and writing a file piece by piece: the streamed
/// paths of imports and exports, which never hold a whole block.
public enum FileRegion {
    public static func read(_ path: String, offset: Int, count: Int) throws -> Data {
        try requireRegularInput(path)
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

    /// `count` bytes at `offset` into `target` (`pread`: no buffer of its own,
    /// so a reader can reuse one for every slab it reads).
    public static func read(_ path: String, offset: Int, count: Int, into target: UnsafeMutableRawPointer) throws {
        try requireRegularInput(path)
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw InteropError(path, "cannot read the file: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var done = 0
        while done < count {
            let got = pread(descriptor, target + done, count - done, off_t(offset + done))
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw InteropError(path, "cannot read the file: \(String(cString: strerror(errno)))") }
            guard got > 0 else { throw InteropError(path, "truncated: ended inside the data") }
            done += got
        }
    }

    /// The whole file, after checking that it is a regular file (reading a
    /// FIFO blocked forever; a device never ends).
    public static func contents(_ path: String) throws -> Data {
        try requireRegularInput(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InteropError(path, "cannot read the file (missing or not readable)")
        }
        return data
    }

    /// Refuses anything but a regular file (symlinks are followed) as input.
    public static func requireRegularInput(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw InteropError(path, errno == ENOENT ? "no such file" : "cannot read the file: \(String(cString: strerror(errno)))")
        }
        if let kind = FileKind(mode: info.st_mode), kind != .regular {
            throw InteropError(path, "is \(kind.description), not a regular file; nothing was read")
        }
    }
}

/// What a path names, for refusing special files.
enum FileKind: Equatable {
    case regular, directory, characterDevice, blockDevice, fifo, socket

    init?(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        default: return nil
        }
    }

    var description: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .fifo: "a FIFO (named pipe)"
        case .socket: "a socket"
        }
    }

    /// The kind of what `path` names after following symlinks; nil when nothing is there.
    static func of(_ path: String) -> FileKind? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileKind(mode: info.st_mode)
    }
}

/// A file written in order, piece by piece, into a temporary file beside
/// its target, then renamed over it by `close()`: a failed export leaves the
/// old file as it was, and a device, FIFO or directory is never replaced.
/// A symlink is written through: the file it points to is replaced, the
/// link stays.
public final class FileWriter {
    private let handle: FileHandle
    /// Where the file ends up (symlinks resolved).
    public let path: String
    private let temporaryPath: String
    private var finished = false

    public init(_ path: String) throws {
        let target = try FileWriter.resolveTarget(path)
        let folder = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        temporaryPath = (folder.isEmpty ? "." : folder) + "/.\(base).lcdb-\(getpid())-\(UInt32.random(in: 0 ... .max)).tmp"
        self.path = target
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporaryPath) else {
            throw InteropError(path, "cannot write the file (is the folder there and writable?)")
        }
        self.handle = handle
    }

    /// Writes a whole file at once (through a temporary file, like the streamed path).
    public static func write(_ data: Data, to path: String) throws {
        let writer = try FileWriter(path)
        try writer.write(data)
        try writer.close()
    }

    /// The path to replace: symlinks followed; refused when it is not a
    /// regular file or a new name in an existing folder.
    static func resolveTarget(_ path: String) throws -> String {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        switch FileKind.of(resolved) {
        case nil, .regular?: return resolved
        case let kind?: throw InteropError(path, "is \(kind.description); an export writes regular files only, and nothing was written")
        }
    }

    public func write(_ data: Data) throws {
        do { try handle.write(contentsOf: data) } catch {
            throw InteropError(path, "cannot write the file: \(error.localizedDescription)")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(Data(bytes))
    }

    /// Flushes the data to disk and renames the temporary file into place.
    public func close() throws {
        guard !finished else { return }
        finished = true
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            unlink(temporaryPath)
            throw InteropError(path, "cannot finish writing: \(error.localizedDescription)")
        }
        // The target may have become a special file meanwhile: check again just before the rename.
        if let kind = FileKind.of(path), kind != .regular {
            unlink(temporaryPath)
            throw InteropError(path, "is \(kind.description); an export writes regular files only, and nothing was written")
        }
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw InteropError(path, "cannot write the file: \(reason)")
        }
    }

    deinit {
        if !finished {
            try? handle.close()
            unlink(temporaryPath)
        }
    }
}
