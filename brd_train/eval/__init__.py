"""Evaluation and analysis: the §3.3 scoring function, Table 8 tasks and BIG-bench, the §5.2 cross
entropy, the A.4 layer-wise probes, and the plots of Figures 2-4."""
