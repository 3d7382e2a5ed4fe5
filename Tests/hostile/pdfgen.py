"""A small PDF writer for the hostile-input suite, and the hand-made hostile PDFs built with it.

Every function returns bytes. Nothing here talks to the network. Pages are kept small (a few
hundred points) so a page that goes to OCR renders to a small image, and texts are a sentence or
two so accepted books cost the workers little synthesis.
"""

import re
import zlib

WORDS = (
    "the a quiet river morning light stone garden reader page book window small green old road "
    "letter city evening bright story paper voice clock table house friend winter summer bird "
    "slowly gently often never always sings reads walks opens carries finds keeps writes"
).split()


def sentence(rng, words=None):
    n = words or rng.randint(4, 9)
    text = " ".join(rng.choice(WORDS) for _ in range(n))
    return text[0].upper() + text[1:] + "."


def pdf_string(text):
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


class PDF:
    """Objects numbered from 1; `build` writes header, objects, xref and trailer."""

    def __init__(self, version=b"1.4"):
        self.version = version
        self.objects = {}
        self.next_number = 1

    def reserve(self):
        number = self.next_number
        self.next_number += 1
        return number

    def add(self, body, number=None):
        if isinstance(body, str):
            body = body.encode("latin-1")
        if number is None:
            number = self.reserve()
        self.objects[number] = body
        return number

    @staticmethod
    def stream(entries, data, length=None):
        """A stream object body; `length` overrides the real /Length (a lie, on purpose)."""
        if isinstance(entries, str):
            entries = entries.encode("latin-1")
        if isinstance(data, str):
            data = data.encode("latin-1")
        declared = str(len(data)).encode() if length is None else str(length).encode()
        return b"<< " + entries + b" /Length " + declared + b" >>\nstream\n" + data + b"\nendstream"

    def build(self, root, trailer_extra=b"", xref=True, size=None):
        out = bytearray(b"%PDF-" + self.version + b"\n%\xe2\xe3\xcf\xd3\n")
        offsets = {}
        for number in sorted(self.objects):
            offsets[number] = len(out)
            out += b"%d 0 obj\n" % number + self.objects[number] + b"\nendobj\n"
        start = len(out)
        count = max(self.objects) + 1 if self.objects else 1
        if xref:
            out += b"xref\n0 %d\n0000000000 65535 f \n" % count
            for number in range(1, count):
                if number in offsets:
                    out += b"%010d 00000 n \n" % offsets[number]
                else:
                    out += b"0000000000 65535 f \n"
        out += b"trailer\n<< /Size %s /Root %d 0 R " % (str(size or count).encode(), root) + trailer_extra + b">>\n"
        out += b"startxref\n%d\n%%%%EOF\n" % start
        return bytes(out)


def text_content(lines, x=12, y=None, size=11):
    y = y if y is not None else 20 + 14 * len(lines)
    ops = ["BT", "/F1 %d Tf" % size, "%d %d Td" % (x, y), "14 TL"]
    for line in lines:
        ops.append(pdf_string(line) + " Tj T*")
    ops.append("ET")
    return "\n".join(ops)


def document(pages, mediabox="0 0 300 120", page_extra="", pages_extra="", count=None, catalog_extra="",
             version=b"1.4", trailer_extra=b"", resources_extra=""):
    """`pages` is a list of content strings (or None for a page without /Contents)."""
    pdf = PDF(version)
    catalog = pdf.reserve()
    tree = pdf.reserve()
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for content in pages:
        page = pdf.reserve()
        kids.append(page)
        contents = ""
        if content is not None:
            contents = " /Contents %d 0 R" % pdf.add(PDF.stream("", content))
        pdf.add(
            "<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Resources << /Font << /F1 %d 0 R >> %s >>%s %s >>"
            % (tree, mediabox, font, resources_extra, contents, page_extra),
            page,
        )
    pdf.add(
        "<< /Type /Pages /Kids [%s] /Count %s %s >>"
        % (" ".join("%d 0 R" % k for k in kids), count if count is not None else len(kids), pages_extra),
        tree,
    )
    pdf.add("<< /Type /Catalog /Pages %d 0 R %s >>" % (tree, catalog_extra), catalog)
    return pdf.build(catalog, trailer_extra=trailer_extra)


