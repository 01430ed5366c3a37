"""pydantic models of every manifest and lineage file brd reads, with exact one-line messages.

- `prompt`: prompt files (manifests/prompts/*.yaml);
- `mixture`: mixture and filter manifests (manifests/mixtures, manifests/filters) and a built
  mixture's manifest.json;
- `task`: task templates (manifests/tasks) and the task files they render;
- `study`: study manifests (manifests/studies);
- `lineage`: brd_train.json and brd_lineage.json, written next to a student's weights.

Every model forbids unknown keys (lineage files, which newer brd versions may extend, ignore
them) and checks types strictly: YAML's `yes` is not a number, "3" is not an integer.
`model_json_schema()` of each gives its JSON schema.
"""
