import Foundation

/// Tesseract runs its networks with OpenMP, whose idle threads spin: next to a second OCR or a
/// synthesis on two cores, a page took 9 s instead of 1. OpenMP reads its limit once, when the
/// library loads at process start, so setting it later is too late: a worker started without it
/// starts itself again with `OMP_THREAD_LIMIT=1`.
enum OpenMPSetting {
    static let variable = "OMP_THREAD_LIMIT"

    static func ensureOneThreadPerEngine() {
        guard ProcessInfo.processInfo.environment[variable] == nil else { return }
        setenv(variable, "1", 1)
        let arguments = CommandLine.arguments
        var pointers = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &pointers)
        // exec failed (no /proc?): run on, with a slower OCR.
        FileHandle.standardError.write(Data("warning: could not restart with \(variable)=1; OCR will be slower\n".utf8))
    }
}
