import Testing
@testable import Runtime

/// What `OutsideDocument` refuses instead of trapping on (Fuzz/Corpus/FuzzOCI/crash-cpu-*).
@Suite struct OutsideDocumentTests {
    @Test(arguments: [
        (#""quota": 9223372036854775807, "period": 100000"#, "linux.resources.cpu.quota 9223372036854775807: expected at most 9223372036 (microseconds)"),
        (#""quota": 50000, "period": 0"#, "linux.resources.cpu.period 0: expected 1000 to 1000000 (microseconds)"),
        (#""quota": 50000, "period": 18446744073709551615"#, "linux.resources.cpu.period 18446744073709551615: expected 1000 to 1000000 (microseconds)"),
    ])
    func cpuLimitsOutOfRangeAreRefused(cpu: String, error: String) {
        let json = #"{"ociVersion": "1.0.2", "linux": {"resources": {"cpu": {"# + cpu + "}}}}"
        let refused = #expect(throws: RuntimeError.self) { try OutsideDocument.runtimeSpec.parse(Array(json.utf8)) }
        #expect(refused?.description == "runtimeSpec: " + error)
    }

    @Test func aSensibleQuotaIsCPUs() throws {
        let json = #"{"ociVersion": "1.0.2", "linux": {"resources": {"cpu": {"quota": 50000, "period": 100000}}}}"#
        try OutsideDocument.runtimeSpec.parse(Array(json.utf8))
    }
}
