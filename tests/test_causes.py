"""The two causes of the gap (issue 13, item 3): the cone measures, the `causes` command, the
fixed logit scale of `train`, the sweep's table and plot."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from explorer.analysis.anatomy import centroid_norm, mean_pairwise_cosine
from explorer.analysis.causes import CONE_KEYS, cone_measures, seed_summary
from explorer.analysis.gap import gap_distance
from explorer.cli import main
from explorer.commands.causes import parse_scales, sweep_svg, sweep_table
from explorer.data.shapes import load_shapes
from explorer.errors import SpecError
from explorer.svg_chart import line_panels_svg
from explorer.train.encoders import Architecture
from explorer.train.loop import TrainConfig, train

torch.set_num_threads(1)

TINY = Architecture(dim=16, image_size=32, cnn_width=8, image_hidden=32, text_width=16, text_layers=1, text_heads=2, max_len=24)


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_cone_measures_against_brute_force():
    rng = np.random.default_rng(3)
    x = _unit(rng.normal(size=(60, 8)) + [5, 0, 0, 0, 0, 0, 0, 0])  # a narrow cone around e0
    y = _unit(rng.normal(size=(60, 8)) + [0, 0, 0, 0, 0, 0, 0, 1])  # a wider one around e7
    m = cone_measures(2.5 * x, y, top_k=2)  # rows are normalised first
    iu = np.triu_indices(60, 1)
    assert m["cone_image"] == pytest.approx((x @ x.T)[iu].mean(), abs=1e-12)
    assert m["cone_text"] == pytest.approx((y @ y.T)[iu].mean(), abs=1e-12)
    assert m["cone_image"] > 0.6 and m["cone_text"] < 0.3
    delta = x.mean(0) - y.mean(0)
    assert m["gap_distance"] == pytest.approx(np.linalg.norm(delta), abs=1e-12)
    assert m["centroid_norm_image"] == pytest.approx(np.linalg.norm(x.mean(0)), abs=1e-12)
    assert m["cross_cosine"] == pytest.approx((x @ y.T).mean(), abs=1e-12)
    d2 = np.sort(delta**2)[::-1]
    assert m["top_k_coordinate_share"] == pytest.approx(d2[:2].sum() / d2.sum(), abs=1e-12)
    assert (m["n"], m["dim"], m["top_k"]) == (60, 8, 2)
    with pytest.raises(ValueError):
        cone_measures(x, y[:10])
    with pytest.raises(ValueError):
        cone_measures(np.full((3, 8), np.nan), y[:3])


def test_seed_summary():
    rows = [dict.fromkeys(CONE_KEYS, 1.0), dict.fromkeys(CONE_KEYS, 3.0)]
    s = seed_summary(rows)
    assert s["gap_distance"] == {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}
    with pytest.raises(ValueError):
        seed_summary([])


def test_cone_command_numbers_match_the_anatomy_functions(capsys):
    """The command's rows are the anatomy functions of the embeddings made here independently:
    the random network rebuilt from its seed, the trained one through the model's public encoders."""
    from explorer.models import load_model
    from explorer.models.own import load_own

    assert main(["causes", "cone", "--n", "40", "--seeds", "0,5", "--models", "clip", "--liang", "none", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["model"]: r for r in out["rows"]}
    assert set(rows) == {"random init, seed 0", "random init, seed 5", "own:clip"}
    pairs = load_shapes("40")
    images = [pairs.images.open(i) for i in range(len(pairs))]
    model = load_model("own:clip", device="cpu")
    x, y = model.encode_images(images), model.encode_texts(pairs.captions)
    r = rows["own:clip"]
    assert r["gap_distance"] == pytest.approx(gap_distance(x, y), abs=2e-5)
    assert r["cone_image"] == pytest.approx(mean_pairwise_cosine(x), abs=2e-5)
    assert r["cone_text"] == pytest.approx(mean_pairwise_cosine(y), abs=2e-5)
    assert r["centroid_norm_text"] == pytest.approx(centroid_norm(y), abs=2e-5)
    # seed 5's random network: the trained model's architecture, built after torch.manual_seed(5)
    own = load_own("clip")
    torch.manual_seed(5)
    from explorer.train.encoders import BimodalNet

    net = BimodalNet(own.net.arch).eval()
    with torch.no_grad():
        xr = torch.nn.functional.normalize(net.image(torch.stack([model.preprocess(im) for im in images])), dim=1).numpy()
        yr = torch.nn.functional.normalize(net.text(own.tokenize(pairs.captions)), dim=1).numpy()
    r5 = rows["random init, seed 5"]
    assert r5["gap_distance"] == pytest.approx(gap_distance(xr, yr), abs=2e-5)
    assert r5["cone_image"] == pytest.approx(mean_pairwise_cosine(xr), abs=2e-5)
    assert r5["cone_text"] == pytest.approx(mean_pairwise_cosine(yr), abs=2e-5)
    assert rows["random init, seed 0"]["gap_distance"] != pytest.approx(r5["gap_distance"], abs=1e-6)  # seeds differ
    summary = out["random_init_over_seeds"]["cone_text"]
    assert summary["mean"] == pytest.approx((rows["random init, seed 0"]["cone_text"] + r5["cone_text"]) / 2)


@pytest.mark.shared
def test_liang_rows_random_init_has_the_larger_gap_and_narrower_cone(liang_file):
    from explorer.commands.causes import liang_rows

    liang_file("features_clip_random.npy")
    rows = {r["kind"]: r for r in liang_rows(str(liang_file().parent), 10)}
    rnd, trained = rows["liang-random"], rows["liang-trained"]
    assert rnd["gap_distance"] == pytest.approx(1.136, abs=0.002) and trained["gap_distance"] == pytest.approx(0.851, abs=0.002)
    assert rnd["cone_image"] > trained["cone_image"] and rnd["cone_text"] > trained["cone_text"]


def test_train_with_a_fixed_logit_scale_keeps_it():
    pairs = load_shapes("130:1:32")
    result = train(pairs, TrainConfig("clip", epochs=1, batch_size=64, warmup_steps=1, logit_scale=30.0), arch=TINY, progress=False)
    assert len(result.steps) == 2
    assert {round(s["logit_scale"], 4) for s in result.steps} == {30.0}
    assert not result.net.logit_t.requires_grad and result.logit_scale == pytest.approx(30.0, rel=1e-6)
    learned = train(pairs, TrainConfig("clip", epochs=1, batch_size=64, warmup_steps=1), arch=TINY, progress=False)
    assert len({s["logit_scale"] for s in learned.steps}) > 1  # the learned one moves
    for bad in (dict(objective="cloob", logit_scale=30.0), dict(objective="clip", logit_scale=0.5),
                dict(objective="clip", logit_scale=101.0), dict(objective="clip", logit_scale=float("nan"))):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_train_command_rejects_bad_scales(tmp_path, capsys):
    assert main(["train", "--objective", "cloob", "--logit-scale", "30", "--out", str(tmp_path / "c")]) == 2
    assert main(["train", "--logit-scale", "1000", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and "Traceback" not in err and "[1, 100]" in err


def test_parse_scales():
    assert parse_scales("10, 30,learned,100") == [10.0, 30.0, None, 100.0]
    for bad in ("", "0.5", "abc", "101"):
        with pytest.raises(SpecError):
            parse_scales(bad)


def test_sweep_table_and_svg():
    rows = [{"model": m, "logit_scale": s, "fixed_scale": f, "original_distance": g, "original_loss": 1.0, "closed_loss": 1.5,
             "loss_difference": d, "r1_image_to_text": 0.5, "r1_text_to_image": 0.4, "cone_image": 0.3, "cone_text": 0.2,
             "train_loss": 2.0, "wall_time_s": 1.0}
            for m, s, f, g, d in (("s=10", 10.0, 10.0, 0.5, 0.1), ("s=100", 100.0, 100.0, 0.9, float("nan")), ("learned", 17.0, None, 0.6, 0.2))]
    headers, table = sweep_table(rows)
    assert len(headers) == len(table[0]) and [t[0] for t in table] == ["s=10", "s=100", "learned"]
    svg = sweep_svg(rows, line_panels_svg)
    assert svg.startswith("<svg") and svg.count("<polyline") == 3
    assert svg.count("<circle") == 8  # 3 panels × 3 points, less the NaN
    assert svg.count(">learned</text>") == 3
    import xml.dom.minidom

    xml.dom.minidom.parseString(svg)  # well-formed


def test_temperature_command_rejects_bad_input(capsys):
    assert main(["causes", "temperature", "--scales", "0", "--quiet"]) == 2
    assert main(["causes", "temperature", "--n", "10", "--quiet"]) == 2
    assert main(["causes", "cone", "--seeds", "a,b"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "Traceback" not in err


def test_cone_command_batch_statistics(capsys):
    """--batchnorm batch: the random network normalises with the batch's own statistics (one
    chunk here), as in a training step; the numbers are those of that forward pass."""
    from explorer.models.own import load_own
    from explorer.train.encoders import BimodalNet, uint8_to_input
    from explorer.train.loop import decode_images

    assert main(["causes", "cone", "--n", "30", "--seeds", "2", "--models", "", "--liang", "none", "--batchnorm", "batch", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["rows"]
    assert row["model"] == "random init, seed 2, batch stats" and out["batchnorm"] == "batch"
    own = load_own("clip")
    pairs = load_shapes("30")
    torch.manual_seed(2)
    net = BimodalNet(own.net.arch).train()
    with torch.no_grad():
        x = net.encode_image(uint8_to_input(decode_images(pairs, own.net.arch.image_size, progress=False))).numpy()
        y = net.encode_text(own.tokenize(pairs.captions)).numpy()
    assert row["cone_image"] == pytest.approx(mean_pairwise_cosine(x), abs=2e-5)
    assert row["gap_distance"] == pytest.approx(gap_distance(x, y), abs=2e-5)
    net.eval()
    with torch.no_grad():
        x_eval = net.encode_image(uint8_to_input(decode_images(pairs, own.net.arch.image_size, progress=False))).numpy()
    assert abs(mean_pairwise_cosine(x_eval) - row["cone_image"]) > 1e-3  # the mode matters


def test_a_sweep_run_is_the_model_its_recorded_train_command_makes(tmp_path, capsys):
    """One run of the temperature sweep at a toy size: its row is measured with the model's own
    fixed scale, and the `train --logit-scale` command it records reproduces its weights bit for
    bit, logs the scale unchanged at every step, and saves a model that loads with that scale."""
    from explorer.models import load_model
    from explorer.train.causes import temperature_sweep

    rows = temperature_sweep([30.0], n=64, val=0, epochs=1, eval_pairs=load_shapes("60"), out=tmp_path / "sweep", log=lambda _: None)
    (row,) = rows
    assert row["model"] == "s=30" and row["logit_scale"] == pytest.approx(30.0, rel=1e-6) and row["fixed_scale"] == 30.0
    assert row["loss_difference"] == pytest.approx(row["closed_loss"] - row["original_loss"])
    config = json.loads((tmp_path / "sweep" / "s30" / "model.json").read_text())
    command = config["training"]["command"].split()
    assert command[:3] == ["python", "-m", "explorer"] and "--logit-scale" in command
    out = tmp_path / "again"
    args = command[3:]
    args[args.index("--out") + 1] = str(out)
    assert main([*args, "--quiet"]) == 0
    capsys.readouterr()
    again = json.loads((out / "model.json").read_text())
    assert again["weights_sha256"] == config["weights_sha256"]
    assert again["learned_logit_scale"] is False and again["logit_scale"] == pytest.approx(30.0, rel=1e-6)
    assert again["training"]["logit_scale"] == 30.0 and "--logit-scale 30.0" in again["training"]["command"]
    with open(out / "loss_log.csv", encoding="utf-8") as f:
        scales = [float(r["logit_scale"]) for r in csv.DictReader(f)]
    assert len(scales) == 1 and scales[0] == pytest.approx(30.0, rel=1e-6)
    assert load_model(f"own:{out}", device="cpu").logit_scale == pytest.approx(30.0, rel=1e-6)
