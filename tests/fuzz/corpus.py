"""The bad-input corpus: small hostile files for every reader, generated into a folder.

``build(root)`` writes everything under `root` (a test's tmp_path; nothing is committed) and
returns the cases: each names its reader, what is wrong with the input, the in-process call that
reads it, the outcomes allowed ("error": one clear ExplorerError sentence naming `names`; "skip":
read with a per-item skip report; "accept": valid if odd input read as is) and, for a
representative subset, the CLI command that must print one `error:` line.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ERROR = frozenset({"error"})
SKIP = frozenset({"skip"})
ERROR_OR_SKIP = frozenset({"error", "skip"})
ACCEPT = frozenset({"accept"})
ANY_CLEAN = frozenset({"error", "skip", "accept"})

#: captions a stranger may write (DiffusionDB prompts): all must be read as text, never crash
ODD_CAPTIONS = {
    "control characters": "a\x01b\x07c\x1bd [bell, escape] cat",
    "zero-width characters": "a\u200bdog\u200c\u200d\ufeff",
    "right-to-left text": "\u202eflipped\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "1 MB caption": "long " * 200_000,
    "script tag": "<script>window.__pwned=1</script>",
    "combining marks": "Z\u0351\u0352\u0353a\u0300\u0301\u0302lgo",
}


@dataclass
class Case:
    reader: str
    name: str
    call: Callable[[], Any]
    expect: frozenset[str]
    names: str  # what an error sentence must mention (the file or folder at fault)
    cli: list[str] | None = None
    seconds: float = 30  # the bound of this case (building an RN50 to list its weights takes ~8 s on 2 busy cores)


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def png_bytes(size=(8, 6), mode="RGB", colour=None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, colour if colour is not None else 128).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width=20000, height=20000) -> bytes:
    """A PNG whose header claims width×height RGB pixels, with one tiny compressed row: nothing
    that large is ever allocated unless a reader ignores the decompression-bomb limit."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * fraction))])
    return path


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _arrays(n=6, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return unit(rng.normal(size=(n, d)) + 1), unit(rng.normal(size=(n, d)) - 1)


# -- precomputed sources ------------------------------------------------------------------------
def _source(spec: str):
    from explorer.sources import open_source

    return lambda: open_source(spec)


def _dataset(spec: str, **options):
    from explorer.sources import load_pairs

    return lambda: load_pairs(spec, **options)


def amumo_cases(root: Path) -> list[Case]:
    from PIL import Image

    def export(name, n=6, captions=None, matrix=None, csv_bytes=None, prompts_bytes=None):
        d = root / "amumo" / name
        (d / "similarities").mkdir(parents=True)
        (d / "images").mkdir()
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(d / "images" / f"{i}.jpg")
        caps = captions if captions is not None else [f"caption number {i}" for i in range(n)]
        write(d / "prompts.txt", prompts_bytes if prompts_bytes is not None else "\n".join(caps) + "\n")
        if matrix is None:
            x, y = _arrays(n)
            z = np.concatenate([x, y])
            matrix = z @ z.T
        if csv_bytes is not None:
            write(d / "similarities" / "CLIP.csv", csv_bytes)
        else:
            np.savetxt(d / "similarities" / "CLIP.csv", matrix, delimiter=",")
        return d

    good = export("valid")
    csv = (good / "similarities" / "CLIP.csv").read_bytes()
    x, y = _arrays(6)
    z = np.concatenate([x, y])
    nan = z @ z.T
    nan[2, 3] = np.nan
    cases = [
        ("zero-byte similarity csv", export("zero_csv", csv_bytes=b""), ERROR, "CLIP.csv"),
        ("truncated similarity csv", export("trunc_csv", csv_bytes=csv[: len(csv) // 2]), ERROR, "CLIP.csv"),
        ("binary junk as csv", export("junk_csv", csv_bytes=os.urandom(300)), ERROR, "CLIP.csv"),
        ("NaN in the matrix", export("nan", matrix=nan), ERROR, "CLIP.csv"),
        ("non-square matrix", export("nonsquare", matrix=(z @ z.T)[:, :-1]), ERROR, "CLIP.csv"),
        ("prompts fewer than the matrix", export("fewer", captions=[f"c{i}" for i in range(5)]), ERROR, "amumo"),
        ("zero-byte prompts", export("zero_prompts", prompts_bytes=b""), ERROR, "prompts"),
        ("non-UTF-8 prompts", export("latin1", prompts_bytes="caf\xe9\n".encode("latin-1") * 6), ERROR_OR_SKIP | ACCEPT, "prompts"),
        ("odd captions", export("odd", captions=[c.replace("\n", " ") for c in ODD_CAPTIONS.values()]), ACCEPT, "amumo"),
    ]
    out = [Case("amumo", n, _source(f"amumo:{d}"), e, names) for n, d, e, names in cases]
    out[0].cli = ["gap-table", f"amumo:{cases[0][1]}"]
    return out


def amumo_csv_cases(root: Path) -> list[Case]:
    def caches(name, image=None, text=None, image_bytes=None):
        d = root / "amumo_csv" / name
        d.mkdir(parents=True)
        x, y = _arrays(6, 4)
        pre = d / "MSCOCO-Val_size-6_CLIP_RN50"
        if image_bytes is not None:
            write(Path(f"{pre}_image-embedding.csv"), image_bytes)
        else:
            np.savetxt(f"{pre}_image-embedding.csv", x if image is None else image, delimiter=",")
        np.savetxt(f"{pre}_text-embedding.csv", y if text is None else text, delimiter=",")
        return d

    x, y = _arrays(6, 4)
    nan = x.copy()
    nan[1, 2] = np.nan
    inf = x.copy()
    inf[0, 0] = np.inf
    zero = x.copy()
    zero[3] = 0
    cases = [
        ("zero-byte image csv", caches("zero", image_bytes=b""), ERROR, "MSCOCO-Val_size-6_CLIP_RN50"),
        ("truncated image csv", caches("trunc", image_bytes=b"0.1,0.2,0.3,0.4\n0.5,0."), ERROR, "MSCOCO-Val_size-6_CLIP_RN50"),
        ("binary junk", caches("junk", image_bytes=os.urandom(200)), ERROR, "MSCOCO-Val_size-6_CLIP_RN50"),
        ("NaN vector", caches("nan", image=nan), ERROR, "MSCOCO-Val_size-6_CLIP_RN50"),
        ("infinite vector", caches("inf", image=inf), ERROR, "MSCOCO-Val_size-6_CLIP_RN50"),
        ("zero vector", caches("zerovec", image=zero), ERROR, "MSCOCO-Val_size-6_CLIP_RN50"),
        ("mismatched row counts", caches("rows", text=y[:5]), ERROR, "MSCOCO"),
        ("mismatched dimensions", caches("dims", text=y[:, :3]), ERROR, "MSCOCO"),
        ("non-normalised vectors", caches("scaled", image=x * 7.5), ACCEPT, ""),
    ]
    out = [Case("amumo-csv", n, _source(f"amumo-csv:{d}"), e, names) for n, d, e, names in cases]
    return out


def liang_cases(root: Path) -> list[Case]:
    d = root / "liang"
    d.mkdir()
    x, y = _arrays(6, 4)
    good = np.stack([x, y]).astype(np.float32)

    def save(name, a, **kw):
        np.save(d / name, a, **kw)
        return d / name

    np.save(d / "valid.npy", good)
    nan, inf, zero = good.copy(), good.copy(), good.copy()
    nan[0, 1, 1] = np.nan
    inf[1, 2, 0] = -np.inf
    zero[0, 4] = 0
    cases = [
        ("zero-byte", write(d / "zero.npy", b""), ERROR),
        ("truncated", truncate(save("trunc.npy", good)), ERROR),
        ("truncated header", write(d / "header.npy", (d / "valid.npy").read_bytes()[:20]), ERROR),
        ("wrong magic", write(d / "magic.npy", b"NOTNUMPY" + os.urandom(100)), ERROR),
        ("an .npz given as .npy", write(d / "zip.npy", b"PK\x03\x04" + os.urandom(60)), ERROR),
        ("wrong shape (N, D)", save("2d.npy", good[0]), ERROR),
        ("three modalities", save("three.npy", np.concatenate([good, good[:1]])), ERROR),
        ("object array (pickle)", save("obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True), ERROR),
        ("string dtype", save("str.npy", np.full((2, 3, 4), "x")), ERROR),
        ("complex dtype", save("complex.npy", good.astype(np.complex64)), ERROR),
        ("NaN vector", save("nan.npy", nan), ERROR),
        ("infinite vector", save("inf.npy", inf), ERROR),
        ("zero vector", save("zerovec.npy", zero), ERROR),
        ("zero rows", save("empty.npy", np.zeros((2, 0, 4), np.float32)), ERROR),
        ("zero dimensions", save("nodim.npy", np.zeros((2, 6, 0), np.float32)), ERROR),
        ("non-normalised float64", save("scaled.npy", good.astype(np.float64) * 3), ACCEPT),
        ("integer dtype", save("int.npy", (good * 100).astype(np.int16) + 1), ANY_CLEAN),
    ]
    out = [Case("liang", n, _source(f"liang:{p}"), e, p.name) for n, p, e in cases]
    for c in out:
        if c.name == "truncated":
            c.cli = ["gap-table", f"liang:{d / c.names}"]
    return out


def npz_cases(root: Path) -> list[Case]:
    d = root / "npz"
    d.mkdir()
    x, y = _arrays(6, 4)
    caps = np.array([f"c{i}" for i in range(6)])

    def save(name, **arrays):
        np.savez(d / name, **arrays)
        return d / name

    good = save("valid.npz", image=x, text=y, captions=caps)
    nan = x.copy()
    nan[2, 2] = np.nan
    odd = np.array(list(ODD_CAPTIONS.values()))
    cases = [
        ("zero-byte", write(d / "zero.npz", b""), ERROR),
        ("truncated zip", write(d / "trunc.npz", good.read_bytes()[: good.stat().st_size // 2]), ERROR),
        ("wrong magic", write(d / "magic.npz", os.urandom(200)), ERROR),
        ("zip of text files", _zip(d / "text.npz", {"image.npy": b"hello", "text.npy": b"world"}), ERROR),
        ("wrong keys", save("keys.npz", foo=x, bar=y), ERROR),
        ("mismatched counts", save("counts.npz", image=x, text=y[:4]), ERROR),
        ("mismatched dims", save("dims.npz", image=x, text=y[:, :3]), ERROR),
        ("caption count differs", save("caps.npz", image=x, text=y, captions=caps[:3]), ERROR),
        ("3-D image array", save("3d.npz", image=x[None], text=y), ERROR),
        ("NaN vector", save("nan.npz", image=nan, text=y), ERROR),
        ("object captions", _npz_pickle(d / "objcaps.npz", x, y), ERROR),
        ("bytes captions", save("bytescaps.npz", image=x, text=y, captions=np.array([b"\xff\xfe\x00" + bytes([i]) for i in range(6)])), ANY_CLEAN),
        ("odd captions", save("odd.npz", image=x, text=y, captions=odd), ACCEPT),
        ("string logit scale", save("scale.npz", image=x, text=y, logit_scale="abc"), ERROR),
        ("non-normalised", save("scaled.npz", image=x * 9, text=y * 0.01), ACCEPT),
    ]
    out = [Case("npz", n, _source(f"npz:{p}"), e, p.name) for n, p, e in cases]
    out[1].cli = ["gap-table", f"npz:{cases[1][1]}"]
    return out


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return path


def _npz_pickle(path: Path, x, y) -> Path:
    np.savez(path, image=x, text=y, captions=np.array([{"x": 1}] * len(x), dtype=object))
    return path


def parquet_cases(root: Path) -> list[Case]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = root / "parquet"
    d.mkdir()
    x, y = _arrays(4, 3)

    def table(name, t):
        pq.write_table(t, d / name)
        return d / name

    good = table("valid.parquet", pa.table({"image": x.tolist(), "text": y.tolist(), "caption": ["a", "b", "c", "d"]}))
    nan = x.copy()
    nan[0, 0] = np.nan
    cases = [
        ("zero-byte", write(d / "zero.parquet", b""), ERROR),
        ("truncated", write(d / "trunc.parquet", good.read_bytes()[: good.stat().st_size // 2]), ERROR),
        ("wrong magic", write(d / "magic.parquet", os.urandom(300)), ERROR),
        ("CSV named .parquet", write(d / "csv.parquet", "image,text\n1,2\n"), ERROR),
        ("wrong columns", table("cols.parquet", pa.table({"a": x.tolist(), "b": y.tolist()})), ERROR),
        ("ragged vectors", table("ragged.parquet", pa.table({"image": [[1.0, 2.0], [1.0]], "text": [[1.0, 2.0], [3.0, 4.0]]})), ERROR),
        ("strings as vectors", table("strs.parquet", pa.table({"image": ["a", "b"], "text": ["c", "d"]})), ERROR),
        ("NaN vector", table("nan.parquet", pa.table({"image": nan.tolist(), "text": y.tolist()})), ERROR),
        ("null vector", table("null.parquet", pa.table({"image": [x[0].tolist(), None, x[2].tolist(), x[3].tolist()], "text": y.tolist()})), ERROR),
        ("zero rows", table("empty.parquet", pa.table({"image": pa.array([], pa.list_(pa.float64())), "text": pa.array([], pa.list_(pa.float64()))})), ERROR),
        ("odd captions", table("odd.parquet", pa.table({"image": x.tolist(), "text": y.tolist(),
                                                         "caption": list(ODD_CAPTIONS.values())[:4]})), ACCEPT),
        ("bad logit scale metadata", table("scale.parquet", pa.table({"image": x.tolist(), "text": y.tolist()})
                                           .replace_schema_metadata({"logit_scale": "lots"})), ERROR),
    ]
    out = [Case("parquet", n, _source(f"parquet:{p}"), e, p.name) for n, p, e in cases]
    out[1].cli = ["gap-table", f"parquet:{cases[1][1]}"]
    return out


def store_cases(root: Path) -> list[Case]:
    from explorer.embeddings import Embeddings
    from explorer.store import EmbeddingStore, entry_key

    store = EmbeddingStore(root / "store")
    x, y = _arrays(6, 4)
    out = []

    def entry(name, damage, expect=ERROR):
        key = entry_key(name, "m")
        e = store.save(key, Embeddings.from_arrays(x, y, model="m", logit_scale=10))
        damage(e.path)
        out.append(Case("store", name, _source(f"store:{e.path}"), expect, e.path.name))

    def manifest(edit):
        def damage(p):
            m = json.loads((p / "manifest.json").read_text())
            edit(m)
            (p / "manifest.json").write_text(json.dumps(m))
        return damage

    entry("zero-byte manifest", lambda p: (p / "manifest.json").write_bytes(b""))
    entry("truncated manifest", lambda p: truncate(p / "manifest.json"))
    entry("non-UTF-8 manifest", lambda p: (p / "manifest.json").write_bytes(b"\xff\xfe{\x00"))
    entry("manifest is a list", lambda p: (p / "manifest.json").write_text("[1, 2]"))
    entry("manifest without arrays", manifest(lambda m: m.pop("arrays")))
    entry("arrays not a mapping", manifest(lambda m: m.__setitem__("arrays", "image.npy")))
    entry("wrong shape in manifest", manifest(lambda m: m["arrays"]["image"].__setitem__("shape", [7, 4])))
    entry("file name with traversal", manifest(lambda m: m["arrays"]["image"].__setitem__("file", "../../../etc/passwd")))
    entry("logit scale not a number", manifest(lambda m: m.__setitem__("logit_scale", "hot")))
    entry("zero-byte array", lambda p: (p / "image.npy").write_bytes(b""))
    entry("truncated array", lambda p: truncate(p / "text.npy", 0.9))
    entry("array deleted", lambda p: (p / "text.npy").unlink())
    entry("array is a folder", lambda p: ((p / "text.npy").unlink(), (p / "text.npy").mkdir()))

    def flip(p):
        b = bytearray((p / "image.npy").read_bytes())
        b[-3] ^= 0x10
        (p / "image.npy").write_bytes(bytes(b))

    entry("one flipped bit", flip)
    out[-1].cli = ["gap-table", str(store.path(entry_key("one flipped bit", "m")))]
    return out


def clip_retrieval_cases(root: Path) -> list[Case]:
    import pandas as pd

    def folder(name, sizes=(3, 4), damage=None):
        d = root / "clip_retrieval" / name
        for sub in ("img_emb", "text_emb", "metadata"):
            (d / sub).mkdir(parents=True)
        for i, rows in enumerate(sizes):
            x, y = _arrays(rows, 4, seed=i)
            np.save(d / "img_emb" / f"img_emb_{i}.npy", x.astype(np.float16))
            np.save(d / "text_emb" / f"text_emb_{i}.npy", y.astype(np.float16))
            pd.DataFrame({"image_path": [f"/nowhere/{i}_{r}.jpg" for r in range(rows)],
                          "caption": [f"caption {r}" for r in range(rows)]}).to_parquet(d / "metadata" / f"metadata_{i}.parquet")
        if damage:
            damage(d)
        return d

    def nan(d):
        a = np.load(d / "img_emb" / "img_emb_1.npy")
        a[1, 1] = np.nan
        np.save(d / "img_emb" / "img_emb_1.npy", a)

    cases = [
        ("zero-byte embedding shard", lambda d: (d / "img_emb" / "img_emb_0.npy").write_bytes(b""), ERROR, "img_emb_0.npy"),
        ("truncated embedding shard", lambda d: truncate(d / "text_emb" / "text_emb_1.npy", 0.7), ERROR, "text_emb_1.npy"),
        ("junk metadata parquet", lambda d: (d / "metadata" / "metadata_0.parquet").write_bytes(os.urandom(100)), ERROR, "metadata_0.parquet"),
        ("fewer text rows than image rows", lambda d: np.save(d / "text_emb" / "text_emb_0.npy", np.ones((2, 4), np.float16)), ERROR, "text_emb_0.npy"),
        ("NaN vector", nan, ERROR, "img_emb_1.npy"),
        ("no metadata folder", lambda d: [p.unlink() for p in (d / "metadata").iterdir()], ERROR, "metadata"),
        ("empty img_emb", lambda d: [p.unlink() for p in (d / "img_emb").iterdir()], ERROR, "img_emb"),
    ]
    out = []
    for n, dmg, e, names in cases:
        d = folder(n.replace(" ", "_"), damage=dmg)
        out.append(Case("clip-retrieval", n, _source(f"clip-retrieval:{d}"), e, names, cli=["gap-table", f"clip-retrieval:{d}"] if not out else None))
    return out


# -- datasets -----------------------------------------------------------------------------------
def coco_cases(root: Path) -> list[Case]:
    def coco(name, annotations_bytes=None, data=None):
        d = root / "coco" / name
        (d / "annotations").mkdir(parents=True)
        (d / "val2017").mkdir()
        write(d / "val2017" / "a.jpg", png_bytes())
        if data is None:
            data = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1, "image_id": 1, "caption": "a cat"}]}
        write(d / "annotations" / "captions_val2017.json", annotations_bytes if annotations_bytes is not None else json.dumps(data))
        return d

    good = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1, "image_id": 1, "caption": "a cat"}]}
    text = json.dumps(good).encode()
    cases = [
        ("zero-byte annotations", coco("zero", b""), ERROR, "captions_val2017.json"),
        ("truncated annotations", coco("trunc", text[: len(text) // 2]), ERROR, "captions_val2017.json"),
        ("non-UTF-8 annotations", coco("latin", b'{"images": [], "annotations": [{"caption": "caf\xe9"}]}'), ERROR, "captions_val2017.json"),
        ("annotations are a list", coco("list", b"[1, 2, 3]"), ERROR, "captions_val2017.json"),
        ("no images key", coco("keys", data={"annotations": []}), ERROR, "captions_val2017.json"),
        ("images are not objects", coco("strs", data={"images": ["a.jpg"], "annotations": []}), ERROR, "strs"),
        ("caption is a number", coco("num", data={**good, "annotations": [{"id": 1, "image_id": 1, "caption": 7}]}), ANY_CLEAN, "num"),
        ("file name with traversal", coco("trav", data={"images": [{"id": 1, "file_name": "../../../../etc/passwd"}, *good["images"][:0],
                                                                  {"id": 2, "file_name": "a.jpg"}],
                                                       "annotations": [{"id": 1, "image_id": 1, "caption": "x"},
                                                                       {"id": 2, "image_id": 2, "caption": "y"}]}), SKIP, "passwd"),
        ("odd captions", coco("odd", data={"images": [{"id": 1, "file_name": "a.jpg"}],
                                           "annotations": [{"id": i, "image_id": 1, "caption": c} for i, c in enumerate(ODD_CAPTIONS.values())]}),
         ACCEPT, ""),
    ]
    out = [Case("coco", n, _dataset(f"coco:{d}"), e, names) for n, d, e, names in cases]
    out[1].cli = ["embed", "--dataset", f"coco:{cases[1][1]}", "--model", "own:clip"]
    return out


def diffusiondb_cases(root: Path) -> list[Case]:
    import pandas as pd

    def ddb(name, meta=None, meta_bytes=None, zip_members=None, zip_bytes=None):
        d = root / "diffusiondb" / name
        (d / "images").mkdir(parents=True)
        members = zip_members if zip_members is not None else {"a.png": png_bytes(), "part-000001.json": json.dumps({"a.png": {"p": "x"}})}
        if zip_bytes is not None:
            write(d / "images" / "part-000001.zip", zip_bytes)
        else:
            _zip(d / "images" / "part-000001.zip", members)
        if meta_bytes is not None:
            write(d / "metadata.parquet", meta_bytes)
        else:
            m = meta if meta is not None else {"image_name": ["a.png"], "prompt": ["a prompt"], "part_id": [1]}
            pd.DataFrame(m).to_parquet(d / "metadata.parquet")
        return d

    good_zip = root / "ddb_zip_probe.zip"
    _zip(good_zip, {"a.png": png_bytes(), "part-000001.json": "{}"})
    zbytes = good_zip.read_bytes()
    cases = [
        ("zero-byte metadata", ddb("zero", meta_bytes=b""), ERROR, "metadata.parquet"),
        ("junk metadata", ddb("junk", meta_bytes=os.urandom(500)), ERROR, "metadata.parquet"),
        ("metadata without columns", ddb("cols", meta={"x": [1]}), ERROR, "metadata.parquet"),
        ("truncated part zip", ddb("trunczip", zip_bytes=zbytes[: len(zbytes) // 2]), ERROR_OR_SKIP, "part-000001.zip"),
        ("zero-byte part zip", ddb("zerozip", zip_bytes=b""), ERROR_OR_SKIP, "part-000001.zip"),
        ("zip member with traversal", ddb("slip", zip_members={"../../evil.png": png_bytes(), "a.png": png_bytes()},
                                        meta={"image_name": ["../../evil.png", "a.png"], "prompt": ["evil", "good"], "part_id": [1, 1]}),
         SKIP, "evil.png"),
        ("prompt is null", ddb("null", meta={"image_name": ["a.png"], "prompt": [None], "part_id": [1]}), ERROR_OR_SKIP, "a.png"),
        ("odd prompts", ddb("odd", zip_members={f"{i}.png": png_bytes() for i in range(len(ODD_CAPTIONS))},
                            meta={"image_name": [f"{i}.png" for i in range(len(ODD_CAPTIONS))], "prompt": list(ODD_CAPTIONS.values()),
                                  "part_id": [1] * len(ODD_CAPTIONS)}), ACCEPT, ""),
    ]
    out = [Case("diffusiondb", n, _dataset(f"diffusiondb:{d}"), e, names) for n, d, e, names in cases]
    out[1].cli = ["embed", "--dataset", f"diffusiondb:{cases[1][1]}", "--model", "own:clip"]
    return out


def pairs_cases(root: Path) -> list[Case]:
    import pandas as pd

    d = root / "pairs"
    write(d / "img" / "a.png", png_bytes())
    rows = pd.DataFrame({"image": ["img/a.png"] * 2, "caption": ["a cat", "a dog"]})
    rows.to_csv(d / "valid.csv", index=False)
    rows.to_parquet(d / "valid.parquet")
    odd = pd.DataFrame({"image": ["img/a.png"] * (len(ODD_CAPTIONS) + 1), "caption": [*ODD_CAPTIONS.values(), ""]})
    cases = [
        ("csv", "zero-byte", write(d / "zero.csv", b""), ERROR),
        ("csv", "non-UTF-8", write(d / "latin.csv", "image,caption\nimg/a.png,caf\xe9 cr\xe8me\n".encode("latin-1")), ERROR_OR_SKIP | ACCEPT),
        ("csv", "mixed encodings", write(d / "mixed.csv", "image,caption\nimg/a.png,na\u00efve\n".encode() + b"img/a.png,caf\xe9\n"),
         ERROR_OR_SKIP | ACCEPT),
        ("csv", "binary junk", write(d / "junk.csv", os.urandom(400)), ERROR),
        ("csv", "NUL bytes", write(d / "nul.csv", b"image,caption\nimg/a.png,a\x00b\n"), ANY_CLEAN),
        ("csv", "wrong columns", write(d / "cols.csv", "x,y\n1,2\n"), ERROR),
        ("csv", "unclosed quote", write(d / "quote.csv", 'image,caption\nimg/a.png,"never closed\n'), ANY_CLEAN),
        ("csv", "odd captions and an empty one", _to(odd, d / "odd.csv"), SKIP),
        ("tsv", "zero-byte", write(d / "zero.tsv", b""), ERROR),
        ("tsv", "commas instead of tabs", write(d / "commas.tsv", "image,caption\nimg/a.png,x\n"), ERROR),
        ("jsonl", "zero-byte", write(d / "zero.jsonl", b""), ERROR),
        ("jsonl", "truncated line", write(d / "trunc.jsonl", '{"image": "img/a.png", "caption": "x"}\n{"image": "img/a.pn'), ERROR),
        ("jsonl", "lines are not objects", write(d / "list.jsonl", "[1, 2]\n3\n"), ERROR),
        ("jsonl", "caption is an object", write(d / "obj.jsonl", '{"image": "img/a.png", "caption": {"a": 1}}\n'), ERROR_OR_SKIP | ACCEPT),
        ("parquet", "zero-byte", write(d / "zero.parquet", b""), ERROR),
        ("parquet", "truncated", write(d / "trunc.parquet", (d / "valid.parquet").read_bytes()[:100]), ERROR),
        ("parquet", "wrong magic", write(d / "magic.parquet", b"PAR2" + os.urandom(200)), ERROR),
    ]
    out = [Case(f"pairs {fmt}", n, _dataset(f"pairs:{p}"), e, p.name) for fmt, n, p, e in cases]
    out[3].cli = ["embed", "--dataset", f"pairs:{cases[3][2]}", "--model", "own:clip"]
    return out


def _to(df, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def folder_cases(root: Path) -> list[Case]:
    base = root / "folder"

    def folder(name, files):
        d = base / name
        d.mkdir(parents=True)
        for rel, data in files.items():
            if isinstance(data, tuple) and data[0] == "symlink":
                (d / rel).symlink_to(data[1])
            else:
                write(d / rel, data)
        return d

    outside = write(base / "outside.png", png_bytes())
    write(base / "outside.txt", "outside the root")
    cases = [
        ("empty folder", folder("empty", {}), ERROR, "empty"),
        ("no captions", folder("nocap", {"a.png": png_bytes()}), ERROR_OR_SKIP, "a.png"),
        ("non-UTF-8 caption file", folder("latin", {"a.png": png_bytes(), "a.txt": b"caf\xe9", "b.png": png_bytes(), "b.txt": "ok"}), SKIP, "a.txt"),
        ("symlink loop", folder("loop", {"a.png": ("symlink", "b.png"), "b.png": ("symlink", "a.png"), "a.txt": "loop",
                                         "c.png": png_bytes(), "c.txt": "fine"}), SKIP, "a.png"),
        ("symlink out of the root", folder("escape", {"a.png": ("symlink", str(outside)), "a.txt": "escape", "c.png": png_bytes(), "c.txt": "ok"}),
         SKIP, "a.png"),
        ("directory loop", folder("dirloop", {"sub": ("symlink", "."), "c.png": png_bytes(), "c.txt": "ok"}), ANY_CLEAN, "dirloop"),
        ("odd captions", folder("odd", {**{f"{i}.png": png_bytes() for i in range(len(ODD_CAPTIONS))},
                                       **{f"{i}.txt": c for i, c in enumerate(ODD_CAPTIONS.values())}}), ACCEPT, ""),
    ]
    return [Case("folder", n, _dataset(f"folder:{d}"), e, names) for n, d, e, names in cases]


def webdataset_cases(root: Path) -> list[Case]:
    d = root / "webdataset"
    d.mkdir()

    def shard(name, samples, raw=None):
        p = d / name
        if raw is not None:
            return write(p, raw)
        with tarfile.open(p, "w") as tf:
            for member, data in samples:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        return p

    good = shard("valid.tar", [("000.jpg", png_bytes()), ("000.txt", b"a cat"), ("001.jpg", png_bytes()), ("001.txt", b"a dog")])
    cases = [
        ("zero-byte shard", shard("zero.tar", None, b""), ERROR_OR_SKIP, "zero.tar"),
        ("truncated shard", shard("trunc.tar", None, good.read_bytes()[:700]), ERROR_OR_SKIP, "trunc.tar"),
        ("not a tar", shard("junk.tar", None, os.urandom(2000)), ERROR_OR_SKIP, "junk.tar"),
        ("member with traversal", shard("trav.tar", [("../../evil.jpg", png_bytes()), ("../../evil.txt", b"x"),
                                                      ("000.jpg", png_bytes()), ("000.txt", b"ok")]), ANY_CLEAN, "evil"),
        ("non-UTF-8 caption", shard("latin.tar", [("000.jpg", png_bytes()), ("000.txt", b"caf\xe9"), ("001.jpg", png_bytes()),
                                                  ("001.txt", b"ok")]), SKIP | ACCEPT, "000"),
        ("odd captions", shard("odd.tar", [m for i, c in enumerate(ODD_CAPTIONS.values())
                                           for m in ((f"{i:03d}.jpg", png_bytes()), (f"{i:03d}.txt", c.encode()))]), ACCEPT, ""),
        ("pattern matches nothing", d / "nothing-*.tar", ERROR, "nothing"),
    ]
    return [Case("webdataset", n, _dataset(f"webdataset:{p}"), e, names) for n, p, e, names in cases]


def spec_cases(root: Path) -> list[Case]:
    img = write(root / "augment" / "a.png", png_bytes((16, 16)))
    bad = write(root / "augment" / "trunc.png", png_bytes((16, 16))[:40])
    zero = write(root / "augment" / "zero.png", b"")
    cases = [
        ("shapes", "count is not a number", "shapes:abc", ERROR, "abc"),
        ("shapes", "negative count", "shapes:-3", ERROR, "-3"),
        ("shapes", "zero count", "shapes:0", ERROR, "0"),
        ("augment", "unknown kind", f"augment:twist:{img}", ERROR, "twist"),
        ("augment", "missing image", f"augment:rotation:{root / 'augment' / 'missing.png'}", ERROR, "missing.png"),
        ("augment", "truncated image", f"augment:rotation:{bad}", ERROR, "trunc.png"),
        ("augment", "zero-byte image", f"augment:rotation:{zero}", ERROR, "zero.png"),
        ("augment", "1 MB caption", f"augment:rotation:{img}:{'long ' * 200_000}", ACCEPT, ""),
    ]
    return [Case(r, n, _dataset(spec), e, names) for r, n, spec, e, names in cases]


# -- model checkpoints ---------------------------------------------------------------------------
def checkpoint_cases(root: Path) -> list[Case]:
    import torch

    d = root / "checkpoints"
    d.mkdir()
    torch.save({"state_dict": {"module.visual.conv1.weight": torch.zeros(2, 2)}, "epoch": 1}, d / "wrongkeys.pt")
    torch.save({"unexpected": [1, 2, 3]}, d / "nostate.pt")
    torch.save(torch.zeros(3), d / "tensor.pt")
    write(d / "zero.pt", b"")
    write(d / "junk.pt", os.urandom(1000))
    write(d / "text.pt", "this is not a checkpoint\n")
    write(d / "trunc.pt", (d / "wrongkeys.pt").read_bytes()[:300])
    files = ["zero.pt", "junk.pt", "text.pt", "trunc.pt", "wrongkeys.pt", "nostate.pt", "tensor.pt"]
    specs = {"cyclip": "cyclip:{}", "cloob": "cloob:{}", "open_clip@PATH": "open_clip:RN50-quickgelu@{}", "cloob-laion": "cloob-laion:{}"}
    out = []
    for reader, fmt in specs.items():
        for f in files:
            spec = fmt.format(d / f)
            out.append(Case(f"model {reader}", f, _model(spec), ERROR, f, seconds=90))
    # own:PATH: a model folder (model.safetensors + model.json as `train` writes them), damaged
    from explorer.models.own import shipped_files

    weights, config = shipped_files("clip")
    wbytes, cbytes = weights.read_bytes(), config.read_bytes()
    own = {
        "zero-byte weights": (b"", cbytes),
        "truncated weights": (wbytes[: len(wbytes) // 3], cbytes),
        "weights header only": (wbytes[:8], cbytes),
        "junk weights": (os.urandom(4000), cbytes),
        "torch file as weights": ((d / "wrongkeys.pt").read_bytes(), cbytes),
        "zero-byte config": (wbytes, b""),
        "config not JSON": (wbytes, b"{not json"),
        "config of another architecture": (wbytes, _other_architecture(cbytes)),
        "config is a list": (wbytes, b"[1, 2]"),
    }
    for k, (name, (w, c)) in enumerate(own.items()):
        folder = d / f"own_{k}"
        write(folder / "model.safetensors", w)
        write(folder / "model.json", c)
        out.append(Case("model own:PATH", name, _model(f"own:{folder}"), ERROR, folder.name))
    out[0].cli = ["embed", "--dataset", "shapes:4", "--model", specs["cyclip"].format(d / "zero.pt")]
    return out


def _other_architecture(config: bytes) -> bytes:
    """The config with its first whole-number architecture field doubled (weights no longer fit)."""
    c = json.loads(config)
    arch = c["architecture"]
    key = next(k for k, v in arch.items() if isinstance(v, int) and not isinstance(v, bool) and k != "vocab_size")
    c["architecture"] = {**arch, key: arch[key] * 2}
    return json.dumps(c).encode()


def _model(spec: str):
    from explorer.models import load_model

    return lambda: load_model(spec, device="cpu")


# -- images through the embedding pipeline ----------------------------------------------------------
def image_files(root: Path) -> list[tuple[str, str, frozenset[str]]]:
    """Image files under root/images/ for one pairs table: (case, relative path, allowed outcomes)."""
    from PIL import Image

    d = root / "images" / "img"
    d.mkdir(parents=True)
    good = png_bytes((20, 14), colour=(200, 30, 30))
    made = []

    def add(name, rel, expect, data=None, save=None):
        p = d / rel
        if data is not None:
            write(p, data)
        elif save is not None:
            save(p)
        made.append((name, f"img/{rel}", expect))

    add("valid PNG", "good.png", ACCEPT, good)
    add("truncated PNG", "trunc.png", SKIP, good[: len(good) // 2])
    add("zero-byte image", "zero.png", SKIP, b"")
    add("text file named .png", "text.png", SKIP, b"not an image at all\n")
    add("CMYK JPEG", "cmyk.jpg", ACCEPT, save=lambda p: Image.new("CMYK", (12, 9), (0, 255, 0, 40)).save(p, format="JPEG"))
    add("16-bit PNG", "i16.png", ACCEPT, save=lambda p: Image.fromarray(np.arange(120, dtype=np.uint16).reshape(10, 12) * 500).save(p))
    add("palette PNG with transparency", "pal.png", ACCEPT,
        save=lambda p: Image.new("P", (10, 10), 3).save(p, transparency=3))
    add("animated GIF", "anim.gif", ACCEPT, save=lambda p: Image.new("RGB", (10, 10), "red").save(
        p, save_all=True, append_images=[Image.new("RGB", (10, 10), "blue")], duration=50, loop=0))

    def exif(p):
        im = Image.new("RGB", (16, 8), "green")
        ex = Image.Exif()
        ex[0x0112] = 6  # rotate 90°
        im.save(p, format="JPEG", exif=ex)

    add("EXIF-rotated JPEG", "exif.jpg", ACCEPT, save=exif)
    add("1x1 image", "one.png", ACCEPT, png_bytes((1, 1)))
    add("decompression bomb (20000x20000 header)", "bomb.png", SKIP, bomb_png())
    (d / "loop_a.png").symlink_to("loop_b.png")
    (d / "loop_b.png").symlink_to("loop_a.png")
    made.append(("symlink loop", "img/loop_a.png", SKIP))
    write(root / "outside.png", good)
    made.append(("path outside the image root", "../outside.png", SKIP))
    (d / "escape.png").symlink_to(root / "outside.png")
    made.append(("symlink leading out of the image root", "img/escape.png", SKIP))
    made.append(("absolute path outside the root", "/etc/passwd", SKIP))
    made.append(("missing file", "img/missing.png", SKIP))
    return made
