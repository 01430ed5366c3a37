"""Appendix A.4: layer-wise probing. Each text's hidden states are mean-pooled per layer (padding
excluded), and an L2-regularised logistic regression per layer predicts the task label from that
vector; its stratified k-fold cross-validated accuracy says how well the layer prepares the task."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import ConfigError, UserError

from .tasks import EvalTask
from .texts import TextRunConfig


@dataclass(frozen=True, kw_only=True)
class ProbeConfig(TextRunConfig):
    model: str
    folds: int = 5
    c: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.folds < 2:
            raise ConfigError(f"--folds must be at least 2, got {self.folds}")
        if not self.c > 0:
            raise ConfigError(f"--c must be positive, got {self.c}")


class ProbeError(UserError):
    """A task that cannot be probed (too few labelled examples, a single class)."""


def pooled_states(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    progress: Callable[[int], None] | None = None,
):
    """Array [layers + 1, texts, hidden]: the mean over each text's tokens of every layer's output
    (index 0 is the embedding layer)."""
    import numpy as np
    import torch

    from .texts import encode_texts, pad_id, padded_batches

    encoded = encode_texts(tokenizer, texts, max_length, with_start=False)
    for i, ids in enumerate(encoded):
        if not ids:
            raise ProbeError(f"text {i} is empty")
    base = getattr(model, "base_model", model)  # the decoder without the LM head
    dev = next(model.parameters()).device
    out = None
    with torch.inference_mode():
        for idx, ids, mask in padded_batches(encoded, batch_size, pad_id(tokenizer)):
            hs = base(
                input_ids=ids.to(dev), attention_mask=mask.to(dev), output_hidden_states=True, use_cache=False
            ).hidden_states
            m = mask.to(dev).unsqueeze(-1).float()
            pooled = torch.stack([(h.float() * m).sum(1) / m.sum(1) for h in hs])  # [L+1, B, H]
            if out is None:
                out = np.zeros((pooled.shape[0], len(texts), pooled.shape[2]), dtype=np.float32)
            out[:, idx] = pooled.cpu().numpy()
            if progress:
                progress(len(idx))
    return out


def probe_layers(
    states, labels: Sequence[int], groups: Sequence[str], folds: int, c: float, seed: int
) -> list[tuple[float, float]]:
    """(mean, std) cross-validated accuracy per layer. Folds are stratified by label and keep
    each group whole: two hypotheses about one premise share most of their mean-pooled vector,
    and splitting them across folds would score the premise, not the task."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = []
    for layer in states:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        acc = cross_val_score(clf, layer, y, groups=list(groups), cv=splitter, scoring="accuracy")
        out.append((float(acc.mean()), float(acc.std())))
    return out


@dataclass
class ProbeData:
    texts: list[str]
    labels: list[int]
    groups: list[str]
    folds: int  # the folds actually used (at most the groups and examples of the rarest label)


def labelled(task: EvalTask, folds: int) -> ProbeData:
    """The labelled examples of a task, checked to be enough for cross-validation."""
    items = [it for it in task.items if it.gold is not None]
    where = f"task {task.name} ({task.source})"
    if not items:
        raise ProbeError(f"{where}: no labelled example to probe")
    labels = [it.candidates.index(it.gold) for it in items]
    groups = [it.group if it.group is not None else str(i) for i, it in enumerate(items)]
    counts = {y: labels.count(y) for y in set(labels)}
    if len(counts) < 2:
        raise ProbeError(f"{where}: every example has the same label; a probe needs two classes")
    if min(counts.values()) < 2:
        raise ProbeError(f"{where}: a label occurs once; cross-validation needs at least 2 per label")
    n_groups = len(set(groups))
    if n_groups < 2:
        raise ProbeError(f"{where}: all examples share one {task.name} input; cross-validation needs two groups")
    return ProbeData([it.prompt for it in items], labels, groups, min(folds, min(counts.values()), n_groups))


@dataclass
class ProbeOutcome:
    run_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    plot: Path | None = None


def run_probe(
    store: Any,
    cfg: ProbeConfig,
    tasks: Sequence[EvalTask],
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    plot: Path | None = None,
) -> ProbeOutcome:
    import pyarrow as pa

    from brd_data.contracts.runs import LOCK_WAIT_S, StageRun

    from .models import fingerprint, load_model
    from .plots import plot_probes

    if not tasks:
        raise ConfigError("nothing to probe: pass --task NAME=PATH")
    data = {t.name: labelled(t, cfg.folds) for t in tasks}  # validate before loading the model
    fp = fingerprint(cfg.model)
    model, tok = load_model(cfg.model, cfg.device, cfg.dtype, cfg.trust_remote_code, cfg.threads)
    config = {**cfg.__dict__, "tasks": [t.name for t in tasks]}
    inputs = [{"path": t.source, "sha256": t.source_sha256, "task": t.name} for t in tasks]
    inputs.append({"path": cfg.model, "model_fingerprint": fp})
    with StageRun(store, "analyze probe", config, inputs, wait_s=LOCK_WAIT_S) as run:
        rows = []
        for t in tasks:
            d = data[t.name]
            y, folds = d.labels, d.folds
            bar = progress(t.name, len(d.texts)) if progress else None
            states = pooled_states(model, tok, d.texts, cfg.batch_size, cfg.max_length, bar)
            majority = max(y.count(k) for k in set(y)) / len(y)
            for layer, (acc, std) in enumerate(probe_layers(states, y, d.groups, folds, cfg.c, cfg.seed)):
                rows.append(
                    {
                        "run_id": run.run_id,
                        "model": cfg.model,
                        "model_fingerprint": fp,
                        "task": t.name,
                        "source": t.source,
                        "layer": layer,
                        "n": len(y),
                        "n_classes": len(set(y)),
                        "folds": folds,
                        "regularization": cfg.c,
                        "accuracy": acc,
                        "accuracy_std": std,
                        "majority": majority,
                    }
                )
        run.add_counts(eval_probes=len(rows))

        def write(con):
            store.insert(con, "eval_probes", pa.Table.from_pylist(rows))

        run.commit(write, finish=True)
    target = plot or store.root / "reports" / f"probe-{run.run_id}.png"
    plot_probes(rows, target)
    return ProbeOutcome(run.run_id, rows, target)


def probe_table(rows: Sequence[dict[str, Any]]):
    """Accuracy (%) per layer (rows) and task (columns)."""
    from rich.table import Table

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    layers = sorted({r["layer"] for r in rows})
    acc = {(r["task"], r["layer"]): r["accuracy"] for r in rows}
    table = Table(
        title="probe accuracy % per layer (A.4)",
        title_justify="left",
        caption="layer 0: embeddings",
        caption_justify="left",
    )
    table.add_column("layer", justify="right")
    for t in tasks:
        table.add_column(t, justify="right")
    for layer in layers:
        table.add_row(str(layer), *(f"{100 * acc[(t, layer)]:.1f}" if (t, layer) in acc else "" for t in tasks))
    maj = {r["task"]: r["majority"] for r in rows}
    table.add_row("majority", *(f"{100 * maj[t]:.1f}" for t in tasks), style="dim")
    return table
