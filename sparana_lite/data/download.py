"""Finding the four IDX files: the folders searched in order, else a download from the mirrors.

The folders: ``data_dir`` (its ``<name>/`` sub-folder, or itself), else ``$SPARANA_LITE_DATA/<name>/``,
then the per-user cache ``cache_dir()/data/<name>/``. The first that holds all four files
wins; when none does, each missing file is downloaded from the data set's mirrors, in order,
into the cache folder and verified (:func:`_check_download`) before it is kept.
"""
import hashlib
import os
from pathlib import Path

from ..paths import cache_dir
from ..paths import data_dir as _env_data_dir
from .idx import _FILES, _GZIP_MAGIC, DataIntegrityError, _decompress_and_verify


class DataNotFoundError(FileNotFoundError):
    """The data files are in none of the folders searched and could not be downloaded."""


def _download_dir(spec):
    return cache_dir() / "data" / spec.name


def _search_dirs(spec, data_dir):
    if data_dir is not None:
        root = Path(os.fspath(data_dir)).expanduser().resolve()
        dirs = [root / spec.name, root]
    else:
        env = _env_data_dir()
        dirs = [env / spec.name] if env is not None else []
    dirs.append(_download_dir(spec))
    return list(dict.fromkeys(dirs))


def _find_in(folder):
    """The IDX files present in ``folder``: {stem: path}, raw preferred over .gz."""
    found = {}
    for f in _FILES:
        for path in (folder / f.stem, folder / (f.stem + ".gz")):
            if path.is_file():
                found[f.stem] = path
                break
    return found


def _locate(spec, data_dir, download):
    """Paths of the four IDX files, {stem: path}, all from one folder; download if needed."""
    searched = []
    for folder in _search_dirs(spec, data_dir):
        found = _find_in(folder)
        if len(found) == len(_FILES):
            return found
        searched.append((folder, found))
    if not download:
        raise DataNotFoundError(_not_found_message(
            spec, searched, "Downloading was disabled (download=False)."))
    target = _download_dir(spec)
    _download_missing(spec, target, searched)
    return _find_in(target)


def _not_found_message(spec, searched, reason):
    wanted = ", ".join(f"{f.stem}[.gz]" for f in reversed(_FILES))
    lines = [f"{spec.title} data not found. Looked for {wanted} in:"]
    for folder, found in searched:
        if not folder.is_dir():
            lines.append(f"  - {folder}  (folder does not exist)")
        else:
            missing = ", ".join(f.stem for f in reversed(_FILES) if f.stem not in found)
            lines.append(f"  - {folder}  (missing: {missing})")
    lines.append(reason)
    lines.append(
        f"To fix: set SPARANA_LITE_DATA to a folder holding {spec.name}/ with these files "
        f"(.gz or raw), or pass data_dir=..., or run once with network access to download them "
        f"into {_download_dir(spec)}.")
    return "\n".join(lines)


def _download(url, dest):
    """Download ``url`` into the file ``dest`` (HTTP GET, progress bar on stderr)."""
    import pooch

    pooch.HTTPDownloader(progressbar=True, chunk_size=1 << 16, timeout=60)(url, str(dest), None)


def _download_missing(spec, target, searched):
    """Download into ``target`` each IDX file it lacks, trying the mirrors in order."""
    target.mkdir(parents=True, exist_ok=True)
    present = _find_in(target)
    for f in _FILES:
        if f.stem in present:
            continue
        failures, integrity_error, last_exc = [], None, None
        for mirror in spec.mirrors:
            url = mirror + f.stem + ".gz"
            partial = target / (f.stem + ".gz.download")
            try:
                _download(url, partial)
                final = _check_download(spec, f, partial, url)
                os.replace(partial, final)
                break
            except DataIntegrityError as exc:
                integrity_error = exc
                failures.append(str(exc))
            except Exception as exc:  # network and HTTP errors of any kind: try the next mirror
                last_exc = exc
                failures.append(f"{url}: {type(exc).__name__}: {exc}")
            finally:
                if partial.exists():
                    partial.unlink()
        else:
            if integrity_error is not None:
                raise DataIntegrityError(
                    f"Every download of {f.stem} failed verification:\n  "
                    + "\n  ".join(failures)
                    + f"\nNothing was kept. Try again later, or put good copies of the files "
                      f"into {target}.") from integrity_error
            raise DataNotFoundError(_not_found_message(
                spec, searched, "Downloading failed:\n  " + "\n  ".join(failures))) from last_exc


def _check_download(spec, f, partial, url):
    """Verify a fresh download; return the path it should be renamed to."""
    data = partial.read_bytes()
    compressed = data[:2] == _GZIP_MAGIC
    if compressed and spec.gz_md5 is not None:
        found = hashlib.md5(data, usedforsecurity=False).hexdigest()
        expected = spec.gz_md5[f.stem]
        if found != expected:
            raise DataIntegrityError(f"{url}: md5 of the downloaded .gz is {found}, expected {expected}")
    if spec.sha256 is not None:
        _decompress_and_verify(spec, f, url, data, hint="")
    # A server that sets Content-Encoding: gzip sends the file decompressed: keep it raw then
    # (for Fashion-MNIST only the IDX checks at load time apply to it).
    return partial.with_name(f.stem + ".gz" if compressed else f.stem)
