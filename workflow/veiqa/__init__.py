"""veiqa: explainable no-reference image quality assessment at dataset scale.

Implements Ahmed et al. (2024), "No-reference image quality assessment based on visual explanation
images and deep transfer learning", as a library driven by a Snakemake workflow.
"""

__version__ = "0.1.0"
