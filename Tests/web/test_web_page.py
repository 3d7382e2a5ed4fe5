#!/usr/bin/env python3
"""Browser test of Lector's web page, in headless Chromium driven by Selenium.

Environment:
  LECTOR_URL        the gateway, e.g. http://127.0.0.1:8000 (no trailing slash needed)
  LECTOR_FIXTURES   a folder with english-8p.pdf, mixed-3p.pdf and not-a-pdf.pdf (the noise scan is made in a
                    temporary folder by Tests/LectorTests/Scans/make_scans.py, which needs pdftoppm)
  LECTOR_ARTIFACTS  where web-page.png is saved (default /tmp)
  LECTOR_TIMEOUT    seconds to wait for the book's audio (default 120)
  LECTOR_TOKEN      when set, the gateway has this API token and the token scenario runs instead: the
                    page asks for the token (a wrong one is refused and asked again), the upload, the
                    book's event stream, page 1's audio (a Blob URL fetched with the token) and the
                    whole-book download work with it, and a reload keeps it without asking again
  LECTOR_SCENARIO   `live`: the gateway's cluster has the natural voice (one worker, LECTOR_VOICES pointing at
                    .deps/voices): a one-page PDF of a dozen English sentences, uploaded with the default
                    (natural) quality, gets its page's player while the page is still `processing`, plays it
                    then, and keeps playing the same element when the page completes. Fails (does not skip)
                    when .deps/voices/joe/model.onnx is missing (`make deps` puts it there).
                    `audiobook`: against an espeak-only cluster, the book player: a four-page PDF with an outline
                    plays page after page from one press of play (the page change timed), the speed (menu and
                    `[` `]`, pitch kept), space and the arrows, the read-along highlight, the chapters, a click
                    on a sentence, the place saved on the server (GET /api/books/{id}/position/) and resumed
                    after a reload without playing, no serious or critical axe-core violation (needs
                    axe-selenium-python), and no sideways scrolling at 380 px (web-audiobook*.png). With
                    LECTOR_TOKEN as well, the same against the token cluster: the token is entered once, the
                    pages' audio are Blob URLs fetched with it, and the place is saved and read with it.
  CHROMIUM, CHROMEDRIVER  override /usr/bin/chromium and /usr/bin/chromedriver

Run: python3 Tests/web/test_web_page.py   (exits non-zero on the first failed check)
"""

import math
import os
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

BASE = os.environ.get("LECTOR_URL", "http://127.0.0.1:8000").rstrip("/")
FIXTURES = os.environ.get("LECTOR_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "LectorTests", "Fixtures"))
ARTIFACTS = os.environ.get("LECTOR_ARTIFACTS", "/tmp")
TIMEOUT = float(os.environ.get("LECTOR_TIMEOUT", "120"))
TOKEN = os.environ.get("LECTOR_TOKEN", "")
SCENARIO = os.environ.get("LECTOR_SCENARIO", "")
MAKE_SCANS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "LectorTests", "Scans", "make_scans.py")
PHONE_WIDTH = 380
PREFIX = "web-live" if SCENARIO == "live" else ("web-audiobook-token" if TOKEN else "web-audiobook") \
    if SCENARIO == "audiobook" else "web-token" if TOKEN else "web"
VOICE_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".deps", "voices", "joe",
                           "model.onnx")


def log(message):
    print(f"[{PREFIX}] {message}", flush=True)


def wait_for(description, condition, timeout, interval=0.25):
    """Polls condition() until it returns something truthy; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {description}"
                         + (f" (last error: {last_error.msg if hasattr(last_error, 'msg') else last_error})"
                            if last_error else ""))


def make_driver():
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=500,900", "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    # A phone-sized viewport (headless windows cannot be narrower than 500 px).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE_WIDTH, "height": 860, "deviceScaleFactor": 1, "mobile": True})
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def fixture(name):
    path = os.path.abspath(os.path.join(FIXTURES, name))
    assert os.path.isfile(path), f"missing fixture {path} (set LECTOR_FIXTURES)"
    return path


def book_ids(driver):
    return {element.get_attribute("data-book-id") for element in driver.find_elements(By.CSS_SELECTOR, ".book[data-book-id]")}


def progress_of(driver, book_id):
    """The number 0-100 the book's .book-progress shows (value, data-progress or aria-valuenow)."""
    return driver.execute_script(
        """
        const bar = document.querySelector(`.book[data-book-id="${arguments[0]}"] .book-progress`);
        if (!bar) return null;
        const raw = bar.getAttribute('data-progress') ?? bar.getAttribute('aria-valuenow')
            ?? (bar.tagName === 'PROGRESS' ? String(bar.value) : null);
        return raw === null ? null : Number(raw);
        """,
        book_id,
    )


def audio_duration(driver, book_id):
    """The first page's audio duration in seconds once its metadata has loaded, else 0."""
    return driver.execute_script(
        """
        const audio = document.querySelector(`.book[data-book-id="${arguments[0]}"] .page[data-page="1"] audio`);
        if (!audio) return -1;
        if (audio.error) { const code = audio.error.code; audio.load(); return -100 - code; }
        if (audio.readyState === 0 && audio.networkState !== 2) audio.load();
        return Number.isFinite(audio.duration) ? audio.duration : 0;
        """,
        book_id,
    )


def make_noise_scan(folder):
    """Writes the scans of make_scans.py into folder; returns the path of noise-scan.pdf."""
    subprocess.run([sys.executable, MAKE_SCANS, folder], check=True, stdout=subprocess.DEVNULL, timeout=120)
    path = os.path.join(folder, "noise-scan.pdf")
    assert os.path.isfile(path), f"{MAKE_SCANS} did not write {path}"
    return path


def unreadable_note(page):
    """The note the page shows for an unreadable scan, from its ocr_confidence (as the worker words it)."""
    confidence = page.get("ocr_confidence")
    if confidence == 0:
        return "Not voiced: no text could be read on the scan"
    return f"Not voiced: the scan could not be read reliably (mean confidence {math.floor(confidence + 0.5)} %)"


def check_unreadable_scan(driver, screenshot):
    """Uploads a scan of noise: its one page completes without audio, with a "Not voiced" note instead."""
    before = book_ids(driver)
    with tempfile.TemporaryDirectory(prefix="lector-scans-") as folder:
        started = time.monotonic()
        noise = make_noise_scan(folder)
        log(f"made {os.path.basename(noise)} in {time.monotonic() - started:.1f} s")
        driver.find_element(By.ID, "file-input").send_keys(noise)
        log(f"sent {noise} to #file-input")
        new_ids = wait_for("the noise scan's .book card", lambda: book_ids(driver) - before, 60)
    assert len(new_ids) == 1, f"expected one new book card, got {sorted(new_ids)}"
    book_id = new_ids.pop()
    log(f"book {book_id} (noise scan) appeared")
    wait_for(f"book {book_id}'s .book-progress to reach 100", lambda: progress_of(driver, book_id) == 100,
             TIMEOUT, interval=0.5)
    pages = driver.execute_script(
        "return fetch(`/api/books/${arguments[0]}/pages/`).then(r => r.json()).then(b => b.data.pages)", book_id)
    assert len(pages) == 1, f"the noise scan has {len(pages)} pages, not 1"
    page = pages[0]
    assert (page["processing_status"], page["text_source"], page["text_quality"], page["audio_url"], page["voice"]) \
        == ("completed", "ocr", "unreadable", None, None), f"the noise scan's page: {page}"
    assert isinstance(page["ocr_confidence"], (int, float)), f"the noise scan's page has no ocr_confidence: {page}"
    expected = unreadable_note(page)
    log(f"API: page 1 completed, text_quality unreadable, ocr_confidence {page['ocr_confidence']}")

    card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
    details = card.find_element(By.CSS_SELECTOR, "details.pages-details")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()
    row_selector = '.page[data-page="1"]'
    # The page list is refreshed (debounced) after the event, which brings the confidence.
    note = wait_for(f"page 1's note {expected!r}", lambda: [
        node for node in card.find_elements(By.CSS_SELECTOR, row_selector + " .page-unreadable")
        if node.is_displayed() and expected in node.text], 30)[0]
    row = card.find_element(By.CSS_SELECTOR, row_selector)
    assert row.get_attribute("data-status") == "completed", f"page 1 is {row.get_attribute('data-status')!r}"
    assert note.get_attribute("role") == "note", "the unreadable note has no role=note"
    assert not row.find_elements(By.TAG_NAME, "audio"), "the unreadable page has an audio player"
    assert not card.find_elements(By.CSS_SELECTOR, "audio"), "the noise scan's card has an audio player"
    head = row.find_element(By.CSS_SELECTOR, ".page-voice").text
    assert f"OCR, {math.floor(page['ocr_confidence'] + 0.5)} % confidence" in head, f"page 1's head says {head!r}"
    download = card.find_element(By.CSS_SELECTOR, "a.download")
    assert not download.is_displayed(), "a book without audio offers the whole-book download"
    log(f"page 1 shows {note.text.strip()!r} and {head!r}, no audio player")

    driver.execute_script("arguments[0].scrollIntoView()", card)
    driver.save_screenshot(screenshot)
    log(f"screenshot saved to {screenshot}")
    card.find_element(By.CSS_SELECTOR, "button.delete").click()
    wait_for("the delete confirmation", lambda: driver.switch_to.alert, 10).accept()
    wait_for(f"book {book_id}'s card to go", lambda: book_id not in book_ids(driver), 15)
    log(f"deleted book {book_id}")