def small_text_pdf(rng, pages=None, mediabox=None):
    """The mutation base: 1–2 small pages, a sentence or two each."""
    pages = pages or rng.choice((1, 1, 1, 2))
    mediabox = mediabox or rng.choice(("0 0 300 120", "0 0 240 100", "0 0 320 160"))
    contents = [text_content([sentence(rng) for _ in range(rng.randint(1, 2))]) for _ in range(pages)]
    return document(contents, mediabox=mediabox)


def many_pages(n, mediabox="0 0 20 20"):
    """n tiny empty pages (a small file with n page objects)."""
    pdf = PDF()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for _ in range(n):  # no contents: if such a book is (wrongly) accepted, its blank pages cost little
        page = pdf.reserve()
        kids.append(page)
        pdf.add("<< /Type /Page /Parent %d 0 R >>" % tree, page)
    pdf.add(
        "<< /Type /Pages /Kids [%s] /Count %d /MediaBox [%s] /Resources << /Font << /F1 %d 0 R >> >> >>"
        % (" ".join("%d 0 R" % k for k in kids), n, mediabox, font),
        tree,
    )
    pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % tree, catalog)
    return pdf.build(catalog)


def image_page(filter_spec, data, width=64, height=64, extra="", mediabox="0 0 100 100", bpc=8, cs="/DeviceGray"):
    """One page, no text, drawing one image XObject: it goes to OCR, so the image gets decoded."""
    pdf = PDF()
    catalog = pdf.reserve()
    tree = pdf.reserve()
    image = pdf.add(
        PDF.stream(
            "/Type /XObject /Subtype /Image /Width %s /Height %s /ColorSpace %s /BitsPerComponent %s %s %s"
            % (width, height, cs, bpc, ("/Filter " + filter_spec) if filter_spec else "", extra),
            data,
        )
    )
    content = pdf.add(PDF.stream("", "q 90 0 0 90 5 5 cm /Im1 Do Q"))
    page = pdf.add(
        "<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Contents %d 0 R /Resources << /XObject << /Im1 %d 0 R >> >> >>"
        % (tree, mediabox, content, image)
    )
    pdf.add("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page, tree)
    pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % tree, catalog)
    return pdf.build(catalog)


def deep_tree(depth, rng):
    pdf = PDF()
    catalog = pdf.reserve()
    nodes = [pdf.reserve() for _ in range(depth)]
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    content = pdf.add(PDF.stream("", text_content([sentence(rng)])))
    page = pdf.reserve()
    for i, node in enumerate(nodes):
        parent = " /Parent %d 0 R" % nodes[i - 1] if i else ""
        kid = nodes[i + 1] if i + 1 < depth else page
        pdf.add("<< /Type /Pages /Kids [%d 0 R] /Count 1%s >>" % (kid, parent), node)
    pdf.add(
        "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 300 120] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>"
        % (nodes[-1], content, font),
        page,
    )
    pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % nodes[0], catalog)
    return pdf.build(catalog)


def cyclic_tree(kind, rng):
    pdf = PDF()
    catalog, a, b = pdf.reserve(), pdf.reserve(), pdf.reserve()
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    content = pdf.add(PDF.stream("", text_content([sentence(rng)])))
    page = pdf.add(
        "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 300 120] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>"
        % (a, content, font)
    )
    if kind == "self":
        pdf.add("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>" % (page, a), a)
        pdf.add("null", b)
    elif kind == "pair":
        pdf.add("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 3 >>" % (page, b), a)
        pdf.add("<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 2 >>" % (a, a), b)
    elif kind == "page-kids":  # a page that claims kids pointing back at the root
        pdf.add("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>" % (page, b), a)
        pdf.add("<< /Type /Page /Parent %d 0 R /Kids [%d 0 R] /MediaBox [0 0 50 50] >>" % (a, a), b)
    else:  # the catalog is its own page tree
        pdf.add("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>" % (page, catalog), a)
        pdf.add("null", b)
    pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % a, catalog)
    return pdf.build(catalog)


