"""PhantomPET volumes: synthetic paired PET (SUV) and CT (HU) with lesions.

Geometry is written in normalised RAS+ coordinates ``(u, v, w)`` in [-1, 1]:
``u`` towards the patient's right, ``v`` anterior, ``w`` superior, so the same
anatomy fills any grid size. The physical field of view is fixed
(``FIELD_OF_VIEW_MM``): a smaller grid means coarser voxels, as a scanner's
coarser reconstruction would give.

Per exam: a body outline with a fat layer, lungs, heart, liver, spleen,
kidneys, bladder, spine and iliac bones (CT), tracer-specific physiological
uptake of those tissues (PET), then 1-5 ellipsoid lesions with smooth edges
at distinct anatomical sites, the scanner's blur and correlated noise.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
from scipy import ndimage

FIELD_OF_VIEW_MM = (480.0, 480.0, 640.0)
#: Gaussian blur of the PET scanner (about 9 mm full width at half maximum).
PET_BLUR_SIGMA_MM = 4.0
LESION_RADIUS_MM = (15.0, 30.0)
LESION_SUV_RANGE = (1.5, 20.0)
#: Share of lesions drawn below the 2.5 SUV cut of the weak-label rules.
LOW_SUV_FRACTION = 0.15

TISSUES = ('air', 'fat', 'muscle', 'lung', 'heart', 'liver', 'spleen',
           'kidney', 'bladder', 'marrow')
TISSUE_HU = dict(air=-1000.0, fat=-100.0, muscle=40.0, lung=-820.0,
                 heart=40.0, liver=60.0, spleen=45.0, kidney=30.0,
                 bladder=10.0, marrow=350.0)


@dataclass(frozen=True)
class Tracer:
    name: str           # as written in reports
    avid: str           # "FDG-avid"
    article: str        # the article that goes before ``avid``
    uptake: Dict[str, float]  # mean SUV per tissue


TRACERS = {
    'FDG': Tracer('FDG', 'FDG-avid', 'an', dict(
        air=0.0, fat=0.3, muscle=0.7, lung=0.5, heart=3.5, liver=2.2,
        spleen=1.8, kidney=2.5, bladder=12.0, marrow=1.3)),
    'DCFPyL': Tracer('DCFPyL', 'PSMA-avid', 'a', dict(
        air=0.0, fat=0.2, muscle=0.5, lung=0.3, heart=1.2, liver=5.5,
        spleen=4.5, kidney=18.0, bladder=15.0, marrow=0.8)),
    'DOTATATE': Tracer('DOTATATE', 'DOTATATE-avid', 'a', dict(
        air=0.0, fat=0.2, muscle=0.5, lung=0.3, heart=1.0, liver=7.0,
        spleen=18.0, kidney=12.0, bladder=6.0, marrow=0.9)),
    'fluciclovine': Tracer('fluciclovine', 'fluciclovine-avid', 'a', dict(
        air=0.0, fat=0.4, muscle=1.8, lung=0.5, heart=1.5, liver=7.0,
        spleen=3.0, kidney=2.5, bladder=1.5, marrow=2.5)),
}


@dataclass(frozen=True)
class Organ:
    tissue: str
    center: Tuple[float, float, float]
    semi_axes: Tuple[float, float, float]


# Painted in this order, later organs over earlier ones.
ORGANS = (
    Organ('lung', (0.38, 0.0, 0.58), (0.27, 0.38, 0.36)),
    Organ('lung', (-0.38, 0.0, 0.58), (0.25, 0.38, 0.36)),
    Organ('heart', (-0.08, 0.18, 0.33), (0.2, 0.2, 0.16)),
    Organ('liver', (0.33, 0.05, 0.02), (0.38, 0.38, 0.2)),
    Organ('spleen', (-0.5, -0.18, 0.06), (0.13, 0.17, 0.13)),
    Organ('kidney', (0.3, -0.33, -0.18), (0.1, 0.1, 0.15)),
    Organ('kidney', (-0.3, -0.33, -0.16), (0.1, 0.1, 0.15)),
    Organ('bladder', (0.0, 0.22, -0.82), (0.15, 0.15, 0.1)),
    Organ('marrow', (0.45, -0.22, -0.62), (0.13, 0.24, 0.2)),
    Organ('marrow', (-0.45, -0.22, -0.62), (0.13, 0.24, 0.2)),
)
BODY_SEMI_AXES = (0.82, 0.58)
FAT_LAYER = 0.06
SPINE_CENTER, SPINE_RADIUS = (0.0, -0.42), 0.09


@dataclass(frozen=True)
class LesionSite:
    """Where a lesion may sit, and how a report names it."""
    key: str
    center: Tuple[float, float, float]
    phrases: Tuple[str, ...]
    kind: str  # 'lung', 'node', 'liver' or 'bone': how the CT shows it


LESION_SITES = (
    LesionSite('right_upper_lobe', (0.38, 0.02, 0.8), (
        'nodule in the right upper lobe', 'right upper lobe nodule',
        'right upper lobe pulmonary mass'), 'lung'),
    LesionSite('right_lower_lobe', (0.4, -0.12, 0.36), (
        'nodule in the right lower lobe', 'right lower lobe nodule',
        'right lower lobe pulmonary mass'), 'lung'),
    LesionSite('left_upper_lobe', (-0.38, 0.02, 0.8), (
        'nodule in the left upper lobe', 'left upper lobe nodule',
        'left upper lobe pulmonary mass'), 'lung'),
    LesionSite('left_lower_lobe', (-0.4, -0.12, 0.36), (
        'nodule in the left lower lobe', 'left lower lobe nodule',
        'left lower lobe pulmonary mass'), 'lung'),
    LesionSite('right_hepatic_lobe', (0.45, -0.02, 0.0), (
        'lesion in the right lobe of the liver', 'right hepatic lobe lesion',
        'mass in the right hepatic lobe'), 'liver'),
    LesionSite('left_hepatic_lobe', (0.12, 0.2, 0.06), (
        'lesion in the left lobe of the liver', 'left hepatic lobe lesion',
        'mass in the left hepatic lobe'), 'liver'),
    LesionSite('right_axilla', (0.7, 0.08, 0.78), (
        'right axillary lymph node', 'lymph node in the right axilla',
        'right axillary node'), 'node'),
    LesionSite('left_axilla', (-0.7, 0.08, 0.78), (
        'left axillary lymph node', 'lymph node in the left axilla',
        'left axillary node'), 'node'),
    LesionSite('mediastinum', (0.0, 0.0, 0.66), (
        'mediastinal lymph node', 'subcarinal lymph node',
        'node in the mediastinum'), 'node'),
    LesionSite('retroperitoneum', (-0.15, -0.15, -0.35), (
        'retroperitoneal lymph node', 'para-aortic lymph node',
        'node in the retroperitoneum'), 'node'),
    LesionSite('right_external_iliac', (0.33, 0.05, -0.55), (
        'right external iliac lymph node', 'right external iliac node',
        'lymph node along the right external iliac chain'), 'node'),
    LesionSite('left_external_iliac', (-0.33, 0.05, -0.55), (
        'left external iliac lymph node', 'left external iliac node',
        'lymph node along the left external iliac chain'), 'node'),
    LesionSite('thoracic_spine', (0.0, -0.42, 0.62), (
        'lesion in a thoracic vertebral body', 'thoracic spine lesion',
        'bone lesion in the thoracic spine'), 'bone'),
    LesionSite('lumbar_spine', (0.0, -0.42, -0.28), (
        'lesion in a lumbar vertebral body', 'lumbar spine lesion',
        'bone lesion in the lumbar spine'), 'bone'),
    LesionSite('right_iliac_bone', (0.5, -0.25, -0.62), (
        'lesion in the right iliac bone', 'right iliac bone lesion',
        'bone lesion in the right ilium'), 'bone'),
    LesionSite('left_iliac_bone', (-0.5, -0.25, -0.62), (
        'lesion in the left iliac bone', 'left iliac bone lesion',
        'bone lesion in the left ilium'), 'bone'),
)


@dataclass
class Lesion:
    lesion_id: int
    site: LesionSite
    radius_mm: float
    target_suv: float
    mask: np.ndarray = field(repr=False)        # (X, Y, Z) bool
    suv_max: float = 0.0                        # measured on the final PET
    suv_mean: float = 0.0
    max_index: Tuple[int, int, int] = (0, 0, 0)  # voxel of ``suv_max``


@dataclass
class PhantomExam:
    tracer: Tracer
    pet: np.ndarray            # (X, Y, Z) float32 SUV
    ct: np.ndarray             # (X, Y, Z) float32 HU
    lesion_labels: np.ndarray  # (X, Y, Z) int16, lesion id or 0
    lesions: List[Lesion]
    spacing: Tuple[float, float, float]
    reference_suv: Dict[str, float]  # mean SUV of liver and blood pool


def grid_spacing(shape: Tuple[int, int, int]) -> Tuple[float, float, float]:
    return tuple(fov / n for fov, n in zip(FIELD_OF_VIEW_MM, shape))


def _normalised_grid(shape):
    axes = [(np.arange(n) + 0.5) / n * 2.0 - 1.0 for n in shape]
    return np.meshgrid(*axes, indexing='ij')


def _ellipsoid(grid, center, semi_axes) -> np.ndarray:
    """Normalised ellipsoidal distance (1 on the surface)."""
    return np.sqrt(sum(((g - c) / a) ** 2
                       for g, c, a in zip(grid, center, semi_axes)))


def _smooth_noise(rng, shape, sigma_voxels: float) -> np.ndarray:
    """Zero-mean, unit-variance, spatially correlated Gaussian noise."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_voxels)
    return noise / max(float(noise.std()), 1e-6)


