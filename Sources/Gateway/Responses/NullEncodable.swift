/// An optional that is written as `null` rather than left out: the original service's clients
/// read `audio_url: null` and `current_job: null`, and a missing key is not the same to them.
@propertyWrapper
struct NullEncodable<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue {
            try container.encode(wrappedValue)
        } else {
            try container.encodeNil()
        }
    }
}
