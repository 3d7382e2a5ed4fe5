import Coordinator
import Foundation
import Testing

@testable import Coordinator
@testable import PageWorker

@Suite("Voice per page")
struct VoiceChoiceTests {
    func job(_ text: String, voice: String? = nil, language: String? = nil) -> PageJob {
        PageJob(
            bookId: 1, pageNumber: 1, totalPages: 1, attempt: 1, lease: UUID(), text: text, voice: voice,
            language: language)
    }

    @Test func scriptDecidesByDefault() {
        #expect(VoiceChoice.voice(for: job("घर जमाई हरिधन")) == "hi")
        #expect(VoiceChoice.voice(for: job("The quick brown fox")) == "en")
        #expect(VoiceChoice.voice(for: job("मुझे Swift पसंद है और बहुत अच्छा लगता")) == "hi")
        #expect(VoiceChoice.voice(for: job("12345")) == "en")
        #expect(VoiceChoice.voice(for: job("")) == "en")
    }

    /// Each script espeak-ng reads gets its main language's voice, and every one of them exists.
    @Test func otherScriptsGetTheirOwnVoice() async {
        let samples = [
            ("আমার সোনার বাংলা", "bn"), ("ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ", "pa"), ("કેમ છો", "gu"), ("வணக்கம் உலகம்", "ta"),
            ("నమస్కారం", "te"), ("ನಮಸ್ಕಾರ", "kn"), ("നമസ്കാരം", "ml"), ("مرحبا بالعالم", "ar"),
            ("یہ ایک کتاب ہے", "ur"), ("Привет, мир", "ru"), ("Γειά σου κόσμε", "el"), ("你好世界", "cmn"),
        ]
        for (text, voice) in samples {
            #expect(VoiceChoice.voice(for: job(text)) == voice, "\(text)")
            #expect(await SpeechSynthesizer.shared.hasVoice(voice), "espeak-ng has no voice \(voice)")
        }
    }

    @Test func languageAndVoiceOverride() {
        #expect(VoiceChoice.voice(for: job("The fox", language: "hindi")) == "hi")
        #expect(VoiceChoice.voice(for: job("घर", language: "english")) == "en")
        #expect(VoiceChoice.voice(for: job("घर", language: "hinglish")) == "hi")
        #expect(VoiceChoice.voice(for: job("घर", language: "mr")) == "mr")
        #expect(VoiceChoice.voice(for: job("घर", voice: "en-us", language: "hindi")) == "en-us")
    }

    @Test func speakableAndPrepared() {
        #expect(!VoiceChoice.isSpeakable("  \n\u{0C}  "))
        #expect(!VoiceChoice.isSpeakable("— … ·"))
        #expect(VoiceChoice.isSpeakable("a"))
        #expect(VoiceChoice.prepare("one\n\n two\t three ") == "one two three")
        // A space before a vowel sign is dropped; one after it is kept (it may be a word boundary).
        #expect(VoiceChoice.prepare("शि \u{093F}खर") == "शि\u{093F}खर")
        #expect(VoiceChoice.prepare("कि नारे") == "कि नारे")
    }

    @Test func theLanguageOfTheTextPicksTheVoice() {
        let french = """
            Le matin où Hélène quitta le village, la brume couvrait encore les prés et les toits des \
            maisons. Elle marcha longtemps le long de la rivière, en pensant à sa grand-mère.
            """
        let marathi = """
            माझे नाव राम आहे आणि मी पुण्यात राहतो. आज सकाळपासून पाऊस पडत आहे, म्हणून आम्ही घरातच बसलो \
            आणि आजीने आम्हाला जुन्या गोष्टी सांगितल्या.
            """
        #expect(VoiceChoice.choose(for: job(french), identified: nil) == ("fr", "fr"))
        #expect(VoiceChoice.choose(for: job(marathi), identified: nil) == ("mr", "mr"))
        // What OCR identified is used; a language of another script than the text's is not.
        #expect(VoiceChoice.choose(for: job("Guten Tag"), identified: "de") == ("de", "de"))
        #expect(VoiceChoice.choose(for: job("Guten Tag"), identified: "hi") == ("en", "en"))
        // The uploader's choice wins.
        #expect(VoiceChoice.choose(for: job(french, language: "english"), identified: nil) == ("en", "en"))
        #expect(VoiceChoice.choose(for: job(french, voice: "en-us"), identified: nil) == ("en-us", "en"))
    }

    @Test func lowConfidenceWordsAndPagesAreNotVoiced() {
        typealias Word = PageReading.Word
        let clear = PageReading(
            words: [
                Word(text: "The", confidence: 96), Word(text: "quick", confidence: 95, endsLine: true),
                Word(text: "#%@", confidence: 20), Word(text: "fox", confidence: 91),
            ], rotation: 0, script: "Latin", languages: "eng")
        #expect(clear.text == "The quick\nfox")
        #expect(clear.isReadable)
        #expect(clear.meanConfidence > 85)
        let noise = PageReading(
            words: [
                Word(text: "oe", confidence: 30), Word(text: "Lr", confidence: 22), Word(text: "j", confidence: 70),
            ],
            rotation: 0, script: nil, languages: "eng")
        #expect(!noise.isReadable)
        #expect(noise.unreadableReason.contains("mean confidence"))
        let empty = PageReading(words: [], rotation: 0, script: nil, languages: "eng")
        #expect(!empty.isReadable)
        #expect(empty.text == "")
    }
}