def record_uploads(driver):
    """Wraps the page's fetch() so that each upload's file name and `quality` field are kept in window.uploads."""
    driver.execute_script(
        """
        window.uploads = [];
        const original = window.fetch;
        window.fetch = function (input, init) {
          const url = typeof input === 'string' ? input : input.url;
          if (url.includes('/api/books/upload/') && init && init.body instanceof FormData) {
            const file = init.body.get('file');
            window.uploads.push({file: file ? file.name : null, quality: init.body.get('quality')});
          }
          return original.apply(this, arguments);
        };
        """)


def recorded_uploads(driver):
    return driver.execute_script("return window.uploads")


def natural_voices(driver):
    """The natural voices GET /api/voices/ lists (none on the test clusters: LECTOR_VOICES=none)."""
    voices = driver.execute_script("return fetch('/api/voices/').then(r => r.json()).then(b => b.data)")
    assert isinstance(voices, list) and voices, f"GET /api/voices/ lists no voice: {voices!r}"
    return [voice for voice in voices if voice["quality"] == "natural"]


def check_quality_control(driver):
    """The upload form's "Voice quality" radio group: labelled, natural by default, naming the natural voice
    (or saying there is none)."""
    group = driver.find_element(By.ID, "quality")
    assert group.tag_name == "fieldset", f"#quality is a <{group.tag_name}>, not a <fieldset>"
    legend = group.find_element(By.TAG_NAME, "legend").text.strip()
    assert legend == "Voice quality", f"the quality group's legend is {legend!r}"
    labels = {}
    for element_id, value, words in (("quality-natural", "natural", "Natural where available (slower)"),
                                     ("quality-fast", "fast", "Fast (espeak-ng)")):
        radio = driver.find_element(By.ID, element_id)
        assert (radio.get_attribute("type"), radio.get_attribute("name"), radio.get_attribute("value")) \
            == ("radio", "quality", value), f"#{element_id} is not the {value!r} quality radio"
        label = driver.execute_script(
            "return Array.from(arguments[0].labels).map(l => l.textContent.replace(/\\s+/g, ' ').trim()).join(' ')",
            radio)
        assert words in label, f"#{element_id}'s label says {label!r}, not {words!r}"
        labels[value] = label
    assert driver.find_element(By.ID, "quality-natural").is_selected(), "the natural choice is not the default"
    natural = natural_voices(driver)
    detail = driver.find_element(By.ID, "quality-natural-detail")
    if natural:
        expected = natural[0]["name"]
        wait_for(f"the natural choice to name the voice {expected!r}", lambda: expected in detail.text, 15)
    else:
        expected = "no natural voice on this cluster"
        wait_for(f"the natural choice to say {expected!r}", lambda: expected in detail.text, 15)
    log(f"#quality: legend {legend!r}; natural (default) {detail.text.strip()!r}; fast {labels['fast']!r}")
    return natural


def check_fast_upload(driver):
    """Chosen with the keyboard, "Fast (espeak-ng)" sends quality=fast: every page is voiced by espeak-ng."""
    mixed = fixture("mixed-3p.pdf")
    driver.execute_script("window.scrollTo(0, 0)")
    natural_radio = driver.find_element(By.ID, "quality-natural")
    fast_radio = driver.find_element(By.ID, "quality-fast")
    natural_radio.click()
    natural_radio.send_keys(Keys.ARROW_DOWN)
    assert fast_radio.is_selected(), "the arrow key did not move the quality choice to fast"
    active = driver.execute_script("return document.activeElement && document.activeElement.id")
    assert active == "quality-fast", f"the focus is on {active!r}, not #quality-fast"
    log("the arrow key moves the quality choice to #quality-fast")

    before = book_ids(driver)
    count = len(recorded_uploads(driver))
    driver.find_element(By.ID, "file-input").send_keys(mixed)
    log(f"sent {mixed} to #file-input with fast quality")
    new_ids = wait_for("the fast upload's .book card", lambda: book_ids(driver) - before, 60)
    assert len(new_ids) == 1, f"expected one new book card, got {sorted(new_ids)}"
    book_id = new_ids.pop()
    sent = recorded_uploads(driver)[count:]
    assert [upload["quality"] for upload in sent] == ["fast"], f"the fast upload sent {sent}"
    wait_for(f"book {book_id}'s .book-progress to reach 100", lambda: progress_of(driver, book_id) == 100,
             TIMEOUT, interval=0.5)
    pages = driver.execute_script(
        "return fetch(`/api/books/${arguments[0]}/pages/`).then(r => r.json()).then(b => b.data.pages)", book_id)
    engines = [page["engine"] for page in pages if page["audio_url"]]
    assert engines and set(engines) == {"espeak-ng"}, f"the fast upload's voiced pages have engines {engines}"
    log(f"book {book_id}: sent quality=fast; {len(engines)} voiced pages, all engine espeak-ng")

    card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
    details = card.find_element(By.CSS_SELECTOR, "details.pages-details")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()
    wait_for(f"{len(engines)} voiced page rows with engine espeak-ng", lambda: len(card.find_elements(
        By.CSS_SELECTOR, '.page[data-engine="espeak-ng"]')) == len(engines), 30)
    heads = [node.text for node in card.find_elements(By.CSS_SELECTOR, ".page-voice")]
    assert not any("(natural)" in head for head in heads), f"an espeak-ng page's head says natural: {heads}"
    log(f"page heads: {heads}")

    natural_radio.click()  # back to the default for what follows
    card.find_element(By.CSS_SELECTOR, "button.delete").click()
    wait_for("the delete confirmation", lambda: driver.switch_to.alert, 10).accept()
    wait_for(f"book {book_id}'s card to go", lambda: book_id not in book_ids(driver), 15)
    log(f"deleted book {book_id}")


def main():
    if SCENARIO == "live":
        live_main()
    elif SCENARIO == "audiobook":
        audiobook_main()
    elif SCENARIO:
        raise AssertionError(f"unknown LECTOR_SCENARIO {SCENARIO!r} (known: live, audiobook)")
    elif TOKEN:
        token_main()
    else:
        plain_main()


