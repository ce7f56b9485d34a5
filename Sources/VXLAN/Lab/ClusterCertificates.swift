import Glibc

/// A CA and the certificates etcd and its clients use, made with the openssl command:
/// EC P-256 keys, the server certificate valid for each address (SAN IPs) and for both
/// serving and client use (etcd members present it to each other on peer URLs).
public struct ClusterCertificates: Sendable, Equatable {
    public var ca: String
    public var serverCert: String
    public var serverKey: String
    public var clientCert: String
    public var clientKey: String

    /// The files a client presents: the CA, and its own certificate and key.
    public var clientTLS: EtcdTLS { EtcdTLS(caFile: ca, certFile: clientCert, keyFile: clientKey) }

    /// Makes the files in `directory` (created if missing): ca.pem, server.pem,
    /// server-key.pem, client.pem, client-key.pem. 127.0.0.1 is always among the addresses.
    public static func make(in directory: String, serverAddresses: [String]) throws -> ClusterCertificates {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw EtcdError(.setup, "certificates in \(directory): \(String(cString: strerror(errno)))")
        }
        let log = "\(directory)/openssl.log"
        func openssl(_ arguments: [String]) throws { try LabProcess.run(["openssl"] + arguments, log: log) }
        func key(_ name: String) throws {
            // openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
            try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(directory)/\(name)-key.pem"])
        }
        /// A certificate for `name`'s key, signed by the CA, with `extensions` (an openssl
        /// extension file's lines).
        func sign(_ name: String, subject: String, extensions: [String]) throws {
            let extensionFile = "\(directory)/\(name).ext"
            try writeText(extensions.joined(separator: "\n") + "\n", to: extensionFile)
            try openssl(["req", "-new", "-key", "\(directory)/\(name)-key.pem", "-subj", subject, "-out", "\(directory)/\(name).csr"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", "\(directory)/ca.pem", "-CAkey", "\(directory)/ca-key.pem",
                         "-CAcreateserial", "-days", "825", "-sha256", "-extfile", extensionFile, "-out", "\(directory)/\(name).pem"])
            unlink("\(directory)/\(name).csr")
            unlink(extensionFile)
        }

        try key("ca")
        try openssl(["req", "-x509", "-new", "-key", "\(directory)/ca-key.pem", "-subj", "/CN=netctl cluster CA", "-days", "825", "-sha256",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-out", "\(directory)/ca.pem"])
        var addresses = ["127.0.0.1"]
        for address in serverAddresses where !addresses.contains(address) { addresses.append(address) }
        try key("server")
        try sign("server", subject: "/CN=etcd", extensions: [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth,clientAuth",
            "subjectAltName=" + addresses.map { "IP:\($0)" }.joined(separator: ","),
        ])
        try key("client")
        try sign("client", subject: "/CN=netctl", extensions: [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=clientAuth",
        ])
        unlink(log)
        return ClusterCertificates(ca: "\(directory)/ca.pem", serverCert: "\(directory)/server.pem", serverKey: "\(directory)/server-key.pem",
                                   clientCert: "\(directory)/client.pem", clientKey: "\(directory)/client-key.pem")
    }
}

private func writeText(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw EtcdError(.setup, "write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
        throw EtcdError(.setup, "write \(path): \(String(cString: strerror(errno)))")
    }
}
