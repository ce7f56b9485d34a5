import Netlink

/// A netlink socket that keeps what is sent and acknowledges every message with success, so
/// golden tests can compare the exact bytes a request puts on the wire.
public final class RecordingSocket: NetlinkSocket {
    public private(set) var sent: [[UInt8]] = []
    private var pendingAcks: [UInt32] = []

    public init() {}

    public func send(_ bytes: UnsafeRawBufferPointer) throws {
        sent.append(Array(bytes))
        // Walk the nlmsghdrs (length at 0, sequence at 8) and owe each one an ack.
        var offset = 0
        while offset + 16 <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            pendingAcks.append(bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
            offset += (length + 3) & ~3
        }
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        // struct nlmsghdr (16) + struct nlmsgerr { int error; struct nlmsghdr msg } (20)
        var offset = 0
        for sequence in pendingAcks {
            let fields: [(Int, UInt32)] = [(0, 36), (8, sequence)]
            for byte in 0..<36 { buffer[offset + byte] = 0 }
            for (at, value) in fields { buffer.storeBytes(of: value, toByteOffset: offset + at, as: UInt32.self) }
            buffer.storeBytes(of: UInt16(2), toByteOffset: offset + 4, as: UInt16.self) // NLMSG_ERROR
            offset += 36
        }
        pendingAcks.removeAll()
        return offset
    }

    /// The last datagram as lowercase hex, for comparing with a golden string.
    public var lastHex: String { sent.last.map(hex) ?? "" }
}

public func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// A socket that keeps what is sent and passes it on to a real one, so a golden test can
/// show that the kernel accepted the very bytes it freezes.
public final class TeeSocket: NetlinkSocket {
    public private(set) var sent: [[UInt8]] = []
    private let socket: any NetlinkSocket

    public init(_ socket: any NetlinkSocket) { self.socket = socket }

    public func send(_ bytes: UnsafeRawBufferPointer) throws {
        sent.append(Array(bytes))
        try socket.send(bytes)
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try socket.receive(into: buffer) }
    public func reserveSendBuffer(_ bytes: Int) throws { try socket.reserveSendBuffer(bytes) }
}
