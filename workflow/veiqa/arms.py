"""Arms: the ways a run scores images, one :class:`Arm` record each, the one source of an arm's label, its kind and
the columns the tables carry about it.

Kinds (:data:`KINDS`, the column ``arm_kind`` of ``collected.parquet`` and of the statistics' tables):

``vei``
    The VEI method: Grad-CAM maps of the image and of its PRI from a network with pretrained weights (or a weight
    file), compared with a measure.
``random_control``
    The same with randomly initialised weights (``weights: random``, a seed): what the maps give without learning.
``pixel``
    The pixel-PRI control: the measures on the raw image/PRI pair, no network (arm label ``image``).
``nr``
    A standard no-reference method (NIQE, BRISQUE, PIQE) scoring the distorted image alone; arm label = the method.
``fr_ceiling``
    The measures between the distorted image and its pristine reference (arm label ``fr-ceiling``): what the
    measure reaches when the PRI is replaced by the true reference.

A VEI or control arm's label is made once, from its settings, by :func:`veiqa.config.arm_label`; nothing reads
a label back: code that needs an arm's kind, backbone or PRI setting reads the columns of its table
(:meth:`Arm.columns`, filled in by :func:`veiqa.collect.collect`).
"""

from __future__ import annotations

from dataclasses import dataclass

VEI = "vei"
RANDOM_CONTROL = "random_control"
PIXEL = "pixel"
NR = "nr"
FR_CEILING = "fr_ceiling"

#: Kind → the name tables and figures print for it (the one home of these words).
KIND_LABELS = {
    VEI: "pretrained",
    NR: "NR method",
    PIXEL: "pixel-PRI control",
    RANDOM_CONTROL: "random-weights control",
    FR_CEILING: "fr-ceiling",
}
KINDS = tuple(KIND_LABELS)

#: The labels of the arms that have no settings.
PIXEL_LABEL = "image"
FR_LABEL = "fr-ceiling"

#: The PRI setting of an arm evaluated at each distortion's default PRI strength (column ``pri_setting``; an arm of
#: a PRI grid carries its PRI label there instead).
DEFAULT_PRI = "default"


@dataclass(frozen=True)
class Arm:
    """One arm. ``label``: its name in paths and tables; ``kind``: one of :data:`KINDS`; ``backbone``: the network
    (``none`` for the arms without one); ``weights``: the weights part of the label (``pretrained``,
    ``random<seed>``, ``file-<stem>``; empty without a network); ``settings``: the Grad-CAM settings the label was
    made from (resolution, method, layer, target, normalize, amp), empty without a network."""

    label: str
    kind: str
    backbone: str = "none"
    weights: str = ""
    settings: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"arm {self.label!r}: unknown kind {self.kind!r} (expected one of {KINDS})")

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def columns(self) -> dict:
        """What the tables carry about this arm, beside its label (column ``arm``)."""
        return {"arm_kind": self.kind, "backbone": self.backbone}


PIXEL_ARM = Arm(PIXEL_LABEL, PIXEL)
FR_ARM = Arm(FR_LABEL, FR_CEILING)


def nr_arm(method: str) -> Arm:
    """The arm of an NR method (its label is the method's name)."""
    return Arm(method, NR)


def kind_labels(kinds) -> list[str]:
    """The printed names of a column of kinds; a clear error for a table without them (written by an older veiqa)."""
    try:
        return [KIND_LABELS[k] for k in kinds]
    except KeyError as e:
        raise ValueError(f"unknown arm kind {e.args[0]!r} (expected one of {KINDS}); a table written by an older "
                         "veiqa lacks the column 'arm_kind': rerun the workflow's collect step") from None


def at_measure(table, measure: str):
    """Rows of a long or correlation table (with the column ``arm_kind``) that belong to a table of ``measure``: the
    arms scored by ``measure`` (the FR ceiling's among them), and every NR method (each scored by its own)."""
    return (table["measure"] == measure) | (table["arm_kind"] == NR)