def plain_main():
    english = fixture("english-8p.pdf")
    not_pdf = fixture("not-a-pdf.pdf")
    os.makedirs(ARTIFACTS, exist_ok=True)
    screenshot = os.path.join(ARTIFACTS, "web-page.png")
    driver = make_driver()
    try:
        # 1. The page loads and has the upload controls.
        driver.get(BASE + "/")
        assert "Lector" in driver.title, f"unexpected page title {driver.title!r}"
        file_input = driver.find_element(By.ID, "file-input")
        assert file_input.get_attribute("type") == "file", "#file-input is not a file input"
        for element_id in ("upload-error", "upload-progress", "title", "language"):
            driver.find_element(By.ID, element_id)
        log(f"loaded {BASE}/ (title {driver.title!r}); #file-input, #upload-progress, #upload-error present")
        record_uploads(driver)
        natural = check_quality_control(driver)
        wait_for("the book list to load", lambda: driver.execute_script(
            "return document.querySelector('#books-error') !== null"), 10)
        time.sleep(1.0)  # let GET /api/books/ fill in the existing books
        before = book_ids(driver)

        # 2. Upload the English sample: a new book card appears.
        driver.find_element(By.ID, "file-input").send_keys(english)
        log(f"sent {english} to #file-input")
        new_ids = wait_for("a new .book[data-book-id] card", lambda: book_ids(driver) - before, 60)
        assert len(new_ids) == 1, f"expected one new book card, got {sorted(new_ids)}"
        book_id = new_ids.pop()
        log(f"book {book_id} appeared")
        upload_progress = driver.execute_script("return document.querySelector('#upload-progress').value")
        assert upload_progress == 100, f"#upload-progress shows {upload_progress}, not 100, after the upload completed"
        log("#upload-progress reached 100 (text extracted)")
        error_text = driver.find_element(By.ID, "upload-error").text
        assert not driver.find_element(By.ID, "upload-error").is_displayed(), f"unexpected upload error: {error_text}"
        sent = recorded_uploads(driver)
        assert [upload["quality"] for upload in sent] == [None], f"the default (natural) upload sent {sent}"
        log("the default choice sent no quality field (natural where available)")

        # 3. The book's progress bar reaches 100 while pages are voiced.
        seen = set()

        def complete():
            value = progress_of(driver, book_id)
            if value is not None and value not in seen:
                seen.add(value)
                log(f"book {book_id} .book-progress = {value}")
            return value == 100

        wait_for(f"book {book_id}'s .book-progress to reach 100", complete, TIMEOUT, interval=0.5)
        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
        log(f"book {book_id} card text: {' | '.join(card.text.splitlines()[:4])}")
        assert "8/8 pages" in card.text, f"the card does not say 8/8 pages: {card.text!r}"

        # 4. Page 1 has an audio player whose media really loads.
        details = card.find_element(By.CSS_SELECTOR, "details.pages-details")
        if details.get_attribute("open") is None:
            details.find_element(By.TAG_NAME, "summary").click()
        audio = wait_for("page 1's <audio> element", lambda: card.find_elements(
            By.CSS_SELECTOR, '.page[data-page="1"] audio'), 30)[0]
        src = audio.get_attribute("src")
        assert "/media/books/" in src and src.endswith(".mp3"), f"unexpected audio src {src!r}"
        duration = wait_for("page 1's audio duration > 0", lambda: (lambda d: d if d > 0 else None)(
            audio_duration(driver, book_id)), 30, interval=0.5)
        log(f"page 1 <audio src={src}> duration {duration:.2f} s")
        # The page list is refreshed (debounced) after the last page event: give it a moment.
        wait_for("8 page rows with 8 audio players", lambda: len(card.find_elements(
            By.CSS_SELECTOR, ".page[data-page]")) == 8 and len(card.find_elements(By.CSS_SELECTOR, ".page audio")) == 8, 15)
        log("8 page rows, 8 audio players")
        # Each page names its engine; without a natural voice on the cluster the default is espeak-ng.
        pages = driver.execute_script(
            "return fetch(`/api/books/${arguments[0]}/pages/`).then(r => r.json()).then(b => b.data.pages)", book_id)
        engines = {page["page_number"]: page["engine"] for page in pages}
        if not natural:
            assert set(engines.values()) == {"espeak-ng"}, f"pages voiced without a natural voice: {engines}"
        for number, engine in engines.items():
            row = card.find_element(By.CSS_SELECTOR, f'.page[data-page="{number}"]')
            wait_for(f"page {number}'s row to show engine {engine!r}",
                     lambda: row.get_attribute("data-engine") == engine, 15)
            head = row.find_element(By.CSS_SELECTOR, ".page-voice").text
            assert ("(natural)" in head) == (engine == "piper"), f"page {number} ({engine}) head says {head!r}"
        head = card.find_element(By.CSS_SELECTOR, ".page-voice").text
        log(f"page engines {sorted(set(engines.values()))}; page 1's head says {head!r}")

        # 5. A file that is not a PDF is refused with a visible, clear message.
        driver.find_element(By.ID, "file-input").send_keys(not_pdf)
        log(f"sent {not_pdf} to #file-input")
        error = driver.find_element(By.ID, "upload-error")
        wait_for("#upload-error to be shown", lambda: error.is_displayed() and error.text.strip(), 30)
        text = error.text.strip()
        assert "pdf" in text.lower(), f"#upload-error does not mention PDF: {text!r}"
        log(f"#upload-error shows: {text!r}")
        assert book_ids(driver) - before == {book_id}, "the refused upload added a book card"

        # 5b. The same through the drop zone: a dropped file is uploaded at once.
        driver.execute_script("""
            const error = document.querySelector('#upload-error');
            error.hidden = true; error.textContent = '';
            const data = new DataTransfer();
            data.items.add(new File(['just some text, no PDF here\\n'.repeat(50)], 'dropped-notes.pdf',
                                    {type: 'application/pdf'}));
            const zone = document.querySelector('#drop-zone');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
        """)
        wait_for("#upload-error for the dropped file", lambda: error.is_displayed() and "dropped-notes.pdf" in error.text, 30)
        log(f"drop zone: #upload-error shows: {error.text.strip()!r}")

        # 6. The cluster panel lists the nodes.
        nodes = wait_for("the cluster panel's nodes", lambda: driver.find_elements(By.CSS_SELECTOR, "#nodes .node"), 15)
        roles = {node.get_attribute("data-role") for node in nodes}
        assert {"gateway", "coordinator", "worker"} <= roles, f"cluster panel roles: {roles}"
        log(f"cluster panel lists {len(nodes)} nodes, roles {sorted(roles)}")

        width = driver.execute_script("return document.documentElement.scrollWidth")
        viewport = driver.execute_script("return window.innerWidth")
        assert width <= viewport + 1, f"the page scrolls sideways at phone width ({width} > {viewport})"
        log(f"no horizontal scrolling at {viewport} px wide")

        # The whole page in one picture: grow the viewport to the content's height first.
        height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), 6000)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": PHONE_WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": True})
        time.sleep(0.3)
        driver.save_screenshot(screenshot)
        log(f"screenshot saved to {screenshot} ({PHONE_WIDTH}x{height})")
        # 7. Delete the book from its card (after confirm()): the card goes, the API forgets it.
        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
        card.find_element(By.CSS_SELECTOR, "button.delete").click()
        alert = wait_for("the delete confirmation", lambda: driver.switch_to.alert, 10)
        log(f"confirm(): {alert.text!r}")
        alert.accept()
        wait_for(f"book {book_id}'s card to go", lambda: book_id not in book_ids(driver), 15)
        status = driver.execute_script(
            "return fetch(`/api/books/${arguments[0]}/status/`).then(r => r.status)", book_id)
        assert status == 404, f"GET /api/books/{book_id}/status/ after the delete answered {status}"
        log(f"deleted book {book_id} from its card; its status now answers 404")

        # 8. A scan OCR cannot read reliably is not voiced: its page says so instead of offering a player.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": PHONE_WIDTH, "height": 860, "deviceScaleFactor": 1, "mobile": True})
        check_unreadable_scan(driver, os.path.join(ARTIFACTS, "web-page-unreadable.png"))

        # 9. "Fast (espeak-ng)" sends quality=fast.
        check_fast_upload(driver)

        errors = [entry for entry in driver.get_log("browser")
                  if entry.get("level") == "SEVERE" and "/events/" not in entry.get("message", "")
                  and "415" not in entry.get("message", "") and "404" not in entry.get("message", "")]
        assert not errors, f"browser console errors: {errors}"
        log("no unexpected errors in the browser console")
        log("PASS")
    except BaseException:
        try:
            driver.save_screenshot(screenshot)
            log(f"screenshot of the failure saved to {screenshot}")
            for entry in driver.get_log("browser"):
                log(f"console: {entry.get('level')} {entry.get('message')}")
        except Exception:
            pass
        raise
    finally:
        driver.quit()


def token_dialog_open(driver):
    return driver.execute_script("const d = document.querySelector('#token-dialog'); return !!(d && d.open);")


def enter_token(driver, token):
    field = driver.find_element(By.ID, "token-input")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "token-save").click()


def stored_token(driver):
    return driver.execute_script("return window.localStorage.getItem('lector.apiToken')")


def api_status(driver, path, token=None):
    """The HTTP status of GET path from inside the page, with or without the token."""
    return driver.execute_script(
        """
        const headers = arguments[1] ? {Authorization: 'Bearer ' + arguments[1]} : {};
        return fetch(arguments[0], {headers}).then(r => r.status);
        """, path, token)


