import Foundation
import Testing

@testable import Coordinator

/// The sentences `make_samples.py` built hindi-8p.pdf from: what its text layer should say.
let hindiSampleSentences = [
    "गाँव के किनारे एक पुराना पीपल का पेड़ था, जिसकी छाया में बच्चे हर शाम खेलने आते थे।",
    "बरसात के दिनों में नदी का पानी खेतों तक चढ़ आता और किसान अपनी फसल को लेकर चिंतित रहते।",
    "रामू काका सुबह-सुबह बैलों को लेकर खेत की ओर निकल जाते और सूरज ढलने पर ही लौटते।",
    "घर में दादी की कहानियाँ सुनने के लिए सब बच्चे लालटेन के चारों ओर इकट्ठा हो जाते थे।",
    "मेले के दिन पूरे गाँव में उत्साह था; कोई नए कपड़े पहनकर निकला, तो कोई मिठाई की दुकान पर खड़ा था।",
    "विद्यालय के मास्टरजी कहते थे कि पढ़ाई ही वह दीपक है जो अँधेरे रास्तों को रोशन करता है।",
    "शहर से आई चिट्ठी में लिखा था कि बड़ा बेटा जल्दी ही छुट्टी लेकर घर आएगा।",
    "कुएँ पर पानी भरती स्त्रियाँ आपस में बातें करतीं और हँसी की आवाज़ दूर तक सुनाई देती।",
    "सर्दियों की रातों में लोग अलाव के पास बैठकर पुराने दिनों की यादें ताज़ा करते।",
    "जब पहली बार बिजली गाँव में आई, तो बच्चों ने तालियाँ बजाकर उसका स्वागत किया।",
    "पंचायत में फ़ैसला हुआ कि गाँव की सड़क सबके सहयोग से बनाई जाएगी।",
    "हरिधन ने थककर आँगन में खाट बिछाई और आसमान के तारों को देखते-देखते सो गया।",
]

/// Words with Devanagari in them, punctuation trimmed.
func devanagariWords(_ text: String) -> [String] {
    text.split(whereSeparator: \.isWhitespace)
        .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "।,;.!?\"'()")) }
        .filter { $0.unicodeScalars.contains { (0x0900...0x097F).contains($0.value) } }
}

func startsWithSign(_ word: String) -> Bool {
    guard let first = word.unicodeScalars.first else { return false }
    return Devanagari.isMark(first)
}

@Suite("Devanagari repair and text quality")
struct DevanagariRepairTests {
    @Test func preBaseShortIMovesBehindItsCluster() {
        #expect(DevanagariRepair.repair("िमस") == "मिस")
        #expect(DevanagariRepair.repair("ि मस") == "मिस")
        // A conjunct is one cluster: the sign goes after all of it.
        #expect(DevanagariRepair.repair("िस्थति") == "स्थिति")
        #expect(DevanagariRepair.repair("वह िदन") == "वह दिन")
        // Correct text is left alone.
        #expect(DevanagariRepair.repair("मिस स्थिति दिन") == "मिस स्थिति दिन")
    }

    @Test func strayGapsInsideWordsAreJoined() {
        #expect(DevanagariRepair.repair("जि सकी छाया") == "जिसकी छाया")
        #expect(DevanagariRepair.repair("चि ंति त") == "चिंतित")
        #expect(DevanagariRepair.repair("कहानि याँ") == "कहानियाँ")
        #expect(DevanagariRepair.repair("लि ए") == "लिए")
        // A conjunct cut at its virama.
        #expect(DevanagariRepair.repair("क् षमा") == "क्षमा")
        // Real words ending in ि keep their space.
        #expect(DevanagariRepair.repair("कहा कि बड़ा बेटा") == "कहा कि बड़ा बेटा")
        #expect(DevanagariRepair.repair("यदि वह आए") == "यदि वह आए")
    }

    @Test func outputIsNFCAndOtherScriptsPassThrough() {
        // क + nukta composes to क़ only where Unicode allows; NFC keeps the canonical form either way.
        let decomposed = "ज\u{093C}रा"
        #expect(DevanagariRepair.repair(decomposed) == decomposed.precomposedStringWithCanonicalMapping)
        #expect(DevanagariRepair.repair("The quick brown fox.") == "The quick brown fox.")
        #expect(DevanagariRepair.repair("") == "")
    }

    @Test func hindiSampleReadsLikeItsSource() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("hindi-8p"))
        let truth = Set(hindiSampleSentences.flatMap(devanagariWords))
        var before: [String] = []
        var after: [String] = []
        for page in 1...document.pageCount {
            let raw = try document.text(ofPage: page)
            before += devanagariWords(raw)
            after += devanagariWords(DevanagariRepair.repair(raw))
        }
        func share(_ words: [String]) -> Double { Double(words.filter(truth.contains).count) / Double(words.count) }
        // Poppler's text: about 78 % of its words are real; repaired: over 90 %.
        #expect(share(before) < 0.85)
        #expect(share(after) >= 0.9, "repaired text: \(share(after)) of words match the source")
        #expect(after.count < before.count, "split words are joined")
        #expect(!after.contains(where: startsWithSign), "\(after.filter(startsWithSign).prefix(5))")
        #expect(try TextQuality(of: DevanagariRepair.repair(document.text(ofPage: 1))).isUsable)
    }

    @Test func qualityTellsUsableTextFromGarbage() {
        #expect(TextQuality(of: "गाँव के किनारे एक पुराना पीपल का पेड़ था").isUsable)
        #expect(TextQuality(of: "Plain English text.").isUsable)
        #expect(!TextQuality(of: "").isUsable)
        #expect(TextQuality(of: " \n\u{0C} 12 ").isUsable)  // digits are speakable
        #expect(!TextQuality(of: " \n\u{0C} — ").isUsable)
        // Signs with nothing to attach to, vowel signs on vowels: a broken font mapping.
        #expect(!TextQuality(of: "ि ं ा अा ेे ् क ि ो ौ ं").isUsable)
        // Unmapped glyphs.
        #expect(!TextQuality(of: "\u{E001}\u{E002}\u{E003} a").isUsable)
    }
}
