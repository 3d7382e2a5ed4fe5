#!/usr/bin/env python3
"""Generate the scanned / tricky PDFs used by Lector's OCR and language tests.

Usage:  python3 make_scans.py OUTDIR

Uses only the Python standard library plus `pdftoppm` (poppler-utils). The
source scan is ../Fixtures/scanned-2p.pdf (next to this script): two image-only
A4 pages of English text, each one 1240x1754 8-bit grey image at 150 dpi.
Every output is deterministic (fixed random seeds, no timestamps).

Files written:

  rotated-scan.pdf   4 image-only pages made from page 1 of scanned-2p.pdf at
                     150 dpi: upright, turned 90, 180 and 270 degrees clockwise
                     in the pixels (page boxes follow the image, so pages 2 and
                     4 are landscape). No /Rotate keys. Tests orientation
                     detection: the pipeline must find and undo each rotation
                     before OCR.

  rotate-key.pdf     1 landscape page whose image was turned 90 degrees
                     clockwise, with /Rotate 270 on the page, so a viewer that
                     honours /Rotate shows it upright. Tests that the renderer
                     applies /Rotate (and that orientation detection then sees
                     an upright page rather than "fixing" it twice).

  european.pdf       3 text-layer pages (Helvetica, WinAnsiEncoding): French,
                     German, Spanish prose full of accented letters. Tests
                     language identification on an extracted text layer and
                     correct decoding of non-ASCII WinAnsi text.

  european-scan.pdf  Pages 1 and 2 of european.pdf (French, German) rendered at
                     200 dpi as image-only pages. Tests language identification
                     on OCR output (choosing fra / deu rather than eng).

  noise-scan.pdf     1 A4 page at 150 dpi of seeded, photo-like random grey
                     blotches with fine grain. Not blank, but holds no text:
                     tests that the service refuses to voice OCR garbage.

  huge-image.pdf     1 page (2160x2160 pt) holding ONE 9000x9000 px grey image
                     at 300 dpi: page 1 of scanned-2p.pdf scaled to 9000 px
                     high, pasted at the left of a white canvas. Tests that the
                     pipeline lowers the render resolution for a huge page
                     instead of allocating a giant bitmap.
"""

import os
import random
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "Fixtures"))
SOURCE_SCAN = os.path.join(FIXTURES, "scanned-2p.pdf")

_TMP_DIR = None  # set in main(): a scratch directory inside OUTDIR


# --------------------------------------------------------------------------
# Rendering with pdftoppm
# --------------------------------------------------------------------------

def parse_pgm(data):
    """Parse a binary 8-bit PGM (P5). Returns (width, height, pixel bytes)."""
    if data[:2] != b"P5":
        raise ValueError("not a binary PGM (P5) file")
    fields = []
    pos = 2
    n = len(data)
    while len(fields) < 3:
        # skip whitespace and comments
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        if pos < n and data[pos] == ord("#"):
            while pos < n and data[pos] not in b"\r\n":
                pos += 1
            continue
        start = pos
        while pos < n and data[pos] not in b" \t\r\n#":
            pos += 1
        if start == pos:
            raise ValueError("truncated PGM header")
        fields.append(int(data[start:pos]))
    pos += 1  # exactly one whitespace byte after maxval
    w, h, maxval = fields
    if maxval != 255:
        raise ValueError("unsupported PGM maxval %d" % maxval)
    px = data[pos:pos + w * h]
    if len(px) != w * h:
        raise ValueError("truncated PGM pixel data")
    return w, h, px


def _pdftoppm(pdf, page, args):
    out_base = os.path.join(_TMP_DIR, "render")
    cmd = (["pdftoppm", "-gray"] + list(args) +
           ["-f", str(page), "-l", str(page), "-singlefile", pdf, out_base])
    subprocess.run(cmd, check=True)
    path = out_base + ".pgm"
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return parse_pgm(data)


def render(pdf, page, dpi):
    """Render one page (1-based) as 8-bit grey at `dpi`. -> (w, h, bytes)."""
    return _pdftoppm(pdf, page, ["-r", str(dpi)])


def render_to_height(pdf, page, height):
    """Render one page scaled to `height` px, aspect ratio kept."""
    return _pdftoppm(pdf, page, ["-scale-to-y", str(height),
                                 "-scale-to-x", "-1"])


# --------------------------------------------------------------------------
# Pixel operations (bytes slicing, no per-pixel Python loops)
# --------------------------------------------------------------------------

