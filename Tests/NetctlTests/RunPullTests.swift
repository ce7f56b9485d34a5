import Foundation
import Testing
import TestSupport

/// `run` pulls an image it does not have, as `docker run` does (`--pull missing`, the
/// default), with the pull's lines on stderr so the container's output stays alone on
/// stdout; `--pull never` and `--pull always` as Docker's.
@Suite struct RunPullTests {
    @Test func runPullsWhatIsMissing() throws {
        try withRegistry { server in
            let reference = "\(server.address)/team/app:1"
            try RegistryImages.push(layout: try TestImages.busybox().layout, to: reference)
            try withNetctl { netctl in
                let never = try netctl.netctl("run", "--rm", "--pull", "never", "--network", "none", reference, "true")
                #expect(never.status != 0)
                #expect(never.stderr.contains("image \"\(reference)\" not found"), "\(never.stderr)")

                let bad = try netctl.netctl("run", "--rm", "--pull", "sometimes", "--network", "none", reference, "true")
                #expect(bad.status != 0)
                #expect(bad.stderr.contains("--pull \"sometimes\": expected missing, always or never"), "\(bad.stderr)")
                #expect(try netctl.ok("image", "ls", "-q") == "")

                let first = try netctl.netctl("run", "--rm", "--network", "none", reference, "echo", "pulled by run")
                #expect(first.status == 0, "\(first.stderr)")
                #expect(first.stdout == "pulled by run\n")
                #expect(first.stderr.hasPrefix("Unable to find image '\(reference)' locally\n"), "\(first.stderr)")
                #expect(first.stderr.contains("Status: Downloaded newer image for \(reference)"))

                // Now in the store: no pull, nothing on stderr.
                let second = try netctl.netctl("run", "--rm", "--network", "none", reference, "echo", "again")
                #expect(second.stdout == "again\n" && second.stderr.isEmpty, "\(second.stderr)")

                let always = try netctl.netctl("run", "--rm", "--pull", "always", "--network", "none", reference, "echo", "checked")
                #expect(always.stdout == "checked\n")
                #expect(always.stderr.contains("Status: Image is up to date for \(reference)"), "\(always.stderr)")
            }
        }
    }
}
