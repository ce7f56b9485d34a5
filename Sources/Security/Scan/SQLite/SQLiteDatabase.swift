import CSQLite

/// One SQLite connection (libsqlite3, loaded on first use): the advisory database and the
/// RPM databases of images (rpm 4.16+ keeps `Packages(hnum, blob)` in `rpmdb.sqlite`).
/// Statements are prepared once and reused; every failure is a `ScanError.database` naming
/// the file and SQLite's reason.
final class SQLiteDatabase {
    let path: String
    private let handle: OpaquePointer

    enum Mode { case readOnly, create }

    init(path: String, mode: Mode) throws(ScanError) {
        var error = [CChar](repeating: 0, count: 256)
        guard sq_load(&error, error.count) == 0 else {
            throw .database("\(path): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        let flags: Int32 = switch mode {
        case .readOnly: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
        case .create: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        var pointer: OpaquePointer?
        let status = sq_open_v2(path, &pointer, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let pointer else {
            let reason = pointer.map { String(cString: sq_errmsg($0)) } ?? "cannot open"
            if let pointer { sq_close_v2(pointer) }
            throw .database("\(path): \(reason)")
        }
        self.path = path
        handle = pointer
        sq_busy_timeout(handle, 5_000)
    }

    deinit { sq_close_v2(handle) }

    /// Runs statements that return no rows (`BEGIN`, `CREATE TABLE …; CREATE INDEX …`).
    func execute(_ sql: String) throws(ScanError) {
        var message: UnsafeMutablePointer<CChar>?
        guard sq_exec(handle, sql, &message) == SQLITE_OK else {
            let reason = message.map { String(cString: $0) } ?? lastError
            sq_free(message)
            throw .database("\(path): \(reason)")
        }
    }

    func prepare(_ sql: String) throws(ScanError) -> Statement {
        var statement: OpaquePointer?
        guard sq_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw .database("\(path): \(lastError)")
        }
        return Statement(statement, database: self)
    }

    var lastError: String { String(cString: sq_errmsg(handle)) }

    /// A prepared statement: bind (1-based), step through the rows, reset to run it again.
    final class Statement {
        private let pointer: OpaquePointer
        private unowned let database: SQLiteDatabase

        fileprivate init(_ pointer: OpaquePointer, database: SQLiteDatabase) {
            self.pointer = pointer
            self.database = database
        }

        deinit { sq_finalize(pointer) }

        func bind(_ values: [Value?]) throws(ScanError) {
            sq_reset(pointer)
            sq_clear_bindings(pointer)
            for (offset, value) in values.enumerated() {
                let index = Int32(offset + 1)
                let status: Int32 = switch value {
                case nil: sq_bind_null(pointer, index)
                case .text(let text): sq_bind_text(pointer, index, text, -1)
                case .integer(let number): sq_bind_int64(pointer, index, number)
                case .real(let number): sq_bind_double(pointer, index, number)
                case .blob(let bytes): bytes.withUnsafeBytes { sq_bind_blob(pointer, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count)) }
                }
                guard status == SQLITE_OK else { throw .database("\(database.path): \(database.lastError)") }
            }
        }

        /// True while there is a row to read; false when done.
        func step() throws(ScanError) -> Bool {
            switch sq_step(pointer) {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw .database("\(database.path): \(database.lastError)")
            }
        }

        /// Binds, runs to completion, and resets (an INSERT, an UPDATE).
        func run(_ values: [Value?]) throws(ScanError) {
            try bind(values)
            while try step() {}
            sq_reset(pointer)
        }

        func isNull(_ column: Int32) -> Bool { sq_column_type(pointer, column) == SQLITE_NULL }
        func text(_ column: Int32) -> String? {
            guard let text = sq_column_text(pointer, column) else { return nil }
            return String(cString: text)
        }
        func integer(_ column: Int32) -> Int64 { sq_column_int64(pointer, column) }
        func real(_ column: Int32) -> Double { sq_column_double(pointer, column) }
        func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sq_column_bytes(pointer, column))
            guard count > 0, let bytes = sq_column_blob(pointer, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: bytes, count: count))
        }
        /// A blob without copying it, valid only inside `body` (until the next step).
        func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws(ScanError) -> T) throws(ScanError) -> T {
            let count = Int(sq_column_bytes(pointer, column))
            return try body(UnsafeRawBufferPointer(start: sq_column_blob(pointer, column), count: count))
        }
    }

    enum Value {
        case text(String)
        case integer(Int64)
        case real(Double)
        case blob([UInt8])
    }
}