def _tissue_map(rng, grid) -> np.ndarray:
    """(X, Y, Z) indices into ``TISSUES``, with per-exam anatomical jitter."""
    u, v, w = grid
    tissue = np.zeros(u.shape, np.int8)
    body_a, body_b = (s * rng.uniform(0.92, 1.05) for s in BODY_SEMI_AXES)
    body = (u / body_a) ** 2 + (v / body_b) ** 2
    tissue[body <= 1.0] = TISSUES.index('fat')
    inner = (u / (body_a - FAT_LAYER)) ** 2 + (v / (body_b - FAT_LAYER)) ** 2
    tissue[inner <= 1.0] = TISSUES.index('muscle')
    shift = rng.uniform(-0.03, 0.03, size=3)
    for organ in ORGANS:
        scale = rng.uniform(0.9, 1.1)
        inside = _ellipsoid(grid, np.add(organ.center, shift),
                            np.multiply(organ.semi_axes, scale)) <= 1.0
        tissue[inside] = TISSUES.index(organ.tissue)
    spine = np.hypot(u - SPINE_CENTER[0], v - SPINE_CENTER[1]) <= SPINE_RADIUS
    tissue[spine] = TISSUES.index('marrow')
    return tissue


def _draw_target_suv(rng, background: float) -> float:
    """A lesion SUVmax: log-uniform, some below 2.5, always above background."""
    low, high = LESION_SUV_RANGE
    if rng.random() < LOW_SUV_FRACTION:
        target = rng.uniform(low, 2.5)
    else:
        target = float(np.exp(rng.uniform(np.log(2.5), np.log(high))))
    # A lesion must stand out from the organ it sits in.
    return float(min(max(target, 1.5 * background * rng.uniform(1.0, 1.4)),
                     high))


