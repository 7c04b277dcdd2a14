"""``make reproduce`` on Dask distributed: the task graph of :mod:`repro.graph` on a
``LocalCluster`` of N worker processes (``reproduce.py --jobs N``) or on any existing cluster
(``--scheduler ADDRESS``).

- One training task per model of the graph, run as soon as a worker is free (longest first);
  each experiment once every model it requires is in the client's cache (and the experiments
  whose results it reads are done), with those models sent to it. The experiments that time
  code (``EXCLUSIVE``) run last, one at a time, when nothing else runs, with every core of
  their worker's machine.
- No shared file system: a trained model comes back to the client as the bytes of its
  ``.npz`` file and is written (atomically) into the client's model cache; an experiment gets
  its models through Dask (scattered from the client) and writes them into its worker's own
  scratch cache; a model an experiment trains itself comes back with its results. The client
  writes every results file. A worker needs the code (the same ``sparana_lite``; the client
  sends ``scripts/`` to a cluster it did not start) and the data (``$SPARANA_LITE_DATA``, its
  per-user cache, or a download).
- Workers whose sparana_lite (version and source), NumPy, SciPy or numba differ from the
  client's are refused before any work starts (:class:`VersionMismatch`), and every task
  checks again where it runs.
- Faults: a worker that dies mid-task costs that task, which Dask runs again on another
  worker; an exception in a task is retried once (``retries``); models sent to a worker that
  died are sent again. A task that still fails is reported, what does not depend on it goes
  on, and the run ends with an error: finished models and results files are already written
  (atomically), so the next run resumes from there.
- Each worker process gets cores/N BLAS and numba threads (:class:`Setup`, a worker plugin;
  applied around every task with threadpoolctl and ``numba.set_num_threads``, which is
  per thread), one task at a time.
"""
import contextlib
from datetime import datetime, timezone
import os
from pathlib import Path
import sys
import tempfile
import threading
import time
import uuid

from distributed import CancelledError, WorkerPlugin, wait
from tqdm.auto import tqdm

from . import common, graph

SCRIPTS = Path(__file__).resolve().parents[1]
RETRIES = 1                 # Dask's retries= for a task that raised (a dead worker: Dask's own)
RESENDS = 3                 # times an experiment is sent again after losing its models
_STATE = {"threads": None}  # set in each worker process by Setup
_LOCK = threading.Lock()    # one experiment at a time per process (they share module state)


class VersionMismatch(RuntimeError):
    """A worker's libraries differ from the client's."""


# ------------------------------------------------------------------ versions and machines

def library_versions():
    """What must be equal on the client and every worker: sparana_lite (version and a digest
    of its source), NumPy, SciPy and numba."""
    return {**common.versions(), "sparana_lite_source": common.library_digest()}


def mismatches(expected, found):
    """``{package: (found, expected)}`` where ``found`` differs from ``expected``."""
    return {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}


def check_versions(client, expected):
    """Raise :class:`VersionMismatch` naming every worker whose libraries differ."""
    try:
        found = client.run(library_versions)
    except Exception as e:   # a worker that cannot import repro, or another failure
        raise VersionMismatch(
            f"could not ask the workers for their library versions ({type(e).__name__}: {e}); "
            "every worker needs sparana_lite installed as on this machine") from e
    bad = {addr: mismatches(expected, got) for addr, got in found.items()}
    bad = {addr: diff for addr, diff in bad.items() if diff}
    if bad:
        lines = [f"  {addr}: " + ", ".join(f"{k} {f} (here {e})" for k, (f, e) in diff.items())
                 for addr, diff in sorted(bad.items())]
        raise VersionMismatch(
            f"{len(bad)} of {len(found)} workers have other library versions than this client; "
            "refused before any work started (install the same versions on them):\n"
            + "\n".join(lines))
    return found


def _check_here(expected):
    found = library_versions()
    diff = mismatches(expected, found)
    if diff:
        raise VersionMismatch(f"this worker's libraries differ from the client's: {diff}")


def machine():
    """This worker: host, CPU, cores, Python, versions, and the threads its tasks get."""
    return {**common.machine(), "threads": _STATE["threads"]}


def now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------ worker setup