def flate_bomb(megabytes):
    compressor = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    out = b"BT /F1 11 Tf 12 40 Td (Bomb page.) Tj ET\n"
    data = compressor.compress(out)
    for _ in range(megabytes):
        data += compressor.compress(chunk)
    return data + compressor.flush()


HUGE = "9" * 400


def hand_made(rng):
    """(name, bytes, expectation). Expectations: 'accept' (must be 200), 'any' (any contract
    answer), or a tuple of allowed (status, code) pairs for a refusal. The `danger` flag marks cases
    that crashed today's coordinator, uploaded last so the rest of the run sees a healthy cluster."""
    cases = []
    text = lambda: [text_content([sentence(rng)])]  # noqa: E731

    def add(name, data, expect="any", danger=False):
        cases.append((name, data, expect, danger))

    # MediaBoxes: huge, inverted, degenerate, non-numeric, wrong shape.
    boxes = {
        "huge": "0 0 1e23 1e23", "inverted": "0 0 -5 -5", "flipped-huge": "1e23 1e23 0 0", "zero": "0 0 0 0",
        "nan": "0 0 nan nan", "dbl-max": "0 0 1.7976931348623157e308 1.7976931348623157e308",
        "400-digits": "0 0 %s %s" % (HUGE, HUGE), "neg-huge": "-1e23 -1e23 1e23 1e23", "three": "0 0 300",
        "int-overflow": "0 0 9223372036854775808 9223372036854775808", "tall": "0 0 10 200000",
        "big-legit": "0 0 14400 14400", "minus-400": "0 0 -%s 100" % HUGE, "tiny": "0 0 0.0001 0.0001",
    }
    for name, box in boxes.items():
        add("mediabox-%s-text" % name, document(text(), mediabox=box))
        add("mediabox-%s-notext" % name, document([None], mediabox=box), danger=True)
    add("mediabox-not-array", document(text(), mediabox="0 0 1 1] /MediaBox (abc) /X [0"))
    add("mediabox-huge-inherited-notext", document([None], mediabox="0 0 1 1", pages_extra="/MediaBox [0 0 1e23 1e23]",
                                                  page_extra="/MediaBox null"), danger=True)
    add("cropbox-huge-notext", document([None], page_extra="/CropBox [0 0 1e23 1e23]"), danger=True)
    add("userunit-huge-notext", document([None], page_extra="/UserUnit 1e20"), danger=True)
    # /Rotate odd values.
    for value in ("45", "91", "-90", "270", "360000000000", "1e30", "-1", "(ninety)", "null", HUGE, "[90]"):
        add("rotate-%s" % value[:12], document(text(), page_extra="/Rotate %s" % value))
    add("rotate-45-notext", document([None], page_extra="/Rotate 45"))
    # Page counts.
    add("count-1000000", document(text(), count="1000000"))
    add("count-negative", document(text(), count="-1"))
    add("count-400-digits", document(text(), count=HUGE))
    add("count-zero-with-kid", document(text(), count="0"))
    add("count-nan", document(text(), count="nan"))
    add("no-pages", document([], count="0"), expect=((422, "pdf_no_pages"), (422, "pdf_damaged")))
    add("pages-6000", many_pages(6000), expect=((422, "too_many_pages"),))
    add("pages-5001", many_pages(5001), expect=((422, "too_many_pages"),))
    # Page trees.
    for kind in ("self", "pair", "page-kids", "catalog"):
        add("cyclic-tree-%s" % kind, cyclic_tree(kind, rng))
    add("deep-tree-300", deep_tree(300, rng))
    add("deep-tree-5000", deep_tree(5000, rng))
    # Streams with lying lengths and bombs.
    for length in ("99999999999", "-1", "1e30", HUGE, "0", "2147483648"):
        pdf = PDF()
        cat, tree = pdf.reserve(), pdf.reserve()
        font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        content = pdf.add(PDF.stream("", text_content([sentence(rng)]), length=length))
        page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 300 120] /Contents %d 0 R "
                       "/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, content, font))
        pdf.add("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page, tree)
        pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % tree, cat)
        add("stream-length-%s" % length[:12], pdf.build(cat))
    bomb = flate_bomb(48)
    pdf = PDF()
    cat, tree = pdf.reserve(), pdf.reserve()
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    content = pdf.add(PDF.stream("/Filter /FlateDecode", bomb))
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 300 120] /Contents %d 0 R "
                   "/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, content, font))
    pdf.add("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page, tree)
    pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % tree, cat)
    add("flate-bomb-48MiB", pdf.build(cat))
    add("flate-junk", document(text(), page_extra="/Contents 99 0 R") + b"99 0 obj\n<< /Filter /FlateDecode /Length 20 >>\nstream\n" + bytes(rng.randrange(256) for _ in range(20)) + b"\nendstream\nendobj\n")
    add("unclosed-stream", document(text())[:-60] + b"stream\n" + b"x" * 5000)
    # Images with filters poppler rarely sees (no text: they go to OCR and get rendered).
    junk = bytes(rng.randrange(256) for _ in range(4096))
    add("image-jbig2-junk", image_page("/JBIG2Decode", junk))
    add("image-jbig2-globals-junk", image_page("/JBIG2Decode", junk[:512], extra="/DecodeParms << /JBIG2Globals 99 0 R >>", bpc=1))
    add("image-jpx-junk", image_page("/JPXDecode", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + junk))
    add("image-jpx-huge-dims", image_page("/JPXDecode", junk, width=1000000, height=1000000))
    add("image-ccitt-junk", image_page("/CCITTFaxDecode", junk, bpc=1, extra="/DecodeParms << /K -1 /Columns 64 /Rows 64 >>"))
    add("image-ccitt-huge-columns", image_page("/CCITTFaxDecode", junk, width=100000, height=100000, bpc=1,
                                               extra="/DecodeParms << /K 1 /Columns 100000 /Rows 100000 >>"))
    add("image-dct-junk", image_page("/DCTDecode", junk, cs="/DeviceRGB"))
    add("image-dct-header-junk", image_page("/DCTDecode", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + junk, cs="/DeviceRGB"))
    add("image-dct-huge-sof", image_page("/DCTDecode", b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03" + junk[:200], cs="/DeviceRGB"))
    add("image-filter-chain", image_page("[/FlateDecode /DCTDecode /JBIG2Decode]", zlib.compress(junk)))
    add("image-unknown-filter", image_page("/NoSuchDecode", junk))
    add("image-huge-dims-raw", image_page("", junk, width=HUGE, height=HUGE))
    add("image-negative-dims", image_page("", junk, width=-64, height=-64))
    add("image-bpc-33", image_page("", junk, bpc=33))
    add("image-bpc-0", image_page("", junk, bpc=0))
    add("image-indexed-junk", image_page("", junk, cs="[/Indexed /DeviceRGB 300 <00ff>]"))
    add("image-huge-notext-box", image_page("/DCTDecode", junk, mediabox="0 0 1e23 1e23"), danger=True)
    # A page without text that has something to read: real OCR (kept to one).
    add("drawn-no-text", document(["0 0 0 rg 10 10 80 30 re f 120 10 40 80 re f"]))
    add("blank-no-text", document([None]))
    # Form XObject drawing itself (recursion while rendering for OCR).
    pdf = PDF()
    cat, tree, form = pdf.reserve(), pdf.reserve(), pdf.reserve()
    pdf.add(PDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /Fm %d 0 R >> >>" % form,
                       "0 0 0 rg 1 1 5 5 re f /Fm Do"), form)
    content = pdf.add(PDF.stream("", "/Fm Do"))
    page = pdf.add("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 100 100] /Contents %d 0 R "
                   "/Resources << /XObject << /Fm %d 0 R >> >> >>" % (tree, content, form))
    pdf.add("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page, tree)
    pdf.add("<< /Type /Catalog /Pages %d 0 R >>" % tree, cat)
    add("form-xobject-recursion", pdf.build(cat))
    # Contents that point at odd things.
    add("contents-self", document([None], page_extra="/Contents 4 0 R"))
    add("contents-10000-refs", document(text(), page_extra="/Contents [%s]" % " ".join(["5 0 R"] * 10000)))
    add("nesting-arrays", document(text(), page_extra="/Junk " + "[" * 20000 + "]" * 20000))
    add("nesting-dicts", document(text(), page_extra="/Junk " + "<< /A " * 5000 + ">> " * 5000))
    add("nesting-unclosed", document(text(), page_extra="/Junk " + "[" * 100000))
    # Cross-reference and trailer damage.
    good = document(text())
    add("xref-offsets-past-eof", re.sub(rb"\d{10} 00000 n", b"9999999999 00000 n", good))
    add("xref-size-max", document(text(), trailer_extra=b"/Size 2147483647 "))
    add("xref-prev-self", good.replace(b"trailer\n<<", b"trailer\n<< /Prev %d" % good.rindex(b"xref")))
    add("no-xref-no-trailer", good[: good.rindex(b"xref")])
    add("startxref-negative", good.replace(b"startxref\n%d" % good.rindex(b"xref"), b"startxref\n-5"))
    add("objstm-junk", document(text()) + b"50 0 obj\n<< /Type /ObjStm /N 1000000 /First 9999999 /Length 10 >>\nstream\n0123456789\nendstream\nendobj\n")
    add("outlines-cyclic", document(text(), catalog_extra="/Outlines 90 0 R")
        + b"90 0 obj\n<< /Type /Outlines /First 90 0 R /Last 90 0 R /Next 90 0 R /Count 99999999 >>\nendobj\n")
    add("names-deep", document(text(), catalog_extra="/Names << /Dests << /Kids [ %s ] >> >>" % " ".join(["<< /Kids [ ] >>"] * 2000)))
    add("font-junk-truetype", document(text(), resources_extra="/Font << /F1 << /Type /Font /Subtype /TrueType /BaseFont /X "
                                                               "/FontDescriptor << /FontFile2 << /Length 5 >> >> >> >>"))
    add("tounicode-junk", document(text(), resources_extra="/Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                                                           "/ToUnicode << /Length 3 >> >> >>"))
    add("type3-font-recursion", document(["BT /T3 12 Tf 10 40 Td (a) Tj ET"],
                                         resources_extra="/Font << /T3 << /Type /Font /Subtype /Type3 /FontBBox [0 0 1 1] "
                                                         "/FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /a 5 0 R >> "
                                                         "/Encoding << /Differences [97 /a] >> /FirstChar 97 /LastChar 97 /Widths [1000] >> >>"))
    # Header and size oddities.
    add("header-at-1000", b"%" + b"x" * 998 + b"\n" + good)
    add("header-at-2000", b"%" + b"x" * 1998 + b"\n" + good, expect=((415, "not_a_pdf"), (422, "pdf_damaged")))
    add("header-only", b"%PDF-1.7\n", expect=((422, "pdf_damaged"), (422, "pdf_no_pages")))
    add("header-version-junk", good.replace(b"%PDF-1.4", b"%PDF-9999999999999999999.9", 1))
    add("empty-file", b"", expect=((400, "missing_file"), (400, "bad_request")))
    add("not-a-pdf", b"hello, this is plain text and not a PDF at all\n" * 40, expect=((415, "not_a_pdf"),))
    add("nul-bytes", b"\0" * 4096, expect=((415, "not_a_pdf"),))
    add("text-unicode-junk", document([text_content(["\xff\xfe\x00\x01 ((( \\\\ )))"])]))
    add("long-text-line", document([text_content(["word " * 60])]))
    add("many-small-objects", document(text()) + b"".join(b"%d 0 obj\n[%d]\nendobj\n" % (1000 + i, i) for i in range(20000)))
    add("encrypt-dict-junk", document(text(), trailer_extra=b"/Encrypt << /Filter /Standard /V 99 /R 99 /O <00> /U <00> /P -1 >> /ID [<00><00>] "),
        expect=((422, "pdf_encrypted"), (422, "pdf_damaged"), "accept"))
    return cases
