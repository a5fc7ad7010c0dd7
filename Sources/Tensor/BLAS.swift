import CBLAS
import Foundation

/// The BLAS calls the engine makes, row-major, and facts about the library.
public enum BLAS {
    /// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", "Zen", ...).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The core OpenBLAS detected by itself before bsn switched it at start-up
    /// (see CBLASCore/blas_core.c), or nil when no switch happened.
    /// (A child process inherits the marker; it holds only while OPENBLAS_CORETYPE is still the core bsn set:
    /// a user who sets another value for the child chose that one.)
    public static var coreSwitchedFrom: String? {
        let env = ProcessInfo.processInfo.environment
        guard let to = env["BSN_BLAS_CORE_SWITCHED_TO"], to == env["OPENBLAS_CORETYPE"] else { return nil }
        return env["BSN_BLAS_CORE_SWITCHED_FROM"]
    }

    /// Threads OpenBLAS uses inside one call. The engine parallelises around
    /// BLAS itself and keeps this at 1; benchmarks of plain sgemm raise it.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// C = alpha · op(A) · op(B) + beta · C, all row-major.
    /// op(A) is m×k, op(B) is k×n, C is m×n.
    @inline(__always)
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
