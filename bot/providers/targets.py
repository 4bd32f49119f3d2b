"""Where image API requests go: OpenAI, or an Azure OpenAI deployment.

Azure routes by deployment (`/openai/deployments/{name}/images/...?api-version=`) with an `api-key` header; the
deployment names the model, so `model` is not sent there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass(frozen=True)
class OpenAITarget:
    base_url: str
    api_key: str = field(repr=False)
    provider = "openai"

    def url(self, operation: str) -> str:
        return f"{self.base_url.rstrip('/')}/images/{operation}"

    def model_url(self, model: str) -> str:
        """GET it to learn whether the key works and can use `model`: free, nothing is made (`imagebot doctor`)."""
        return f"{self.base_url.rstrip('/')}/models/{quote(model, safe='')}"

    def models_url(self) -> str:
        """GET /v1/models: every model the key lists, with its `shutdown_date`."""
        return f"{self.base_url.rstrip('/')}/models"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def sends_model(self) -> bool:
        return True


@dataclass(frozen=True)
class AzureTarget:
    endpoint: str
    api_key: str = field(repr=False)
    deployment: str
    api_version: str
    provider = "azure"

    def url(self, operation: str) -> str:
        return (f"{self.endpoint.rstrip('/')}/openai/deployments/{self.deployment}/images/{operation}"
                f"?api-version={self.api_version}")

    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key}

    @property
    def sends_model(self) -> bool:
        # The deployment names the model; Azure's 2025-04-01-preview schema has no use for `model`.
        return False


Target = OpenAITarget | AzureTarget