def token_main():
    """The page against a gateway with an API token."""
    english = fixture("english-8p.pdf")
    os.makedirs(ARTIFACTS, exist_ok=True)
    screenshot = os.path.join(ARTIFACTS, "web-page-token.png")
    downloads = tempfile.mkdtemp(prefix="lector-downloads-")
    driver = make_driver()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    try:
        # 1. The first requests are refused (401): the page asks for the token, once.
        driver.get(BASE + "/")
        assert "Lector" in driver.title, f"unexpected page title {driver.title!r}"
        assert api_status(driver, "/api/books/") == 401, "the gateway does not ask for a token (is LECTOR_API_TOKEN set?)"
        wait_for("the token dialog", lambda: token_dialog_open(driver), 15)
        reason = driver.find_element(By.ID, "token-reason").text
        dialogs = driver.execute_script("return document.querySelectorAll('dialog[open]').length")
        assert dialogs == 1, f"{dialogs} dialogs open"
        active = driver.execute_script("return document.activeElement && document.activeElement.id")
        assert active == "token-input", f"the token field does not have the focus ({active!r})"
        log(f"the page asks for the token: {reason!r} (focus on #token-input)")

        # 2. A wrong token is refused: forgotten, and asked for again.
        enter_token(driver, TOKEN + "-wrong")
        wait_for("the dialog to ask again after a wrong token", lambda: token_dialog_open(driver)
                 and "refused" in driver.find_element(By.ID, "token-reason").text, 15)
        assert not stored_token(driver), f"the refused token is still stored: {stored_token(driver)!r}"
        log(f"a wrong token is refused and forgotten: {driver.find_element(By.ID, 'token-reason').text!r}")

        # 3. The right token: stored, and the page loads.
        enter_token(driver, TOKEN)
        wait_for("the dialog to close", lambda: not token_dialog_open(driver), 15)
        assert stored_token(driver) == TOKEN, f"localStorage holds {stored_token(driver)!r}"
        wait_for("the cluster panel's nodes", lambda: driver.find_elements(By.CSS_SELECTOR, "#nodes .node"), 15)
        time.sleep(0.5)
        assert not driver.find_element(By.ID, "books-error").is_displayed(), \
            f"books error: {driver.find_element(By.ID, 'books-error').text!r}"
        log("the token is kept in localStorage; the book list and the cluster panel load")
        before = book_ids(driver)

        # 4. The upload, sent with the token.
        driver.find_element(By.ID, "file-input").send_keys(english)
        new_ids = wait_for("a new .book[data-book-id] card", lambda: book_ids(driver) - before, 60)
        assert len(new_ids) == 1, f"expected one new book card, got {sorted(new_ids)}"
        book_id = new_ids.pop()
        error = driver.find_element(By.ID, "upload-error")
        assert not error.is_displayed(), f"unexpected upload error: {error.text}"
        log(f"uploaded {os.path.basename(english)}: book {book_id}")

        # 5. The book's event stream (fetch() with the token) carries it to 100 %.
        seen = set()

        def complete():
            value = progress_of(driver, book_id)
            if value is not None and value not in seen:
                seen.add(value)
                log(f"book {book_id} .book-progress = {value}")
            return value == 100

        wait_for(f"book {book_id}'s .book-progress to reach 100", complete, TIMEOUT, interval=0.5)
        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
        event_id = card.get_attribute("data-last-event-id")
        assert event_id, "no event of the book's stream reached the card"
        assert "8/8 pages" in card.text, f"the card does not say 8/8 pages: {card.text!r}"
        log(f"book {book_id} complete through its event stream (last event id {event_id})")

        # 6. Page 1's audio: fetched with the token into a Blob URL, and it loads.
        details = card.find_element(By.CSS_SELECTOR, "details.pages-details")
        if details.get_attribute("open") is None:
            details.find_element(By.TAG_NAME, "summary").click()
        audio = wait_for("page 1's <audio> element", lambda: card.find_elements(
            By.CSS_SELECTOR, '.page[data-page="1"] audio'), 30)[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", audio)
        source = audio.get_attribute("data-src")
        assert "/media/books/" in (source or "") and source.endswith(".mp3"), f"unexpected data-src {source!r}"
        wait_for("page 1's Blob URL", lambda: (audio.get_attribute("src") or "").startswith("blob:"), 30)
        duration = wait_for("page 1's audio duration > 0", lambda: (lambda d: d if d > 0 else None)(
            audio_duration(driver, book_id)), 30, interval=0.5)
        log(f"page 1 <audio data-src={source} src={audio.get_attribute('src')}> duration {duration:.2f} s")
        wait_for("8 page rows with 8 audio players", lambda: len(card.find_elements(
            By.CSS_SELECTOR, ".page[data-page]")) == 8 and len(card.find_elements(By.CSS_SELECTOR, ".page audio")) == 8, 15)
        log("8 page rows, 8 audio players")

        # 7. The whole-book download, fetched with the token.
        download = card.find_element(By.CSS_SELECTOR, "a.download")
        wait_for("the download link", lambda: download.is_displayed(), 15)
        download.click()

        def downloaded():
            files = [name for name in os.listdir(downloads) if not name.endswith(".crdownload")]
            return files and os.path.getsize(os.path.join(downloads, files[0])) > 10000 and files[0]

        name = wait_for("the whole book's MP3 in the downloads folder", downloaded, 60)
        with open(os.path.join(downloads, name), "rb") as handle:
            head = handle.read(3)
        assert head == b"ID3", f"the download {name} does not start with an ID3 tag: {head!r}"
        log(f"whole-book download: {name}, {os.path.getsize(os.path.join(downloads, name))} bytes")

        # 8. A reload keeps the token: no dialog, the book is there.
        driver.refresh()
        wait_for(f"book {book_id}'s card after the reload", lambda: book_id in book_ids(driver), 15)
        time.sleep(1.0)
        assert not token_dialog_open(driver), "the page asked for the token again after a reload"
        assert stored_token(driver) == TOKEN, "the token is gone after the reload"
        wait_for("the cluster panel after the reload", lambda: driver.find_elements(By.CSS_SELECTOR, "#nodes .node"), 15)
        log("reload: the stored token is used, no dialog")

        driver.save_screenshot(screenshot)
        log(f"screenshot saved to {screenshot}")

        # 9. Delete the book from its card; the API (with the token) forgets it.
        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
        card.find_element(By.CSS_SELECTOR, "button.delete").click()
        wait_for("the delete confirmation", lambda: driver.switch_to.alert, 10).accept()
        wait_for(f"book {book_id}'s card to go", lambda: book_id not in book_ids(driver), 15)
        status = api_status(driver, f"/api/books/{book_id}/status/", TOKEN)
        assert status == 404, f"GET /api/books/{book_id}/status/ after the delete answered {status}"
        log(f"deleted book {book_id}; its status now answers 404")

        errors = [entry for entry in driver.get_log("browser")
                  if entry.get("level") == "SEVERE" and "401" not in entry.get("message", "")
                  and "404" not in entry.get("message", "")]
        assert not errors, f"browser console errors: {errors}"
        log("no unexpected errors in the browser console")
        log("PASS")
    except BaseException:
        try:
            driver.save_screenshot(screenshot)
            log(f"screenshot of the failure saved to {screenshot}")
            for entry in driver.get_log("browser"):
                log(f"console: {entry.get('level')} {entry.get('message')}")
        except Exception:
            pass
        raise
    finally:
        driver.quit()
        for name in os.listdir(downloads):
            os.remove(os.path.join(downloads, name))
        os.rmdir(downloads)


# MARK: A page's player starts while the page is still processing

LIVE_SENTENCES = [f"This is sentence number {n} of the page, and it is read aloud while the rest is still being made."
                  for n in range(1, 13)]


def one_page_pdf(lines):
    """A one-page PDF, written by hand: Helvetica 8 pt, one line per element (the `'` operator), as the Swift tests
    make theirs (HostileInputTests.pdf)."""
    content = (f"BT /F1 8 Tf 10 {10 * len(lines) + 10} Td 10 TL "
               + " ".join(f"({line}) '" for line in lines) + " ET")
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        f"<< /Length {len(content.encode())} >>\nstream\n{content}\nendstream",
    ]
    output = "%PDF-1.4\n"
    offsets = []
    for index, body in enumerate(objects):
        offsets.append(len(output.encode()))
        output += f"{index + 1} 0 obj\n{body}\nendobj\n"
    xref = len(output.encode())
    output += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    output += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    output += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return output.encode()


