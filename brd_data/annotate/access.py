"""Reaching an --endpoint without its secrets in any config that is written down.

datatrove writes its pipeline, InferenceConfig included, to `executor.json`, and brd records
its config in `runs.config`; neither may hold a key or a password. So the configs hold the
endpoint as shown (credentials redacted) and the names of two environment variables: the API
key's (`--api-key-env`) and the one brd sets, in its own process, to the URL as given
(`ENDPOINT_ENV`, only when that URL carries credentials). The workers, which inherit the
environment, read both when they connect.

The key goes to every endpoint, loopback included (an SSH-tunnelled vLLM started with --api-key
listens on 127.0.0.1 and answers 401 to a request without it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ..contracts.secrets import has_credentials, redact_url, register, secret_param

ENDPOINT_ENV = "BRD_ENDPOINT_URL"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def endpoint_root(url: str) -> str:
    """The URL without a trailing /v1 (datatrove and brd append /v1/... themselves)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@dataclass(frozen=True)
class EndpointAccess:
    """How the workers reach an endpoint: what may be written down about it, nothing more."""

    shown: str  # the endpoint root, credentials redacted: safe for configs, logs and messages
    api_key_env: str = "OPENAI_API_KEY"
    url_env: str | None = None  # set when the URL itself carries credentials

    @classmethod
    def for_endpoint(cls, endpoint: str, api_key_env: str = "OPENAI_API_KEY") -> EndpointAccess:
        """Register the endpoint's secrets for redaction and, when its URL carries credentials,
        put the URL in ENDPOINT_ENV for the workers (this process and its children)."""
        root = endpoint_root(endpoint)
        parts = urlsplit(root)
        register(parts.password)
        for name, value in parse_qsl(parts.query):
            if secret_param(name):
                register(value)
        key = os.environ.get(api_key_env)
        register(key)
        url_env = None
        if has_credentials(root):
            os.environ[ENDPOINT_ENV] = root
            url_env = ENDPOINT_ENV
        return cls(redact_url(root), api_key_env, url_env)

    # -- what the workers read ------------------------------------------------------------------
    @property
    def root(self) -> str:
        """The real root, query included."""
        return (os.environ.get(self.url_env) if self.url_env else None) or self.shown

    @property
    def base(self) -> str:
        """The real root without its query (credentials in user:password@ stay: httpx sends them)."""
        p = urlsplit(self.root)
        return urlunsplit((p.scheme, p.netloc, p.path, "", ""))

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.root).query))

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    @property
    def is_local(self) -> bool:
        return urlsplit(self.shown).hostname in LOCAL_HOSTS

    @property
    def needs_auth(self) -> bool:
        """A key or credentials to send: datatrove's fast loopback client sends neither."""
        return self.api_key is not None or self.url_env is not None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def models_url(self) -> str:
        return f"{self.base}/v1/models"

    def lineage(self) -> dict[str, str | None]:
        return {"endpoint": self.shown, "api_key_env": self.api_key_env, "url_env": self.url_env}


def list_models(access: EndpointAccess, timeout: float = 10.0) -> list[dict]:
    """What the server reports at /v1/models (id, root, max_model_len, ... per model), asked with
    the API key and the URL's credentials."""
    import httpx

    from ..contracts.errors import ConfigError
    from ..contracts.secrets import redact

    try:
        r = httpx.get(access.models_url(), params=access.query, headers=access.headers(), timeout=timeout)
        if r.status_code in (401, 403):
            raise ConfigError(
                f"--endpoint {access.shown}: HTTP {r.status_code} for /v1/models; the server wants an API key "
                f"(set ${access.api_key_env}, or name another variable with --api-key-env)"
                if access.api_key is None
                else f"--endpoint {access.shown}: HTTP {r.status_code} for /v1/models; "
                f"it refused the key in ${access.api_key_env}"
            )
        r.raise_for_status()
        models = [m for m in r.json().get("data", []) if isinstance(m, dict) and m.get("id")]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"--endpoint {access.shown}: cannot list its models ({type(exc).__name__}: {redact(str(exc))})"
        ) from None
    if not models:
        raise ConfigError(f"--endpoint {access.shown}: /v1/models lists no model")
    return models
