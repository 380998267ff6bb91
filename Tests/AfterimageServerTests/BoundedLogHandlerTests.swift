import AfterimageServer
import Foundation
import Logging
import Synchronization
import Testing

/// Log lines stay under 4 KiB and on one line whatever a client put into them.
@Suite struct BoundedLogHandlerTests {
    /// Renders each event as `key=value … message` (the shape of `StreamLogHandler`'s line).
    final class Lines: Sendable {
        let value = Mutex<[String]>([])
    }

    struct Capture: LogHandler {
        let lines: Lines
        var logLevel = Logger.Level.trace
        var metadata = Logger.Metadata()
        var metadataProvider: Logger.MetadataProvider?
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var all = metadata
            all.merge(event.metadata ?? [:]) { _, new in new }
            let rendered = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            lines.value.withLock { $0.append("2026-12-03T00:00:00+0000 \(event.level) afterimage: \(rendered) [\(event.source)] \(event.message)") }
        }
    }

    @Test func hostileMessagesAndMetadataAreCutAndEscaped() {
        let lines = Lines()
        var logger = Logger(label: "afterimage") { _ in BoundedLogHandler(Capture(lines: lines)) }
        logger[metadataKey: "request_id"] = "r-1"
        logger[metadataKey: String(repeating: "k", count: 10_000)] = .string(String(repeating: "v", count: 100_000))
        let hostile = "model\n2026-12-03 forged line\r" + String(repeating: "é\u{301}🦊", count: 1_000_000)
        var many = Logger.Metadata()
        for index in 0..<1000 { many["field\(index)"] = .string(hostile) }
        many["nested"] = .array([.dictionary(["a": .string(hostile)])])
        logger.warning("unknown model \(hostile)", metadata: many)
        logger.info("plain", metadata: ["n": "1"])
        let captured = lines.value.withLock { $0 }
        #expect(captured.count == 2)
        for line in captured {
            #expect(line.utf8.count <= BoundedLogHandler.maxLineBytes, "\(line.utf8.count) bytes")
            #expect(!line.contains("\n") && !line.contains("\r"))
        }
        #expect(captured[0].contains("truncated="))
        #expect(captured[0].contains("\\n2026-12-03 forged line\\r"))
        #expect(captured[1].contains("n=1") && captured[1].contains("request_id=r-1") && captured[1].hasSuffix(" plain"))
    }
}