def _place_lesions(rng, grid, tissue, uptake
                   ) -> List[Tuple[Lesion, np.ndarray]]:
    """Lesions at distinct sites, each with its (X, Y, Z) uptake profile in
    [0, 1]: 1 inside, a smooth logistic edge at the ellipsoid surface."""
    n_lesions = int(rng.integers(1, 6))
    sites = rng.choice(len(LESION_SITES), size=n_lesions, replace=False)
    unit_mm = np.array(FIELD_OF_VIEW_MM) / 2.0  # mm per normalised unit
    placed: List[Tuple[np.ndarray, float]] = []
    lesions = []
    for site_index in sites:
        site = LESION_SITES[site_index]
        radius = rng.uniform(*LESION_RADIUS_MM)
        for _ in range(20):
            center_mm = (np.array(site.center) + rng.uniform(-0.04, 0.04, 3)) \
                * unit_mm
            # Semi-axes reach 1.2 radius, so a 15 mm margin keeps lesions
            # apart: each sentence has exactly one answer.
            if all(np.linalg.norm(center_mm - c) > 1.2 * (radius + r) + 15.0
                   for c, r in placed):
                break
        else:
            continue
        placed.append((center_mm, radius))
        semi_axes = radius * rng.uniform(0.8, 1.2, 3) / unit_mm
        distance = _ellipsoid(grid, center_mm / unit_mm, semi_axes)
        mask = distance <= 1.0
        if not mask.any():
            continue
        organ_background = float(np.median(uptake[tissue[mask]]))
        lesion = Lesion(len(lesions) + 1, site, radius,
                        _draw_target_suv(rng, organ_background), mask)
        lesions.append((lesion, 1.0 / (1.0 + np.exp((distance - 1.0) / 0.12))))
    return lesions