def live_state(driver, book_id):
    """Page 1's row, player and note as the page shows them, with the page's processing_status from the API."""
    return driver.execute_async_script(
        """
        const [book, done] = [arguments[0], arguments[arguments.length - 1]];
        const row = document.querySelector(`.book[data-book-id="${book}"] .page[data-page="1"]`);
        const audio = row && row.querySelector('audio');
        const note = row && row.querySelector('.page-live');
        const described = audio && audio.getAttribute('aria-describedby');
        const state = {
          row_status: row ? row.getAttribute('data-status') : null,
          badge: row ? row.querySelector('.page-status').textContent : null,
          audio: !!audio,
          marked: !!(audio && audio.liveMark),
          src: audio ? audio.getAttribute('src') : null,
          preload: audio ? audio.getAttribute('preload') : null,
          live: !!(audio && audio.hasAttribute('data-live')),
          label: audio ? audio.getAttribute('aria-label') : null,
          described_by_note: !!(note && described === note.id),
          note: note && !note.hidden && note.offsetParent !== null ? note.textContent.trim() : null,
          current_time: audio ? audio.currentTime : null,
          paused: audio ? audio.paused : null,
          error: audio && audio.error ? audio.error.code : null,
        };
        fetch(`/api/books/${book}/pages/`, {cache: 'no-store'}).then(r => r.json()).then(body => {
          const page = (body.data.pages || []).find(p => p.page_number === 1);
          state.api_status = page ? page.processing_status : null;
          state.api_page = page || null;
          done(state);
        }, error => { state.api_status = 'fetch failed: ' + error; done(state); });
        """,
        book_id,
    )


def live_main():
    """A page's player starts while the page is still processing (the cluster has the natural voice)."""
    started = time.monotonic()

    def at():
        return f"{time.monotonic() - started:5.1f} s"

    assert os.path.isfile(VOICE_MODEL), (
        f"the natural voice is missing: {os.path.normpath(VOICE_MODEL)} does not exist (run `make deps`); "
        "this scenario needs it and does not skip")
    os.makedirs(ARTIFACTS, exist_ok=True)
    screenshot = os.path.join(ARTIFACTS, "web-page-live.png")
    driver = make_driver()
    try:
        driver.get(BASE + "/")
        assert "Lector" in driver.title, f"unexpected page title {driver.title!r}"
        record_uploads(driver)
        # The cluster must speak with joe: its worker has the voice (it can take a moment to list it).
        voices = wait_for("GET /api/voices/ to list the natural voice joe", lambda: [
            voice for voice in natural_voices(driver) if voice["name"] == "joe" and voice["workers"] >= 1], 60, 1.0)
        log(f"{at()} the cluster's natural voices: {[(voice['name'], voice['language']) for voice in voices]}")
        assert driver.find_element(By.ID, "quality-natural").is_selected(), "the natural choice is not the default"
        time.sleep(1.0)  # let GET /api/books/ fill in the existing books
        before = book_ids(driver)

        # 1. Upload a page of twelve sentences with the default quality, through the page's file input.
        with tempfile.TemporaryDirectory(prefix="lector-live-") as folder:
            path = os.path.join(folder, "live-1p.pdf")
            with open(path, "wb") as handle:
                handle.write(one_page_pdf(LIVE_SENTENCES))
            driver.find_element(By.ID, "file-input").send_keys(path)
            log(f"{at()} sent {os.path.basename(path)} ({len(LIVE_SENTENCES)} sentences) to #file-input")
            new_ids = wait_for("a new .book[data-book-id] card", lambda: book_ids(driver) - before, 60)
        assert len(new_ids) == 1, f"expected one new book card, got {sorted(new_ids)}"
        book_id = new_ids.pop()
        sent = recorded_uploads(driver)
        assert [upload["quality"] for upload in sent] == [None], f"the default (natural) upload sent {sent}"
        log(f"{at()} book {book_id} appeared (sent no quality field: natural)")

        # 2. The page shows as processing, with a player and the note, before it is done.
        def live_player():
            state = live_state(driver, book_id)
            if state["row_status"] == "completed" or state["api_status"] == "completed":
                raise AssertionError(f"page 1 completed before it showed a player while processing: {state}")
            return state if state["row_status"] == "processing" and state["audio"] else None

        state = wait_for("page 1 to show as processing with an audio player", live_player, 90, 0.1)
        expected_src = f"/media/books/{book_id}/page_0001.mp3"
        assert state["src"] == expected_src, f"the live player's src is {state['src']!r}, not {expected_src!r}"
        assert state["preload"] == "none", f"the live player preloads {state['preload']!r}, not 'none'"
        assert state["live"], f"the live player has no data-live: {state}"
        assert state["note"] and "while it is made" in state["note"], f"no visible live note: {state}"
        assert state["described_by_note"], f"the live player is not described by its note: {state}"
        assert state["label"] and state["label"].startswith("Page 1 audio"), f"the live player's label: {state}"
        log(f"{at()} page 1 is {state['badge']!r} with <audio src={state['src']} preload=none> "
            f"labelled {state['label']!r}; note {state['note']!r}; API says {state['api_status']!r}")

        # 3. Press play: it plays (currentTime > 0, not paused) while the page is still processing.
        audio = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"] .page[data-page="1"] audio')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", audio)
        driver.execute_script("arguments[0].liveMark = true", audio)
        played = driver.execute_async_script(
            """
            const [audio, done] = [arguments[0], arguments[arguments.length - 1]];
            audio.play().then(() => done('ok'), error => done(String(error)));
            """, audio)
        assert played == "ok", f"audio.play() was refused: {played}"
        log(f"{at()} audio.play() accepted")

        def playing_while_processing():
            state = live_state(driver, book_id)
            if state["error"]:
                raise AssertionError(f"the live player failed (MediaError {state['error']}): {state}")
            if state["row_status"] != "processing" or state["api_status"] != "processing":
                raise AssertionError(f"page 1 stopped processing before its audio was heard: {state}")
            # A quarter of a second heard: the audio really plays, it did not just start.
            return state if state["current_time"] >= 0.25 and not state["paused"] else None

        state = wait_for("page 1's audio to play while the page is processing", playing_while_processing, 20, 0.1)
        assert state["marked"], "the player was replaced while it was being played"
        log(f"{at()} playing while processing: currentTime {state['current_time']:.2f} s, paused {state['paused']}, "
            f"row {state['row_status']!r}, API {state['api_status']!r}, note {state['note']!r}")
        driver.save_screenshot(screenshot)
        log(f"screenshot saved to {screenshot}")

        # 4. The page completes: the same element stays and keeps playing; the note goes.
        def completed():
            state = live_state(driver, book_id)
            return state if state["row_status"] == "completed" and state["api_status"] == "completed" else None

        state = wait_for("page 1 to complete", completed, TIMEOUT, 0.25)
        log(f"{at()} page 1 completed (the player at {state['current_time']:.2f} s, paused {state['paused']})")
        assert state["audio"] and state["marked"], f"the player was replaced when the page completed: {state}"
        assert state["src"] == expected_src, f"the player's src changed to {state['src']!r}"
        assert not state["paused"], f"the playback stopped when the page completed: {state}"
        at_completion = state["current_time"]
        time.sleep(1.5)
        state = live_state(driver, book_id)
        assert state["marked"] and not state["paused"] and state["current_time"] > at_completion, \
            f"the playback did not go on after the page completed (was at {at_completion:.2f} s): {state}"
        assert not state["live"] and state["note"] is None, f"the live note is still shown on a completed page: {state}"
        assert state["label"] == "Page 1 audio", f"the completed player's label is {state['label']!r}"
        page = state["api_page"]
        assert page["engine"] == "piper" and page["audio_url"] == expected_src, f"the API's page 1: {page}"
        log(f"{at()} the same player plays on ({state['current_time']:.2f} s); no note; API: engine "
            f"{page['engine']}, voice {page['voice']}, audio_duration {page['audio_duration']} s")
        wait_for(f"book {book_id}'s .book-progress to reach 100", lambda: progress_of(driver, book_id) == 100, 30)

        driver.execute_script("arguments[0].pause()", audio)
        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
        card.find_element(By.CSS_SELECTOR, "button.delete").click()
        wait_for("the delete confirmation", lambda: driver.switch_to.alert, 10).accept()
        wait_for(f"book {book_id}'s card to go", lambda: book_id not in book_ids(driver), 15)
        log(f"{at()} deleted book {book_id}")

        errors = [entry for entry in driver.get_log("browser")
                  if entry.get("level") == "SEVERE" and "/events/" not in entry.get("message", "")]
        assert not errors, f"browser console errors: {errors}"
        log("no unexpected errors in the browser console")
        log(f"PASS in {time.monotonic() - started:.1f} s")
    except BaseException:
        try:
            driver.save_screenshot(screenshot)
            log(f"screenshot of the failure saved to {screenshot}")
            for entry in driver.get_log("browser"):
                log(f"console: {entry.get('level')} {entry.get('message')}")
        except Exception:
            pass
        raise
    finally:
        driver.quit()


