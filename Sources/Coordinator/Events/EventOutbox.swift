/// The events waiting for one subscriber of a book, and whether a delivery is under way.
struct EventOutbox {
    let receiver: any BookEventReceiving
    var pending: [BookEvent] = []
    var sending = false
    /// The book is gone: once `pending` is delivered, the subscriber is dropped.
    var closing = false
}
