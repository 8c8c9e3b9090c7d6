"""Stage ``download``: fetch the real corpora named in params.yaml into ``data/raw/downloaded/<source>/``.

params.yaml::

    download:
      downloads: data/downloads      # where archives are kept (outside data/raw, so re-runs reuse them)
      faces:                         # null, or source: synthetic -> nothing to do
        source: lfw                  # lfw | voxceleb1 | folder | any adapter with files to fetch
        variant: lfw                 # lfw: lfw | lfw-funneled | lfw-deepfunneled
        url: http://vis-www.cs.umass.edu/lfw/lfw.tgz   # optional: a mirror
        md5: a17d05bd522c52d84eca14327a23d494          # or sha256: ...; optional for official URLs
        path: ~/Downloads/lfw.tgz    # optional: an archive or folder you already have (wins over url)
      voices:
        source: librispeech
        subsets: [dev-clean, test-clean]
        # base_url: https://us.openslr.org/resources/12
        # voxceleb1 / commonvoice: path: [vox1_test_wav.zip, vox1_meta.csv] | cv-corpus-...-en.tar.gz

Other keys per entry: ``verify: false`` (skip checksums), ``mode: link | copy`` (how a folder given as
``path`` is brought in: a symlink by default), ``progress: false``, ``name`` (the saved file name when the
URL's is not useful). Prints, per modality, the corpus root to set as ``prepare.<modality>.root``.
Downloads resume after an interruption and verified archives are not downloaded again.

It also writes ``data/raw/downloaded/roots/<modality>``, a dependency of ``prepare`` in dvc.yaml: a symlink to
``prepare.<modality>.root`` when that root's files lie outside data/raw (a folder read in place, or one this
stage linked in with ``mode: link``), so adding, removing or changing a file there shows ``prepare`` as changed
in ``dvc status``. A folder brought in with ``mode: copy`` is a snapshot: ``dvc repro -f download`` takes a new one.
"""
import json
from pathlib import Path

from facevoice import params
from facevoice.errors import ParamsError
from facevoice.sources import adapter, download
from facevoice.stage import main

RAW = Path("data/raw/downloaded")
WATCHED = RAW / "roots"  # one entry per modality, each a dependency of prepare in dvc.yaml
MODALITIES = ("faces", "voices")


def fetch_modality(modality: str, spec: params.Checked, downloads: str | None) -> Path | None:
    source = spec.str("source")
    if source in ("synthetic", "none"):
        return None
    module = adapter(source)
    if not hasattr(module, f"list_{modality}"):
        raise ParamsError(f"params.yaml: source adapter {source!r} has no {modality} "
                          f"(download.{modality}.source)")
    opts = dict(spec.data)
    opts.pop("source")
    if downloads and "downloads" not in opts:
        opts["downloads"] = downloads
    dest = RAW / source
    func = getattr(module, "fetch", None)
    if func is not None:
        return Path(func(opts, dest))
    download.obtain(opts, dest)  # e.g. folder: an archive URL or a local path
    return dest


def watch_prepare_roots(prepare: params.Checked) -> None:
    """``WATCHED/<modality>``: what prepare's dvc.yaml deps see of each root it reads (``download.watch_root``)."""
    for modality in MODALITIES:
        spec = prepare.get(modality, None)
        used = isinstance(spec, dict) and spec.get("source") not in (None, "none")
        download.watch_root(spec.get("root") if used else None, WATCHED / modality, "data/raw")


def run():
    p = params.checked("download")
    downloads = p.get("downloads", "data/downloads")
    if downloads is not None and not isinstance(downloads, str):
        raise ParamsError(f"params.yaml: 'download.downloads' must be a path, got {downloads!r}")
    roots = {}
    for modality in MODALITIES:
        if p.get(modality, None) is None:
            continue
        root = fetch_modality(modality, p.sub(modality), downloads)
        if root is not None:
            roots[modality] = str(root)
    RAW.mkdir(parents=True, exist_ok=True)
    (RAW / "roots.json").write_text(json.dumps(roots, indent=2) + "\n")
    watch_prepare_roots(params.checked("prepare"))
    print(json.dumps(roots))


if __name__ == "__main__":
    main(run)
