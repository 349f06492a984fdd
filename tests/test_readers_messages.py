"""Reader messages (issue 14, item 7) and the caption filter's feedback (item 3): blank caption
lines skipped with a note naming them, other mismatches naming the lines, an images/ folder
behind a link served while links inside it that leave it are refused, a refused thumbnail's reason
kept for the UI, the live match count and the few-pairs message."""

import os

import numpy as np
import pytest

from explorer import thumbnails
from explorer.errors import DataError
from explorer.importers.amumo import import_export
from explorer.pairs import count_matches, filter_captions
from explorer.views.notices import notices_html
from tests.test_importers import make_export


def test_blank_extra_line_opens_with_a_note_naming_it(tmp_path):
    caps = [f"c{i}" for i in range(6)]
    caps[3] = "a dog\n"  # a caption ending in a line break: line 5 is blank
    root = make_export(tmp_path / "blank", captions=caps)
    pairs, _ = import_export(str(root))
    assert list(pairs.captions) == ["c0", "c1", "c2", "a dog", "c4", "c5"]
    assert len(pairs.notes) == 1 and "blank line 5 skipped" in pairs.notes[0] and "prompts.txt" in pairs.notes[0]


def test_other_mismatches_name_the_lines(tmp_path):
    caps = [f"c{i}" for i in range(6)]
    caps[3] = "a dog\nand a hot dog"
    root = make_export(tmp_path / "split", captions=caps)
    with pytest.raises(DataError) as info:
        import_export(str(root))
    assert "7 caption lines but 6 images" in str(info.value) and "line 7 has no image" in str(info.value)
    root = make_export(tmp_path / "short", captions=[f"c{i}" for i in range(4)])
    with pytest.raises(DataError) as info:
        import_export(str(root))
    assert "images 4 and 5 (0-based) have no caption line" in str(info.value)


def test_linked_images_folder_serves_and_links_out_stay_refused(tmp_path):
    from PIL import Image

    root = make_export(tmp_path / "export", images=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for i in range(6):
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(elsewhere / f"{i}.jpg")
    secret = tmp_path / "secret.jpg"
    Image.new("RGB", (8, 8)).save(secret)
    os.remove(elsewhere / "5.jpg")
    os.symlink(secret, elsewhere / "5.jpg")  # a link inside the image folder that leaves it
    os.symlink(elsewhere, root / "images")  # the folder of images behind a link: the user's choice
    pairs, _ = import_export(str(root))
    assert thumbnails.image_problem(pairs) is None
    token = thumbnails.register(pairs)
    assert thumbnails.thumbnail_for_path(f"/thumb/{token}/0.png")[:4] == b"\x89PNG"
    assert thumbnails.refusal(token) is None
    with pytest.raises(DataError):
        thumbnails.thumbnail_for_path(f"/thumb/{token}/5.png")
    reason = thumbnails.refusal(token)
    assert reason is not None and "pair 5" in reason and "outside" in reason
    html = notices_html([], reason)
    assert "Thumbnails cannot be shown" in html and "pair 5" in html


def test_missing_first_image_is_named():
    from explorer.images import FileImages
    from explorer.pairs import PairSet

    pairs = PairSet.build(["a", "b"], FileImages("/nonexistent-bx", ["0.jpg", "1.jpg"]), ids=["0", "1"], name="x", recipe="x")
    assert "not found" in thumbnails.image_problem(pairs)


def test_notes_are_escaped_and_counted():
    html = notices_html([f"<b>note {i}</b>" for i in range(8)], None)
    assert "&lt;b&gt;note 0" in html and "<b>note" not in html and "3 more notes" in html
    assert notices_html([], None) == ""


def test_count_matches_is_the_filters_size():
    caps = ["a dog", "hotdog stand", "two dogs", "a cat", "Dog park", "doge"]
    assert count_matches(caps, "dog") == 5 == filter_captions(caps, "dog").size
    assert count_matches(caps, "dog", kind="word") == 2
    assert count_matches(caps, "dog cat", mode="all") == 0
    assert count_matches(caps, "") == 6


def test_filter_count_text_and_few_pairs_message():
    from explorer.app.filter_feedback import count_text, few_pairs_message
    from explorer.state import ExplorerState
    from tests.synthetic_source import make_source

    st = ExplorerState(make_source(n=40))
    caps = list(st.pairs.captions)
    word = caps[0].split()[0]
    expected = int(np.sum([word.lower() in c.lower() for c in caps]))
    assert count_text(st, word).startswith(f"{expected} of 40 pairs match")
    assert few_pairs_message(st) == ""
    st.data.filter_kind = "regex"
    st.data.caption_filter = "^" + caps[0] + "$"
    n = int(st.active_indices().size)
    assert n < 3 and f"keeps {n} pair" in few_pairs_message(st) and "at least 3" in few_pairs_message(st)
    assert "not a valid regular expression" in count_text(st, "(")


def test_few_pairs_guard_hides_the_plots_and_brings_them_back():
    import panel as pn

    from explorer.app.filter_feedback import FewPairsGuard
    from explorer.state import ExplorerState
    from tests.synthetic_source import make_source

    st = ExplorerState(make_source(n=40))
    content = pn.pane.Markdown("plots")
    guard = FewPairsGuard(st, content)
    assert content.visible and not guard.message.visible
    st.data.param.update(filter_kind="regex", caption_filter="number 5$")  # one pair
    assert int(st.active_indices().size) == 1
    assert not content.visible and guard.message.visible and "keeps 1 pair" in guard.message.object
    assert guard.message.object.count('class="bx-item"') == 1 and st.pairs.captions[5] in guard.message.object  # the kept pair
    st.data.caption_filter = ""
    assert content.visible and not guard.message.visible
    guard.dispose()
    st.data.caption_filter = "number 5$"
    assert content.visible, "a disposed guard follows nothing"


def test_the_explore_page_says_once_why_thumbnails_are_refused_and_what_was_skipped(tmp_path):
    from PIL import Image

    from explorer.app.explorer import Explorer

    caps = [f"caption {i}" for i in range(6)]
    caps[2] = "two lines\n"
    root = make_export(tmp_path / "export", captions=caps)
    outside = tmp_path / "outside.jpg"
    Image.new("RGB", (8, 8)).save(outside)
    os.remove(root / "images" / "0.jpg")
    os.symlink(outside, root / "images" / "0.jpg")  # a link out of the image folder: refused, and said why
    app = Explorer(source=f"amumo:{root}")
    page = app._explore.objects[0]
    html = page.notices.pane.object
    assert "blank line 4 skipped" in html
    assert html.count("Thumbnails cannot be shown") == 1 and "outside" in html
