"""What a request may ask for today, and what it gets when it asks for nothing: worked out from the settings, the
catalogue and the provider, for one day (ImageService keeps the last one, until any of those is another)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.models import ImageOptions
from bot.money.catalogue import Catalogue
from bot.money.retirement import Resolved
from bot.rules.options import Choices, fit_options
from bot.settings import Settings


@dataclass(frozen=True)
class OfToday:
    """Today's choices and default options, and what they were worked out from."""

    today: date
    settings: Settings
    catalogue: Catalogue
    provider: str
    configured: Resolved  # IMAGEBOT_MODEL (or the catalogue's default), and what requests use today
    choices: Choices
    defaults: ImageOptions

    def holds(self, today: date, settings: Settings, catalogue: Catalogue, provider: str) -> bool:
        """Still right: the same day, the same settings and catalogue (the very objects), the same provider."""
        return (self.today == today and self.settings is settings and self.catalogue is catalogue
                and self.provider == provider)


def of_today(today: date, settings: Settings, catalogue: Catalogue, provider: str) -> OfToday:
    """The live models (an Azure deployment serves exactly its own), and the settings' options fitted to what
    today's model can do (IMAGEBOT_MODEL or the catalogue's default, or its replacement once it is shut down)."""
    configured = catalogue.resolve(settings.model or catalogue.default_model, provider, today)
    only = (configured.requested,) if settings.provider == "azure" else None
    model = configured.used
    caps = catalogue.capabilities(model, provider)
    options = ImageOptions(model=model, size=settings.size, quality=settings.quality,
                           partial_images=settings.partial_images,
                           moderation=settings.moderation if caps is None or caps.moderation else None,
                           svg_model=settings.svg_model)
    defaults = fit_options(options, caps)[0] if caps is not None else options
    return OfToday(today, settings, catalogue, provider, configured, Choices(catalogue, provider, today, only=only),
                   defaults)
