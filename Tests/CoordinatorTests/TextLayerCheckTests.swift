import Foundation
import Testing

@testable import Coordinator

/// Language identification (libexttextcat), the Hindi dictionary (hunspell-hi) and the verdict on
/// a text layer, with the real libraries and the project's own samples.
@Suite("Language, dictionary and text-layer checks")
struct TextLayerCheckTests {
    static let french = """
        Le matin où Hélène quitta le village, la brume couvrait encore les prés et les toits des maisons. \
        Elle marcha longtemps le long de la rivière, en pensant à sa grand-mère qui lui avait appris à lire.
        """
    static let german = """
        Als der erste Schnee fiel, beschloss der alte Förster, noch einmal durch den Wald zu gehen. Er \
        wusste, dass die Straße bald unpassierbar sein würde, und nahm nur ein Stück Brot mit.
        """
    static let spanish = """
        ¿Quién no recuerda el verano en que llegó el circo al pueblo? Los niños corrían por las calles \
        y las madres salían a las puertas para ver pasar a los elefantes y a los payasos.
        """
    static let english = """
        The listener hears every word of this long page read aloud slowly and clearly tonight, while \
        the rain keeps falling on the roof and the children sleep in the room upstairs.
        """
    static let marathi = """
        माझे नाव राम आहे आणि मी पुण्यात राहतो. आज सकाळपासून पाऊस पडत आहे, म्हणून आम्ही घरातच बसलो \
        आणि आजीने आम्हाला जुन्या गोष्टी सांगितल्या. संध्याकाळी आम्ही सगळे मिळून जेवलो.
        """

    @Test func languagesAreToldApartBeyondTheirScript() throws {
        let identifier = LanguageIdentifier.shared
        #expect(identifier.isAvailable)
        #expect(identifier.identify(Self.french) == "fr")
        #expect(identifier.identify(Self.german) == "de")
        #expect(identifier.identify(Self.spanish) == "es")
        #expect(identifier.identify(Self.english) == "en")
        #expect(identifier.identify(Self.marathi) == "mr")
        let hindi = hindiSampleSentences.prefix(3).joined(separator: " ")
        #expect(identifier.identify(hindi) == "hi")
        // Too short to tell: the script rule decides.
        #expect(identifier.identify("Bonjour Hélène") == nil)
        #expect(identifier.identify("") == nil)
    }

    @Test func theDictionaryJoinsSplitsTheRulesCannot() throws {
        let dictionary = try #require(DevanagariDictionary.hindi)
        #expect(dictionary.contains("देती"))
        #expect(!dictionary.contains("ती"))
        #expect(dictionary.joinSplitWords("आवाज़ दूर तक सुनाई दे ती।") == "आवाज़ दूर तक सुनाई देती।")
        // Two real words that do not make one stay apart; so do words of other scripts.
        #expect(dictionary.joinSplitWords("के लिए सब बच्चे") == "के लिए सब बच्चे")
        #expect(dictionary.joinSplitWords("the rain falls") == "the rain falls")
        // Nothing long or foreign reaches hunspell.
        #expect(!dictionary.contains(String(repeating: "क", count: 500)))
        #expect(!dictionary.contains("देती1"))
    }

    @Test func theDictionaryRaisesHindiSamplesShareOfWords() throws {
        let dictionary = try #require(DevanagariDictionary.hindi)
        let document = try PDFTextDocument.open(contentsOf: fixture("hindi-8p"))
        var raw = ""
        var rules = ""
        var repaired = ""
        for page in 1...document.pageCount {
            let text = try document.text(ofPage: page)
            raw += text + "\n"
            rules += DevanagariRepair.repair(text) + "\n"
            repaired += TextLayerCheck.repair(text, language: nil, dictionary: dictionary) + "\n"
        }
        let before = try #require(dictionary.share(raw))
        let withRules = try #require(dictionary.share(rules))
        let after = try #require(dictionary.share(repaired))
        #expect(before < withRules, "\(before) → \(withRules)")
        #expect(withRules < after, "the dictionary's joins: \(withRules) → \(after)")
        #expect(after >= 0.85, "\(after)")
    }

