/// Element types of safetensors and NPY files that lcdb reads. Floating
/// types convert exactly to Double (and F16/BF16/F32 exactly to Float).
public enum TensorDType: String, CaseIterable, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case u16 = "U16", u32 = "U32", u64 = "U64"

    public var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool { [.f64, .f32, .f16, .bf16].contains(self) }

    /// Decodes `count` values starting at `offset` into `target` as `Scalar`
    /// (exact for every floating type into Double, and for F32/F16/BF16 into
    /// Float); a plain copy when the file's type is `Scalar` in host order.
    static func decode<Scalar: BinaryFloatingPoint>(_ dtype: TensorDType, _ bytes: UnsafeRawBufferPointer, offset: Int,
                                                    count: Int, bigEndian: Bool = false,
                                                    into target: UnsafeMutablePointer<Scalar>) {
        if !bigEndian && ((dtype == .f32 && Scalar.self == Float.self) || (dtype == .f64 && Scalar.self == Double.self)) {
            UnsafeMutableRawPointer(target).copyMemory(from: bytes.baseAddress! + offset, byteCount: count * dtype.size)
            return
        }
        func word<T: FixedWidthInteger>(_ type: T.Type, _ i: Int) -> T {
            let raw = bytes.loadUnaligned(fromByteOffset: offset + i * MemoryLayout<T>.size, as: T.self)
            return bigEndian ? T(bigEndian: raw) : T(littleEndian: raw)
        }
        switch dtype {
        case .f64: for i in 0 ..< count { target[i] = Scalar(Double(bitPattern: word(UInt64.self, i))) }
        case .f32: for i in 0 ..< count { target[i] = Scalar(Float(bitPattern: word(UInt32.self, i))) }
        case .f16: for i in 0 ..< count { target[i] = Scalar(halfToFloat(word(UInt16.self, i))) }
        case .bf16: for i in 0 ..< count { target[i] = Scalar(Float(bitPattern: UInt32(word(UInt16.self, i)) << 16)) }
        default: preconditionFailure("decode of a non-floating type")
        }
    }

    /// Decodes `count` values starting at `offset` as `Scalar` (floating types only;
    /// Doubles by default). Float32 data decoded as Float keeps its bits, NaN payloads included.
    static func decode<Scalar: BinaryFloatingPoint>(_ dtype: TensorDType, _ bytes: UnsafeRawBufferPointer, offset: Int, count: Int,
                                                    bigEndian: Bool = false, as _: Scalar.Type = Double.self) -> [Scalar] {
        var values = [Scalar](repeating: 0, count: count)
        if count > 0 {
            values.withUnsafeMutableBufferPointer { decode(dtype, bytes, offset: offset, count: count, bigEndian: bigEndian, into: $0.baseAddress!) }
        }
        return values
    }

    /// IEEE 754 binary16 to binary32, exactly (subnormals, infinities and NaN included).
    static func halfToFloat(_ half: UInt16) -> Float {
        let sign = UInt32(half >> 15) << 31
        let exponent = UInt32(half >> 10) & 0x1F
        let mantissa = UInt32(half) & 0x3FF
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
