import LCDBStore

/// `vacuum`: gives the disk back the space dropped and replaced objects left.
struct VacuumStatement: Statement {
    let location: SourceLocation

    static let definition = StatementDefinition(
        words: ["vacuum"],
        syntax: ["vacuum"],
        summary: "Rebuilds the database file without the free space that dropped and replaced objects left (later writes reuse it anyway), and shrinks the file. Needs free disk for a copy of what is in use; not inside --single-transaction.",
        example: "vacuum;"
    ) { parser in
        VacuumStatement(location: parser.current.location)
    }

    func run(in session: Session) throws -> [ResultTable] {
        let (before, after) = try ShellError.located(location) { try session.store.vacuum() }
        let freed = Store.formatBytes(Double(max(0, before.total - after.total)))
        return [.message("vacuum: \(Store.formatBytes(Double(before.total))) -> \(Store.formatBytes(Double(after.total))) (\(freed) given back)")]
    }
}
