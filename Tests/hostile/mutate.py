"""Seeded mutations of PDF bytes: every choice comes from the `random.Random` passed in."""

import re

NUMBER = re.compile(rb"(?<![A-Za-z0-9.#/])-?\d+(?:\.\d+)?(?![A-Za-z0-9.])")
OBJECT = re.compile(rb"\d+ 0 obj\b.*?\bendobj\b", re.S)

EVIL_NUMBERS = [
    b"99999999999999999999", b"-1", b"-2147483649", b"2147483648", b"4294967296", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775809", b"1e23", b"-1e23", b"1e308", b"NaN", b"nan", b"inf",
    b"-inf", b"-0", b"0", b"0.0000000001", b"1.#QNAN", b"--5", b"1.7976931348623157e309", b"9" * 400,
    b"-" + b"9" * 400, b"0." + b"0" * 399 + b"1", b"1" + b"0" * 399, b"65535", b"-32768", b".", b"+-1",
]
JUNK_TOKENS = [
    b"endobj", b"stream\n", b"endstream", b"<<", b">>", b"[" * 2000, b"<<" * 500, b"(" * 1000, b"%%EOF\n",
    b"xref\n0 1\n", b"trailer << /Root 1 0 R >>", b"/Type /Page", b"/Type /Pages", b"0 0 R", b"null",
    b"\x00" * 64, b"\xff" * 64, b"R R R R", b"/Length 99999999999", b"/Filter /JBIG2Decode", b"obj",
]


def flip(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 24)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def bit_flip(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def truncate(rng, data):
    return data[: rng.randrange(max(1, len(data)))] if len(data) > 1 else data


def numbers(rng, data):
    spots = list(NUMBER.finditer(data))
    if not spots:
        return flip(rng, data)
    out = data
    for match in sorted(rng.sample(spots, min(len(spots), rng.randint(1, 6))), key=lambda m: -m.start()):
        out = out[: match.start()] + rng.choice(EVIL_NUMBERS) + out[match.end():]
    return out


def duplicate_object(rng, data):
    objects = list(OBJECT.finditer(data[:2_000_000]))
    if not objects:
        return flip(rng, data)
    chosen = rng.choice(objects)
    body = chosen.group(0)
    if rng.random() < 0.5:  # the copy says something else under the same number
        body = numbers(rng, body)
    where = rng.choice([chosen.end(), rng.randrange(len(data) + 1), data.rfind(b"xref") if b"xref" in data else len(data)])
    return data[:where] + b"\n" + body + b"\n" + data[where:]


def delete_range(rng, data):
    if len(data) < 4:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, min(4096, len(data) - start)):]


def repeat_range(rng, data):
    if len(data) < 4:
        return data
    start = rng.randrange(len(data))
    piece = data[start: start + rng.randint(1, 128)]
    return data[:start] + piece * rng.randint(2, 8) + data[start:]


def junk(rng, data):
    where = rng.randrange(len(data) + 1)
    return data[:where] + rng.choice(JUNK_TOKENS) + data[where:]


def splice(rng, data, other):
    if not other:
        return data
    a = rng.randrange(len(data) + 1)
    b = rng.randrange(len(other))
    return data[:a] + other[b: b + rng.randint(16, 2048)] + data[a:]


OPERATORS = [
    ("flip", flip, 4), ("bitflip", bit_flip, 2), ("truncate", truncate, 3), ("numbers", numbers, 6),
    ("dupobj", duplicate_object, 3), ("delete", delete_range, 2), ("repeat", repeat_range, 1), ("junk", junk, 2),
]


def mutate(rng, data, other=None):
    """1–3 operators in a row; returns (mutated bytes, description)."""
    names = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        if other is not None and rng.random() < 0.08:
            data = splice(rng, data, other)
            names.append("splice")
            continue
        name, operator, _ = rng.choices(OPERATORS, weights=[w for _, _, w in OPERATORS])[0]
        data = operator(rng, data)
        names.append(name)
    return data, "+".join(names)
