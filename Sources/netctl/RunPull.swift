import Glibc
import Registry
import Runtime

/// `run --pull`: as `docker run`, an image not in the store is pulled first ("Unable to
/// find image 'busybox:latest' locally", then the pull's progress, on stderr so that the
/// container's own output stays alone on stdout).
enum RunPull {
    enum Policy: String { case missing, always, never }

    /// Checks the policy and sets the runtime up to follow it: `always` pulls now,
    /// `missing` pulls when `create` does not find the image (no second look-up when it
    /// does), `never` leaves the not-found error as it is.
    static func prepare(_ runtime: ContainerRuntime, policy text: String?, image: String) throws {
        guard let policy = Policy(rawValue: text ?? "missing") else {
            throw CLIError("--pull \"\(text ?? "")\": expected missing, always or never")
        }
        if try TrustedImages.prepareRun(runtime, policy: policy, image: image) { return }
        switch policy {
        case .never: break
        case .always: try pull(image, into: runtime.images)
        case .missing:
            runtime.imageMissing = { reference in
                // An id or id prefix not in the store is not a name to pull.
                guard let name = try? ImageName(parsing: reference) else { return }
                PullProgress.standardError("Unable to find image '\(name.storedTag ?? reference)' locally\n")
                try pull(reference, into: runtime.images)
            }
        }
    }

    static func pull(_ reference: String, into images: ImageStore) throws {
        let progress = PullProgress(mode: isatty(2) == 1 ? .terminal : .lines, write: PullProgress.standardError)
        do {
            try ImagePuller(images: images, configuration: RegistryConfiguration(), progress: progress).pull(reference)
        } catch let error as RegistryError {
            throw RuntimeError(error.message)
        }
    }
}