class Setup(WorkerPlugin):
    """Run in every worker process (again after a restart): the BLAS and numba threads its
    tasks get (``threads``, or ``threads_by_host[host]``; None: the libraries' defaults), and a
    scratch model cache of its own (``$SPARANA_LITE_CACHE`` in its local directory), so that
    models reach it only through Dask. The data stay where the worker finds them:
    ``$SPARANA_LITE_DATA``, else its per-user cache's ``data/`` folder."""

    name = "sparana-lite-setup"

    def __init__(self, threads=None, threads_by_host=None):
        self.threads = threads
        self.threads_by_host = threads_by_host or {}

    def setup(self, worker):
        from sparana_lite.paths import cache_dir

        host = worker.address.split("://")[-1].rsplit(":", 1)[0]
        _STATE["threads"] = self.threads_by_host.get(host, self.threads)
        if not os.environ.get("SPARANA_LITE_DATA") and (cache_dir() / "data").is_dir():
            os.environ["SPARANA_LITE_DATA"] = str(cache_dir() / "data")
        os.environ["SPARANA_LITE_CACHE"] = str(Path(worker.local_directory) / "sparana_lite")


@contextlib.contextmanager
def limited(threads):
    """BLAS (threadpoolctl) and numba (this thread) use ``threads`` threads inside."""
    if not threads:
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        numba.set_num_threads(old)


# ------------------------------------------------------------------ the tasks (on workers)

def _stamp(path):
    """Record in a model file which machine trained it (``metadata["trained_on"]``)."""
    import sparana_lite as sl

    model = sl.MLP.load(path)
    if "trained_on" not in model.metadata:
        model.metadata["trained_on"] = machine()
        model.save(path)
    return model


def train_task(need, expected):
    """Train ``need`` on this worker; its file's bytes, for the client's cache."""
    _check_here(expected)
    with limited(_STATE["threads"]):
        path = need.train()
    model = _stamp(path)
    return {"key": need.key, "file": path.name, "bytes": path.read_bytes(),
            "train_seconds": model.metadata.get("train_seconds"), "machine": machine()}


def experiment_task(name, function, reads, device, exclusive, expected, models):
    """Run experiment ``name`` (``function()``) here with ``models`` (payloads: a Need and its
    file's bytes) in this worker's cache and ``reads`` (file name -> text) as the results
    folder it reads; return its results, timing, the models it used and any model file it
    trained itself (bytes)."""
    from sparana_lite._io import atomic_write_bytes
    from sparana_lite.paths import cache_dir

    _check_here(expected)
    with _LOCK:
        folder = cache_dir() / "models"
        folder.mkdir(parents=True, exist_ok=True)
        for payload in models:
            common.register(payload["need"])
            target = folder / payload["file"]
            if not (target.exists() and target.stat().st_size == len(payload["bytes"])):
                atomic_write_bytes(target, payload["bytes"])
        before = {f.name for f in folder.glob("*.npz")}
        threads = os.cpu_count() if exclusive else _STATE["threads"]
        saved = common.RESULTS, common.DEVICE
        with tempfile.TemporaryDirectory() as tmp:
            for file, text in reads.items():
                (Path(tmp) / file).write_text(text)
            common.RESULTS, common.DEVICE = Path(tmp), device
            common.MODELS_USED.clear()
            try:
                started, start = now(), time.perf_counter()
                with limited(threads):
                    results = function()
                seconds, date = time.perf_counter() - start, now()
            finally:
                common.RESULTS, common.DEVICE = saved
        for f in folder.glob("*.npz"):
            if f.name not in before:
                _stamp(f)
        new = {f.name: f.read_bytes() for f in folder.glob("*.npz") if f.name not in before}
        return {"name": name, "results": results, "seconds": seconds, "started": started,
                "date": date, "models": list(common.MODELS_USED), "new_models": new,
                "machine": {**machine(), "threads": threads}}


# ------------------------------------------------------------------ the client

