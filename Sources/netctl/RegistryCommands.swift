import ArgumentParser
import Glibc
import Registry

/// `netctl login`: the credentials are tried against the registry (GET /v2/ through the
/// challenge it answers with) before the auth file keeps them, as `docker login` does.
struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login", abstract: "Log in to a registry: check the credentials, then keep them in the auth file (Docker's config.json).")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("u"), .customLong("username")], help: ArgumentHelp("User name (asked on a terminal if not given).", valueName: "USER"))
    var username: String?
    @Option(name: [.customShort("p"), .customLong("password")], help: ArgumentHelp("Password (visible to other users of this host: prefer --password-stdin).", valueName: "PASS"))
    var password: String?
    @Flag(name: .long, help: "Read the password from standard input.")
    var passwordStdin = false
    @OptionGroup var credentials: AuthFileOption
    @Argument(help: ArgumentHelp("The registry (registry.example:5000; docker.io).", valueName: "HOST"))
    var server: String

    func run() throws {
        let registry = AuthFile.registry(ofKey: server)
        let fail = { (message: String) in RegistryError(.input, "login \(registry): \(message)") }
        if password != nil && passwordStdin { throw fail("--password and --password-stdin exclude each other") }
        let interactive = isatty(0) == 1
        guard let user = username ?? (interactive && !passwordStdin ? prompt("Username: ") : nil), !user.isEmpty else {
            throw fail("a user name is needed (-u USER)")
        }
        let secret: String
        if let password {
            FileHandleOutput.standardError("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
            secret = password
        } else if passwordStdin {
            secret = readStandardInput().trimmingLineEnd()
        } else if interactive, let typed = getpass("Password: ") {
            secret = String(cString: typed)
        } else {
            throw fail("a password is needed (-p PASS or --password-stdin)")
        }
        guard !secret.isEmpty else { throw fail("the password is empty") }

        let configuration = RegistryConfiguration(authFile: credentials.authfile)
        let credentials = RegistryCredentials(user: user, password: secret)
        do {
            let client = try configuration.client(for: registry, credentials: credentials)
            let answer = try client.send(HTTPRequest(method: "GET", url: client.url("/v2/")), scopes: [])
            guard answer.status == 200 else {
                throw RegistryError(.server, "GET /v2/ answered \(answer.status) (expected 200 from a registry's API)")
            }
            if let store = try configuration.authFile.credentialStore() {
                FileHandleOutput.standardError("Note: credsStore \"\(store)\" in \(configuration.authFile.path) is not supported; the credentials are kept in the file itself\n")
            }
            try configuration.authFile.store(credentials, for: registry)
        } catch let error as RegistryError {
            throw RegistryError(error.kind, "login \(registry): \(error.message)")
        }
        print("Login Succeeded")
    }
}

/// `netctl logout`: the auth file forgets the registry.
struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Log out of a registry: remove its credentials from the auth file.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var credentials: AuthFileOption
    @Argument(help: ArgumentHelp("The registry (registry.example:5000; docker.io).", valueName: "HOST"))
    var server: String

    func run() throws {
        let registry = AuthFile.registry(ofKey: server)
        let file = RegistryConfiguration(authFile: credentials.authfile).authFile
        do {
            if try file.remove(registry: registry) {
                print("Removing login credentials for \(registry)")
            } else {
                print("Not logged in to \(registry)")
            }
        } catch let error as RegistryError {
            throw RegistryError(error.kind, "logout \(registry): \(error.message)")
        }
    }
}

/// `--authfile`, which every registry command takes.
struct AuthFileOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Credentials file in Docker's config.json format (env REGISTRY_AUTH_FILE; $DOCKER_CONFIG/config.json; ~/.docker/config.json).", valueName: "FILE"))
    var authfile: String?
}

private func prompt(_ text: String) -> String? {
    FileHandleOutput.standardError(text)
    return readLine()?.trimmingLineEnd()
}

private func readStandardInput() -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 16 {
        let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

private extension String {
    func trimmingLineEnd() -> String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        return String(text)
    }
}
