"""The ``facevoice`` command: verify, identify (open set), enroll, list and remove gallery people, find in a folder.

    facevoice verify A B                       A, B: a photo, a clip, or PHOTO,CLIP (or --csv FILE with columns a,b)
    facevoice identify --face PHOTO --voice CLIP        either alone works; "unknown" below the threshold
    facevoice enroll NAME --faces P1 P2 --voices C1     adds to NAME's entry (--replace to replace it)
    facevoice gallery list | facevoice gallery remove NAME
    facevoice find SAMPLE FOLDER                rank a folder's photos (or clips) by similarity to SAMPLE

A thin layer over ``facevoice.api`` (the same answers in Python). Photos are embedded with dlib's descriptor, clips
with GE2E (no TensorFlow: that loads only for ``identify --classifier``); every answer says which embedder and
which threshold decided it, and where the threshold was measured. ``--json`` on any command prints one JSON
document. Bad input -- no face, an unreadable or truncated photo or clip, a folder where a file belongs, a bad
option -- is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from . import api
from .errors import FacevoiceError, InputError, ParamsError
from .inference import REPO_MODELS, split_sample

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS_HELP = (f"folder of trained models, read only by identify --classifier (default: $FACEVOICE_MODELS, else "
               f"this repository's models/: {REPO_MODELS})")
GALLERY_HELP = ("gallery folder of enrolled people; find's embedding cache lives in it too (default: "
                "$FACEVOICE_GALLERY, else $XDG_DATA_HOME/facevoice/gallery, i.e. ~/.local/share/facevoice/gallery)")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2), like every other facevoice error."""

    def error(self, message: str):
        self.exit(2, f"facevoice: error: {message} ({self.prog} -h for help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1, got {value}")
    return value


def rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a false-accept rate (0 < rate < 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a false-accept rate (0 < rate < 1), got {text}")
    return value


def recognizer(args) -> api.Recognizer:
    return api.recognizer(args.models, args.gallery)


def emit(args, doc: dict, lines: list[str]) -> None:
    print(json.dumps(doc, indent=1) if args.json else "\n".join(lines))


# ---------------------------------------------------------------- text of each answer
def verdict_lines(v: api.Verdict) -> list[str]:
    return [f"{'same person' if v.same else 'different people'}\tscore {v.score:.3f}\tthreshold {v.threshold:.3f} "
            f"({v.provenance})", f"embedder: {v.embedder}", *(f"note: {n}" for n in v.notes)]


def identification_lines(r: api.Identification) -> list[str]:
    head = r.answer if r.answer != "unknown" else "unknown (no one in the gallery reaches the threshold)"
    out = [f"{r.sample}: {head}"]
    out += [f"{i}. {c.name}\t{c.score:.3f}{chr(9) + 'above threshold' if c.accepted else ''}"
            for i, c in enumerate(r.candidates, 1)]
    out += [f"threshold {r.threshold:.3f} ({r.provenance})", f"embedder: {r.embedder}; gallery: {r.gallery}"]
    return out + [f"note: {n}" for n in r.notes]


def classification_lines(c: api.Classification) -> list[str]:
    return ([f"top {len(c.classes)} of classifier {c.classifier} ({c.kind}; class probabilities)"]
            + [f"{i}. {name}\t{p:.3f}" for i, (name, p) in enumerate(c.classes, 1)] + [f"note: {n}" for n in c.notes])


# ---------------------------------------------------------------- many inputs: a CSV file
def read_rows(path: Path, columns: tuple[str, ...]) -> list[dict]:
    """The CSV's rows as {column: path}, paths relative to the CSV's folder; needs one of ``columns``."""
    if path.is_dir() or not path.exists():
        raise InputError(path, f"{'is a folder' if path.is_dir() else 'file not found'} (argument --csv)")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        found = [c for c in columns if c in (reader.fieldnames or [])]
        if not found:
            raise InputError(path, f"needs column(s) {', '.join(columns)}; has {', '.join(reader.fieldnames or [])} "
                             "(argument --csv)")
        rows = list(reader)
    if not rows:
        raise InputError(path, "no rows (argument --csv)")
    return [{c: str(path.parent / row[c].strip()) for c in found if (row.get(c) or "").strip()} for row in rows]


def batch(args, rows: list[dict], answer, lines) -> int:
    """Answer every row in this one process; a row that cannot be judged gets its error, and exit code 2."""
    docs, text, failed = [], [], 0
    for i, row in enumerate(rows, 1):
        try:
            result = answer(row)
        except FacevoiceError as exc:
            failed += 1
            docs.append({"row": i, **row, "error": str(exc)})
            text.append(f"row {i}: error: {exc}")
            continue
        docs.append({"row": i, **result.to_dict()})
        text += [f"row {i}: {line}" for line in lines(result)]
    emit(args, {"rows": docs, "failed": failed}, text)
    if failed:
        print(f"facevoice: error: {failed} of {len(rows)} rows could not be judged (their error is in the output)",
              file=sys.stderr)
    return 2 if failed else 0


# ---------------------------------------------------------------- commands
def cmd_verify(args) -> int:
    rec = recognizer(args)
    if args.csv:
        if args.a or args.b:
            raise ParamsError("verify: give A B or --csv FILE, not both")
        return batch(args, read_rows(args.csv, ("a", "b")), lambda r: rec.verify(r.get("a", ""), r.get("b", ""), args.far),
                     verdict_lines)
    if not (args.a and args.b):
        raise ParamsError("verify: give two samples A B (or --csv FILE with columns a,b)")
    v = rec.verify(args.a, args.b, args.far)
    emit(args, v.to_dict(), verdict_lines(v))
    return 0


def identify_one(args, rec: api.Recognizer, sample: dict, names: str = "--{}"):
    """One sample's answer ({"face": photo, "voice": clip}); ``names``: how its paths' arguments are called."""
    if not sample:
        raise ParamsError("identify: no photo and no clip given (an empty row?)")
    if args.classifier:
        return rec.classify(sample, args.classifier, args.top_k)
    if args.all_faces:
        if set(sample) != {"face"}:
            raise ParamsError("--all-faces: answers each face of one photo: give --face alone")
        return rec.identify_faces(sample["face"], top_k=args.top_k, far=args.far)
    emb = {k: rec.embed_face(v, names.format(k)) if k == "face" else rec.embed_voice(v, names.format(k))
           for k, v in sample.items()}
    return rec.identify_embeddings(emb, top_k=args.top_k, far=args.far)


def answer_lines(result) -> list[str]:
    if isinstance(result, list):
        return [line for r in result for line in identification_lines(r)]
    return classification_lines(result) if isinstance(result, api.Classification) else identification_lines(result)


class Many:
    """identify --all-faces's answers as one JSON document."""

    def __init__(self, items: list):
        self.items = items

    def to_dict(self) -> dict:
        return {"faces": [i.to_dict() for i in self.items]}


def cmd_identify(args) -> int:
    rec = recognizer(args)
    given = {k: v for k, v in (("face", args.face), ("voice", args.voice)) if v}
    if args.sample:
        if given:
            raise ParamsError("identify: give SAMPLE or --face/--voice, not both")
        given = {"sample": args.sample}
    if args.csv:
        if given:
            raise ParamsError("identify: give --csv FILE or a sample, not both")
        run = lambda row: _wrap(identify_one(args, rec, row, "column {}"))  # noqa: E731
        return batch(args, read_rows(args.csv, ("face", "voice")), run, answer_lines_of)
    if not given:
        raise ParamsError("identify: give --face PHOTO and/or --voice CLIP (or SAMPLE, or --csv FILE)")
    result = (identify_one(args, rec, given) if "sample" not in given
              else identify_one(args, rec, _split(given["sample"]), "SAMPLE"))
    doc = Many(result).to_dict() if isinstance(result, list) else result.to_dict()
    emit(args, doc, answer_lines(result))
    return 0


def _split(sample: str) -> dict:
    with api.argument("SAMPLE"):
        return split_sample(sample)


def _wrap(result):
    return Many(result) if isinstance(result, list) else result


def answer_lines_of(result) -> list[str]:
    return answer_lines(result.items if isinstance(result, Many) else result)


def cmd_enroll(args) -> int:
    e = recognizer(args).enroll(args.name, args.faces, args.voices, replace=args.replace)
    added = ", ".join(f"{n} {'photo(s)' if k == 'face' else 'clip(s)'}" for k, n in e.added.items())
    total = ", ".join(f"{n} {'photo(s)' if k == 'face' else 'clip(s)'}" for k, n in e.total.items())
    lines = [f"enrolled {e.name}: {added or 'nothing new'} -> {e.gallery} ({'replaced; ' if e.replaced else ''}"
             f"now {total})"]
    lines += [f"note: already enrolled as {e.name}, counted once: {f}" for f in e.already]
    emit(args, e.to_dict(), lines)
    return 0


def cmd_gallery(args) -> int:
    rec = recognizer(args)
    if args.action == "list":
        people = rec.people()
        lines = [f"{p['name']}\t" + "\t".join(f"{k}: {p[k]['n']} ({p[k]['embedder']})" for k in ("face", "voice") if k in p)
                 for p in people]
        emit(args, {"gallery": str(rec.gallery_path), "people": people},
             lines + [f"{len(people)} people in {rec.gallery_path}"])
        return 0
    if not args.name:
        raise ParamsError("gallery remove: give the NAME to remove")
    gone = rec.remove(args.name)
    emit(args, gone, [f"removed {args.name} from {gone['gallery']}"])
    return 0


def cmd_find(args) -> int:
    s = recognizer(args).find(args.sample, args.folder, args.far, args.top_k, args.all_faces, args.workers,
                              progress=not args.quiet)
    what = "photos" if s.kind == "face" else "clips"
    lines = [f"{s.files} {what} under {s.folder} ranked by cosine to {s.sample} ({s.cached} embeddings from the "
             f"cache; {len(s.skipped)} skipped); the best {len(s.hits)}:"]
    lines += [f"{i}. {h.path}\t{h.score:.3f}{chr(9) + 'match' if h.accepted else ''}{chr(9) + h.note if h.note else ''}"
              for i, h in enumerate(s.hits, 1)]
    lines += [f"threshold {s.threshold:.3f} ({s.provenance})", f"embedder: {s.embedder}"]
    lines += [f"skipped {p}: {reason}" for p, reason in s.skipped] + [f"note: {n}" for n in s.notes]
    emit(args, s.to_dict(), lines)
    return 0


# ---------------------------------------------------------------- the parser
def common(suppress: bool) -> Parser:
    """--models, --gallery, --json: accepted before the command and after it."""
    p = Parser(add_help=False)
    default = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p.add_argument("--models", type=Path, default=default(None), help=MODELS_HELP)
    p.add_argument("--gallery", type=Path, default=default(None), help=GALLERY_HELP)
    p.add_argument("--json", action="store_true", default=default(False), help="print one JSON document")
    return p


def far_option(p, default: float | None, said: str) -> None:
    p.add_argument("--far", type=rate, default=default, metavar="RATE",
                   help=f"false-accept rate the threshold is chosen for, on the protocol ROC that measured it "
                        f"(faces: LFW's pairs; voices: the speaker trial list) (default: {said})")


def add_commands(sub, parent: Parser) -> None:
    p = sub.add_parser("verify", parents=[parent], help="are A and B the same person?")
    p.add_argument("a", nargs="?", help="a photo, a clip, or PHOTO,CLIP")
    p.add_argument("b", nargs="?", help="same kinds as A")
    p.add_argument("--csv", type=Path, help="many pairs in one run: a CSV with columns a,b (paths relative to it)")
    far_option(p, None, "none: each modality's calibrated balanced threshold; a photo+clip pair always uses the "
                        "fused score's own threshold")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("identify", parents=[parent], help="who is this? the gallery's best match, or unknown")
    p.add_argument("sample", nargs="?", help="a photo, a clip, or PHOTO,CLIP (or use --face/--voice)")
    p.add_argument("--face", help="a photo")
    p.add_argument("--voice", help="a clip (wav, flac, mp3, ogg, opus, m4a, aac, webm)")
    p.add_argument("--csv", type=Path, help="many samples in one run: a CSV with columns face and/or voice")
    p.add_argument("--top-k", type=positive_int, default=5, help="candidates to list (default: 5)")
    far_option(p, api.DEFAULT_FAR, f"{api.DEFAULT_FAR}")
    p.add_argument("--all-faces", action="store_true", help="answer for every face in the photo (default: the largest)")
    p.add_argument("--classifier", metavar="NAME", help="ask a trained closed-set classifier instead (auto: the most "
                   "accurate; it always names one of its training people; loads TensorFlow)")
    p.set_defaults(func=cmd_identify)
    p = sub.add_parser("enroll", parents=[parent], help="add a person to the gallery (no retraining)")
    p.add_argument("name")
    p.add_argument("--faces", nargs="*", default=[], metavar="PHOTO")
    p.add_argument("--voices", nargs="*", default=[], metavar="CLIP")
    p.add_argument("--replace", action="store_true", help="replace NAME's entry (default: add to it)")
    p.set_defaults(func=cmd_enroll)
    p = sub.add_parser("gallery", parents=[parent], help="list the gallery's people, or remove one")
    p.add_argument("action", choices=("list", "remove"))
    p.add_argument("name", nargs="?", help="for remove: who")
    p.set_defaults(func=cmd_gallery)
    p = sub.add_parser("find", parents=[parent], help="rank a folder's photos (or clips) by similarity to SAMPLE")
    p.add_argument("sample", help="a photo (ranks the folder's photos) or a clip (ranks its clips)")
    p.add_argument("folder", help="searched recursively")
    p.add_argument("--top-k", type=positive_int, default=20, help="files to list (default: 20)")
    far_option(p, api.DEFAULT_FAR, f"{api.DEFAULT_FAR}")
    p.add_argument("--all-faces", action="store_true", help="a photo's score is its best face's (default: largest)")
    p.add_argument("--workers", type=positive_int, default=2, help="processes embedding the folder (default: 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_find)


def parser() -> Parser:
    ap = Parser(prog="facevoice", description=__doc__.split("\n\n")[0], parents=[common(suppress=False)],
                epilog=f"Defaults: models {MODELS_HELP.split('(default: ')[1][:-1]}; gallery "
                       f"{GALLERY_HELP.split('(default: ')[1][:-1]}.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_commands(sub, common(suppress=True))
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except FacevoiceError as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        print(f"facevoice: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
