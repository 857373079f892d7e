"""Reference data: the billing-provider catalog and the AI model catalog.

`seed(db)` is idempotent and safe to run on every start: it inserts the rows whose
natural key (provider `slug`, model `name`) is missing and leaves existing rows
exactly as they are, so an operator's edits survive. Concurrent runs are safe too
(`INSERT ... ON CONFLICT DO NOTHING` on the unique natural key). It never creates
projects, keys or usage rows. The models come from pipelines the Livepeer network
serves; costs are indicative USD per minute of compute, latencies in ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel

from app.db import Database
from app.developer.models import BillingProvider, DevApiAIModel

BILLING_PROVIDERS: tuple[dict[str, Any], ...] = (
    {
        "slug": "daydream",
        "display_name": "Daydream",
        "description": "Real-time AI video generation",
        "icon": "Cloud",
        "auth_type": "oauth",
        "sort_order": 0,
    },
    {
        "slug": "pymthouse",
        "display_name": "PymtHouse",
        "description": "Billing, plans, and Livepeer AI access via PymtHouse",
        "icon": "Wallet",
        "auth_type": "oauth",
        "sort_order": 1,
    },
)


def _model(
    name: str,
    tagline: str,
    type_: str,
    *,
    cost: tuple[float, float],
    latency_p50: int,
    cold_start: int,
    use_cases: Sequence[str],
    badges: Sequence[str] = (),
    featured: bool = False,
    realtime: bool = False,
    fps: int = 0,
) -> dict[str, Any]:
    return {
        "name": name,
        "tagline": tagline,
        "type": type_,
        "featured": featured,
        "realtime": realtime,
        "cost_per_min_min": cost[0],
        "cost_per_min_max": cost[1],
        "latency_p50": latency_p50,
        "cold_start": cold_start,
        "fps": fps,
        "use_cases": list(use_cases),
        "badges": list(badges),
    }


AI_MODELS: tuple[dict[str, Any], ...] = (
    _model(
        "streamdiffusion-sdxl",
        "Real-time SDXL restyling of live video with StreamDiffusion",
        "video",
        featured=True,
        realtime=True,
        fps=15,
        cost=(0.04, 0.09),
        latency_p50=95,
        cold_start=12000,
        use_cases=["Live stream restyling", "Interactive installations", "Avatars"],
        badges=["Realtime", "Popular"],
    ),
    _model(
        "streamdiffusion-sdturbo",
        "Low-latency SD-Turbo video-to-video for live streams",
        "video",
        featured=True,
        realtime=True,
        fps=24,
        cost=(0.02, 0.05),
        latency_p50=55,
        cold_start=8000,
        use_cases=["Live effects", "Webcam filters", "Music visuals"],
        badges=["Realtime", "Fast"],
    ),
    _model(
        "black-forest-labs/FLUX.1-dev",
        "High-fidelity text-to-image with strong prompt adherence",
        "image",
        featured=True,
        cost=(0.03, 0.08),
        latency_p50=6500,
        cold_start=45000,
        use_cases=["Concept art", "Marketing visuals", "Product mockups"],
        badges=["High quality"],
    ),
    _model(
        "SG161222/RealVisXL_V4.0_Lightning",
        "Photorealistic SDXL Lightning images in a few steps",
        "image",
        cost=(0.01, 0.03),
        latency_p50=1800,
        cold_start=20000,
        use_cases=["Photorealistic portraits", "Stock imagery", "Thumbnails"],
        badges=["Fast", "Photoreal"],
    ),
    _model(
        "ByteDance/SDXL-Lightning",
        "Text-to-image in 2-8 steps, the network's default SDXL",
        "image",
        cost=(0.008, 0.02),
        latency_p50=1200,
        cold_start=18000,
        use_cases=["Rapid prototyping", "Illustrations", "Social posts"],
        badges=["Fast"],
    ),
    _model(
        "stabilityai/stable-diffusion-x4-upscaler",
        "Text-guided 4x image upscaling",
        "image",
        cost=(0.01, 0.04),
        latency_p50=4200,
        cold_start=15000,
        use_cases=["Upscaling renders", "Restoring low-res images", "Print assets"],
        badges=["Upscale"],
    ),
    _model(
        "facebook/sam2-hiera-large",
        "Segment Anything 2: promptable object masks for images and video",
        "image",
        cost=(0.01, 0.03),
        latency_p50=900,
        cold_start=12000,
        use_cases=["Background removal", "Object selection", "Video rotoscoping"],
        badges=["Segmentation"],
    ),
    _model(
        "Salesforce/blip-image-captioning-large",
        "Image-to-text captions for search, alt text and moderation",
        "image",
        cost=(0.004, 0.01),
        latency_p50=450,
        cold_start=9000,
        use_cases=["Alt text", "Image search indexing", "Content moderation"],
        badges=["Captioning"],
    ),
    _model(
        "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
        "Animate a still image into a short 25-frame clip",
        "video",
        cost=(0.08, 0.2),
        latency_p50=48000,
        cold_start=60000,
        use_cases=["Product animations", "Social clips", "Storyboards"],
        badges=["Image-to-video"],
    ),
    _model(
        "openai/whisper-large-v3",
        "Multilingual speech recognition and transcription",
        "audio",
        featured=True,
        cost=(0.006, 0.015),
        latency_p50=1100,
        cold_start=14000,
        use_cases=["Transcription", "Subtitles", "Meeting notes"],
        badges=["Multilingual"],
    ),
    _model(
        "parler-tts/parler-tts-large-v1",
        "Expressive text-to-speech steered by a voice description",
        "audio",
        cost=(0.01, 0.03),
        latency_p50=2500,
        cold_start=16000,
        use_cases=["Voice-overs", "Accessibility", "Game dialogue"],
        badges=["Text-to-speech"],
    ),
    _model(
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "Instruction-tuned 8B LLM for chat, summaries and extraction",
        "text",
        featured=True,
        cost=(0.002, 0.006),
        latency_p50=350,
        cold_start=25000,
        use_cases=["Chat assistants", "Summarisation", "Structured extraction"],
        badges=["LLM", "Popular"],
    ),
    _model(
        "glm-4.7-flash",
        "Fast general-purpose LLM with tool calling",
        "text",
        cost=(0.001, 0.004),
        latency_p50=280,
        cold_start=20000,
        use_cases=["Agents and tool use", "Coding help", "Chat"],
        badges=["LLM", "Fast"],
    ),
)


@dataclass(frozen=True)
class SeedResult:
    """How many rows this run inserted (0 and 0 when everything was there)."""

    providers_added: int
    models_added: int


async def seed(db: Database) -> None:
    """Insert the missing catalog rows; never update or duplicate existing ones."""
    await seed_catalog(db)


async def seed_catalog(db: Database) -> SeedResult:
    """`seed`, reporting what it inserted."""
    providers = await _insert_missing(db, BillingProvider, "slug", BILLING_PROVIDERS)
    models = await _insert_missing(db, DevApiAIModel, "name", AI_MODELS)
    return SeedResult(providers_added=providers, models_added=models)


async def catalog_counts(db: Database) -> tuple[int, int]:
    """(billing providers, AI models) currently in the database."""
    async with db.session() as session:
        providers = await session.scalar(
            select(func.count()).select_from(BillingProvider)
        )
        models = await session.scalar(select(func.count()).select_from(DevApiAIModel))
    return providers or 0, models or 0


async def _insert_missing(
    db: Database,
    model: type[SQLModel],
    natural_key: str,
    rows: Sequence[dict[str, Any]],
) -> int:
    # Full rows (id, timestamps) come from the model's own defaults.
    values = [model.model_validate(row).model_dump() for row in rows]
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    table = SQLModel.metadata.tables[str(model.__tablename__)]
    statement = (
        insert(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=[natural_key])
        .returning(table.c.id)
    )
    async with db.writer() as session:
        inserted = (await session.execute(statement)).all()
    return len(inserted)
