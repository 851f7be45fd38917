import CEditLine
import CLineEditing
import Foundation
import LCDBCore

/// libedit's line editing and history, through the C glue in CLineEditing
/// (which holds the one copy of the prompt and the Ctrl-C flag).
final class LineEditor {
    enum Input {
        case line(String)
        /// Ctrl-C: the line being typed is abandoned.
        case interrupted
        /// Ctrl-D on an empty line, or the end of input.
        case end
    }

    private let editor: OpaquePointer
    private let history: OpaquePointer
    private let historyPath: String?

    /// Completion for Tab: (text before the cursor) -> (word being completed, candidates).
    nonisolated(unsafe) static var completer: ((String) -> (word: String, candidates: [String]))?

    init?(program: String, historyPath: String?, historySize: Int) {
        guard let editor = lcdb_el_init(program), let history = lcdb_history_init(Int32(historySize)) else { return nil }
        self.editor = editor
        self.history = history
        self.historyPath = historyPath
        lcdb_el_set_history(editor, history)
        lcdb_el_bind_completion(editor, LineEditor.complete)
        lcdb_el_source_defaults(editor)
        if let historyPath { _ = lcdb_history_load(history, historyPath) }
    }

    /// SIGINT (Ctrl-C while a statement runs): mark it for the line reader
    /// and ask running loops to stop at their next block or tile.
    static func installInterruptHandler() {
        lcdb_install_sigint(onSigint)
    }

    private static let onSigint: @convention(c) (Int32) -> Void = { _ in
        lcdb_mark_sigint()
        Interruption.request()
    }

    deinit {
        history_end(history)
        el_end(editor)
    }

    func readLine(prompt: String) -> Input {
        lcdb_set_prompt(prompt)
        _ = lcdb_take_sigint() // a Ctrl-C that interrupted the last statement is spent
        lcdb_el_raw_mode(editor) // before the prompt is shown, so no key can reach a canonical terminal
        var count: Int32 = 0
        guard let line = el_gets(editor, &count) else {
            if lcdb_take_sigint() != 0 { return .interrupted }
            return .end
        }
        if lcdb_take_sigint() != 0 { return .interrupted }
        var text = String(cString: line)
        if text.hasSuffix("\n") { text.removeLast() }
        return .line(text)
    }

    /// Records a whole statement (possibly several lines) as one entry and saves the file.
    func remember(_ entry: String) {
        guard !entry.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return }
        lcdb_history_enter(history, entry)
        if let historyPath { _ = lcdb_history_save(history, historyPath) }
    }

    /// Tab: completes the word before the cursor, or lists the choices.
    private static let complete: @convention(c) (OpaquePointer?, Int32) -> UInt8 = { editor, _ in
        guard let editor, let info = el_line(editor)?.pointee, let completer = LineEditor.completer else {
            return lcdb_cc_error()
        }
        let length = info.cursor - info.buffer
        let before = String(decoding: UnsafeRawBufferPointer(start: info.buffer, count: max(0, length)), as: UTF8.self)
        let (word, candidates) = completer(before)
        guard !candidates.isEmpty else { return lcdb_cc_error() }
        let common = candidates.dropFirst().reduce(candidates[0]) { prefix, candidate in
            String(zip(prefix, candidate).prefix { $0 == $1 }.map(\.0))
        }
        if common.count > word.count {
            var insertion = String(common.dropFirst(word.count))
            if candidates.count == 1 && !insertion.hasSuffix("(") && !insertion.hasSuffix("=") { insertion += " " }
            _ = el_insertstr(editor, insertion)
            return lcdb_cc_refresh()
        }
        if candidates.count == 1 {
            _ = el_insertstr(editor, " ")
            return lcdb_cc_refresh()
        }
        FileHandle.standardOutput.write(Data(("\n" + candidates.joined(separator: "  ") + "\n").utf8))
        return lcdb_cc_redisplay()
    }
}