def rotate(w, h, px, degrees):
    """Rotate 8-bit grey pixels clockwise. -> (new_w, new_h, bytes)."""
    degrees %= 360
    px = bytes(px)
    if degrees == 0:
        return w, h, px
    if degrees == 180:
        return w, h, px[::-1]
    if degrees == 90:
        # new row y = old column y read bottom to top
        rows = [px[x::w][::-1] for x in range(w)]
        return h, w, b"".join(rows)
    if degrees == 270:
        # new row y = old column (w-1-y) read top to bottom
        rows = [px[x::w] for x in range(w - 1, -1, -1)]
        return h, w, b"".join(rows)
    raise ValueError("rotation must be a multiple of 90 degrees")


def crop(w, h, px, new_w, new_h):
    """Keep the top-left new_w x new_h pixels."""
    if new_w == w:
        return new_w, new_h, px[:new_w * new_h]
    return new_w, new_h, b"".join(px[y * w:y * w + new_w]
                                  for y in range(new_h))


def pad_right(w, h, px, new_w, fill=0xFF):
    """Paste the image at the left of a wider canvas (same height)."""
    pad = bytes([fill]) * (new_w - w)
    return b"".join(px[y * w:(y + 1) * w] + pad for y in range(h))


def pad_bottom(w, h, px, new_h, fill=0xFF):
    return px + bytes([fill]) * (w * (new_h - h))


# --------------------------------------------------------------------------
# Minimal PDF writer
# --------------------------------------------------------------------------

def _num(x):
    """Format a PDF number: integers plain, otherwise up to 4 decimals."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    s = ("%.4f" % x).rstrip("0").rstrip(".")
    return s


def _stream_obj(dict_body, data):
    return (b"<< " + dict_body + b" /Length " + str(len(data)).encode() +
            b" >>\nstream\n" + data + b"\nendstream")


def write_pdf(path, objects):
    """objects: list of bytes, object i+1 = objects[i]; object 1 is /Catalog."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1)
        out += body
        out += b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, xref))
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


def image_pdf(path, pages, level=6):
    """pages: list of (w, h, px, dpi) or (w, h, px, dpi, rotate)."""
    objects = [None, None]  # 1: Catalog, 2: Pages
    kids = []
    for page in pages:
        w, h, px, dpi = page[:4]
        rot = page[4] if len(page) > 4 else None
        if len(px) != w * h:
            raise ValueError("pixel buffer is %d bytes, expected %d"
                             % (len(px), w * h))
        pw = w * 72.0 / dpi
        ph = h * 72.0 / dpi
        page_no = len(objects) + 1
        content_no = page_no + 1
        image_no = page_no + 2
        kids.append(page_no)
        page_dict = ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] "
                     "/Resources << /XObject << /Im0 %d 0 R >> >> "
                     "/Contents %d 0 R" % (_num(pw), _num(ph), image_no,
                                           content_no))
        if rot is not None:
            page_dict += " /Rotate %d" % rot
        page_dict += " >>"
        content = ("q %s 0 0 %s 0 0 cm /Im0 Do Q" % (_num(pw), _num(ph))).encode()
        image = zlib.compress(bytes(px), level)
        objects.append(page_dict.encode())
        objects.append(_stream_obj(b"", content))
        objects.append(_stream_obj(
            b"/Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode"
            % (w, h), image))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = ("<< /Type /Pages /Kids [%s] /Count %d >>" % (
        " ".join("%d 0 R" % k for k in kids), len(kids))).encode()
    return write_pdf(path, objects)


def _pdf_string(line):
    raw = line.encode("cp1252")
    raw = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + raw + b")"


