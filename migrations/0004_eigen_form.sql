-- Kept eigendecompositions (issue "Spectra, log-determinants, real powers and
-- sampling"). A new block form 'eigen' holds a dense symmetric block as its
-- eigendecomposition: an orthonormal basis 'U' (side x side, columns are the
-- eigenvectors, kept in full) and the eigenvalues 'lambda' (side values), the
-- block being U diag(lambda) Uᵀ. eig(M) computes it once (kfac blocks become
-- ekfac, whose D holds the eigenvalues); logdet, powers, solves, spectra and
-- samples of the stored result then reuse it at any regularization.
-- A matrix whose blocks are all 'eigen' has representation 'eigen'.
--
-- SQLite changes a CHECK only by rebuilding the table (GRDB runs migrations
-- with foreign keys off, so blocks, parts and tiles stay); the views that
-- read the rebuilt tables are dropped first and recreated unchanged.

PRAGMA user_version = 4;

DROP VIEW matrices;
DROP VIEW matrix_tiles;
DROP VIEW matrix_blocks;
DROP VIEW matrix_parts;

CREATE TABLE lcdb_matrix_new (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    collection_id  INTEGER NOT NULL REFERENCES lcdb_collection(id) ON DELETE RESTRICT,
    representation TEXT NOT NULL CHECK (representation IN ('blockdiag', 'diag', 'kfac', 'ekfac', 'identity', 'eigen', 'mixed')),
    dtype          TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    symmetric      INTEGER NOT NULL CHECK (symmetric IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    layout         TEXT NOT NULL DEFAULT 'full' CHECK (layout IN ('full', 'upper'))
);
INSERT INTO lcdb_matrix_new (id, name, collection_id, representation, dtype, symmetric, created_at, layout)
SELECT id, name, collection_id, representation, dtype, symmetric, created_at, layout FROM lcdb_matrix;
DROP TABLE lcdb_matrix;
ALTER TABLE lcdb_matrix_new RENAME TO lcdb_matrix;

CREATE TABLE lcdb_matrix_block_new (
    matrix_id INTEGER NOT NULL REFERENCES lcdb_matrix(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (position >= 0),
    form      TEXT NOT NULL CHECK (form IN ('dense', 'diag', 'kfac', 'ekfac', 'identity', 'eigen')),
    PRIMARY KEY (matrix_id, position)
);
INSERT INTO lcdb_matrix_block_new (matrix_id, position, form) SELECT matrix_id, position, form FROM lcdb_matrix_block;
DROP TABLE lcdb_matrix_block;
ALTER TABLE lcdb_matrix_block_new RENAME TO lcdb_matrix_block;

-- 'U' is square and full; 'lambda' is [side].
CREATE TABLE lcdb_matrix_part_new (
    matrix_id INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    part      TEXT NOT NULL CHECK (part IN ('block', 'diag', 'A', 'G', 'U_A', 'U_G', 'D', 'scale', 'U', 'lambda')),
    shape     TEXT NOT NULL,
    rows      INTEGER NOT NULL CHECK (rows > 0),
    columns   INTEGER NOT NULL CHECK (columns > 0),
    layout    TEXT NOT NULL CHECK (layout IN ('full', 'upper')),
    PRIMARY KEY (matrix_id, position, part),
    FOREIGN KEY (matrix_id, position) REFERENCES lcdb_matrix_block(matrix_id, position) ON DELETE CASCADE
);
INSERT INTO lcdb_matrix_part_new (matrix_id, position, part, shape, rows, columns, layout)
SELECT matrix_id, position, part, shape, rows, columns, layout FROM lcdb_matrix_part;
DROP TABLE lcdb_matrix_part;
ALTER TABLE lcdb_matrix_part_new RENAME TO lcdb_matrix_part;

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
