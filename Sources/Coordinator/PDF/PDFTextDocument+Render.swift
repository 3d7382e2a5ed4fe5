import CPoppler
import Foundation

/// A page drawn as 8-bit grey pixels and stored as PNG, for OCR on a worker.
public struct PageImage: Sendable, Equatable {
    public var png: Data
    public var width: Int
    public var height: Int
    /// No pixel darker than light grey: nothing for OCR to find.
    public var isBlank: Bool
}

extension PDFTextDocument {
    /// Renders page `number` at `dpi` (Tesseract reads best at about 300) onto white, then keeps
    /// the luminance only: an 8-bit grey PNG is a quarter of a colour one, and it crosses the
    /// network with the job.
    public func render(page number: Int, dpi: Double = 300) throws(PDFError) -> PageImage {
        guard (1...pageCount).contains(number), let index = popplerIndex[number - 1] else {
            throw .pageUnreadable(number)
        }
        let image: PageImage? = handles.withLock { handles in
            guard let page = poppler_document_get_page(handles.document, index) else { return nil }
            defer { g_object_unref(UnsafeMutableRawPointer(page)) }
            var widthPoints = 0.0
            var heightPoints = 0.0
            poppler_page_get_size(page, &widthPoints, &heightPoints)
            let scale = dpi / 72
            let width = max(1, Int((widthPoints * scale).rounded()))
            let height = max(1, Int((heightPoints * scale).rounded()))
            // Bounded so a page with an absurd MediaBox cannot take the coordinator's memory.
            guard width * height <= 40_000_000 else { return nil }

            guard let colour = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else {
                return nil
            }
            defer { cairo_surface_destroy(colour) }
            let context = cairo_create(colour)
            cairo_set_source_rgb(context, 1, 1, 1)
            cairo_paint(context)
            cairo_scale(context, scale, scale)
            poppler_page_render(page, context)
            cairo_destroy(context)
            cairo_surface_flush(colour)
            return Self.greyPNG(from: colour, width: width, height: height)
        }
        guard let image else { throw .pageUnreadable(number) }
        return image
    }

    /// RGB24 → A8 holding luminance (cairo writes an A8 surface as a greyscale PNG).
    private static func greyPNG(from colour: OpaquePointer, width: Int, height: Int) -> PageImage? {
        guard let grey = cairo_image_surface_create(CAIRO_FORMAT_A8, Int32(width), Int32(height)) else {
            return nil
        }
        defer { cairo_surface_destroy(grey) }
        cairo_surface_flush(grey)
        let sourceStride = Int(cairo_image_surface_get_stride(colour))
        let targetStride = Int(cairo_image_surface_get_stride(grey))
        guard let source = cairo_image_surface_get_data(colour), let target = cairo_image_surface_get_data(grey)
        else { return nil }
        var darkest: UInt8 = 255
        for y in 0..<height {
            let row = UnsafeRawPointer(source + y * sourceStride).assumingMemoryBound(to: UInt32.self)
            let out = target + y * targetStride
            for x in 0..<width {
                let pixel = row[x]
                let red = (pixel >> 16) & 0xFF
                let green = (pixel >> 8) & 0xFF
                let blue = pixel & 0xFF
                let luma = UInt8((red * 77 + green * 150 + blue * 29) >> 8)
                out[x] = luma
                darkest = min(darkest, luma)
            }
        }
        cairo_surface_mark_dirty(grey)
        let sink = PNGSink()
        let status = withExtendedLifetime(sink) {
            cairo_surface_write_to_png_stream(grey, appendPNGBytes, Unmanaged.passUnretained(sink).toOpaque())
        }
        guard status == CAIRO_STATUS_SUCCESS else { return nil }
        return PageImage(png: sink.data, width: width, height: height, isBlank: darkest > 200)
    }
}

/// Collects what cairo writes; only touched by the thread writing the PNG.
private final class PNGSink {
    var data = Data()
}

private func appendPNGBytes(
    _ closure: UnsafeMutableRawPointer?, _ bytes: UnsafePointer<UInt8>?, _ length: UInt32
) -> cairo_status_t {
    guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
    Unmanaged<PNGSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
    return CAIRO_STATUS_SUCCESS
}