def text_pdf(path, pages):
    """pages: list of pages, each a list of text lines (str, cp1252-encodable).
    A4, Helvetica 12 pt (base-14, WinAnsiEncoding), leading 16, left margin 60."""
    font_no = 3
    objects = [None, None,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>"]
    kids = []
    for lines in pages:
        page_no = len(objects) + 1
        content_no = page_no + 1
        kids.append(page_no)
        ops = [b"BT", b"/F1 12 Tf", b"16 TL", b"60 780 Td"]
        for i, line in enumerate(lines):
            ops.append(_pdf_string(line) + (b" Tj" if i == 0 else b" '"))
        ops.append(b"ET")
        content = zlib.compress(b"\n".join(ops) + b"\n", 9)
        objects.append((
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            "/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (font_no, content_no)).encode())
        objects.append(_stream_obj(b"/Filter /FlateDecode", content))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = ("<< /Type /Pages /Kids [%s] /Count %d >>" % (
        " ".join("%d 0 R" % k for k in kids), len(kids))).encode()
    return write_pdf(path, objects)


def wrap(text, width=80):
    """Greedy word wrap (no hyphenation)."""
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = word if not cur else cur + " " + word
    if cur:
        lines.append(cur)
    return lines


# --------------------------------------------------------------------------
# Original prose (written for these fixtures)
# --------------------------------------------------------------------------

FRENCH = (
    "Le matin où Hélène quitta le village, la brume couvrait encore les prés "
    "et l'église sonnait sept heures. Elle avait préparé son sac la veille : "
    "un pull de laine, deux pommes, un carnet à la couverture bleue et la "
    "lettre de sa tante, qu'elle relisait sans cesse. Sur la route de la gare, "
    "elle croisa le boulanger qui déchargeait ses paniers de pain chaud. "
    "« Tu pars déjà ? » lui demanda-t-il, très surpris. Elle répondit qu'elle "
    "allait à Lyon pour apprendre le métier d'horlogère, et qu'elle "
    "reviendrait à Noël si tout se passait bien. Le train arriva avec un léger "
    "retard. Hélène s'assit près de la fenêtre, à côté d'un vieux monsieur "
    "qui lisait un journal plié en quatre. Les champs défilaient, puis les "
    "forêts, puis les premières usines aux cheminées grises. Vers midi, le "
    "vieux monsieur lui offrit un morceau de fromage et lui raconta qu'il "
    "avait été garçon de café à Paris pendant quarante ans. Il parlait des "
    "clients pressés, des patrons bavards, des hivers où la Seine gelait "
    "presque. Hélène écoutait, amusée, en croquant sa pomme. Quand le train "
    "s'arrêta enfin, elle sentit son cœur battre très fort. Sur le quai, sa "
    "tante agitait déjà un mouchoir rouge. Elles s'embrassèrent, puis "
    "marchèrent jusqu'à l'atelier, où des dizaines de pendules battaient "
    "ensemble comme un seul cœur. Hélène sut alors qu'elle était à sa place, "
    "là où l'on répare le temps, et qu'elle y resterait bien plus tôt qu'elle "
    "ne l'avait cru."
)

GERMAN = (
    "Als der erste Schnee fiel, beschloss der alte Förster Jürgen, noch "
    "einmal durch den Wald zu gehen. Er zog seine schweren Stiefel an, nahm "
    "den Stock aus Eschenholz und steckte ein Stück Brot in die Jackentasche. "
    "Vor der Tür wartete schon Bruno, sein müder Hund, der trotz seiner "
    "grauen Schnauze fröhlich mit dem Schwanz wedelte. Die Straße zum "
    "Waldrand war still und weiß. Nur ein paar Krähen saßen auf dem Zaun und "
    "schauten den beiden neugierig nach. Jürgen dachte an die Jahre, in denen "
    "er hier jeden Baum gekannt hatte: die große Buche am Bach, die schiefe "
    "Fichte über dem Steinbruch, die Eiche, unter der seine Tochter früher "
    "Pilze gesucht hatte. Heute lebte sie in München und rief nur sonntags "
    "an. Am Bach blieb er stehen. Das Wasser floss noch, dunkel und schnell, "
    "zwischen Rändern aus dünnem Eis. Bruno schnüffelte an einer Spur, die "
    "wohl von einem Fuchs stammte, und bellte kurz. Jürgen lächelte. Er "
    "setzte sich auf einen umgestürzten Stamm, teilte das Brot mit dem Hund "
    "und hörte dem leisen Rauschen der Äste zu. Es war kälter geworden, und "
    "die Dämmerung kam früh. Trotzdem fühlte er sich nicht einsam. Auf dem "
    "Rückweg grüßte ihn der Nachbar über den Gartenzaun und fragte, ob er "
    "morgen zum Kaffee käme. „Gern“, sagte Jürgen, „wenn der Schnee liegen "
    "bleibt.“ Zu Hause heizte er den Ofen, hängte die nasse Mütze über den "
    "Stuhl und schrieb seiner Tochter einen langen Brief über den Wald."
)

SPANISH = (
    "¿Quién no recuerda el verano en que llegó el circo al pueblo? Yo tenía "
    "once años y mi hermano Andrés apenas nueve. Una mañana de julio, el "
    "señor Muñoz, que vendía periódicos en la plaza, gritó desde la esquina: "
    "«¡Ya están aquí!» Corrimos sin desayunar hasta el campo detrás de la "
    "estación, donde varios camiones pintados de rojo y azul descargaban "
    "lonas, cuerdas y jaulas. Había un elefante viejo que se llamaba Simón, "
    "dos caballos blancos y un mono pequeño que robaba los sombreros de la "
    "gente. Durante toda la semana ayudamos a los trabajadores a levantar la "
    "carpa. A cambio, la dueña, una mujer alta de voz ronca, nos prometió "
    "entradas para el estreno. Mi madre no creía la historia y decía que "
    "seguramente pasábamos el día jugando en el río. Pero el sábado por la "
    "tarde, cuando le enseñamos los billetes, sonrió y se puso su vestido más "
    "bonito. La función empezó a las ocho. Los acróbatas volaron bajo las "
    "luces, el payaso tropezó con su propia sombra y Simón levantó la trompa "
    "para saludar al público. Andrés aplaudía tanto que le dolían las manos. "
    "Al final, la dueña nos llamó a la pista y dijo que sin nosotros el circo "
    "no habría abierto a tiempo. ¡Qué vergüenza y qué alegría a la vez! El "
    "lunes los camiones se marcharon por la carretera del norte, y nunca "
    "volvimos a verlos. Sin embargo, cada julio, cuando oigo música lejana, "
    "pienso en aquel elefante y en la noche en que fuimos famosos."
)


# --------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------

def noise_image(w, h, seed=20240601, cell=20):
    """Photo-like noise: coarse random blotches plus fine grain."""
    rng = random.Random(seed)
    gw = -(-w // cell)  # 62 for 1240
    gh = -(-h // cell)  # 88 for 1754
    # coarse grid, biased a little towards mid/dark greys
    grid = [bytes(min(255, int(rng.random() ** 1.3 * 256)) for _ in range(gw))
            for _ in range(gh)]
    rows = []
    for gy in range(gh):
        row = b"".join(bytes([v]) * cell for v in grid[gy])[:w]
        rows.extend([row] * cell)
    coarse = b"".join(rows[:h])
    # fine grain: XOR the low 5 bits with a random buffer (one big-int op)
    grain = rng.randbytes(w * h)
    mask = int.from_bytes(b"\x1f" * (w * h), "big")
    g = int.from_bytes(grain, "big") & mask
    px = (int.from_bytes(coarse, "big") ^ g).to_bytes(w * h, "big")
    return px


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def report(path, size=None):
    if size is None:
        size = os.path.getsize(path)
    print("%-20s %12d bytes" % (os.path.basename(path), size))
    sys.stdout.flush()


def main(argv):
    global _TMP_DIR
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % argv[0])
        return 2
    outdir = argv[1]
    if not os.path.isfile(SOURCE_SCAN):
        sys.stderr.write("missing fixture: %s\n" % SOURCE_SCAN)
        return 1
    os.makedirs(outdir, exist_ok=True)
    _TMP_DIR = os.path.join(outdir, ".make_scans-tmp-%d" % os.getpid())
    os.makedirs(_TMP_DIR, exist_ok=True)
    try:
        # 1. rotated-scan.pdf
        # pdftoppm rounds 595.28 pt * 150/72 up to 1241 px; the extra column
        # is a sliver of page margin. Crop it so the render maps 1:1 onto the
        # source's 1240x1754 image.
        w, h, px = render(SOURCE_SCAN, 1, 150)
        w, h, px = crop(w, h, px, min(w, 1240), min(h, 1754))
        pages = []
        for deg in (0, 90, 180, 270):
            rw, rh, rpx = rotate(w, h, px, deg)
            pages.append((rw, rh, rpx, 150))
        p = os.path.join(outdir, "rotated-scan.pdf")
        report(p, image_pdf(p, pages))

        # 2. rotate-key.pdf: pixels turned 90 cw, /Rotate 270 brings it back
        rw, rh, rpx = rotate(w, h, px, 90)
        p = os.path.join(outdir, "rotate-key.pdf")
        report(p, image_pdf(p, [(rw, rh, rpx, 150, 270)]))

        # 3. european.pdf
        p_eu = os.path.join(outdir, "european.pdf")
        report(p_eu, text_pdf(p_eu, [wrap(FRENCH), wrap(GERMAN),
                                     wrap(SPANISH)]))

        # 4. european-scan.pdf: French and German pages as 200 dpi images
        pages = []
        for n in (1, 2):
            ew, eh, epx = render(p_eu, n, 200)
            pages.append((ew, eh, epx, 200))
        p = os.path.join(outdir, "european-scan.pdf")
        report(p, image_pdf(p, pages))

        # 5. noise-scan.pdf
        nw, nh = 1240, 1754
        p = os.path.join(outdir, "noise-scan.pdf")
        report(p, image_pdf(p, [(nw, nh, noise_image(nw, nh), 150)]))

        # 6. huge-image.pdf: 9000x9000 px at 300 dpi
        side = 9000
        hw, hh, hpx = render_to_height(SOURCE_SCAN, 1, side)
        if hw > side or hh > side:
            raise RuntimeError("render too large: %dx%d" % (hw, hh))
        canvas = pad_right(hw, hh, hpx, side)
        del hpx
        canvas = pad_bottom(side, hh, canvas, side)
        p = os.path.join(outdir, "huge-image.pdf")
        report(p, image_pdf(p, [(side, side, canvas, 300)]))
        del canvas
    finally:
        for name in os.listdir(_TMP_DIR):
            os.remove(os.path.join(_TMP_DIR, name))
        os.rmdir(_TMP_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
