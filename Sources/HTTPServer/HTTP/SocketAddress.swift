import CLibUV
import Glibc

/// Conversions between "host", port and the C socket address structs libuv takes.
enum SocketAddress {
    /// Builds an IPv4 or IPv6 socket address from a numeric host; no DNS lookups.
    static func make(host: String, port: Int) throws(HTTPServerError) -> sockaddr_storage {
        guard (0...65535).contains(port) else { throw .invalidPort(port) }
        var storage = sockaddr_storage()
        let status = withUnsafeMutableBytes(of: &storage) { raw -> Int32 in
            let ipv4 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            if uv_ip4_addr(host, Int32(port), ipv4) == 0 {
                return 0
            }
            let ipv6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
            return uv_ip6_addr(host, Int32(port), ipv6)
        }
        guard status == 0 else { throw .invalidAddress(host: host) }
        return storage
    }

    /// The port stored in an IPv4 or IPv6 address, or nil for other families.
    static func port(of storage: sockaddr_storage) -> Int? {
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw -> Int? in
            switch family {
            case AF_INET:
                return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            case AF_INET6:
                return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            default:
                return nil
            }
        }
    }

    /// Formats an address as "ip:port", or "[ip]:port" for IPv6.
    static func describe(_ storage: sockaddr_storage) -> String {
        var storage = storage
        var name = [CChar](repeating: 0, count: 64)
        let family = Int32(storage.ss_family)
        let status = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_ip_name($0, &name, name.count) }
        }
        guard status == 0, let port = port(of: storage) else { return "unknown" }
        let ip = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// Runs a libuv `getsockname`/`getpeername`-style call and returns the address it filled in.
    static func query(_ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<Int32>) -> Int32) -> sockaddr_storage? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, &length) }
        }
        return status == 0 ? storage : nil
    }
}
