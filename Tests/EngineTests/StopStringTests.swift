import Testing
import Engine

/// Feeds `pieces` and returns everything emitted plus whether a stop string ended it.
func run(_ stops: [String], _ pieces: [String]) -> (String, Bool) {
    var matcher = StopStringMatcher(stops)
    var out = ""
    for piece in pieces {
        let (emit, stopped) = matcher.feed(piece)
        out += emit
        if stopped { return (out, true) }
    }
    return (out + matcher.flush(), false)
}

@Suite("Stop strings")
struct StopStringTests {
    @Test("a stop string split across tokens ends the text just before it")
    func split() {
        #expect(run(["###"], ["Hello #", "#", "# world"]) == ("Hello ", true))
    }

    @Test("text that only looks like the start of a stop string is released once it diverges")
    func falseStart() {
        var matcher = StopStringMatcher(["STOP"])
        #expect(matcher.feed("a ST").emit == "a ")
        #expect(matcher.feed("ART").emit == "START")
    }

    @Test("the earliest of several stop strings wins")
    func earliest() {
        #expect(run(["world", "lo"], ["hello world"]) == ("hel", true))
    }

    @Test("without a match everything is emitted, held-back text at the end too")
    func flushes() {
        #expect(run(["\n\n"], ["one\n", "two\n"]) == ("one\ntwo\n", false))
    }
}
