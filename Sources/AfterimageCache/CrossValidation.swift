import AfterimageCore
import Foundation

/// `afterimage cache eval --folds K`: how well the cache's tunable settings generalise. The pairs
/// are split into K folds by base scene (pairs that share distinctive words stay in one fold); for
/// each fold the settings are chosen on the other folds (fewest false hits, also one grid step
/// looser — a margin —, then most hits, then the middle of the tied ones) and judged on the
/// held-out one. The in-sample figure (chosen and judged on every
/// pair) is printed beside it: a wide gap means the settings fit the file, not the language.
public struct CrossValidation: Sendable {
    /// One point of the grid: the threshold and the guard's tunables.
    public struct Setting: Sendable, Hashable, CustomStringConvertible {
        public var threshold: Float
        public var wordSimilarity: Float
        public var hypernymDepth: Int
        public var oneSidedVerbs: Bool

        public init(threshold: Float, wordSimilarity: Float, hypernymDepth: Int, oneSidedVerbs: Bool) {
            self.threshold = threshold
            self.wordSimilarity = wordSimilarity
            self.hypernymDepth = hypernymDepth
            self.oneSidedVerbs = oneSidedVerbs
        }

        public var description: String {
            String(format: "threshold %.2f, word_similarity %.2f, hypernym_depth %d, one_sided_verbs %@", threshold, wordSimilarity, hypernymDepth, oneSidedVerbs ? "true" : "false")
        }
    }

    /// Which settings the grid varies (`--tune`); the others stay at `base`.
    public struct Grid: Sendable {
        public var thresholds: [Float]
        public var wordSimilarities: [Float]
        public var hypernymDepths: [Int]
        public var oneSidedVerbs: [Bool]
        /// The configured setting: on a tie, the categorical tunables keep its values.
        public var base: Setting

        /// The full grid for the names in `tuned` (`threshold`, `word_similarity`, `hypernym_depth`,
        /// `one_sided_verbs`); an unknown name is an error naming it.
        public init(tuning tuned: Set<String>, base: Setting) throws {
            self.base = base
            let known: Set = ["threshold", "word_similarity", "hypernym_depth", "one_sided_verbs"]
            if let unknown = tuned.subtracting(known).sorted().first {
                throw AfterimageError.invalidPayload("cannot tune '\(unknown)'; tunable: \(known.sorted().joined(separator: ", "))")
            }
            thresholds = tuned.contains("threshold") ? stride(from: Float(0.5), through: 0.951, by: 0.05).map { ($0 * 100).rounded() / 100 } : [base.threshold]
            wordSimilarities = tuned.contains("word_similarity") ? [0.65, 0.7, 0.75, 0.8, 0.85, 0.9] : [base.wordSimilarity]
            hypernymDepths = tuned.contains("hypernym_depth") ? [0, 1, 2] : [base.hypernymDepth]
            oneSidedVerbs = tuned.contains("one_sided_verbs") ? [false, true] : [base.oneSidedVerbs]
        }
    }

    /// Held-out or in-sample counts.
    public struct Figures: Sendable {
        public var same = 0, different = 0, hits = 0, falseHits = 0
        public var perKind: [String: (pairs: Int, hits: Int)] = [:]
        public var recall: Double { same == 0 ? 0 : Double(hits) / Double(same) }
    }

    public var folds: Int
    /// The fold of each pair.
    public var assignment: [Int]
    /// The setting chosen on the other folds, per fold.
    public var chosen: [Setting]
    public var heldOut = Figures()
    public var inSampleSetting: Setting
    public var inSample = Figures()

