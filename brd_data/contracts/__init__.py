"""What every stage shares and none owns.

- `errors`: `UserError`, the root of every error printed to the user as one line;
- `identity`: the keys rows are joined on (text hash, file hash, quarantine id, code version);
- `models`: model fingerprints and the embedded SmolLM2 model;
- `tokenizers`: the tokenizer fingerprint that mixtures and students are matched on;
- `paths`: where manifests, samples and the cache live;
- `executors`: the datatrove executor (local, Slurm, Ray) and its logs;
- `runs`: the run lifecycle (begin, succeeded, failed, interrupted), with the writer lock;
- `schemas`: pydantic models of every manifest and lineage file, with exact messages.

Stages import this package and the store, never each other. Importing it is cheap: each module
imports its heavy dependencies (datatrove, torch, pydantic) itself.
"""

from .errors import UserError

__all__ = ["UserError"]
