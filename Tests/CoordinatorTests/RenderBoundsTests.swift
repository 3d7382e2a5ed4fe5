import Foundation
import Testing

@testable import Coordinator

/// Page boxes come from the PDF: every one must give a bounded image or a clear refusal, never a
/// trap in a conversion or an allocation of the box's size.
@Suite struct RenderBoundsTests {
    @Test func ordinaryPagesRenderAt300Dpi() throws {
        let size = try #require(PDFTextDocument.renderSize(widthPoints: 612, heightPoints: 792, dpi: 300))
        #expect(size.width == 2550 && size.height == 3300)
    }

    @Test func hugePagesRenderSmallerInsteadOfFailing() throws {
        for (width, height) in [(9000.0 * 72 / 300, 9000.0 * 72 / 300), (14_400, 14_400), (200_000, 50), (1e6, 1e6)] {
            let size = try #require(PDFTextDocument.renderSize(widthPoints: width, heightPoints: height, dpi: 300))
            #expect(size.width * size.height <= PDFTextDocument.maxRenderPixels, "\(width)×\(height)")
            #expect(size.width <= 32_767 && size.height <= 32_767)
            #expect(size.width >= 1 && size.height >= 1)
        }
    }

    @Test func absurdBoxesAreRefused() {
        for (width, height) in [
            (1e23, 1e23), (-5, -5), (0, 612), (.nan, 100), (.infinity, 100), (100, -.infinity), (0.001, 0.001),
        ] {
            #expect(
                PDFTextDocument.renderSize(widthPoints: width, heightPoints: height, dpi: 300) == nil,
                "\(width)×\(height)")
        }
    }
}
