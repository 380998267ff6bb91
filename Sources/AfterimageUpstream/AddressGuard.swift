import AfterimageCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Refuses to let the gateway fetch addresses inside its own network: a host is resolved first and
/// every address it resolves to must be public (not loopback, private, link-local, CGNAT,
/// multicast, reserved or unique-local, IPv4-mapped and NAT64 forms included).
public enum AddressGuard {
    /// A refused fetch; `reason` is for the log, never for the client.
    public struct Refused: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "image URL refused: \(reason)" }
    }

    /// Resolves `host` (on a Dispatch thread: `getaddrinfo` blocks) and throws when it does not
    /// resolve or any answer is a non-public address.
    public static func check(host: String, port: Int) async throws {
        let addresses = try await resolve(host: host, port: port)
        guard !addresses.isEmpty else { throw Refused(reason: "'\(host.prefix(64))' does not resolve") }
        for address in addresses where !isPublic(address) {
            throw Refused(reason: "'\(host.prefix(64))' resolves to a non-public address")
        }
    }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address.
    public static func isPublic(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 4 { return isPublicV4(bytes) }
        guard bytes.count == 16 else { return false }
        if bytes.allSatisfy({ $0 == 0 }) { return false }  // ::
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return false }  // ::1
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return isPublicV4(Array(bytes[12..<16]))  // ::ffff:a.b.c.d
        }
        if bytes[0..<12].allSatisfy({ $0 == 0 }) { return isPublicV4(Array(bytes[12..<16])) }  // ::a.b.c.d (deprecated)
        if bytes[0] == 0x00, bytes[1] == 0x64, bytes[2] == 0xFF, bytes[3] == 0x9B, bytes[4..<12].allSatisfy({ $0 == 0 }) {
            return isPublicV4(Array(bytes[12..<16]))  // 64:ff9b::/96 NAT64
        }
        if bytes[0] == 0x20, bytes[1] == 0x02 { return isPublicV4(Array(bytes[2..<6])) }  // 2002::/16 6to4
        if bytes[0] & 0xFE == 0xFC { return false }  // fc00::/7 unique local
        if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0x80 { return false }  // fe80::/10 link-local
        if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0xC0 { return false }  // fec0::/10 site-local
        if bytes[0] == 0xFF { return false }  // multicast
        if bytes[0] == 0x20, bytes[1] == 0x01, bytes[2] == 0x0D, bytes[3] == 0xB8 { return false }  // documentation
        return true
    }

    static func isPublicV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return false
        case (100, 64...127): return false  // CGNAT
        case (169, 254): return false  // link-local (cloud metadata)
        case (172, 16...31): return false
        case (192, 168): return false
        case (192, 0) where b[2] == 0 || b[2] == 2: return false
        case (198, 18...19): return false  // benchmarking
        case (198, 51) where b[2] == 100: return false
        case (203, 0) where b[2] == 113: return false
        case (224...255, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    static func resolve(host: String, port: Int) async throws -> [[UInt8]] {
        // Brackets of an IPv6 literal are not part of the name.
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return try await BlockingExecutor.io.run { () throws -> [[UInt8]] in
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(name, String(port), &hints, &result)
            guard status == 0 else { throw Refused(reason: "'\(name.prefix(64))' does not resolve") }
            defer { freeaddrinfo(result) }
            var addresses = [[UInt8]]()
            var cursor = result
            while let info = cursor?.pointee {
                if info.ai_family == AF_INET, let raw = info.ai_addr {
                    raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        var address = pointer.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                    }
                } else if info.ai_family == AF_INET6, let raw = info.ai_addr {
                    raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        var address = pointer.pointee.sin6_addr
                        addresses.append(withUnsafeBytes(of: &address) { Array($0) })
                    }
                }
                cursor = info.ai_next
            }
            return addresses
        }
    }
}
