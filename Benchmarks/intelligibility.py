#!/usr/bin/env python3
"""Rough intelligibility of text-to-speech audio, as word error rate (WER).

Each MP3 is converted to 16 kHz mono WAV with ffmpeg and transcribed by
CMU PocketSphinx (Debian packages `pocketsphinx` and `pocketsphinx-en-us`,
the `pocketsphinx_continuous` command with the stock en-us model). The
transcript is compared with the reference text by word-level Levenshtein
distance: WER = (substitutions + deletions + insertions) / reference words.

PocketSphinx is a weak, old recogniser: even clear speech scores a high WER.
The figure means something only relative to other engines, voices or speeds
transcribed by the same recogniser from the same reference text; it is not an
absolute measure of how well a person would understand the audio.

Usage:
    python3 Benchmarks/intelligibility.py --reference REF.txt \
        [--label NAME=FILE.mp3 ...]

Prints one JSON object on stdout. On any problem it prints a one-line
message on stderr and exits non-zero.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave

MODEL_DIR = "/usr/share/pocketsphinx/model/en-us"
HMM = os.path.join(MODEL_DIR, "en-us")
LM = os.path.join(MODEL_DIR, "en-us.lm.bin")
DICT = os.path.join(MODEL_DIR, "cmudict-en-us.dict")
TIMEOUT = 600  # seconds for each subprocess


class Failure(Exception):
    """A problem that ends the run with a one-line message."""


def normalise(text):
    """Lower-case words made of letters, digits and apostrophes."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w']|_", " ", text)
    words = (word.strip("'") for word in text.split())
    return [word for word in words if word]


def align(ref, hyp):
    """Word-level Levenshtein alignment: (substitutions, deletions, insertions)."""
    rows, cols = len(ref) + 1, len(hyp) + 1
    # dist[r][h]: edits turning the first r reference words into the first h
    # hypothesis words.
    dist = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        dist[r][0] = r
    for h in range(cols):
        dist[0][h] = h
    for r in range(1, rows):
        above, row = dist[r - 1], dist[r]
        for h in range(1, cols):
            diagonal = above[h - 1] + (ref[r - 1] != hyp[h - 1])
            row[h] = min(diagonal, above[h] + 1, row[h - 1] + 1)

    # Walk back from the bottom-right corner, counting each kind of edit.
    subs = dels = ins = 0
    r, h = len(ref), len(hyp)
    while r > 0 or h > 0:
        if r > 0 and h > 0 and dist[r][h] == dist[r - 1][h - 1] + (ref[r - 1] != hyp[h - 1]):
            subs += ref[r - 1] != hyp[h - 1]
            r, h = r - 1, h - 1
        elif r > 0 and dist[r][h] == dist[r - 1][h] + 1:
            dels += 1
            r -= 1
        else:
            ins += 1
            h -= 1
    return subs, dels, ins


def run(cmd, what):
    """Run a command with a timeout; return its stdout or raise Failure."""
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise Failure(f"{what}: timed out after {TIMEOUT} s")
    except OSError as error:
        raise Failure(f"{what}: {error}")
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise Failure(f"{what}: exit status {done.returncode} {last[0]}".strip())
    return done.stdout.decode(errors="replace")


def check_tools():
    for tool in ("ffmpeg", "pocketsphinx_continuous"):
        if shutil.which(tool) is None:
            raise Failure(f"{tool} not found (apt-get install -y ffmpeg pocketsphinx)")
    for path in (HMM, LM, DICT):
        if not os.path.exists(path):
            raise Failure(f"model file {path} missing (apt-get install -y pocketsphinx-en-us)")


def recogniser_name():
    version = "unknown version"
    if shutil.which("dpkg-query"):
        try:
            version = run(["dpkg-query", "-W", "-f=${Version}", "pocketsphinx"],
                          "dpkg-query") or version
        except Failure:
            pass
    return f"pocketsphinx {version} en-us"


def transcribe(mp3, workdir, index):
    """Return (hypothesis text, audio seconds) for one MP3."""
    if not os.path.isfile(mp3) or not os.access(mp3, os.R_OK):
        raise Failure(f"cannot read audio file {mp3}")
    wav = os.path.join(workdir, f"{index}.wav")
    # -bitexact and no metadata keep the plain 44-byte header pocketsphinx expects.
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", mp3,
         "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", wav],
        f"ffmpeg could not convert {mp3}")
    with wave.open(wav, "rb") as audio:
        seconds = audio.getnframes() / audio.getframerate()
    text = run(["pocketsphinx_continuous", "-infile", wav, "-hmm", HMM, "-lm", LM,
                "-dict", DICT, "-samprate", "16000", "-logfn", os.devnull],
               f"pocketsphinx could not transcribe {mp3}")
    return text, seconds


def parse_labels(items):
    labels = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise Failure(f"--label wants NAME=FILE.mp3, got {item!r}")
        if name in labels:
            raise Failure(f"label {name!r} given twice")
        labels[name] = path
    return labels


def main():
    parser = argparse.ArgumentParser(description="WER of TTS audio via PocketSphinx "
                                     "(a relative figure between engines only).")
    parser.add_argument("--reference", required=True, help="text file that was spoken")
    parser.add_argument("--label", action="append", default=[], metavar="NAME=FILE.mp3",
                        help="an engine's name and its audio; may be repeated")
    args = parser.parse_args()

    try:
        labels = parse_labels(args.label)
        try:
            with open(args.reference, encoding="utf-8") as handle:
                reference = normalise(handle.read())
        except (OSError, UnicodeDecodeError) as error:
            raise Failure(f"cannot read reference {args.reference}: {error}")
        if not reference:
            raise Failure(f"reference {args.reference} has no words")
        check_tools()

        results = {}
        with tempfile.TemporaryDirectory(prefix="intelligibility-") as workdir:
            for index, (name, mp3) in enumerate(labels.items()):
                text, seconds = transcribe(mp3, workdir, index)
                hypothesis = normalise(text)
                subs, dels, ins = align(reference, hypothesis)
                results[name] = {
                    "wer": round((subs + dels + ins) / len(reference), 4),
                    "words": len(hypothesis),
                    "substitutions": subs,
                    "deletions": dels,
                    "insertions": ins,
                    "seconds": round(seconds, 2),
                }
        print(json.dumps({"recogniser": recogniser_name(),
                          "reference_words": len(reference),
                          "results": results}))
    except Failure as error:
        print(f"intelligibility.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
