"""Sliders that work without a kernel: precomputed frames, an HTML slider and a few lines of JS.

The book is read online as static HTML, where an ipywidgets explorer shows only its first state.
A :class:`StaticFigure` holds PNG frames (matplotlib figures, base64-embedded) over a grid of
one slider parameter and, optionally, one selector parameter, and renders as self-contained
HTML: an ``<input type="range">``, an optional ``<select>``, the shown frame and its caption.
Inline JavaScript swaps the frame and the caption; nothing is fetched from the network.

    fig = explorer.static_figure("ratio", [0.5, 0.8, 0.9], select="method")
    fig                  # in a notebook: the HTML is embedded in the built page
    fig.save("f.html")   # a standalone page

Frames are indexed ``[select_index][slider_index]`` and stored flat, select-major.
"""
import base64
import hashlib
import html
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt

from .._io import atomic_write_bytes

__all__ = ["StaticFigure", "figure_png", "MAX_FRAMES"]

MAX_FRAMES = 60  # a page should grow by at most a few hundred kB


def figure_png(fig, dpi=75, palette=True):
    """PNG bytes of a matplotlib Figure at ``dpi`` (dots per inch); closes nothing.

    ``palette``: quantize to at most 256 colours (no dithering), about half the bytes of a
    full-colour PNG for line and bar plots, with no visible change.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if not palette:
        return buf.getvalue()
    from PIL import Image
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                           dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _labels(values, name):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list of labels; got {values!r}")
    labels = [str(v) for v in values]
    if not labels:
        raise ValueError(f"{name} must hold at least one label; got an empty list")
    return labels


class StaticFigure:
    """Frames over a (select x slider) grid, shown as HTML with a range slider.

    Parameters
    ----------
    frames : list of bytes
        PNG images, ``len(select_labels) * len(slider_labels)`` of them, select-major:
        frame ``s * len(slider_labels) + i`` is option ``s`` at slider position ``i``.
    slider_labels : list of str
        The value shown next to the slider at each position.
    captions : list of str, optional
        One line under each frame (same order as ``frames``; default: none).
    slider_name : str
        The slider's label.
    select_labels : list of str, optional
        Options of the selector (default: no selector, one option).
    select_name : str
        The selector's label.
    start : (int, int)
        The (select, slider) position shown first.
    title : str, optional
        A line above the controls.
    """

    def __init__(self, frames, slider_labels, captions=None, slider_name="value",
                 select_labels=None, select_name="option", start=(0, 0), title=None):
        self.slider_labels = _labels(slider_labels, "slider_labels")
        self.select_labels = (None if select_labels is None
                              else _labels(select_labels, "select_labels"))
        n = len(self.slider_labels) * len(self.select_labels or [None])
        frames = list(frames)
        if len(frames) != n:
            raise ValueError(f"frames must hold len(select_labels) * len(slider_labels) = {n} "
                             f"PNG images; got {len(frames)}")
        if len(frames) > MAX_FRAMES:
            raise ValueError(f"frames must number at most {MAX_FRAMES} (page size); got "
                             f"{len(frames)}")
        for i, f in enumerate(frames):
            if not isinstance(f, (bytes, bytearray)) or not bytes(f[:8]) == b"\x89PNG\r\n\x1a\n":
                raise ValueError(f"frames[{i}] must be the bytes of a PNG image")
        self.frames = [bytes(f) for f in frames]
        self.captions = [""] * n if captions is None else [str(c) for c in captions]
        if len(self.captions) != n:
            raise ValueError(f"captions must hold one caption per frame ({n}); got "
                             f"{len(self.captions)}")
        self.slider_name = str(slider_name)
        self.select_name = str(select_name)
        self.title = None if title is None else str(title)
        s, i = start
        if not (0 <= s < len(self.select_labels or [None]) and 0 <= i < len(self.slider_labels)):
            raise ValueError(f"start must be a (select, slider) position in the grid; got {start!r}")
        self.start = (int(s), int(i))

    @classmethod
    def from_figures(cls, figures, slider_labels, dpi=75, close=True, **kwargs):
        """Render matplotlib ``figures`` (same order as ``frames``) to PNG at ``dpi``; the other
        arguments are those of the class. ``close``: close each figure once rendered."""
        frames = []
        for fig in figures:
            frames.append(figure_png(fig, dpi=dpi))
            if close:
                plt.close(fig)
        return cls(frames, slider_labels, **kwargs)

    @property
    def n_frames(self):
        return len(self.frames)

    @property
    def id(self):
        """An element id derived from the content (stable across runs, unique per figure)."""
        digest = hashlib.sha1()
        for f in self.frames:
            digest.update(f)
        digest.update("\n".join(self.captions + self.slider_labels).encode())
        return "spf-" + digest.hexdigest()[:12]

    def to_html(self):
        """The figure as an HTML fragment (a ``<div>`` with its inline ``<script>``)."""
        uid = self.id
        e = html.escape
        srcs = ["data:image/png;base64," + base64.b64encode(f).decode("ascii")
                for f in self.frames]
        s0, i0 = self.start
        k0 = s0 * len(self.slider_labels) + i0
        n = len(self.slider_labels)
        parts = [f'<div class="sparana-static-figure" id="{uid}" '
                 f'style="font-family:sans-serif;font-size:0.9em;margin:0.5em 0">']
        if self.title:
            parts.append(f"<div><b>{e(self.title)}</b></div>")
        parts.append('<div style="display:flex;flex-wrap:wrap;gap:1em;align-items:center">')
        if self.select_labels is not None:
            options = "".join(f'<option value="{j}"{" selected" if j == s0 else ""}>{e(lab)}'
                              f"</option>" for j, lab in enumerate(self.select_labels))
            parts.append(f"<label>{e(self.select_name)} "
                         f'<select class="spf-select">{options}</select></label>')
        parts.append(f"<label>{e(self.slider_name)} "
                     f'<input class="spf-slider" type="range" min="0" max="{n - 1}" step="1" '
                     f'value="{i0}" style="vertical-align:middle"> '
                     f'<span class="spf-value">{e(self.slider_labels[i0])}</span></label>')
        parts.append("</div>")
        parts.append(f'<img class="spf-frame" src="{srcs[k0]}" alt="{e(self.captions[k0])}" '
                     f'style="max-width:100%;display:block">')
        parts.append(f'<div class="spf-caption">{e(self.captions[k0])}</div>')
        data = json.dumps({"frames": srcs, "captions": self.captions,
                           "labels": self.slider_labels})
        # </script> cannot occur in the JSON: base64, and "<" is escaped below.
        data = data.replace("<", "\\u003c")
        parts.append(f"""<script>
