import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import zoo

TINY = zoo.Config(widths=(784, 32, 10), head="lq", optimizer={"name": "adam", "lr": 1e-3, "eps": 1e-3},
                  batch_size=100, default_steps=100, full_steps=1000, description="a test model")


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(zoo.CONFIGS, "tiny-test", TINY)
    return "tiny-test"


def test_trains_once_then_loads(tmp_cache, tiny, monkeypatch):
    first = zoo.trained(tiny, progress=False)
    assert zoo.path(tiny).exists() and str(zoo.path(tiny)).startswith(str(tmp_cache))
    meta = first.metadata
    assert meta["steps"] == 100 and meta["seed"] == 0 and meta["zoo"] == tiny
    assert 0.6 < meta["test_accuracy"] <= 1 and meta["train_seconds"] > 0

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model should have been loaded")
    monkeypatch.setattr(zoo, "train", no_training)
    second = zoo.trained(tiny, progress=False)
    assert second is not first and second.metadata == meta
    for a, b in zip(first.weights + first.biases, second.weights + second.biases):
        np.testing.assert_array_equal(a, b)


def test_the_key_covers_the_whole_config(tiny, monkeypatch):
    base = zoo.key(tiny)
    assert zoo.key(tiny, seed=1) != base
    assert zoo.key(tiny, steps=101) != base
    assert zoo.key(tiny, steps=100) == base  # the default, spelled out
    for change in [dict(widths=(784, 33, 10)), dict(head="sce"), dict(batch_size=50), dict(dataset="fashion_mnist"),
                   dict(optimizer={"name": "adam", "lr": 1e-3, "eps": 1e-4}), dict(activation="tanh")]:
        fields = {**TINY.__dict__, **change}
        monkeypatch.setitem(zoo.CONFIGS, tiny, zoo.Config(**fields))
        assert zoo.key(tiny) != base, change
    monkeypatch.setitem(zoo.CONFIGS, tiny, zoo.Config(**{**TINY.__dict__, "description": "other words"}))
    assert zoo.key(tiny) == base  # the description decides nothing


def test_same_seed_same_model_in_a_fresh_cache(tmp_path, tiny, monkeypatch):
    models = []
    for name in ("a", "b"):
        monkeypatch.setenv("SPARANA_LITE_CACHE", str(tmp_path / name))
        models.append(zoo.trained(tiny, progress=False))
    for a, b in zip(models[0].weights, models[1].weights):
        np.testing.assert_array_equal(a, b)


def test_a_corrupt_cache_file_is_retrained(tmp_cache, tiny):
    path = zoo.path(tiny)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="retraining"):
        model = zoo.trained(tiny, progress=False)
    assert sl.MLP.load(path).widths == model.widths


def test_eval_every_records_the_curve_and_leaves_the_weights(tmp_path, tiny, monkeypatch):
    """A model trained with eval_every records its test accuracy along the way; its weights are
    those of a model trained without it, and the last point is the final test accuracy."""
    models = []
    for i, every in enumerate((None, 25)):
        monkeypatch.setenv("SPARANA_LITE_CACHE", str(tmp_path / str(i)))
        models.append(zoo.trained(tiny, progress=False, eval_every=every))
    plain, tracked = models
    assert "history" not in plain.metadata
    history = tracked.metadata["history"]
    assert history["steps"] == [25, 50, 75, 100]
    assert history["test_accuracy"][-1] == tracked.metadata["test_accuracy"]
    assert history["test_accuracy"][0] < history["test_accuracy"][-1]
    for a, b in zip(plain.weights + plain.biases, tracked.weights + tracked.biases):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="eval_every"):
        zoo.trained(tiny, eval_every=0)


def test_unknown_names_and_bad_arguments(tiny):
    with pytest.raises(KeyError, match="lq-mnist"):
        zoo.trained("no-such-model")
    with pytest.raises(ValueError, match="steps"):
        zoo.trained(tiny, steps=0)
    with pytest.raises(ValueError, match="seed"):
        zoo.trained(tiny, seed=-1)
    with pytest.raises(TypeError, match="Config"):
        zoo.register("x", {"widths": (1, 2)})
    with pytest.raises(ValueError, match="already registered"):
        zoo.register("lq-mnist", TINY)


def test_blog_configs_are_the_blogs():
    lq = zoo.CONFIGS["lq-mnist"]
    assert lq.widths == (784, 1000, 800, 400, 10) and lq.head == "lq" and lq.batch_size == 250
    assert lq.optimizer == {"name": "adam", "lr": 1e-4, "eps": 1e-3} and lq.full_steps == 20_000
    assert zoo.CONFIGS["sce-mnist"].head == "sce"


def test_lq_mnist_at_its_ci_default_reaches_97_5_percent(mnist):
    """The blog's LQ model at the CI-sized step count (shared with the chapters via the cache)."""
    model = zoo.trained("lq-mnist", progress=False)
    assert model.accuracy(mnist.x_test, mnist.y_test) >= 0.975


