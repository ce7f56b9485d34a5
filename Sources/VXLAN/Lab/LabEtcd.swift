extension Lab {
    func startEtcd() throws {}
    func etcdHealth() -> String { "unknown" }
}