    @Test func theHindiSampleKeepsItsTextLayer() throws {
        let dictionary = DevanagariDictionary.hindi
        let document = try PDFTextDocument.open(contentsOf: fixture("hindi-8p"))
        for page in 1...document.pageCount {
            let raw = try document.text(ofPage: page)
            let repaired = TextLayerCheck.repair(raw, language: nil, dictionary: dictionary)
            #expect(
                TextLayerCheck.verdict(raw: raw, repaired: repaired, language: nil, dictionary: dictionary) == .voice,
                "page \(page)")
        }
    }

    /// TeX output that drew vowel signs apart from their letters: over 1 % of words start with one.
    @Test func aLayerOfSignInitialWordsGoesToOCR() throws {
        let dictionary = DevanagariDictionary.hindi
        let document = try PDFTextDocument.open(contentsOf: fixture("hindi-8p"))
        let raw = try document.text(ofPage: 3)
        var words = raw.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        var detached = 0
        for index in stride(from: 0, to: words.count, by: 40) {
            // A space before the word's first vowel sign (not ि, which PDFs always draw first).
            let scalars = Array(words[index].unicodeScalars)
            guard let sign = scalars.firstIndex(where: { Devanagari.isVowelSign($0) && $0 != Devanagari.shortI }),
                sign > 0
            else { continue }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[..<sign])
            view.append(" ")
            view.append(contentsOf: scalars[sign...])
            words[index] = String(view)
            detached += 1
        }
        let broken = words.joined(separator: " ")
        let (count, signInitial) = TextLayerCheck.signInitialWords(broken)
        #expect(Double(signInitial) / Double(count) > 0.01, "\(signInitial) of \(count)")
        let verdict = TextLayerCheck.verdict(
            raw: broken, repaired: TextLayerCheck.repair(broken, language: nil, dictionary: dictionary),
            language: nil, dictionary: dictionary)
        guard case .ocr(let reason) = verdict else {
            Issue.record("expected OCR, got \(verdict)")
            return
        }
        #expect(reason.contains("vowel sign"))
        #expect(detached > 5)
    }

    /// A wrong font map gives well-formed letters that are not words: only the dictionary sees it,
    /// and OCR of the same page replaces the layer when it reads clearly more words.
    @Test func aLayerOfNonWordsIsComparedWithOCR() throws {
        let dictionary = try #require(DevanagariDictionary.hindi)
        let truth = hindiSampleSentences.joined(separator: " ")
        // Every consonant one further along the alphabet: still well formed, hardly a word left.
        let shifted = String(
            String.UnicodeScalarView(
                truth.unicodeScalars.map { scalar in
                    (0x0915...0x0938).contains(scalar.value) ? Unicode.Scalar(scalar.value + 1)! : scalar
                }))
        let verdict = TextLayerCheck.verdict(raw: shifted, repaired: shifted, language: "hi", dictionary: dictionary)
        guard case .compare(let score) = verdict else {
            Issue.record("expected a comparison, got \(verdict)")
            return
        }
        #expect(score < TextLayerCheck.compareBelowDictionaryShare)
        #expect(TextLayerCheck.prefersOCR(textLayer: shifted, ocr: truth, language: "hi", dictionary: dictionary))
        // A layer as good as OCR is kept.
        #expect(!TextLayerCheck.prefersOCR(textLayer: truth, ocr: truth, language: "hi", dictionary: dictionary))
        #expect(TextLayerCheck.verdict(raw: truth, repaired: truth, language: "hi", dictionary: dictionary) == .voice)
    }

    @Test func latinLayersAreVoiced() {
        #expect(
            TextLayerCheck.verdict(raw: Self.french, repaired: Self.french, language: nil, dictionary: nil) == .voice)
        #expect(TextLayerCheck.verdict(raw: "", repaired: "", language: nil, dictionary: nil) != .voice)
    }
}