@contextlib.contextmanager
def environment_kept():
    """Context manager: ``os.environ`` as it was on entry, restored on exit.

    A Dask nanny puts its workers' variables (``distributed.nanny.pre-spawn-environ``:
    ``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, ...) into the environment of the process
    that starts it and never takes them back, so every process started afterwards inherits
    them: after one ``LocalCluster`` in a test session, each notebook kernel that nbval started
    ran BLAS on one thread (training the book's network took 33 ms per step instead of 22)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def connect(jobs=2, scheduler=None, cores=None):
    """A Dask client: on a new ``LocalCluster`` of ``jobs`` worker processes (one task at a
    time each, ``cores // jobs`` BLAS and numba threads; ``cores``: this machine's), or on the
    cluster at ``scheduler`` (sent ``scripts/`` first; each worker gets its host's cores
    divided by the workers on that host). Prints the dashboard's address if there is one."""
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import UploadDirectory

    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler))
            n = len(client.scheduler_info()["workers"])
            client.register_plugin(UploadDirectory(str(SCRIPTS), restart_workers=True,
                                                   update_path=True))
            client.wait_for_workers(max(n, 1))
            cores_of = client.run(os.cpu_count)
            hosts = {}
            for addr in cores_of:
                hosts.setdefault(addr.split("://")[-1].rsplit(":", 1)[0], []).append(addr)
            plugin = Setup(threads_by_host={h: max(1, cores_of[a[0]] // len(a))
                                            for h, a in hosts.items()})
        else:
            if str(SCRIPTS) not in sys.path:   # worker processes start with this sys.path
                sys.path.insert(0, str(SCRIPTS))
            cores = cores or len(os.sched_getaffinity(0))
            stack.enter_context(environment_kept())   # left last, after the cluster closed
            cluster = stack.enter_context(LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, memory_limit=0,
                dashboard_address=":0"))
            client = stack.enter_context(Client(cluster))
            plugin = Setup(threads=max(1, cores // jobs))
        client.register_plugin(plugin)
        if "dashboard" in client.scheduler_info().get("services", {}):
            tqdm.write(f"Dask dashboard: {client.dashboard_link}")
        yield client


def _payload(n):
    """What a worker gets of a model in the client's cache: its Need and its file's bytes."""
    path = n.path()
    return {"need": n, "file": path.name, "bytes": path.read_bytes()}


def _store(name, data):
    """Write a model file (bytes) into the client's cache, atomically."""
    from sparana_lite._io import atomic_write_bytes
    from sparana_lite.paths import cache_dir

    if Path(name).name != name or not name.endswith(".npz"):
        raise ValueError(f"a worker sent a model file named {name!r}")
    return atomic_write_bytes(cache_dir() / "models" / name, data)


def _estimate(n):
    """A training task's relative cost (multiply-adds of its steps), to start long ones first."""
    import sparana_lite as sl

    config = sl.zoo.CONFIGS.get(n.name) or n.config
    if config is None:
        return n.steps
    w = config.widths
    return n.steps * config.batch_size * sum(a * b for a, b in zip(w[:-1], w[1:]))


def run(client, g, experiments, models, results_dir, begin, finish, device="cpu",
        progress=True, retries=RETRIES):
    """Run graph ``g`` on ``client``: train its models, then run its experiments.

    ``experiments``: name -> function; ``models``: name -> declaration (asked again once an
    experiment's models are ready: a declaration that depends on trained models, such as the
    SCE learning rate the sweep chooses, may then require more); ``results_dir``: where the
    results files an experiment reads are; ``begin(name)`` is called when an experiment is
    sent, ``finish(name, outcome)`` when its outcome is back (outcome: ``results``,
    ``seconds``, ``started``, ``date``, ``models``, ``machine``). Returns ``{"trained":
    [model keys], "experiments": [names], "failed": {what: error}}``."""
    expected = library_versions()
    check_versions(client, expected)
    tag = uuid.uuid4().hex[:8]
    needs = {name: list(g.needs[name]) for name in g.experiments}
    training = {}            # future -> Need
    running = {}             # future -> experiment name
    submitted = set()        # model keys sent for training
    scattered = {}           # model key -> future of its payload on the cluster
    resent = {}
    done, trained, failed = [], [], {}
    failed_keys = set()
    waiting = [n for n in g.experiments if n not in g.exclusive] + list(g.exclusive)
    bar = tqdm(total=len(g.train) + len(g.experiments), desc="tasks", unit="task",
               disable=not progress)

    def train(n):
        if n.key in submitted:
            return
        submitted.add(n.key)
        slug = "-".join(map(str, n.key)).replace("/", "_")
        f = client.submit(train_task, n, expected, key=f"train-{slug}-{tag}",
                          priority=0, retries=retries, pure=False)
        training[f] = n

    for n in sorted(g.train.values(), key=_estimate, reverse=True):
        train(n)
    bar.total = len(submitted) + len(g.experiments)

    def required(name):
        return [n for n in needs[name] if not n.optional]

    def blocked(name):
        """None if ``name`` can be sent now, else why not ("wait" or an error)."""
        for other in g.after.get(name, ()):
            if other in failed:
                return f"it reads {other}, which failed"
            if other not in done:
                return "wait"
        reqs = required(name)
        if any(n.key in failed_keys for n in reqs):
            return "a model it needs failed to train"
        if name in g.exclusive and (running or training or
                                    any(w not in g.exclusive for w in waiting)):
            return "wait"
        missing = [n for n in reqs if not n.cached()]
        for n in missing:
            train(n)
        if missing:
            return "wait"
        declare = models.get(name)
        if declare:   # ask again: the cached models may decide more
            again = graph.merged(declare())
            new = [n for n in again if not n.optional and not n.cached()]
            if new:
                needs[name] = again
                for n in new:
                    train(n)
                bar.total = len(submitted) + len(g.experiments)
                return "wait"
            needs[name] = again
        return None

    def send(name):
        ship = [n for n in needs[name] if n.cached()]
        futures = []
        for n in ship:
            if n.key not in scattered:
                # hash=False: a fresh key each time; a payload scattered again after its worker
                # died must not reuse the lost key, which the scheduler still counts as lost
                scattered[n.key] = client.scatter([_payload(n)], hash=False)[0]
            futures.append(scattered[n.key])
        reads = {}
        for other in g.reads.get(name, ()):
            path = Path(results_dir) / f"{other}.json"
            if path.exists():
                reads[path.name] = path.read_text()
        begin(name)
        f = client.submit(experiment_task, name, experiments[name], reads, device,
                          name in g.exclusive, expected, futures,
                          key=f"experiment-{name}-{tag}-{resent.get(name, 0)}",
                          priority=1, retries=retries, pure=False)
        running[f] = name

    def release():
        keep = {n.key for name in list(running.values()) + waiting for n in needs[name]}
        for key in list(scattered):
            if key not in keep:
                del scattered[key]

    last = 0.0
    try:
        while waiting or running or training:
            for name in list(waiting):
                why = blocked(name)
                if why is None:
                    waiting.remove(name)
                    send(name)
                elif why != "wait":
                    waiting.remove(name)
                    failed[name] = why
                    bar.update(1)
            if not (running or training):
                for name in waiting:     # nothing can make them ready any more
                    failed[name] = "its models never became ready"
                waiting.clear()
                break
            flying = list(running) + list(training)
            try:
                finished, _ = wait(flying, timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:   # nothing finished in that time (Dask raises)
                finished = []
            except CancelledError:   # some were cancelled: their models were lost
                finished = [f for f in flying if f.done()]
            for f in finished:
                if f in training:
                    n = training.pop(f)
                    try:
                        out = f.result()
                        _store(out["file"], out["bytes"])
                        trained.append(n.key)
                        tqdm.write(f"model {n.label()}: {out['train_seconds'] or 0:.0f} s on "
                                   f"{out['machine']['host']}")
                    except Exception as e:
                        failed_keys.add(n.key)
                        failed[f"model {n.label()}"] = f"{type(e).__name__}: {e}"
                    bar.update(1)
                else:
                    name = running.pop(f)
                    try:
                        out = f.result()
                    except CancelledError as e:   # its models were lost with a worker
                        resent[name] = resent.get(name, 0) + 1
                        if resent[name] > RESENDS:
                            failed[name] = f"{type(e).__name__}: {e}"
                            bar.update(1)
                        else:
                            for n in needs[name]:
                                scattered.pop(n.key, None)
                            waiting.insert(0, name)
                        continue
                    except Exception as e:
                        failed[name] = f"{type(e).__name__}: {e}"
                        bar.update(1)
                        continue
                    for file, data in out["new_models"].items():
                        _store(file, data)
                    finish(name, out)
                    done.append(name)
                    bar.update(1)
                f.release()
            release()
            if progress and time.monotonic() - last > 1:
                last = time.monotonic()
                ours = set(map(str, [f.key for f in list(running) + list(training)]))
                busy = sum(1 for keys in client.processing().values() for k in keys
                           if str(k) in ours)
                bar.set_postfix_str(f"running {busy}, waiting "
                                    f"{len(waiting) + len(running) + len(training) - busy}")
    finally:
        for f in list(running) + list(training):
            f.cancel()
        bar.close()
    return {"trained": trained, "experiments": done, "failed": failed}
