"""The face branch: find the labelled person's face in each photo and store it as a small uint8 crop.

``build`` (used by ``stages/faces.py``) runs, per photo of the faces manifest:

1. **balance** (``balance.py``): at most ``max_people`` people (those with most photos), at most
   ``max_photos`` photos each (kept in proportion over the splits), people with fewer than
   ``min_photos`` accepted faces dropped. Every dropped photo goes to ``rejects.csv`` with its reason.
2. **detect** (``detect.py``): MTCNN on batches of photos, or ``detector: none`` (the whole photo is the
   face: ORL-like tight crops). The detector is written in every index row, never chosen silently.
3. **choose** (``choose.py``): with several faces, keep the labelled person's by a rule: ``central``,
   ``largest``, ``most_confident`` or ``consistent``.
4. **crop** (``crop.py``): a square crop with a margin around the box, optionally rotated so the eyes
   are level, resized to ``size`` x ``size``, grey or RGB, uint8.
5. **augment** (``augment.py``): train photos only get ``copies`` extra crops, each a random flip /
   rotation / shift / zoom / brightness / contrast. The detector runs once per source photo: the
   augmentation is composed into the crop's affine warp (the same as augmenting the photo and moving
   the box with it), so copies cost a warp, not a detection. Copies keep their photo's split and source id.

Output (``data/features/faces/``, the feature-store layout ``train.run`` reads): ``index.csv`` (one row
per crop), ``x.npy`` (N x size x size x channels, uint8), ``rejects.csv``, ``summary.json`` and
``samples/*.png`` (photos with all detections, the kept box and its key points, and the crop).
"""
from .build import build  # noqa: F401
