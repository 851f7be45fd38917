import Foundation
import LCDBCore

/// Matrices whose blocks have forms, to and from one safetensors file: each
/// layer's tensors say its form. `<layer>` (2-D, `side x side`) dense;
/// `<layer>.diag` diag; `<layer>.A` and `<layer>.G` kfac (a 1-D factor is
/// diagonal); `<layer>.U_A`, `<layer>.U_G`, `<layer>.D` ekfac; `<layer>.scale`
/// identity; `<layer>.U` and `<layer>.lambda` eigen: each form's part names
/// (`BlockForm.partNames`). Export writes the same names (a round trip is bit for bit).
public enum FormFiles {
    /// Every tensor named for `layer` in `file`, by part: the whole-block
    /// tensor `<layer>` as `block`, and the `<layer>.<part>` tensors. A
    /// layer with tensors of two forms (`fc` and `fc.A`) is then refused as
    /// ambiguous, not read as one of them.
    static func parts(of layer: String, in file: SafetensorsFile) -> [String: SafetensorsFile.Tensor] {
        var found: [String: SafetensorsFile.Tensor] = [:]
        for part in Set(BlockForms.all.flatMap { $0.partNames }) {
            let name = part == "block" ? layer : "\(layer).\(part)"
            if let tensor = file.tensor(named: name) { found[part] = tensor }
        }
        return found
    }

    /// The file's tensors that belong to no layer of `collection` (neither
    /// `<layer>` nor `<layer>.<part>`), in file order: not imported, and
    /// said so, since a misspelt layer name would otherwise go unnoticed.
    public static func unusedTensors(_ path: String, over collection: LayerCollection) throws -> [String] {
        guard path.lowercased().hasSuffix(".safetensors") else { return [] }
        let file = try SafetensorsFile.open(path)
        var used = Set(WholeMatrixFiles.matrixTensors)
        for layer in collection.names {
            used.formUnion(parts(of: layer, in: file).values.map(\.name))
            used.formUnion(WholeMatrixFiles.layerSuffixes.map { "\(layer).\($0)" })
        }
        return file.tensors.map(\.name).filter { !used.contains($0) }
    }

    /// `'fc' (dense, side x side), 'fc.diag' (diag), 'fc.A' and 'fc.G' (kfac), ...`, from the forms lcdb knows.
    static func formChoices(_ layer: String) -> String {
        let choices = BlockForms.all.map { form -> String in
            let names = form.partNames.map { $0 == "block" ? "'\(layer)'" : "'\(layer).\($0)'" }
            let listed = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
            return "\(listed) (\(form.kind.rawValue)\(form.kind == .dense ? ", side x side" : ""))"
        }
        return choices.dropLast().joined(separator: ", ") + ", or " + choices.last!
    }

    /// True when every layer of `collection` has only a whole `<layer>` block
    /// in the file (the dense import streams those, panel by panel).
    public static func isAllDense(_ path: String, over collection: LayerCollection) throws -> Bool {
        guard path.lowercased().hasSuffix(".safetensors") else { return true }
        let file = try SafetensorsFile.open(path)
        return collection.names.allSatisfy { parts(of: $0, in: file).keys.sorted() == ["block"] }
    }

    /// Reads every block in its form, checked against its layer (shapes,
    /// finite and symmetric factors, orthonormal eigenbases), before anything
    /// is stored. Returns the matrix and the file's dtype (float64 if any
    /// tensor is).
    public static func read(_ path: String, over collection: LayerCollection) throws -> (StructuredMatrix, DType) {
        let file = try SafetensorsFile.open(path)
        var blocks: [any BlockForm] = []
        var anyDouble = false
        for entry in collection.entries {
            try Interruption.check()
            let tensors = parts(of: entry.name, in: file)
            guard let kind = BlockForms.kind(ofParts: Set(tensors.keys)) else {
                let found = tensors.values.map { "'\($0.name)'" }.sorted()
                let what = found.isEmpty ? "no tensor for it" : "tensors \(found.joined(separator: ", ")), which make no form"
                throw InteropError(path, "layer '\(entry.name)': \(what); a block is \(formChoices(entry.name))")
            }
            var parts: [String: FormPart] = [:]
            for (part, tensor) in tensors {
                let bytes = Double(tensor.count) * 8
                try MemoryBudget.require(bytes, for: "tensor '\(tensor.name)' in memory")
                anyDouble = anyDouble || tensor.dtype == .f64
                parts[part] = FormPart(part, shape: tensor.shape, values: try file.values(of: tensor))
            }
            do {
                guard let type = BlockForms.type(of: kind) else { throw InteropError(path, "layer '\(entry.name)': no block form has the tensors \(parts.keys.sorted())") }
                blocks.append(try type.init(parts: parts, layer: entry.layer, name: entry.name, validate: true))
            } catch {
                throw InteropError(path, "\(error)")
            }
        }
        return (try StructuredMatrix(collection: collection, blocks: blocks), anyDouble ? .float64 : .float32)
    }

    /// Writes every block's parts, in layer order, in `dtype`.
    public static func write(_ matrix: StructuredMatrix, dtype: DType, to path: String) throws {
        try write(dtype: dtype, to: path, forEachBlock: { body in
            for (index, block) in matrix.blocks.enumerated() { try body(matrix.collection.names[index], block) }
        })
    }

    /// Writes the blocks that `forEachBlock` passes (layer name and form, in
    /// order) a block at a time: a first pass names the tensors and their
    /// shapes for the header, a second writes each part's values, so memory
    /// holds one block, not the matrix (a stored matrix is read twice).
    public static func write(dtype: DType, to path: String,
                             forEachBlock: (_ body: (String, any BlockForm) throws -> Void) throws -> Void) throws {
        guard path.lowercased().hasSuffix(".safetensors") else {
            throw InteropError(path, "a matrix with diag, kfac, ekfac, identity, eigen or quasidiag blocks exports to a .safetensors file (one tensor per part: <layer>.A, <layer>.G, ...)")
        }
        let tensorDType: TensorDType = dtype == .float32 ? .f32 : .f64
        var tensors: [(name: String, dtype: TensorDType, shape: [Int])] = []
        try forEachBlock { layer, block in
            for part in block.parts { tensors.append((part.tensorName(layer: layer), tensorDType, part.shape)) }
        }
        let writer = try FileWriter(path)
        try writer.write(SafetensorsFile.header(for: tensors))
        var index = 0
        try forEachBlock { layer, block in
            for part in block.parts {
                // The same blocks in the same order as the first pass (a stored
                // matrix is read twice; another process may write between): checked.
                guard index < tensors.count, tensors[index].name == part.tensorName(layer: layer), tensors[index].shape == part.shape else {
                    throw InteropError(path, "the matrix changed between the passes of its export; nothing was written")
                }
                index += 1
                switch dtype {
                case .float32: try part.values.map { Float($0) }.withUnsafeBytes { try writer.write($0) }
                case .float64: try part.values.withUnsafeBytes { try writer.write($0) }
                }
            }
        }
        guard index == tensors.count else { throw InteropError(path, "the matrix changed between the passes of its export; nothing was written") }
        try writer.close()
    }
}