def test_book_seed_reads_the_environment(monkeypatch):
    """Fails if book_seed ignores $SPARANA_BOOK_SEED or accepts a value that is not a seed."""
    monkeypatch.delenv("SPARANA_BOOK_SEED", raising=False)
    assert sl.zoo.book_seed() == 0
    monkeypatch.setenv("SPARANA_BOOK_SEED", "2")
    assert sl.zoo.book_seed() == 2
    for bad in ("-1", "one", "1.5", ""):
        monkeypatch.setenv("SPARANA_BOOK_SEED", bad)
        with pytest.raises(ValueError, match="SPARANA_BOOK_SEED"):
            sl.zoo.book_seed()


def test_a_cached_file_with_another_key_is_retrained(tmp_cache, tiny):
    """A loadable file at the cache path that is not the model the key describes (here an
    untrained model with no key; also one whose stored key differs) must be retrained with a
    warning. Fails if trained() trusts any loadable file at its path."""
    path = zoo.path(tiny)
    sl.MLP([784, 32, 10], seed=5).save(path)
    with pytest.warns(UserWarning, match="retraining tiny-test: the cached file .* has key None"):
        model = zoo.trained(tiny, progress=False)
    assert model.metadata["key"] == zoo.key(tiny) == sl.MLP.load(path).metadata["key"]
    stale = sl.MLP.load(path)
    stale.metadata["key"] = "0" * 64
    stale.save(path)
    with pytest.warns(UserWarning, match="has key '0000000000000000.*', expected"):
        zoo.trained(tiny, progress=False)
    assert sl.MLP.load(path).metadata["key"] == zoo.key(tiny)


def test_the_key_covers_the_training_code_version(tiny, monkeypatch):
    """Bumping sparana_lite.train.TRAINING_VERSION (what a change of training semantics must
    do) changes every key, so weights trained by older code are never served. Fails if the key
    leaves the version out, or if the zoo reads another constant than train.py's."""
    import importlib
    train_module = importlib.import_module("sparana_lite.train")
    assert zoo.TRAINING_VERSION == train_module.TRAINING_VERSION
    base = zoo.key(tiny)
    monkeypatch.setattr(zoo, "TRAINING_VERSION", train_module.TRAINING_VERSION + 1)
    assert zoo.key(tiny) != base


def test_trains_on_the_gpu_and_caches_on_the_cpu_under_a_key_of_its_own(tmp_cache, tiny,
                                                                         monkeypatch):
    """device="cuda": the model trains on the GPU (a stand-in records where the model was;
    training itself is compared between the devices in test_kernels_cuda.py) and comes back,
    and is cached, on the CPU, under a key and file of its own. A CPU request then trains a
    CPU model instead of serving the GPU's (its rounding, over thousands of steps, moves the
    trajectory), and each request afterwards gets its own device's model from the cache."""
    from sparana_lite.train import History
    seen = []

    def train_on(model, *args, **kwargs):
        seen.append(model.device)
        return History()

    monkeypatch.setattr(zoo, "train", train_on)
    model = zoo.trained(tiny, steps=3, progress=False, device="cuda")
    assert seen == ["cuda"] and model.device == "cpu" and model.metadata["device"] == "cuda"
    assert zoo.path(tiny, steps=3, device="cuda").exists() and not zoo.path(tiny, steps=3).exists()
    assert zoo.key(tiny, steps=3, device="cuda") != zoo.key(tiny, steps=3)
    cpu = zoo.trained(tiny, steps=3, progress=False)
    assert seen == ["cuda", "cpu"] and cpu.metadata["device"] == "cpu"   # trained, not served
    assert zoo.trained(tiny, steps=3, progress=False).metadata["device"] == "cpu"      # cached
    assert zoo.trained(tiny, steps=3, progress=False, device="cuda").metadata["device"] == "cuda"
    assert len(seen) == 2
    with pytest.raises(ValueError, match="device"):
        zoo.trained(tiny, steps=4, device="tpu")


def test_the_cpu_key_is_the_one_before_gpu_keys(tiny):
    """Keying GPU-trained models apart leaves every CPU key as it was (cached CPU models stay
    valid): the hash of exactly the fields it always had, no device among them."""
    import hashlib
    import json
    from dataclasses import asdict
    spec = asdict(TINY)
    for field in ("description", "default_steps", "full_steps"):
        spec.pop(field)
    blob = json.dumps({"zoo_format": zoo.ZOO_FORMAT, "model_format": sl.model.FORMAT_VERSION,
                       "training_version": zoo.TRAINING_VERSION, "config": spec, "steps": 7,
                       "seed": 2}, sort_keys=True)
    assert zoo.key(tiny, seed=2, steps=7) == hashlib.sha256(blob.encode()).hexdigest()
    assert zoo.key(tiny, seed=2, steps=7, device="cpu") == zoo.key(tiny, seed=2, steps=7)


def test_a_gpu_model_cached_under_the_cpu_key_is_not_served_to_the_cpu(tmp_cache, tiny):
    """A file the older zoo wrote (GPU-trained, stored under the CPU key) is retrained."""
    gpu = sl.MLP(list(TINY.widths), head="lq", seed=0)
    gpu.metadata = {"key": zoo.key(tiny, steps=3), "device": "cuda"}
    path = zoo.path(tiny, steps=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    gpu.save(path)
    with pytest.warns(UserWarning, match="trained on 'cuda'"):
        model = zoo.trained(tiny, steps=3, progress=False)
    assert model.metadata["device"] == "cpu"
