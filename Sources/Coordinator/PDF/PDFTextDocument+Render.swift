import CPoppler
import Foundation

/// A page drawn as 8-bit grey pixels and stored as PNG, for OCR on a worker.
public struct PageImage: Sendable, Equatable {
    public var png: Data
    public var width: Int
    public var height: Int
    /// No pixel darker than light grey: nothing for OCR to find.
    public var isBlank: Bool

    public init(png: Data, width: Int, height: Int, isBlank: Bool) {
        self.png = png
        self.width = width
        self.height = height
        self.isBlank = isBlank
    }
}

extension PDFTextDocument {
    /// Renders page `number` at `dpi` (Tesseract reads best at about 300) onto white, then keeps
    /// the luminance only: an 8-bit grey PNG is a quarter of a colour one, and it crosses the
    /// network with the job.
    /// Never more pixels than this (a 300 dpi A3 page is 17.4 M); a larger page is drawn at a
    /// lower resolution instead of refused.
    public static let maxRenderPixels = 40_000_000
    /// Cairo's limit for one side.
    static let maxRenderSide = 32_767
    /// A page box beyond this many points on a side (PDF 1.7's own limit is 14 400) is nonsense.
    static let maxPagePoints = 1_000_000.0

    /// The pixel size and scale to draw a `width`×`height`-point page at `dpi`, lowered as needed to
    /// stay within the pixel and side limits; nil for a box that is not a finite positive size.
    static func renderSize(widthPoints: Double, heightPoints: Double, dpi: Double)
        -> (width: Int, height: Int, scale: Double)?
    {
        guard widthPoints.isFinite, heightPoints.isFinite, dpi.isFinite, dpi > 0,
            widthPoints >= 1, heightPoints >= 1, widthPoints <= maxPagePoints, heightPoints <= maxPagePoints
        else { return nil }
        var scale = dpi / 72
        let area = widthPoints * heightPoints * scale * scale
        if area > Double(maxRenderPixels) { scale *= (Double(maxRenderPixels) / area).squareRoot() }
        scale = min(scale, Double(maxRenderSide) / widthPoints, Double(maxRenderSide) / heightPoints)
        var width = (widthPoints * scale).rounded()
        var height = (heightPoints * scale).rounded()
        if width * height > Double(maxRenderPixels) {
            width = (widthPoints * scale).rounded(.down)
            height = (heightPoints * scale).rounded(.down)
        }
        width = min(width, Double(maxRenderSide))
        height = min(height, Double(maxRenderSide))
        guard width >= 1, height >= 1, width * height <= Double(maxRenderPixels) else { return nil }
        return (Int(width), Int(height), scale)
    }

    public func render(page number: Int, dpi: Double = 300) throws(PDFError) -> PageImage {
        guard (1...pageCount).contains(number), let index = popplerIndex[number - 1] else {
            throw .pageUnreadable(number)
        }
        var badBox = false
        let image: PageImage? = handles.withLock { handles in
            guard let page = poppler_document_get_page(handles.document, index) else { return nil }
            defer { g_object_unref(UnsafeMutableRawPointer(page)) }
            var widthPoints = 0.0
            var heightPoints = 0.0
            poppler_page_get_size(page, &widthPoints, &heightPoints)
            // Every number here came from the PDF: checked before any conversion or allocation.
            guard let size = Self.renderSize(widthPoints: widthPoints, heightPoints: heightPoints, dpi: dpi) else {
                badBox = true
                return nil
            }
            let (width, height, scale) = size

            guard let colour = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
                cairo_surface_status(colour) == CAIRO_STATUS_SUCCESS
            else {
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
        if badBox { throw .badPageBox(number) }
        guard let image else { throw .pageUnreadable(number) }
        return image
    }

    /// RGB24 → A8 holding luminance (cairo writes an A8 surface as a greyscale PNG).
    private static func greyPNG(from colour: OpaquePointer, width: Int, height: Int) -> PageImage? {
        guard let grey = cairo_image_surface_create(CAIRO_FORMAT_A8, Int32(width), Int32(height)),
            cairo_surface_status(grey) == CAIRO_STATUS_SUCCESS
        else {
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
