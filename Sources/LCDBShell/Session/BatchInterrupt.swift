import CLineEditing
import LCDBCore
import Synchronization

/// Ctrl-C in a batch run (-c commands, script files, standard input). It
/// used to end the process on the spot (status 130, no message); now, as at
/// the prompt, the running statement stops at its next block or tile and
/// is rolled back with its message, and the run ends there, status 130
/// (128 + SIGINT), whatever --keep-going says. A second Ctrl-C ends the
/// process at once; the database keeps only what was committed. A run
/// started with SIGINT ignored (a background job) keeps it ignored.
enum BatchInterrupt {
    private static let requested = Atomic<Bool>(false)

    static var isRequested: Bool { requested.load(ordering: .relaxed) }

    static func install() {
        // Initialised here, not lazily inside the handler.
        _ = isRequested
        _ = Interruption.isRequested
        _ = lcdb_install_batch_sigint(onSigint)
    }

    private static let onSigint: @convention(c) (Int32) -> Void = { _ in
        BatchInterrupt.requested.store(true, ordering: .relaxed)
        Interruption.request()
    }
}
