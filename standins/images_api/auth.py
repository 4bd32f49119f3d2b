"""Who may call: OpenAI's Bearer key; Azure's api-version, api-key and deployment (its front door)."""

from __future__ import annotations

import re

from aiohttp import web

from standins.images_api.errors import api_error, azure_401, azure_error, openai_wrong_key
from standins.images_api.facts import FIRST_AZURE_API_VERSION


class Auth:
    """The keys and deployments the stand-in accepts. A part of ImageAPIStandIn, which sets these attributes."""

    api_key: str
    azure_api_key: str
    azure_deployments: dict[str, str]

    def _check_openai_auth(self, request: web.Request) -> str:
        authorization = request.headers.get("Authorization", "")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise api_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
                "if you're accessing the API from your browser and are prompted for a username and password. You "
                "can obtain an API key from https://platform.openai.com/account/api-keys.",
            )
        if key != self.api_key:
            raise openai_wrong_key(key)
        return key

    def _check_azure_route(self, request: web.Request) -> tuple[str, str, str]:
        """Azure's front door: the api-version, the api-key and the deployment; (api_version, model, key)."""
        api_version = request.query.get("api-version")
        if not api_version:
            raise azure_error(404, "404", "Resource not found")
        if not _azure_version_supported(api_version):
            raise azure_error(400, "BadRequest", "API version not supported")
        if request.headers.get("api-key") != self.azure_api_key:
            raise azure_401()
        deployment_model = self.azure_deployments.get(request.match_info["deployment"])
        if deployment_model is None:
            raise azure_error(
                404, "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the deployment within "
                "the last 5 minutes, please wait a moment and try again.",
            )
        return api_version, deployment_model, self.azure_api_key


def _azure_version_supported(version: str) -> bool:
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(-preview)?", version)
    return match is not None and match[1] >= FIRST_AZURE_API_VERSION
