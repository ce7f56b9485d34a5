import ArgumentParser
import Glibc
import Registry
import Runtime
import Security

/// `netctl trust …`: Docker Content Trust's commands (`docker trust`), over Notary servers
/// and static TUF repositories.
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust", abstract: "Sign images and check their signatures (content trust: Notary and TUF).",
        subcommands: [KeyCommand.self, SignerCommand.self, Sign.self, Revoke.self, Inspect.self, Verify.self])

    // MARK: Keys

    struct KeyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "key", abstract: "Manage signing keys.", subcommands: [Generate.self, Load.self, List.self])

        struct Generate: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "generate", abstract: "Make a signing key pair: the private key in the trust directory, NAME.pub beside.")
            @OptionGroup var global: GlobalOptions
            @Option(name: .long, help: ArgumentHelp("Where NAME.pub is written (default: the working directory).", valueName: "DIR"))
            var dir: String?
            @Argument(help: ArgumentHelp("The signer's name.", valueName: "NAME")) var name: String

            func run() throws {
                guard TrustNames.isSignerName(name) else { throw CLIError("trust key generate \"\(name)\": expected a signer name (lowercase letters, digits, - and _; not \"releases\")") }
                let path = "\(dir ?? ".")/\(name).pub"
                guard access(path, F_OK) != 0 else { throw CLIError("trust key generate \(name): \(path) exists already") }
                let trust = try TrustCLI.contentTrust(global)
                print("Generating key for \(name)...")
                let key = try TrustCLI.run { try PrivateKey.generate(.ecdsa) }
                let id = key.publicKey.keyID(dialect: .notary)
                try TrustCLI.run {
                    try KeyStore(directory: trust.settings.directory + "/private").save(key, id: id, role: name, gun: nil,
                                                                                      passphrase: try trust.passphrase(name, id, true))
                }
                try TrustCLI.writePublic(PEMFile.encode(label: "PUBLIC KEY", headers: [("role", name)], der: key.publicKey.material), to: path)
                print("Successfully generated and loaded private key. Corresponding public key available: \(absolutePath(path))")
            }
        }

        struct Load: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "load", abstract: "Import a private key (PEM, PKCS#8, encrypted or not) into the trust directory.")
            @OptionGroup var global: GlobalOptions
            @Option(name: .long, help: ArgumentHelp("The signer's name for the key.", valueName: "NAME")) var name = "signer"
            @Argument(help: ArgumentHelp("The key file.", valueName: "PATH")) var path: String

            func run() throws {
                guard TrustNames.isSignerName(name) else { throw CLIError("trust key load --name \"\(name)\": expected a signer name (lowercase letters, digits, - and _)") }
                let trust = try TrustCLI.contentTrust(global)
                let bytes = try readFile(path, name: "key file \(path)", limit: ReadLimit(bytes: 64 << 10, kind: "a PEM private key"))
                print("Loading key from \"\(path)\"...")
                let key = try TrustCLI.run { () throws -> PrivateKey in
                    do {
                        return try PrivateKey.decryptPEM(bytes, passphrase: "").key
                    } catch TrustError.key(let why) where why.contains("passphrase") {
                        return try PrivateKey.decryptPEM(bytes, passphrase: try trust.passphrase(name, path, false)).key
                    }
                }
                let id = key.publicKey.keyID(dialect: .notary)
                try TrustCLI.run {
                    try KeyStore(directory: trust.settings.directory + "/private").save(key, id: id, role: name, gun: nil,
                                                                                      passphrase: try trust.passphrase(name, id, true))
                }
                print("Successfully imported key from \(path)")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the private keys of the trust directory.", aliases: ["list"])
            @OptionGroup var global: GlobalOptions
            @Option(name: .long, help: "table or json.") var format = "table"

            func run() throws {
                let trust = try TrustCLI.contentTrust(global)
                let keys = try TrustCLI.run { try KeyStore(directory: trust.settings.directory + "/private").list() }
                    .sorted { ($0.role, $0.gun ?? "", $0.id) < ($1.role, $1.gun ?? "", $1.id) }
                if format == "json" {
                    try Output.json(keys.map { KeyEntry(ID: $0.id, Role: $0.role, GUN: $0.gun ?? "") })
                    return
                }
                guard format == "table" else { throw CLIError("--format \"\(format)\": expected table or json") }
                Output.table(["ROLE", "GUN", "KEY ID"], keys.map { [$0.role, $0.gun ?? "", $0.id] })
            }
            struct KeyEntry: Encodable { var ID: String; var Role: String; var GUN: String }
        }
    }

    // MARK: Signers

    struct SignerCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "signer", abstract: "Add or remove a repository's signers.", subcommands: [Add.self, Remove.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add", abstract: "Let a signer sign a repository's tags (making its trust data if it has none).")
            @OptionGroup var global: GlobalOptions
            @Option(name: .long, help: ArgumentHelp("The signer's public key (PEM public key or certificate), repeatable.", valueName: "PATH"))
            var key: [String] = []
            @Argument(help: ArgumentHelp("The signer's name.", valueName: "NAME")) var name: String
            @Argument(help: ArgumentHelp("The repositories.", valueName: "REPOSITORY")) var repositories: [String]

            func validate() throws {
                guard !key.isEmpty else { throw ValidationError("signer add \(name): give the signer's public key with --key PATH") }
                guard TrustNames.isSignerName(name) else { throw ValidationError("signer \"\(name)\": expected lowercase letters, digits, - and _ (and not \"releases\", which is reserved)") }
                guard !repositories.isEmpty else { throw ValidationError("signer add \(name): name at least one repository") }
            }

            func run() throws {
                let trust = try TrustCLI.contentTrust(global)
                let keys = try key.map(TrustCLI.readPublicKey)
                for repository in repositories {
                    let name = try TrustCLI.repositoryName(repository, trust: trust)
                    print("Adding signer \"\(self.name)\" to \(ContentTrust.gun(of: name))...")
                    let created = try TrustCLI.run { try trust.addSigner(self.name, keys: keys, to: name) }
                    if created { print("Initialized trust data for \(ContentTrust.gun(of: name))") }
                    print("Successfully added signer: \(self.name) to \(repository)")
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a signer from repositories.", aliases: ["rm"])
            @OptionGroup var global: GlobalOptions
            @Argument(help: ArgumentHelp("The signer's name.", valueName: "NAME")) var name: String
            @Argument(help: ArgumentHelp("The repositories.", valueName: "REPOSITORY")) var repositories: [String]

            func run() throws {
                let trust = try TrustCLI.contentTrust(global)
                for repository in repositories {
                    let name = try TrustCLI.repositoryName(repository, trust: trust)
                    print("Removing signer \"\(self.name)\" from \(ContentTrust.gun(of: name))...")
                    try TrustCLI.run { try trust.removeSigner(self.name, from: name) }
                    print("Successfully removed \(self.name) from \(repository)")
                }
            }
        }
    }

    // MARK: Tags

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sign", abstract: "Sign a tag: the manifest the registry holds for it.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var credentials: AuthFileOption
        @Argument(help: ArgumentHelp("The image: [HOST[:PORT]/]NAME:TAG.", valueName: "IMAGE:TAG")) var image: String

        func run() throws {
            let trust = try TrustCLI.contentTrust(global, authFile: credentials.authfile)
            let name = try TrustCLI.taggedName(image, trust: trust)
            let manifest = try TrustCLI.run { try RegistryManifest.describe(name, configuration: trust.configuration) }
            print("Signing and pushing trust data for \(name.storedTag ?? image)")
            let roles = try TrustCLI.run { try trust.sign(name, digest: manifest.digest, length: manifest.length) }
            print("Successfully signed \(ContentTrust.gun(of: name)):\(name.tag ?? "latest") (\(manifest.digest)) into \(roles.joined(separator: ", "))")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Remove the signature of a tag (or of every tag) from the roles this host signs.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The image, with a tag or without (every tag).", valueName: "IMAGE[:TAG]")) var image: String

        func run() throws {
            let trust = try TrustCLI.contentTrust(global)
            let name = try TrustCLI.repositoryName(image, trust: trust)
            let removed = try TrustCLI.run { try trust.revoke(name, allTags: name.tag == nil) }
            print("Successfully deleted signature for \(ContentTrust.gun(of: name)):\(removed.joined(separator: ", "))")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check a tag's signatures and print the manifest digest they sign.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: "text or json.") var format = "text"
        @Argument(help: ArgumentHelp("The image: [HOST[:PORT]/]NAME[:TAG].", valueName: "IMAGE[:TAG]")) var image: String

        func run() throws {
            guard ["text", "json"].contains(format) else { throw CLIError("--format \"\(format)\": expected text or json") }
            let trust = try TrustCLI.contentTrust(global)
            let name = try TrustCLI.taggedName(image, trust: trust)
            let target = try TrustCLI.run { try trust.verify(name) }
            if format == "json" {
                try Output.json(VerifiedTag(Repository: ContentTrust.gun(of: name), Tag: name.tag ?? "latest", Digest: target.digest.description,
                                            Size: target.length, Role: target.role))
            } else {
                print("\(ContentTrust.gun(of: name)):\(name.tag ?? "latest") \(target.digest) (\(target.length) bytes, signed by \(target.role))")
            }
        }
        struct VerifiedTag: Encodable { var Repository: String; var Tag: String; var Digest: String; var Size: Int64; var Role: String }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a repository's signed tags, signers and keys (docker trust inspect).")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .long, help: "Tables for people instead of JSON.") var pretty = false
        @Argument(help: ArgumentHelp("Repositories or tags.", valueName: "IMAGE[:TAG]")) var images: [String]

        func validate() throws {
            guard !images.isEmpty else { throw ValidationError("name at least one repository") }
        }

        func run() throws {
            let trust = try TrustCLI.contentTrust(global)
            var reports: [TrustReport] = []
            for image in images {
                let name = try TrustCLI.repositoryName(image, trust: trust)
                let (collection, dialect) = try TrustCLI.run { try trust.inspect(name) }
                reports.append(TrustReport(image, collection: collection, dialect: dialect, tag: name.tag))
            }
            if pretty {
                reports.forEach { $0.printPretty() }
            } else {
                try Output.json(reports)
            }
        }
    }
}

/// `docker trust inspect`'s JSON: signed tags with their signers, the signers' keys, and
/// the administrative (root and repository) keys.
struct TrustReport: Encodable {
    struct SignedTag: Encodable { var SignedTag: String; var Digest: String; var Signers: [String] }
    struct Key: Encodable { var ID: String }
    struct Signer: Encodable { var Name: String; var Keys: [Key] }
    var Name: String
    var SignedTags: [SignedTag]
    var Signers: [Signer]
    var AdministrativeKeys: [Signer]

    init(_ name: String, collection: TrustedCollection, dialect: TrustDialect, tag: String?) {
        Name = name
        var tags: [String: (digest: String, signers: Set<String>)] = [:]
        let releases = TrustNames.releases(dialect)
        for (role, metadata) in collection.targets {
            guard case .targets(let signed) = metadata.signed else { continue }
            for (target, file) in signed.targets where tag == nil || target == tag {
                let digest = TrustEncoding.hex(file.hashes["sha256"] ?? [])
                let key = "\(target)\u{0}\(digest)"
                var entry = tags[key] ?? (digest, [])
                if role == TopRole.targets { entry.signers.insert("Repo Admin") }
                else if role != releases { entry.signers.insert(TrustNames.signer(ofRole: role)) }
                tags[key] = entry
            }
        }
        SignedTags = tags.map { key, value in
            SignedTag(SignedTag: String(key.prefix { $0 != "\u{0}" }), Digest: value.digest, Signers: value.signers.sorted())
        }.sorted { ($0.SignedTag, $0.Digest) < ($1.SignedTag, $1.Digest) }
        var signers: [Signer] = []
        if case .targets(let top)? = collection.targets[TopRole.targets]?.signed {
            for delegation in top.delegations where delegation.name != releases {
                signers.append(Signer(Name: TrustNames.signer(ofRole: delegation.name), Keys: delegation.keys.keyIDs.sorted().map(Key.init)))
            }
        }
        Signers = signers.sorted { $0.Name < $1.Name }
        var administrative: [Signer] = []
        if case .root(let root) = collection.root.signed {
            administrative.append(Signer(Name: "Root", Keys: (root.roles[TopRole.root]?.keyIDs ?? []).sorted().map(Key.init)))
            administrative.append(Signer(Name: "Repository", Keys: (root.roles[TopRole.targets]?.keyIDs ?? []).sorted().map(Key.init)))
        }
        AdministrativeKeys = administrative
    }

    func printPretty() {
        if SignedTags.isEmpty {
            print("\nNo signatures for \(Name)\n")
        } else {
            print("\nSignatures for \(Name)\n")
            Output.table(["SIGNED TAG", "DIGEST", "SIGNERS"], SignedTags.map { [$0.SignedTag, $0.Digest, $0.Signers.joined(separator: ", ")] })
        }
        if !Signers.isEmpty {
            print("\nList of signers and their keys for \(Name)\n")
            Output.table(["SIGNER", "KEYS"], Signers.map { [$0.Name, $0.Keys.map { String($0.ID.prefix(12)) }.joined(separator: ", ")] })
        }
        print("\nAdministrative keys for \(Name)\n")
        for signer in AdministrativeKeys.reversed() {
            print("  \(signer.Name == "Root" ? "Root Key" : "Repository Key"):\t\(signer.Keys.map(\.ID).joined(separator: ", "))")
        }
    }
}

/// What the trust commands share: settings, names, passphrases, key files, errors.
enum TrustCLI {
    static func contentTrust(_ global: GlobalOptions, authFile: String? = nil) throws -> ContentTrust {
        try contentTrust(root: global.rootPath, authFile: authFile)
    }

    static func contentTrust(root: String, authFile: String? = nil) throws -> ContentTrust {
        let settings = try run { try ContentTrustSettings.load(stateRoot: root, policy: try policy(root: root)) }
        return ContentTrust(settings: settings, configuration: RegistryConfiguration(authFile: authFile), passphrase: TrustPassphrases.ask)
    }

    /// config.json's `content-trust` member, if the state root has one.
    static func policy(root: String) throws -> TrustJSON? { try configMember("content-trust", root: root) }

    /// A member of the state root's config.json (Docker daemon.json's shape), nil when the
    /// file or the member is absent. The file is parsed only when it names the member:
    /// TrustJSON takes no fractions, and a `1.5` in a setting of something else must not
    /// stop the commands that read only this one.
    static func configMember(_ key: String, root: String) throws -> TrustJSON? {
        let path = "\(root)/config.json"
        guard access(path, F_OK) == 0 else { return nil }
        let bytes = try readFile(path, name: "config \(path)", limit: ReadLimit(bytes: 1 << 20, kind: "config.json"))
        guard bytes.firstRange(of: Array("\"\(key)\"".utf8)) != nil else { return nil }
        return try run { try TrustJSON.parse(bytes, limit: 1 << 20)[key] }
    }

    /// Any trust or registry failure as the command's one line.
    static func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TrustError {
            throw CLIError(error.description)
        } catch let error as RegistryError {
            throw CLIError(error.message)
        }
    }

    static func repositoryName(_ text: String, trust: ContentTrust) throws -> ImageName {
        let name = try run { () throws -> ImageName in
            do { return try ImageName(parsing: text, defaultRegistry: trust.configuration.defaultRegistry) }
            catch let error as RuntimeError { throw CLIError(error.description) }
        }
        guard name.digest == nil else { throw CLIError("\(text): trust names tags, not digests (expected [HOST[:PORT]/]NAME[:TAG])") }
        return name
    }

    static func taggedName(_ text: String, trust: ContentTrust) throws -> ImageName {
        var name = try repositoryName(text, trust: trust)
        if name.tag == nil { name.tag = "latest" }
        return name
    }

    /// A signer's public key: a PEM `PUBLIC KEY` (ECDSA P-256, Ed25519) or `CERTIFICATE`.
    static func readPublicKey(_ path: String) throws -> PublicKey {
        let bytes = try readFile(path, name: "public key \(path)", limit: ReadLimit(bytes: 64 << 10, kind: "a PEM public key"))
        return try run { try PEMFile.publicKey(bytes, path: path) }
    }

    static func writePublic(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            unlink(path)
            throw CLIError("\(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Passphrases for keys: the environment (netctl's variables, then Docker's), else asked
/// on the terminal, twice for a new key, as Docker asks.
enum TrustPassphrases {
    static func variable(for role: RoleName) -> [String] {
        let kind = role == TopRole.root ? "ROOT" : "REPOSITORY"
        return ["NETCTL_CONTENT_TRUST_\(kind)_PASSPHRASE", "DOCKER_CONTENT_TRUST_\(kind)_PASSPHRASE"]
    }

    @Sendable static func ask(role: RoleName, keyID: String, creating: Bool) throws -> String {
        // An empty variable is no passphrase (as Docker reads them): a key is never
        // "encrypted" with the empty string.
        for name in variable(for: role) { if let value = environment(name), !value.isEmpty { return value } }
        let short = String(keyID.prefix(7))
        guard let tty = fopen("/dev/tty", "r+") else {
            throw TrustError.key("no passphrase for the \(role) key \(short): set \(variable(for: role)[0]) (there is no terminal to ask on)")
        }
        fclose(tty)
        let label = role == TopRole.root ? "root" : role == TopRole.targets ? "repository" : role
        guard let first = getpass(creating ? "Enter passphrase for new \(label) key with ID \(short): " : "Enter passphrase for \(label) key with ID \(short): ") else {
            throw TrustError.key("no passphrase for the \(role) key \(short)")
        }
        let passphrase = String(cString: first)
        if creating {
            guard passphrase.count >= 8 else { throw TrustError.key("passphrase for the new \(label) key: too short (at least 8 characters)") }
            guard let second = getpass("Repeat passphrase for new \(label) key with ID \(short): "), String(cString: second) == passphrase else {
                throw TrustError.key("passphrases for the new \(label) key do not match")
            }
        }
        return passphrase
    }
}