    /// `served[v][p]`: whether guard variant `v` (with its threshold applied later) allows pair `p`,
    /// given per-pair similarities; the variants are (word similarity, hypernym depth, verbs).
    public init(
        pairs: [CacheEvaluation.Pair], sceneWords: [Set<String>], folds: Int, grid: Grid,
        similarities: [Float], allowed: [Setting: [Bool]]
    ) {
        self.folds = folds
        let assignment = Self.folds(sceneWords: sceneWords, count: folds)
        self.assignment = assignment
        var settings = [Setting]()
        for variant in allowed.keys.sorted(by: { "\($0)" < "\($1)" }) {
            for threshold in grid.thresholds {
                var setting = variant
                setting.threshold = threshold
                settings.append(setting)
            }
        }
        func served(_ setting: Setting, _ index: Int) -> Bool {
            var variant = setting
            variant.threshold = 0
            return similarities[index] >= setting.threshold && (allowed[variant]?[index] ?? false)
        }
        // The settings one grid step looser (lower threshold, lower word similarity); nil at the
        // grid's loose edge, where no margin can be seen.
        func looser(_ setting: Setting) -> [Setting]? {
            var result = [Setting]()
            if grid.thresholds.count > 1 {
                guard let i = grid.thresholds.firstIndex(of: setting.threshold), i > 0 else { return nil }
                var next = setting
                next.threshold = grid.thresholds[i - 1]
                result.append(next)
            }
            if grid.wordSimilarities.count > 1 {
                guard let i = grid.wordSimilarities.firstIndex(of: setting.wordSimilarity), i > 0 else { return nil }
                var next = setting
                next.wordSimilarity = grid.wordSimilarities[i - 1]
                result.append(next)
            }
            return result
        }
        func choose(on indices: [Int]) -> Setting {
            var counts = [Setting: (falseHits: Int, hits: Int)]()
            for setting in settings {
                var hits = 0, falseHits = 0
                for index in indices where served(setting, index) {
                    if pairs[index].same { hits += 1 } else { falseHits += 1 }
                }
                counts[setting] = (falseHits, hits)
            }
            let fewest = counts.values.map(\.falseHits).min() ?? 0
            // Fewest false hits with a margin (the looser neighbours have no more either), then most
            // hits, then the middle of the tied settings; without any margin, fewest false hits alone.
            let margined = settings.filter { setting in
                counts[setting]?.falseHits == fewest && looser(setting)?.allSatisfy({ (counts[$0]?.falseHits ?? fewest) <= fewest }) == true
            }
            let eligible = margined.isEmpty ? settings.filter({ counts[$0]?.falseHits == fewest }) : margined
            let most = eligible.compactMap { counts[$0]?.hits }.max() ?? 0
            let tied = eligible.filter { counts[$0]?.hits == most }
            // Of the settings tied on hits, the one nearest their centre on the threshold and word
            // similarity grid (neither edge of the plateau, where the training folds decided by
            // chance), keeping the configured hypernym depth and verb rule unless hits say otherwise.
            func position(_ setting: Setting) -> [Double] {
                [Double(grid.thresholds.firstIndex(of: setting.threshold) ?? 0), Double(grid.wordSimilarities.firstIndex(of: setting.wordSimilarity) ?? 0)]
            }
            let positions = tied.map(position)
            let centre = (0..<2).map { axis in positions.map { $0[axis] }.reduce(0, +) / Double(max(1, positions.count)) }
            func distance(_ setting: Setting) -> Double {
                let offGrid = zip(position(setting), centre).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
                let offBase = (setting.hypernymDepth == grid.base.hypernymDepth ? 0.0 : 1.0) + (setting.oneSidedVerbs == grid.base.oneSidedVerbs ? 0.0 : 1.0)
                return offGrid + offBase
            }
            var best: Setting?
            for setting in tied {
                if let current = best {
                    let a = distance(setting), b = distance(current)
                    if a > b || (a == b && !Self.stricter(setting, than: current)) { continue }
                }
                best = setting
            }
            return best ?? settings[0]
        }
        func tally(_ figures: inout Figures, _ setting: Setting, _ indices: [Int]) {
            for index in indices {
                let pair = pairs[index], hit = served(setting, index)
                if pair.same { figures.same += 1 } else { figures.different += 1 }
                if hit && pair.same { figures.hits += 1 }
                if hit && !pair.same { figures.falseHits += 1 }
                var counts = figures.perKind[pair.kind ?? "unknown"] ?? (0, 0)
                counts.pairs += 1
                if hit { counts.hits += 1 }
                figures.perKind[pair.kind ?? "unknown"] = counts
            }
        }
        var chosen = [Setting]()
        var heldOut = Figures()
        for fold in 0..<folds {
            let training = pairs.indices.filter { assignment[$0] != fold }
            let held = pairs.indices.filter { assignment[$0] == fold }
            let setting = choose(on: training)
            chosen.append(setting)
            tally(&heldOut, setting, held)
        }
        let inSampleSetting = choose(on: Array(pairs.indices))
        var inSample = Figures()
        tally(&inSample, inSampleSetting, Array(pairs.indices))
        self.chosen = chosen
        self.heldOut = heldOut
        self.inSampleSetting = inSampleSetting
        self.inSample = inSample
    }

    /// Higher threshold, then higher word similarity, then smaller hypernym depth, then verbs strict.
    static func stricter(_ a: Setting, than b: Setting) -> Bool {
        if a.threshold != b.threshold { return a.threshold > b.threshold }
        if a.wordSimilarity != b.wordSimilarity { return a.wordSimilarity > b.wordSimilarity }
        if a.hypernymDepth != b.hypernymDepth { return a.hypernymDepth < b.hypernymDepth }
        return !a.oneSidedVerbs && b.oneSidedVerbs
    }

    /// Folds by base scene: pairs sharing two distinctive words (words in at most 2% of the
    /// pairs, at least 2) are one scene; scenes go, largest first, to the fold with the fewest pairs.
    public static func folds(sceneWords: [Set<String>], count: Int) -> [Int] {
        let n = sceneWords.count
        var frequency = [String: Int]()
        for words in sceneWords { for word in words { frequency[word, default: 0] += 1 } }
        let limit = max(2, n / 50)
        let distinctive = sceneWords.map { $0.filter { (frequency[$0] ?? 0) <= limit } }
        var parent = Array(0..<n)
        func root(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        var byWord = [String: [Int]]()
        for (index, words) in distinctive.enumerated() { for word in words { byWord[word, default: []].append(index) } }
        var shared = [Int: [Int: Int]]()
        for members in byWord.values where members.count > 1 {
            for i in members.indices { for j in members.indices where j > i { shared[members[i], default: [:]][members[j], default: 0] += 1 } }
        }
        for (i, partners) in shared { for (j, common) in partners where common >= 2 { parent[root(i)] = root(j) } }
        var scenes = [Int: [Int]]()
        for index in 0..<n { scenes[root(index), default: []].append(index) }
        var assignment = Array(repeating: 0, count: n)
        var sizes = Array(repeating: 0, count: max(1, count))
        for scene in scenes.values.sorted(by: { ($0.count, $0[0]) > ($1.count, $1[0]) }) {
            let fold = sizes.indices.min { (sizes[$0], $0) < (sizes[$1], $1) } ?? 0
            for index in scene { assignment[index] = fold }
            sizes[fold] += scene.count
        }
        return assignment
    }
}
