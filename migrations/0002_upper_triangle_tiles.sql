-- Symmetric matrices may store one triangle: layout 'upper' keeps, for the
-- tile of rows row_start .. row_start + row_count - 1, only the columns
-- col_start .. side - 1 with col_start = row_start (the diagonal square and
-- everything right of it). Entry (i, j) with j < i is entry (j, i). Layout
-- 'full' (every matrix written before this migration) keeps whole rows, with
-- col_start = 0. Half the bytes to write, read and keep for Fisher and
-- Hessian blocks.

PRAGMA user_version = 2;
ALTER TABLE lcdb_matrix ADD COLUMN layout TEXT NOT NULL DEFAULT 'full'
    CHECK (layout IN ('full', 'upper'));
ALTER TABLE lcdb_matrix_tile ADD COLUMN col_start INTEGER NOT NULL DEFAULT 0
    CHECK (col_start >= 0);

DROP VIEW matrices;
CREATE VIEW matrices AS
SELECT m.name AS name, c.name AS collection, m.representation AS representation, m.dtype AS dtype,
       (SELECT coalesce(sum(length(t.data)), 0) FROM lcdb_matrix_tile t WHERE t.matrix_id = m.id) AS bytes,
       m.symmetric AS symmetric, m.created_at AS created_at, m.layout AS layout
FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id;

DROP VIEW matrix_tiles;
CREATE VIEW matrix_tiles AS
SELECT m.name AS matrix, l.name AS layer, t.part AS part, t.position AS position, l.numel AS side,
       t.row_start AS row_start, t.row_count AS row_count, m.dtype AS dtype, t.data AS data,
       m.layout AS layout, t.col_start AS col_start, l.numel - t.col_start AS col_count
FROM lcdb_matrix_tile t
JOIN lcdb_matrix m ON m.id = t.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = t.position;
