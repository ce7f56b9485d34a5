import Testing
@testable import VXLAN

@Suite struct OverlayConstantsTests {
    @Test func standardPort() { #expect(Overlay.defaultPort == 4789) }
}
