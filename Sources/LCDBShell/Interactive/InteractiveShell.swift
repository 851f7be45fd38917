import Foundation
import LCDBCore

/// The prompt loop on a terminal: libedit editing, history, completion,
/// continuation prompts, Ctrl-C to abandon a line or interrupt a statement,
/// Ctrl-D on an empty line to leave.
final class InteractiveShell {
    static let prompt = "lcdb> "
    static let continuationPrompt = "  ...> "

    private let shell: Shell
    private let editor: LineEditor

    init?(shell: Shell, historyPath: String?, historySize: Int) {
        guard let editor = LineEditor(program: "lcdb", historyPath: historyPath, historySize: historySize) else { return nil }
        self.shell = shell
        self.editor = editor
    }

    func run() {
        LineEditor.installInterruptHandler()
        var splitter = StatementSplitter()
        var lines: [String] = []
        LineEditor.completer = { [shell] before in
            let completer = Completer(names: InteractiveShell.names(in: shell.session))
            return completer.complete(pending: lines.joined(separator: "\n"), line: before)
        }
        while !shell.quitRequested {
            switch editor.readLine(prompt: splitter.isInsideStatement ? Self.continuationPrompt : Self.prompt) {
            case .end:
                // Ctrl-D leaves; an unfinished statement is said to be dropped, on its own line.
                print("")
                if splitter.isInsideStatement {
                    FileHandle.standardError.write(Data("unfinished statement discarded (it had no ';')\n".utf8))
                }
                return
            case .interrupted:
                print("^C")
                splitter = StatementSplitter()
                lines = []
            case .line(let text):
                lines.append(text)
                let pieces = splitter.feed(text)
                let context = Shell.ErrorContext(source: nil, lines: lines)
                for piece in pieces {
                    shell.execute(piece, context: context)
                    if shell.quitRequested { break }
                }
                if !splitter.isInsideStatement {
                    editor.remember(lines.joined(separator: "\n"))
                    lines = []
                    splitter = StatementSplitter()
                }
            }
        }
    }

    static func names(in session: Session) -> Completer.Names {
        let store = session.store
        var names = Completer.Names()
        names.collections = (try? store.collectionNames()) ?? []
        names.vectors = (try? store.vectorSummaries().map(\.name)) ?? []
        names.matrices = (try? store.matrixSummaries().map(\.name)) ?? []
        for collection in names.collections {
            names.layers[collection] = (try? store.collection(named: collection).names) ?? []
        }
        names.views = (try? store.viewColumns()) ?? [:]
        return names
    }
}
