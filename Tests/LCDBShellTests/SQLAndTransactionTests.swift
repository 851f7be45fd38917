import Foundation
import Testing

/// SQL inside the shell (read-only queries of the documented views, `.tables`,
/// `.schema`) and transactions (`begin`, `commit`, `rollback`), on the binaries
/// users run.
@Suite(.serialized)
struct SQLAndTransactionTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-sql") }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func lcdb(_ binary: String, _ db: String, _ statements: String, format: String = "csv") throws -> LCDBProcess.Result {
        let executable = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        return try LCDBProcess.run(["--no-init", "--format", format, db, "-c", statements], in: folder, executableOverride: executable)
    }

    static let setup = """
        create collection mlp (fc1 Linear(4, 3), ln LayerNorm(3));
        let F = random_spd(mlp, seed=1);
        let K = random_kfac(mlp, seed=2);
        let g = randn(mlp, seed=3);
        """

    @Test(arguments: ["debug", "release"])
    func selectQueriesTheViews(binary: String) throws {
        let db = path("q-\(binary).lcdb")
        #expect(try lcdb(binary, db, Self.setup).status == 0)
        let out = try lcdb(binary, db, """
            select name, representation, dtype from matrices order by name;
            -- comment lines before a query are fine
            SELECT layer, form FROM matrix_blocks WHERE matrix = 'K' ORDER BY position;
            with big as (select * from layers where numel > 10) select name, numel from big;
            select data from matrix_tiles where matrix = 'F' and layer = 'ln' order by row_start limit 1;
            select 1.5 as x, null as nada, 'it''s' as text, 7 / 2 as whole;
            select name, numel from vectors;
            """)
        #expect(out.status == 0, "\(out.stderr)")
        // fc1 is Linear(4, 3): 15 parameters; ln is LayerNorm(3): 6; the kfac
        // matrix has a kfac block for fc1 and a dense one for ln (mixed); the
        // ln block of F (6 x 6, upper layout) starts with a tile of its first row, 6 float64 values.
        #expect(out.stdout == """
            name,representation,dtype
            F,blockdiag,float64
            K,mixed,float64
            layer,form
            fc1,kfac
            ln,dense
            name,numel
            fc1,15
            data
            <blob: 48 bytes>
            x,nada,text,whole
            1.5,,it's,3
            name,numel
            g,21

            """, "\(out.stdout)")
    }

    /// Nothing written through SQL: every kind of write is refused with the
    /// reason, and the file's objects, schema and tiles are as before.
    @Test func sqlCannotModifyTheDatabase() throws {
        let db = path("w.lcdb")
        #expect(try lcdb("debug", db, Self.setup).status == 0)
        let snapshot = """
            select name, bytes from matrices order by name;
            select count(*), sum(length(data)) from lcdb_matrix_tile;
            select type, name, sql from sqlite_master order by name;
            select name from vectors;
            """
        let before = try lcdb("debug", db, snapshot)
        #expect(before.status == 0, "\(before.stderr)")
        let attempts = [
            "insert into lcdb_matrix_block values (1, 9, 'dense');",
            "update lcdb_matrix set name = 'G' where name = 'F';",
            "delete from lcdb_matrix_tile;",
            "replace into lcdb_collection (id, name) values (1, 'x');",
            "drop table lcdb_matrix_tile;",
            "drop view matrices;",
            "create table t (x);",
            "create index i on lcdb_matrix (dtype);",
            "alter table lcdb_matrix add column x;",
            "attach database 'other.db' as other;",
            "pragma user_version = 1;",
            "pragma journal_mode = delete;",
            "with doomed as (select id from lcdb_matrix) delete from lcdb_matrix where id in doomed;",
            "with x as (select 1) insert into lcdb_matrix_block select 1, 9, 'dense';",
        ]
        for statement in attempts {
            let out = try lcdb("debug", db, statement)
            #expect(out.status == 1, "\(statement)")
            #expect(out.stderr.contains("SQL in lcdb is read-only"), "\(statement): \(out.stderr)")
        }
        #expect(try lcdb("debug", db, snapshot) == before)
        #expect(try lcdb("debug", db, "check;").stdout.contains("check: ok"))
    }

    @Test func sqlErrorsAreLocatedAndCarrySQLitesMessage() throws {
        let db = path("e.lcdb")
        #expect(try lcdb("debug", db, Self.setup).status == 0)
        let missing = try lcdb("debug", db, "list matrices;\n  select * from nowhere;")
        #expect(missing.status == 1 && missing.stderr.contains("-c:2:3: error: SQL: no such table: nowhere"), "\(missing.stderr)")
        let syntax = try lcdb("debug", db, "select name frm matrices;")
        #expect(syntax.status == 1 && syntax.stderr.contains("-c:1:1: error: SQL: near \"matrices\": syntax error"), "\(syntax.stderr)")
        let column = try lcdb("debug", db, "select nonsense from matrices;")
        #expect(column.stderr.contains("SQL: no such column: nonsense"), "\(column.stderr)")
    }

    @Test func tablesAndSchemaAsInSqlite3() throws {
        let db = path("s.lcdb")
        #expect(try lcdb("debug", db, Self.setup).status == 0)
        let tables = try lcdb("debug", db, ".tables")
        let names = tables.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        // Views first (the documented interface), then the tables.
        #expect(names.prefix(11).map { $0[1] } == Array(repeating: "view", count: 11), "\(tables.stdout)")
        #expect(Set(names.prefix(11).map { $0[0] }) == ["collections", "layers", "vectors", "vector_chunks", "matrices", "matrix_tiles",
                                                         "matrix_blocks", "matrix_parts", "provenance", "provenance_inputs", "metadata"])
        #expect(names.contains(["lcdb_matrix", "table"]))
        let schema = try lcdb("debug", db, ".schema matrix_blocks")
        #expect(schema.stdout.hasPrefix("CREATE VIEW matrix_blocks AS\nSELECT m.name AS matrix, l.name AS layer"), "\(schema.stdout)")
        #expect(schema.stdout.hasSuffix(";\n"))
        let unknown = try lcdb("debug", db, ".schema matrixes")
        #expect(unknown.status == 1 && unknown.stderr.contains("no table or view 'matrixes'; did you mean 'matrices'?"), "\(unknown.stderr)")
    }

    @Test(arguments: ["debug", "release"])
    func transactionsCommitAndRollBack(binary: String) throws {
        let db = path("t-\(binary).lcdb")
        #expect(try lcdb(binary, db, Self.setup).status == 0)
        let out = try lcdb(binary, db, """
            begin;
            let G = 2 * F;
            drop matrix K;
            select name from matrices order by name;
            rollback;
            select name from matrices order by name;
            begin;
            let G = 2 * F;
            let H = G + F;
            commit;
            select name from matrices order by name;
            """)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout == """
            name
            F
            G
            rolled back: nothing since begin was stored
            name
            F
            K
            name
            F
            G
            H
            K

            """, "\(out.stdout)")
    }

    /// A failed statement inside a transaction undoes itself only; a script
    /// that ends inside an open transaction rolls it back, says so and fails.
    @Test(arguments: ["debug", "release"])
    func aScriptEndingInsideATransactionRollsBack(binary: String) throws {
        let db = path("r-\(binary).lcdb")
        #expect(try lcdb(binary, db, Self.setup).status == 0)
        let keepGoing = try LCDBProcess.run(["--no-init", "--format", "csv", "--keep-going", db, "-c", """
            begin;
            let G = 2 * F;
            let H = nothing + F;
            select name from matrices order by name;
            """], in: folder, executableOverride: try #require(LCDBProcess.binaries().first { $0.name == binary }?.path))
        #expect(keepGoing.status == 1)
        #expect(keepGoing.stdout == "name\nF\nG\nK\n", "the failed let undid itself only: \(keepGoing.stdout)")
        #expect(keepGoing.stderr.contains("lcdb: the transaction begun on line 1 was not committed: rolled back, nothing since begin was stored"), "\(keepGoing.stderr)")
        let after = try lcdb(binary, db, "select name from matrices order by name;")
        #expect(after.stdout == "name\nF\nK\n", "\(after.stdout)")
        // Standard input too.
        let executable = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path)
        let piped = try LCDBProcess.run(["--no-init", db], stdin: "begin;\nlet G = 2 * F;\n", in: folder, executableOverride: executable)
        #expect(piped.status == 1 && piped.stderr.contains("was not committed: rolled back"), "\(piped.stderr)")
        #expect(try lcdb(binary, db, "select count(*) as n from matrices;").stdout == "n\n2\n")
    }

    @Test func transactionMisuseIsAnError() throws {
        let db = path("m.lcdb")
        #expect(try lcdb("debug", db, Self.setup).status == 0)
        let cases: [(String, String)] = [
            ("commit;", "-c:1:1: error: no transaction is open (begin starts one)"),
            ("rollback;", "-c:1:1: error: no transaction is open (begin starts one)"),
            ("begin;\nbegin;", "-c:2:1: error: a transaction is already open (begun on line 1); commit or rollback it first (transactions do not nest)"),
            ("begin; vacuum;", "vacuum"),
        ]
        for (statements, message) in cases {
            let out = try lcdb("debug", db, statements)
            #expect(out.status == 1 && out.stderr.contains(message), "\(statements): \(out.stderr)")
        }
        let single = try LCDBProcess.run(["--no-init", "--single-transaction", db, "-c", "begin;"], in: folder)
        #expect(single.status == 1 && single.stderr.contains("lcdb runs with --single-transaction: the whole run is one transaction already"), "\(single.stderr)")
    }
}