def _make_ct(rng, tissue, lesions) -> np.ndarray:
    ct = np.array([TISSUE_HU[t] for t in TISSUES], np.float32)[tissue]
    for lesion in lesions:
        if lesion.site.kind == 'lung':
            ct[lesion.mask] = 30.0
        elif lesion.site.kind == 'liver':
            ct[lesion.mask] -= 30.0
        elif lesion.site.kind == 'bone':  # lytic or sclerotic
            ct[lesion.mask] += rng.choice([-1.0, 1.0]) * 200.0
        else:
            ct[lesion.mask] = 35.0
    ct = ndimage.gaussian_filter(ct, 0.5)
    return (ct + rng.normal(0.0, 12.0, ct.shape)).astype(np.float32)


def make_exam(rng: np.random.Generator, shape: Tuple[int, int, int],
              tracer: str) -> PhantomExam:
    """One synthetic PET/CT exam on a ``shape`` (X, Y, Z) grid."""
    if tracer not in TRACERS:
        raise ValueError(f'unknown tracer {tracer!r}; expected one of '
                         f'{sorted(TRACERS)}')
    tracer_profile = TRACERS[tracer]
    spacing = grid_spacing(shape)
    grid = _normalised_grid(shape)
    tissue = _tissue_map(rng, grid)
    uptake = np.array([tracer_profile.uptake[t] * rng.uniform(0.8, 1.2)
                       for t in TISSUES], np.float32)
    if tracer == 'FDG':  # myocardial FDG uptake varies widely between exams
        uptake[TISSUES.index('heart')] *= rng.uniform(0.4, 2.5)
    placed = _place_lesions(rng, grid, tissue, uptake)

    pet = uptake[tissue] * (1.0 + 0.05 * _smooth_noise(rng, shape, 2.0))
    for lesion, profile in placed:
        pet = pet * (1.0 - profile) + lesion.target_suv * profile
    pet = ndimage.gaussian_filter(
        pet, [PET_BLUR_SIGMA_MM / s for s in spacing])
    pet = pet * (1.0 + 0.1 * _smooth_noise(rng, shape, 0.6))
    pet = np.clip(pet, 0.0, None).astype(np.float32)

    lesions = [lesion for lesion, _ in placed]
    lesion_labels = np.zeros(shape, np.int16)
    for lesion in lesions:
        lesion_labels[lesion.mask] = lesion.lesion_id
        # Measured on the final image, as a reader would.
        values = np.where(lesion.mask, pet, -np.inf)
        lesion.max_index = tuple(int(i) for i in
                                 np.unravel_index(np.argmax(values), shape))
        lesion.suv_max = float(pet[lesion.max_index])
        lesion.suv_mean = float(pet[lesion.mask].mean())
    reference = dict(
        liver=float(pet[tissue == TISSUES.index('liver')].mean()),
        blood_pool=float(pet[tissue == TISSUES.index('heart')].mean()))
    return PhantomExam(tracer_profile, pet, _make_ct(rng, tissue, lesions),
                       lesion_labels, lesions, spacing, reference)
