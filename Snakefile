# veiqa: explainable no-reference IQA (Ahmed et al. 2024) over whole databases.
# The rules stay thin: every step is a function of the `veiqa` package (workflow/veiqa), called from workflow/scripts.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/stage.smk"
include: "workflow/rules/pri.smk"
include: "workflow/rules/gradcam.smk"
include: "workflow/rules/measures.smk"
include: "workflow/rules/controls.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/comparisons.smk"
include: "workflow/rules/setmetrics.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets,