(function() {{
  var root = document.getElementById("{uid}");
  if (!root) return;
  var d = {data};
  var slider = root.querySelector(".spf-slider"), select = root.querySelector(".spf-select");
  var img = root.querySelector(".spf-frame"), cap = root.querySelector(".spf-caption");
  var value = root.querySelector(".spf-value");
  function show() {{
    var i = parseInt(slider.value, 10), s = select ? parseInt(select.value, 10) : 0;
    var k = s * d.labels.length + i;
    img.src = d.frames[k]; img.alt = d.captions[k];
    cap.textContent = d.captions[k]; value.textContent = d.labels[i];
  }}
  slider.addEventListener("input", show);
  slider.addEventListener("change", show);
  if (select) select.addEventListener("change", show);
}})();
</script>""")
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_html_(self):
        return self.to_html()

    def __repr__(self):
        grid = f"{len(self.select_labels)} x " if self.select_labels else ""
        return (f"<StaticFigure {self.slider_name}: {grid}{len(self.slider_labels)} frames, "
                f"{self.nbytes() / 1e3:.0f} kB of HTML>")

    def nbytes(self):
        """Size of the HTML fragment in bytes (what a page grows by)."""
        return len(self.to_html().encode())

    def save(self, path):
        """Write a standalone HTML page (atomically) and return its path."""
        path = Path(path)
        title = html.escape(self.title or "sparana_lite figure")
        page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
                f"</head><body>\n{self.to_html()}\n</body></html>\n")
        atomic_write_bytes(path, page.encode())
        return path
