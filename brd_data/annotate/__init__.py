"""Teacher annotation: prompts, the vLLM server, the rollout, output parsing."""
