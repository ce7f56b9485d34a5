import Glibc
import Netlink

@_silgen_name("__asan_poison_memory_region") func asanPoison(_ address: UnsafeRawPointer, _ size: Int)
@_silgen_name("__asan_unpoison_memory_region") func asanUnpoison(_ address: UnsafeRawPointer, _ size: Int)

/// Plays the kernel for one session: each dump request is answered with the fuzz input (its
/// messages' sequence numbers set to the request's, so the reader does not skip them), then
/// NLMSG_DONE. The rest of the session's receive buffer is poisoned while it holds the
/// input, so AddressSanitizer reports any read past the datagram.
final class ReplayingSocket: NetlinkSocket {
    let input: [UInt8]
    var sequence: UInt32 = 0
    var answered = false
    var poisoned: UnsafeMutableRawBufferPointer?

    init(_ input: [UInt8]) { self.input = input }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        sequence = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        answered = false
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        unpoison()
        var datagram: [UInt8]
        if answered {
            // struct nlmsghdr { len 20, NLMSG_DONE, NLM_F_MULTI, seq, pid } and an int 0.
            datagram = [UInt8](repeating: 0, count: 20)
            datagram.withUnsafeMutableBytes {
                $0.storeBytes(of: UInt32(20), toByteOffset: 0, as: UInt32.self)
                $0.storeBytes(of: UInt16(3) /* NLMSG_DONE */, toByteOffset: 4, as: UInt16.self)
                $0.storeBytes(of: UInt16(2) /* NLM_F_MULTI */, toByteOffset: 6, as: UInt16.self)
                $0.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
            }
        } else {
            datagram = Array(input.prefix(buffer.count))
            var offset = 0
            while offset + 16 <= datagram.count {
                datagram.withUnsafeMutableBytes { $0.storeBytes(of: sequence, toByteOffset: offset + 8, as: UInt32.self) }
                let length = Int(datagram.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) })
                guard length >= 16 else { break }
                offset += (length + 3) & ~3
            }
            answered = true
        }
        datagram.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[datagram.count...])
        if let base = rest.baseAddress, rest.count > 0 {
            asanPoison(base, rest.count)
            poisoned = rest
        }
        return datagram.count
    }

    func unpoison() {
        if let poisoned, let base = poisoned.baseAddress { asanUnpoison(base, poisoned.count) }
        poisoned = nil
    }
}

/// An rtnetlink dump answer, read by each of NetlinkSession's dump readers: links,
/// addresses, IPv4 and IPv6 routes, neighbours and bridge FDB entries.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let socket = ReplayingSocket(Array(UnsafeBufferPointer(start: data, count: size)))
    let session = NetlinkSession(socket: socket)
    withExtendedLifetime(session) {
        _ = try? session.links()
        _ = try? session.addresses()
        _ = try? session.routes(family: AF_INET)
        _ = try? session.routes(family: AF_INET6)
        _ = try? session.neighbours()
        _ = try? session.fdbEntries()
        socket.unpoison()
    }
    return 0
}
