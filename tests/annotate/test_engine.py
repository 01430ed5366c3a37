"""Engine configuration: what reaches vLLM, what reaches datatrove, and what never reaches disk."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from brd_data.annotate.engine import EngineConfig, TeacherEndpoint, cpu_has_bf16, default_dtype, on_cpu
from brd_data.contracts.errors import UserError


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tp": 0}, "--tp and --dp"),
        ({"max_concurrency": 0}, "--max-concurrency"),
        ({"dtype": "int4"}, "--dtype"),
        ({"endpoint": "localhost:8000"}, "--endpoint"),
        ({"vllm_args": {"api-key": "x"}}, "pass secrets through the environment"),
        ({"server_script": "/no/such/file.py"}, "--server-script"),
    ],
)
def test_bad_engine_settings_are_refused(kwargs, message):
    with pytest.raises(UserError, match=message):
        EngineConfig(teacher="m", **kwargs)


def test_server_flags_pass_through_with_prefix_caching():
    e = EngineConfig(
        teacher="/models/t",
        tp=2,
        dp=3,
        max_concurrency=64,
        dtype="float16",
        vllm_args={"gpu-memory-utilization": "0.9"},
        enforce_eager=False,
    )
    flags = e.server_flags("/tmp/ready.json")
    assert flags["server_script"].endswith("brd_data/annotate/serve.py")
    assert (flags["model"], flags["served-model-name"], flags["tensor-parallel-size"], flags["data-parallel-size"]) == (
        "/models/t",
        "/models/t",
        2,
        3,
    )
    assert flags["enable-prefix-caching"] is True and flags["max-num-seqs"] == 64 and flags["dtype"] == "float16"
    assert flags["gpu-memory-utilization"] == "0.9" and flags["brd-ready-file"] == "/tmp/ready.json"
    assert "trust-remote-code" not in flags and "enforce-eager" not in flags
    assert EngineConfig(teacher="t", trust_remote_code=True).server_flags()["trust-remote-code"] is True
    assert ("enforce-eager" in EngineConfig(teacher="t").server_flags()) == on_cpu()


def test_cpu_dtype_default():
    assert default_dtype("bfloat16", "t") == "bfloat16"
    expected = "float32" if on_cpu() and not cpu_has_bf16() else "auto"
    assert default_dtype("auto", "t") == expected


def test_endpoints_and_their_api_key_never_reach_the_config(monkeypatch):
    monkeypatch.setenv("BRD_TEST_KEY", "s3cret-value")
    monkeypatch.setenv("BRD_ENDPOINT_URL", "")  # set by EngineConfig below; restored after the test
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = EngineConfig(teacher="m", endpoint="http://127.0.0.1:8000/v1/")
    assert local.endpoint_root == "http://127.0.0.1:8000" and local.probe_url == "http://127.0.0.1:8000/v1/models"
    assert local.inference_config(False, 10, 10, "/tmp/l").endpoint_url == "http://127.0.0.1:8000"
    remote = EngineConfig(teacher="m", endpoint="http://gpu-node:8000", api_key_env="BRD_TEST_KEY")
    cfg = remote.inference_config(True, 10, 10, "/tmp/l")
    assert cfg.endpoint_url == "http://gpu-node:8000" and cfg.use_chat
    assert "s3cret" not in json.dumps(dataclasses.asdict(cfg)) + json.dumps(remote.lineage())
    # the key goes to a loopback endpoint too; credentials in the URL stay out of every config
    tunnel = EngineConfig(
        teacher="m", endpoint="http://u:pw-s3cret@127.0.0.1:8000/v1?token=t0k3n", api_key_env="BRD_TEST_KEY"
    )
    tunnel_cfg = tunnel.inference_config(False, 10, 10, "/tmp/l")
    written = json.dumps(dataclasses.asdict(tunnel_cfg)) + json.dumps(tunnel.lineage(), default=str)
    assert "pw-s3cret" not in written and "t0k3n" not in written and "s3cret-value" not in written
    assert tunnel_cfg.endpoint_url == "http://***@127.0.0.1:8000?token=***"

    async def build(config):
        server = TeacherEndpoint(config, 0)
        client = server.client
        return server.get_base_url(), client and client.api_key, client and str(client.base_url).rstrip("/")

    assert asyncio.run(build(cfg)) == ("http://gpu-node:8000", "s3cret-value", "http://gpu-node:8000/v1")
    assert asyncio.run(build(tunnel_cfg)) == (
        "http://u:pw-s3cret@127.0.0.1:8000",
        "s3cret-value",
        "http://u:pw-s3cret@127.0.0.1:8000/v1",
    )
    # no key and no credentials: a loopback endpoint keeps datatrove's fast raw client
    assert asyncio.run(build(local.inference_config(False, 10, 10, "/tmp/l")))[1:] == (None, None)
