-- Structured blocks. Each block of a matrix (one per layer of its collection)
-- has a form: 'dense' (the side x side block, as before), 'diag' (side
-- values), 'kfac' (factors A and G), 'ekfac' (eigenbases U_A, U_G and a
-- scaling D) or 'identity' (a scale s: the block is s I). A form's values are
-- its parts, each a tensor stored in row-panel tiles like dense blocks
-- (lcdb_matrix_tile.part names it; a 1-D part of n values is n rows of one
-- column, a scalar one row of one column). Every matrix written before this
-- migration is all dense: one 'dense' block with one 'block' part per layer.
-- A matrix's representation is its blocks' common form ('blockdiag' when
-- all are dense), or 'mixed'.

PRAGMA user_version = 3;

-- The representation check gains 'ekfac', 'identity' and 'mixed': SQLite
-- changes a CHECK only by rebuilding the table (GRDB runs migrations with
-- foreign keys off, so the tiles stay).
CREATE TABLE lcdb_matrix_new (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    collection_id  INTEGER NOT NULL REFERENCES lcdb_collection(id) ON DELETE RESTRICT,
    representation TEXT NOT NULL CHECK (representation IN ('blockdiag', 'diag', 'kfac', 'ekfac', 'identity', 'mixed')),
    dtype          TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    symmetric      INTEGER NOT NULL CHECK (symmetric IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    layout         TEXT NOT NULL DEFAULT 'full' CHECK (layout IN ('full', 'upper'))
);
INSERT INTO lcdb_matrix_new (id, name, collection_id, representation, dtype, symmetric, created_at, layout)
SELECT id, name, collection_id, representation, dtype, symmetric, created_at, layout FROM lcdb_matrix;
DROP VIEW matrices;
DROP VIEW matrix_tiles;
DROP TABLE lcdb_matrix;
ALTER TABLE lcdb_matrix_new RENAME TO lcdb_matrix;

-- One row per block: its form.
CREATE TABLE lcdb_matrix_block (
    matrix_id INTEGER NOT NULL REFERENCES lcdb_matrix(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (position >= 0),
    form      TEXT NOT NULL CHECK (form IN ('dense', 'diag', 'kfac', 'ekfac', 'identity')),
    PRIMARY KEY (matrix_id, position)
);

-- One row per part of a block: its tensor shape (JSON array: [n, n] for
-- 'block', [n] for 'diag' and for a diagonal factor or eigenbasis, [n, n] for
-- a dense one, [rows, columns] for 'D', [] for 'scale'), the rows and
-- columns its tiles have, and their layout ('upper' for symmetric square
-- parts kept as one triangle, as for matrices: a 'block' part has its
-- matrix's layout, dense kfac factors are 'upper', the rest 'full').
CREATE TABLE lcdb_matrix_part (
    matrix_id INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    part      TEXT NOT NULL CHECK (part IN ('block', 'diag', 'A', 'G', 'U_A', 'U_G', 'D', 'scale')),
    shape     TEXT NOT NULL,
    rows      INTEGER NOT NULL CHECK (rows > 0),
    columns   INTEGER NOT NULL CHECK (columns > 0),
    layout    TEXT NOT NULL CHECK (layout IN ('full', 'upper')),
    PRIMARY KEY (matrix_id, position, part),
    FOREIGN KEY (matrix_id, position) REFERENCES lcdb_matrix_block(matrix_id, position) ON DELETE CASCADE
);

INSERT INTO lcdb_matrix_block (matrix_id, position, form)
SELECT m.id, l.position, 'dense' FROM lcdb_matrix m JOIN lcdb_layer l ON l.collection_id = m.collection_id;
INSERT INTO lcdb_matrix_part (matrix_id, position, part, shape, rows, columns, layout)
SELECT m.id, l.position, 'block', '[' || l.numel || ', ' || l.numel || ']', l.numel, l.numel, m.layout
FROM lcdb_matrix m JOIN lcdb_layer l ON l.collection_id = m.collection_id;

-- Public query contract (README): matrices and matrix_tiles as before, with
-- each tile's part shape; matrix_blocks and matrix_parts are new.
CREATE VIEW matrices AS
SELECT m.name AS name, c.name AS collection, m.representation AS representation, m.dtype AS dtype,
       (SELECT coalesce(sum(length(t.data)), 0) FROM lcdb_matrix_tile t WHERE t.matrix_id = m.id) AS bytes,
       m.symmetric AS symmetric, m.created_at AS created_at, m.layout AS layout
FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id;

CREATE VIEW matrix_tiles AS
SELECT m.name AS matrix, l.name AS layer, t.part AS part, t.position AS position, l.numel AS side,
       t.row_start AS row_start, t.row_count AS row_count, m.dtype AS dtype, t.data AS data,
       p.layout AS layout, t.col_start AS col_start, p.columns - t.col_start AS col_count,
       p.rows AS part_rows, p.columns AS part_columns
FROM lcdb_matrix_tile t
JOIN lcdb_matrix m ON m.id = t.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = t.position
JOIN lcdb_matrix_part p ON p.matrix_id = t.matrix_id AND p.position = t.position AND p.part = t.part;

CREATE VIEW matrix_blocks AS
SELECT m.name AS matrix, l.name AS layer, b.position AS position, l.kind AS kind, l.numel AS side, b.form AS form,
       (SELECT coalesce(sum(length(t.data)), 0) FROM lcdb_matrix_tile t
        WHERE t.matrix_id = b.matrix_id AND t.position = b.position) AS bytes
FROM lcdb_matrix_block b
JOIN lcdb_matrix m ON m.id = b.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = b.position;

CREATE VIEW matrix_parts AS
SELECT m.name AS matrix, l.name AS layer, p.position AS position, b.form AS form, p.part AS part,
       p.shape AS shape, p.rows AS rows, p.columns AS columns, m.dtype AS dtype, p.layout AS layout
FROM lcdb_matrix_part p
JOIN lcdb_matrix_block b ON b.matrix_id = p.matrix_id AND b.position = p.position
JOIN lcdb_matrix m ON m.id = p.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = p.position;