# MARK: The book player (audiobook listening)

AUDIOBOOK_PAGES = [
    ["The first page begins the story.", "It has two short sentences."],
    ["Here is the second page.", "The reader moves on without a pause."],
    ["The third page is the long one.", "It goes on for a while, sentence after sentence.",
     "Each sentence is a little different from the one before it.", "That makes the highlight move along the text.",
     "A listener can skip fifteen seconds back or on.", "The reading speed can change as well.",
     "This is nearly the end of the long page.", "One more sentence closes it."],
    ["The last page ends the book.", "Thank you for listening to it."],
]
# (title, page): as the Swift tests' pdfWithOutline, the second entry is the first one's child.
AUDIOBOOK_CHAPTERS = [("Opening words", 1), ("A second page", 2), ("The long part", 3), ("Closing", 4)]


def pdf_with_outline(pages, chapters):
    """A PDF with one page per list of lines (Helvetica 12 pt) and an outline (/Outlines) whose entries point at
    pages: ListeningTests.pdfWithOutline in Python (the second chapter nested under the first)."""
    objects = []
    count = len(pages)
    first_page = 5  # 1 catalog, 2 pages, 3 font, 4 outlines, then a page and its content per page, then items
    first_item = first_page + 2 * count
    kids = " ".join(f"{first_page + 2 * index} 0 R" for index in range(count))
    objects.append("<< /Type /Catalog /Pages 2 0 R /Outlines 4 0 R /PageMode /UseOutlines >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    top = [index for index in range(len(chapters)) if index != 1]
    objects.append(f"<< /Type /Outlines /First {first_item + top[0]} 0 R /Last {first_item + top[-1]} 0 R "
                   f"/Count {len(chapters)} >>")
    for index, lines in enumerate(pages):
        content = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {first_page + 2 * index + 1} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        objects.append(f"<< /Length {len(content.encode())} >>\nstream\n{content}\nendstream")
    for index, (title, page) in enumerate(chapters):
        item = f"<< /Title ({title}) /Dest [{first_page + 2 * (page - 1)} 0 R /Fit]"
        if index == 1:
            item += f" /Parent {first_item} 0 R"
        else:
            item += " /Parent 4 0 R"
            position = top.index(index)
            if position > 0:
                item += f" /Prev {first_item + top[position - 1]} 0 R"
            if position + 1 < len(top):
                item += f" /Next {first_item + top[position + 1]} 0 R"
            if index == 0 and len(chapters) > 1:
                item += f" /First {first_item + 1} 0 R /Last {first_item + 1} 0 R /Count 1"
        objects.append(item + " >>")
    output = "%PDF-1.4\n"
    offsets = []
    for index, body in enumerate(objects):
        offsets.append(len(output.encode()))
        output += f"{index + 1} 0 obj\n{body}\nendobj\n"
    xref = len(output.encode())
    output += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    output += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    output += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return output.encode()


def player_state(driver, book_id):
    """What the book's player shows: its page, state, highlighted sentence, the active <audio>, the time, chapters."""
    return driver.execute_script(
        """
        const root = document.querySelector(`.book[data-book-id="${arguments[0]}"] .bp`);
        if (!root) return null;
        const audio = root.querySelector('audio[data-active]');
        const current = root.querySelectorAll('.bp-sentence[aria-current="true"]');
        const session = navigator.mediaSession;
        return {
          state: root.getAttribute('data-state'),
          page: Number(root.getAttribute('data-page') || 0),
          where: root.querySelector('.bp-where').textContent,
          status: root.querySelector('.bp-status').textContent,
          sentence: root.hasAttribute('data-sentence') ? Number(root.getAttribute('data-sentence')) : null,
          highlighted: Array.from(current).map(node => node.textContent),
          sentences: root.querySelectorAll('.bp-sentence').length,
          live_regions: root.querySelectorAll('[aria-live]').length,
          audio: audio ? {
            slot: audio.getAttribute('data-slot'), page: Number(audio.getAttribute('data-page') || 0),
            time: audio.currentTime, paused: audio.paused, ended: audio.ended, rate: audio.playbackRate,
            pitch: audio.preservesPitch, ready: audio.readyState, src: audio.getAttribute('src'),
            duration: audio.duration,
          } : null,
          rates: Array.from(root.querySelectorAll('audio')).map(a => a.playbackRate),
          speed: root.querySelector('.bp-rate').value,
          time: root.querySelector('.bp-time').textContent,
          seek: Number(root.querySelector('.bp-seek').value),
          seek_max: Number(root.querySelector('.bp-seek').max),
          play_label: root.querySelector('.bp-play').getAttribute('aria-label'),
          chapters: Array.from(root.querySelectorAll('.bp-chapter-title')).map(node => node.textContent),
          chapter_now: (root.querySelector('.bp-chapter-jump[aria-current="true"] .bp-chapter-title') || {}).textContent
            || null,
          error: root.querySelector('.bp-error').hidden ? null : root.querySelector('.bp-error').textContent,
          session_title: session && session.metadata ? session.metadata.title : null,
          session_album: session && session.metadata ? session.metadata.album : null,
          session_state: session ? session.playbackState : null,
        };
        """, book_id)


def api_data(driver, path):
    """GET path's `data` from inside the page (with the token in the token scenario)."""
    return driver.execute_script(
        """
        const headers = arguments[1] ? {Authorization: 'Bearer ' + arguments[1]} : {};
        return fetch(arguments[0], {headers, cache: 'no-store'}).then(r => r.json()).then(b => b.data);
        """, path, TOKEN or None)


def saved_position(driver, book_id):
    return api_data(driver, f"/api/books/{book_id}/position/")


def press(driver, key):
    """A key pressed with nothing focused (the page's body), as a listener would."""
    driver.execute_script("if (document.activeElement) document.activeElement.blur()")
    ActionChains(driver).send_keys(key).perform()


def axe_violations(driver):
    """axe-core (the copy axe-selenium-python bundles) over the whole page: its violations."""
    try:
        from axe_selenium_python import Axe
    except ImportError as error:
        raise AssertionError("axe-selenium-python is missing from the test venv (Tests/web/run.sh installs it)") \
            from error
    axe = Axe(driver)
    axe.inject()
    version = driver.execute_script("return window.axe && axe.version")
    results = axe.run()
    return version, results["violations"]


def audiobook_main():
    """The book player: page after page, speed, keys, read-along, chapters, the saved place, axe, 380 px."""
    started = time.monotonic()

    def at():
        return f"{time.monotonic() - started:5.1f} s"

    os.makedirs(ARTIFACTS, exist_ok=True)
    screenshot = os.path.join(ARTIFACTS, f"{PREFIX}.png")
    phone_screenshot = os.path.join(ARTIFACTS, f"{PREFIX}-phone.png")
    driver = make_driver()
    try:
        driver.get(BASE + "/")
        assert "Lector" in driver.title, f"unexpected page title {driver.title!r}"
        if TOKEN:
            wait_for("the token dialog", lambda: token_dialog_open(driver), 15)
            enter_token(driver, TOKEN)
            wait_for("the dialog to close", lambda: not token_dialog_open(driver), 15)
            log(f"{at()} token entered")
        time.sleep(1.0)  # let GET /api/books/ fill in the existing books
        before = book_ids(driver)

        # 1. Upload a four-page PDF with an outline; it is voiced (espeak-ng: every page has segments).
        with tempfile.TemporaryDirectory(prefix="lector-audiobook-") as folder:
            path = os.path.join(folder, "audiobook-4p.pdf")
            with open(path, "wb") as handle:
                handle.write(pdf_with_outline(AUDIOBOOK_PAGES, AUDIOBOOK_CHAPTERS))
            driver.find_element(By.ID, "title").send_keys("Audiobook test")
            driver.find_element(By.ID, "file-input").send_keys(path)
            log(f"{at()} sent {os.path.basename(path)} ({len(AUDIOBOOK_PAGES)} pages, "
                f"{len(AUDIOBOOK_CHAPTERS)} outline entries) to #file-input")
            new_ids = wait_for("a new .book[data-book-id] card", lambda: book_ids(driver) - before, 60)
        assert len(new_ids) == 1, f"expected one new book card, got {sorted(new_ids)}"
        book_id = new_ids.pop()
        wait_for(f"book {book_id}'s .book-progress to reach 100", lambda: progress_of(driver, book_id) == 100,
                 TIMEOUT, interval=0.5)
        pages = api_data(driver, f"/api/books/{book_id}/pages/")["pages"]
        assert all(page["audio_url"] and page["segments"] for page in pages), \
            f"a page has no audio or no segments: {[(p['page_number'], p['audio_url'], p['segments']) for p in pages]}"
        durations = {page["page_number"]: page["audio_duration"] for page in pages}
        log(f"{at()} book {book_id} voiced: page durations {durations} s, segments per page "
            f"{[len(page['segments']) for page in pages]}")
        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')

        # 2. The player opens at the start (nothing saved yet), paused, with the chapters.
        state = wait_for("the book player ready at page 1", lambda: (lambda s: s if s and s["state"] == "paused"
                         and s["page"] == 1 and s["audio"] and s["audio"]["ready"] > 0 else None)(
            player_state(driver, book_id)), 30)
        assert saved_position(driver, book_id)["updated_at"] is None, "a place is saved before anything was played"
        assert state["audio"]["paused"] and state["audio"]["time"] == 0, f"the player did not open at 0 s: {state}"
        assert state["where"] == f"Page 1 of {len(AUDIOBOOK_PAGES)}", f"the player says {state['where']!r}"
        assert state["live_regions"] == 0, "the player has an aria-live region"
        assert state["sentence"] == 0 and len(state["highlighted"]) == 1, f"the first sentence is not marked: {state}"
        expected_src = "blob:" if TOKEN else f"/media/books/{book_id}/page_0001.mp3"
        assert state["audio"]["src"].startswith(expected_src), f"page 1's source is {state['audio']['src']!r}"
        log(f"{at()} player: {state['where']!r}, {state['status']!r}, {state['time']!r}, "
            f"{state['sentences']} sentences shown, the first marked aria-current")
        expected_titles = [title for title, _ in AUDIOBOOK_CHAPTERS]
        assert state["chapters"] == expected_titles, f"the chapter list shows {state['chapters']}"
        card.find_element(By.CSS_SELECTOR, ".bp-chapters > summary").click()
        buttons = card.find_elements(By.CSS_SELECTOR, ".bp-chapter-jump")
        assert [button.is_displayed() for button in buttons] == [True] * len(expected_titles), "chapters not shown"
        assert state["chapter_now"] == "Opening words", f"the current chapter is {state['chapter_now']!r}"
        log(f"{at()} chapters: {state['chapters']} (current {state['chapter_now']!r})")
        for link, suffix in (("a.download:not(.download-m4b)", "/audio/"), ("a.download-m4b", "/audio/?format=m4b")):
            node = card.find_element(By.CSS_SELECTOR, link)
            href = node.get_attribute("href")
            assert node.is_displayed() and href.endswith(f"/api/books/{book_id}{suffix}"), f"{link}: {href}"
        log(f"{at()} whole-book downloads: MP3 and M4B links shown")

        # 3. One press of play: page 1, then page 2 by itself, the change timed.
        driver.execute_script("""
            window.mediaLog = [];
            for (const type of ['ended', 'playing']) {
              document.addEventListener(type, event => {
                const audio = event.target;
                if (audio.classList && audio.classList.contains('bp-audio')) {
                  window.mediaLog.push({type, page: Number(audio.getAttribute('data-page')),
                                        slot: audio.getAttribute('data-slot'), at: performance.now()});
                }
              }, true);
            }
        """)
        card.find_element(By.CSS_SELECTOR, ".bp-play").click()
        state = wait_for("page 1 to play", lambda: (lambda s: s if s["state"] == "playing" and s["audio"]["time"] > 0.2
                         else None)(player_state(driver, book_id)), 15, 0.1)
        assert state["play_label"] == "Pause", f"the play button is labelled {state['play_label']!r} while playing"
        assert state["session_album"] == "Audiobook test" and "Page 1" in (state["session_title"] or ""), \
            f"media session metadata: {state['session_title']!r} / {state['session_album']!r}"
        assert state["session_state"] == "playing", f"media session playbackState {state['session_state']!r}"
        log(f"{at()} playing page 1 ({state['audio']['time']:.2f} s); media session {state['session_title']!r} "
            f"/ {state['session_album']!r}, {state['session_state']}")
        first = state["highlighted"]
        state = wait_for("the highlight to move to page 1's second sentence", lambda: (
            lambda s: s if s["page"] == 1 and s["sentence"] == 1 else None)(player_state(driver, book_id)), 10, 0.1)
        assert len(state["highlighted"]) == 1 and state["highlighted"] != first, f"the highlight: {state['highlighted']}"
        assert state["highlighted"][0] == AUDIOBOOK_PAGES[0][1], f"the highlighted sentence: {state['highlighted']}"
        log(f"{at()} highlight moved {first} -> {state['highlighted']} at {state['audio']['time']:.2f} s")
        state = wait_for("page 2 to play by itself", lambda: (
            lambda s: s if s["page"] == 2 and s["audio"]["page"] == 2 and s["audio"]["time"] > 0.2
            and not s["audio"]["paused"] else None)(player_state(driver, book_id)), 15, 0.1)
        events = driver.execute_script("return window.mediaLog")
        ended = [event for event in events if event["type"] == "ended" and event["page"] == 1]
        resumed = [event for event in events if event["type"] == "playing" and event["page"] == 2]
        assert ended and resumed, f"no ended/playing pair for pages 1 -> 2: {events}"
        gap_ms = resumed[0]["at"] - ended[0]["at"]
        assert ended[0]["slot"] != resumed[0]["slot"], "page 2 was not preloaded in the other <audio>"
        assert gap_ms < 400, f"{gap_ms:.0f} ms between page 1's end and page 2 playing"
        assert state["where"].startswith("Page 2") and state["highlighted"] == [AUDIOBOOK_PAGES[1][0]], state
        assert state["chapter_now"] == "A second page", f"the current chapter is {state['chapter_now']!r}"
        log(f"{at()} page 2 playing by itself ({state['audio']['time']:.2f} s, <audio> slot {ended[0]['slot']} -> "
            f"{resumed[0]['slot']}): {gap_ms:.0f} ms from page 1's `ended` to page 2's `playing`")

        # 4. The speed: the menu, then [ and ]; the pitch is kept.
        Select(card.find_element(By.CSS_SELECTOR, ".bp-rate")).select_by_value("1.5")
        state = player_state(driver, book_id)
        assert state["audio"]["rate"] == 1.5 and set(state["rates"]) == {1.5}, f"playbackRate after 1.5x: {state}"
        assert state["audio"]["pitch"] is True, "preservesPitch is not true"
        press(driver, "]")
        state = player_state(driver, book_id)
        assert state["audio"]["rate"] == 1.75 and state["speed"] == "1.75", f"after ]: {state['audio']['rate']}"
        press(driver, "[")
        press(driver, "[")
        press(driver, "[")
        state = player_state(driver, book_id)
        assert state["audio"]["rate"] == 1 and state["speed"] == "1", f"after [ [ [: {state['audio']['rate']}"
        log(f"{at()} speed: menu 1.5x -> playbackRate 1.5 (preservesPitch true); ] -> 1.75; [ [ [ -> 1")

        # 5. Space pauses and plays (nothing focused); the arrows skip 15 s, across pages.
        press(driver, " ")
        state = wait_for("space to pause", lambda: (lambda s: s if s["state"] == "paused" else None)(
            player_state(driver, book_id)), 5, 0.1)
        assert state["audio"]["paused"] and state["play_label"] == "Play", f"after space: {state}"
        press(driver, " ")
        state = wait_for("space to play again", lambda: (lambda s: s if s["state"] == "playing" else None)(
            player_state(driver, book_id)), 5, 0.1)
        log(f"{at()} space: paused, then playing again at page {state['page']}, {state['audio']['time']:.2f} s")
        before_skip = state["seek"]
        press(driver, Keys.ARROW_RIGHT)
        state = wait_for("Right arrow to skip 15 s on", lambda: (lambda s: s if s["seek"] >= before_skip + 13
                         and s["audio"]["page"] == s["page"] else None)(player_state(driver, book_id)), 10, 0.1)
        assert state["page"] == 3 and state["seek"] <= before_skip + 17, f"after Right: {state}"
        log(f"{at()} Right arrow: {before_skip} s -> {state['seek']} s into the book (page {state['page']}, "
            f"{state['audio']['time']:.1f} s), sentence {state['sentence']} highlighted")
        before_skip = state["seek"]
        press(driver, Keys.ARROW_LEFT)
        state = wait_for("Left arrow to skip 15 s back", lambda: (lambda s: s if s["seek"] <= before_skip - 13
                         and s["audio"]["page"] == s["page"] else None)(player_state(driver, book_id)), 10, 0.1)
        assert state["page"] in (1, 2), f"after Left: {state}"
        log(f"{at()} Left arrow: {before_skip} s -> {state['seek']} s (page {state['page']})")

        # 6. A chapter: plays from its first page at 0 s.
        card.find_element(By.XPATH, ".//button[contains(@class, 'bp-chapter-jump')][.//*[text()='Closing']]").click()
        state = wait_for("the chapter 'Closing' (page 4) to play", lambda: (lambda s: s if s["page"] == 4
                         and s["audio"]["page"] == 4 and s["state"] == "playing" else None)(
            player_state(driver, book_id)), 10, 0.1)
        assert state["audio"]["time"] < 1.0 and state["chapter_now"] == "Closing", f"after the chapter jump: {state}"
        log(f"{at()} chapter 'Closing': page {state['page']} at {state['audio']['time']:.2f} s, "
            f"current chapter {state['chapter_now']!r}")

        # 7. A click on a sentence seeks there.
        sentence = card.find_elements(By.CSS_SELECTOR, ".bp-sentence")[1]
        start = float(sentence.get_attribute("data-start"))
        sentence.click()
        state = player_state(driver, book_id)
        assert abs(state["audio"]["time"] - start) < 0.5 and state["sentence"] == 1, \
            f"after clicking the sentence at {start:.2f} s: {state}"
        log(f"{at()} clicked sentence 2 of page 4: currentTime {state['audio']['time']:.2f} s (its start {start:.2f} s)")

        # 8. Previous page, play a while, pause: the place is on the server.
        card.find_element(By.CSS_SELECTOR, ".bp-prev").click()
        state = wait_for("page 3 to play from 3 s on", lambda: (lambda s: s if s["page"] == 3 and s["audio"]["page"] == 3
                         and s["audio"]["time"] > 3 else None)(player_state(driver, book_id)), 15, 0.1)
        card.find_element(By.CSS_SELECTOR, ".bp-play").click()
        state = wait_for("the pause", lambda: (lambda s: s if s["state"] == "paused" else None)(
            player_state(driver, book_id)), 5, 0.1)
        paused_at = state["audio"]["time"]
        paused_sentence = state["sentence"]
        position = wait_for("the saved place to be page 3", lambda: (lambda p: p if p["page"] == 3
                            and abs(p["seconds"] - paused_at) < 0.3 else None)(saved_position(driver, book_id)), 10)
        assert position["updated_at"], f"the saved place has no updated_at: {position}"
        log(f"{at()} paused on page 3 at {paused_at:.2f} s (sentence {paused_sentence}); "
            f"GET position: page {position['page']}, {position['seconds']} s, updated_at {position['updated_at']}")

        # 9. Reload: the player opens there, paused.
        driver.refresh()
        state = wait_for("the player to resume at page 3", lambda: (lambda s: s if s and s["page"] == 3
                         and s["audio"] and s["audio"]["page"] == 3 and s["audio"]["ready"] > 0
                         and abs(s["audio"]["time"] - paused_at) < 0.5 else None)(player_state(driver, book_id)), 30)
        time.sleep(1.0)
        after = player_state(driver, book_id)
        assert after["audio"]["paused"] and after["state"] == "paused" and \
            abs(after["audio"]["time"] - state["audio"]["time"]) < 0.01, f"the player started by itself: {after}"
        assert after["sentence"] == paused_sentence, f"sentence {after['sentence']} marked, not {paused_sentence}"
        log(f"{at()} after the reload: {after['where']!r} at {after['audio']['time']:.2f} s, paused, "
            f"{after['status']!r}, sentence {after['sentence']} marked, {after['time']!r}")

        card = driver.find_element(By.CSS_SELECTOR, f'.book[data-book-id="{book_id}"]')
        visible = driver.execute_script("""
            const box = arguments[0].querySelector('.bp-text');
            const marked = box.querySelector('.bp-sentence[aria-current="true"]');
            const [outer, inner] = [box.getBoundingClientRect(), marked.getBoundingClientRect()];
            return inner.top >= outer.top - 1 && inner.bottom <= outer.bottom + 1;
        """, card)
        assert visible, "the marked sentence is scrolled out of the text box"

        # 10. It fits a phone; the screenshots (before axe-core, which scrolls the text box as it checks).
        card.find_element(By.CSS_SELECTOR, ".bp-chapters > summary").click()
        width = driver.execute_script("return document.documentElement.scrollWidth")
        viewport = driver.execute_script("return window.innerWidth")
        assert width <= viewport + 1, f"the page scrolls sideways at phone width ({width} > {viewport})"
        controls = driver.execute_script("""
            const root = arguments[0].querySelector('.bp');
            return Array.from(root.querySelectorAll('button, select, input')).filter(n => n.offsetParent)
              .map(n => { const r = n.getBoundingClientRect(); return [r.left, r.right]; });
        """, card)
        assert all(left >= 0 and right <= viewport + 0.5 for left, right in controls), f"controls off screen: {controls}"
        log(f"{at()} no horizontal scrolling at {viewport} px wide; all {len(controls)} player controls on screen")
        driver.execute_script("arguments[0].scrollIntoView()", card)
        driver.save_screenshot(phone_screenshot)
        log(f"screenshot saved to {phone_screenshot}")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1000, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        time.sleep(0.3)
        driver.execute_script("arguments[0].scrollIntoView()", card)
        driver.save_screenshot(screenshot)
        log(f"screenshot saved to {screenshot}")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": PHONE_WIDTH, "height": 860, "deviceScaleFactor": 1, "mobile": True})

        # 11. Accessibility (axe-core) with the player and its chapters open: nothing serious or critical.
        version, violations = axe_violations(driver)
        for violation in violations:
            log(f"axe {violation['impact']}: {violation['id']} ({violation['help']}) on "
                f"{[node['target'] for node in violation['nodes']][:4]}")
        bad = [violation["id"] for violation in violations if violation["impact"] in ("serious", "critical")]
        assert not bad, f"axe-core found serious or critical violations: {bad}"
        log(f"{at()} axe-core {version}: {len(violations)} violations, none serious or critical")

        card.find_element(By.CSS_SELECTOR, "button.delete").click()
        wait_for("the delete confirmation", lambda: driver.switch_to.alert, 10).accept()
        wait_for(f"book {book_id}'s card to go", lambda: book_id not in book_ids(driver), 15)
        log(f"{at()} deleted book {book_id}")
        errors = [entry for entry in driver.get_log("browser")
                  if entry.get("level") == "SEVERE" and "/events/" not in entry.get("message", "")
                  and not (TOKEN and "401" in entry.get("message", ""))]
        assert not errors, f"browser console errors: {errors}"
        log("no unexpected errors in the browser console")
        log(f"PASS in {time.monotonic() - started:.1f} s")
    except BaseException:
        try:
            driver.save_screenshot(screenshot)
            log(f"screenshot of the failure saved to {screenshot}")
            for entry in driver.get_log("browser"):
                log(f"console: {entry.get('level')} {entry.get('message')}")
        except Exception:
            pass
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"[{PREFIX}] FAIL: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
