import os

from explorer.file_memo import FileMemo


def test_values_hold_while_the_file_is_unchanged(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"1234")
    memo = FileMemo(tmp_path / "memo" / "m.json")
    assert memo.get("a", f) is None
    memo.put("a", f, {"id": "x"})
    assert FileMemo(tmp_path / "memo" / "m.json").get("a", f) == {"id": "x"}  # persisted
    f.write_bytes(b"12345")  # new size
    assert memo.get("a", f) is None
    memo.put("a", f, 7)
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same size, new mtime
    assert memo.get("a", f) is None
    assert not [p for p in (tmp_path / "memo").iterdir() if p.name.endswith(".tmp")]


def test_missing_files_and_unwritable_memos_are_harmless(tmp_path):
    memo = FileMemo(tmp_path / "m.json")
    assert memo.get("a", tmp_path / "nope") is None
    memo.put("a", tmp_path / "nope", 1)  # no file to stamp: nothing written, no error
    assert not (tmp_path / "m.json").exists()
    (tmp_path / "m.json").write_text("{broken")
    f = tmp_path / "f"
    f.write_text("x")
    assert memo.get("a", f) is None
    memo.put("a", f, 2)
    assert memo.get("a", f) == 2
